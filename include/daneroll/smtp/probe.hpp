// The SMTP STARTTLS probe: connect to every address of an MX host, run
// EHLO / STARTTLS / TLS handshake with DANE verification by the same OpenSSL
// engine as the offline matcher (tlsa/dane_verify.hpp), and report per
// address whether a DANE-validating sender (RFC 7672) would deliver there.
//
// The probe takes the addresses and the TLSA records as inputs: where they
// come from (the validating resolver, a config, a test) is the caller's
// concern, so the rollover engine can also probe with records it is about
// to publish.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daneroll/crypto/certificate.hpp"
#include "daneroll/tlsa/record.hpp"

namespace daneroll::smtp {

// The outcome of probing one address. Only Verified means a DANE client
// would deliver.
enum class ProbeStatus {
    Verified,            // the presented chain matches a record (RFC 7672)
    NoDane,              // no records were given: TLS was tried, nothing to verify against
    NoUsableRecords,     // records were given, none usable (e.g. only usages 0/1)
    DaneMismatch,        // the chain does not match the records (or fails a DANE-TA check)
    NoStarttls,          // STARTTLS not offered; with records, a downgrade
    ConnectFailed,       // TCP connection refused or unreachable
    Timeout,             // a step did not finish within the probe's timeout
    TlsHandshakeFailed,  // the handshake failed before a verdict could be read
    SmtpError,           // the server refused a command or broke the protocol
};

// "verified", "no-dane", "no-usable-records", "dane-mismatch", "no-starttls",
// "connect-failed", "timeout", "tls-handshake-failed", "smtp-error": stable
// names for JSON and scripts.
std::string_view status_name(ProbeStatus status);

// Which of the server's chains to ask for. A server may hold one chain per
// key algorithm (Postfix's smtpd_tls_chain_files); it picks one from the
// signature algorithms the client offers, and each must match on its own.
enum class KeyPreference { Any, Ecdsa, Rsa };
std::string_view key_preference_name(KeyPreference pref);  // "any", "ecdsa", "rsa"

// Time spent in each step of one probe; a step never reached is empty.
struct ProbeTimings {
    std::optional<std::chrono::microseconds> connect;    // TCP connect
    std::optional<std::chrono::microseconds> banner;     // waiting for the 220 greeting
    std::optional<std::chrono::microseconds> ehlo;       // first EHLO round trip
    std::optional<std::chrono::microseconds> starttls;   // STARTTLS round trip
    std::optional<std::chrono::microseconds> handshake;  // TLS handshake and verification
    std::optional<std::chrono::microseconds> tls_ehlo;   // EHLO inside TLS
    std::chrono::microseconds total{0};                  // the whole probe, QUIT included
};

struct AddressResult {
    std::string address;  // the IPv4 or IPv6 literal probed, without brackets
    ProbeStatus status = ProbeStatus::ConnectFailed;
    // For a person: why not verified, or what verified ("3 1 1 ab12… matched
    // at depth 0"). Text the server sent is quoted with control bytes escaped.
    std::string reason;
    // STARTTLS missing although TLSA records exist: a DANE sender defers
    // mail to this address rather than send it in clear (RFC 7672 §2.2).
    bool downgrade = false;

    // The DANE verdict, when a handshake completed.
    std::optional<std::size_t> matched_record;  // index into ProbeRequest::records
    int match_depth = -1;                       // 0 = leaf
    long verify_error = 0;                      // X509_V_ERR_* (0: none)
    std::vector<std::string> notes;             // records ignored, and why

    // What the server presented (empty if no handshake completed). The
    // chain is as sent, leaf first: the rollover engine compares it with the
    // chain it deployed.
    std::vector<Certificate> chain;
    std::string leaf_spki_sha256;  // lower-case hex of SHA-256(leaf SPKI), as in a 3 1 1 record
    std::optional<std::chrono::system_clock::time_point> leaf_not_after;
    std::string tls_version;  // "TLSv1.3"
    std::string cipher;       // "TLS_AES_256_GCM_SHA384"

    std::string banner;  // the 220 greeting's first line, escaped
    ProbeTimings timings;

    [[nodiscard]] bool verified() const noexcept { return status == ProbeStatus::Verified; }
};

struct ProbeRequest {
    // The MX host name: the TLS SNI and the DANE-TA reference name.
    std::string host;
    std::uint16_t port = 25;
    // IPv4 or IPv6 literals ("192.0.2.25", "2001:db8::25", "[2001:db8::25]");
    // every one is probed. No name is resolved here.
    std::vector<std::string> addresses;
    // The EHLO argument; empty: default_ehlo_name().
    std::string ehlo_name;
    // Upper bound on one address's whole dialogue, connect to QUIT; each
    // step waits at most what is left of it. Addresses are probed
    // concurrently, so it also bounds the whole probe.
    std::chrono::milliseconds timeout{10'000};
    // The TLSA RRset of _port._tcp.host. Empty: no DANE, nothing verifies.
    std::vector<TlsaRecord> records;
    KeyPreference key_preference = KeyPreference::Any;
};

struct ProbeReport {
    std::string host;
    std::uint16_t port = 25;
    std::string ehlo_name;
    KeyPreference key_preference = KeyPreference::Any;
    std::vector<TlsaRecord> records;
    std::vector<AddressResult> results;  // in the order of ProbeRequest::addresses
    std::chrono::microseconds elapsed{0};

    // True only if there is at least one address and every one verified.
    [[nodiscard]] bool all_verified() const;
    // The results that did not verify, for messages.
    [[nodiscard]] std::vector<const AddressResult*> failures() const;
};

// Probes every address of `request` concurrently (one thread each), so the
// probe costs about as long as the slowest address. Network trouble is
// reported per address, never thrown. Throws Error(Input) for an invalid
// request (bad host name, address literal or EHLO name; no addresses; port
// 0) before connecting anywhere, and Error(Crypto) if OpenSSL cannot set up
// a TLS context.
ProbeReport probe(const ProbeRequest& request);

// One address of `request` (which need not be in request.addresses).
AddressResult probe_address(const ProbeRequest& request, std::string_view address);

// gethostname(), if it is a usable EHLO argument; else "localhost".
std::string default_ehlo_name();

}  // namespace daneroll::smtp
