// RFC 7672 DANE verification with OpenSSL's DANE engine, shared by the
// offline matcher (`daneroll tlsa match`) and the live SMTP probe, so both
// give the same verdict for the same chain and records.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "daneroll/crypto/certificate.hpp"
#include "daneroll/crypto/openssl_handles.hpp"
#include "daneroll/tlsa/record.hpp"

namespace daneroll {

struct DaneVerdict {
    bool verified = false;
    std::optional<std::size_t> matched_record;  // index into the records given
    int match_depth = -1;                       // 0 = leaf
    std::string reason;                         // why not verified ("" if verified)
    std::vector<std::string> notes;             // records ignored, and why
};

// A TLS client context with DANE enabled (TLS 1.2+).
ossl::SslCtxPtr make_dane_client_context();

// Configures `ssl` for RFC 7672: DANE on, reference names for DANE-TA (the
// first is also the SNI unless one is set), no name checks for DANE-EE, and
// the usable records added. Usage 0/1 records are skipped (RFC 7672 §3.1.3);
// records OpenSSL finds unusable (e.g. a digest of the wrong length) are
// skipped too. Each skip adds a line to `notes`. Returns the number of usable
// records: with none, DANE is not in effect.
std::size_t configure_dane(SSL* ssl, const std::vector<TlsaRecord>& records,
                           const std::vector<std::string>& reference_names,
                           std::vector<std::string>& notes);

// Reads the verdict after a handshake or an offline verification on `ssl`
// configured by configure_dane with the same `records`.
DaneVerdict read_dane_verdict(SSL* ssl, const std::vector<TlsaRecord>& records, std::size_t usable,
                              std::vector<std::string> notes);

struct OfflineMatchOptions {
    // Names the leaf must carry for a DANE-TA match: the MX host name (and
    // the TLSA base domain if it differs). Empty: names are not checked,
    // and a note says so.
    std::vector<std::string> reference_names;
    // Verification time for DANE-TA validity checks; now if unset.
    std::optional<std::chrono::system_clock::time_point> at;
};

// Would a DANE-validating SMTP client accept this chain (leaf first) given
// these records? Same engine as the live probe, no network.
DaneVerdict verify_chain_offline(const std::vector<Certificate>& chain,
                                 const std::vector<TlsaRecord>& records,
                                 const OfflineMatchOptions& options);

}  // namespace daneroll
