// X.509 certificates and chains as the MTA presents them (leaf first).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "daneroll/common/bytes.hpp"
#include "daneroll/crypto/key.hpp"
#include "daneroll/crypto/openssl_handles.hpp"

namespace daneroll {

class Certificate {
  public:
    explicit Certificate(ossl::X509Ptr cert);
    Certificate(const Certificate& other);
    Certificate& operator=(const Certificate& other);
    Certificate(Certificate&&) noexcept = default;
    Certificate& operator=(Certificate&&) noexcept = default;
    ~Certificate() = default;

    // Full DER encoding (what TLSA selector 0 hashes).
    [[nodiscard]] Bytes der() const;
    // DER SubjectPublicKeyInfo as encoded in the certificate (selector 1).
    [[nodiscard]] Bytes spki_der() const;
    [[nodiscard]] std::string to_pem() const;
    // One-line RFC 2253 names, e.g. "CN=mx1.example.com,O=Example".
    [[nodiscard]] std::string subject() const;
    [[nodiscard]] std::string issuer() const;
    [[nodiscard]] std::chrono::system_clock::time_point not_before() const;
    [[nodiscard]] std::chrono::system_clock::time_point not_after() const;
    // DNS names from subjectAltName (the subject CN only if there is no SAN).
    [[nodiscard]] std::vector<std::string> dns_names() const;
    // The public key's description, e.g. "ECDSA P-256".
    [[nodiscard]] std::string key_description() const;
    [[nodiscard]] bool is_self_signed() const;
    // A certificate authority: basicConstraints CA:TRUE and, when keyUsage is
    // present, keyCertSign. A self-signed CA:TRUE certificate *without*
    // keyUsage is what `openssl req -x509` makes for a server, so it counts as
    // an end entity.
    [[nodiscard]] bool is_ca() const;
    // True if this certificate's signature verifies under `issuer`'s key and
    // the names chain (X509_check_issued).
    [[nodiscard]] bool issued_by(const Certificate& issuer) const;
    // True if the private key belongs to this certificate's public key.
    [[nodiscard]] bool matches_key(const PrivateKey& key) const;

    [[nodiscard]] X509* get() const noexcept { return cert_.get(); }

  private:
    ossl::X509Ptr cert_;
};

// Parses one or more certificates: concatenated PEM blocks (other text and
// key blocks in between are skipped), or a single DER certificate. Throws
// Error(Input) naming `source` if nothing parses or a PEM block is damaged.
std::vector<Certificate> parse_certificates(std::string_view data, const std::string& source);
std::vector<Certificate> load_certificates(const std::filesystem::path& path);

// PEM of a whole chain, leaf first.
std::string chain_to_pem(const std::vector<Certificate>& chain);

// Checks that `chain` is ordered leaf-first with each certificate issued by
// the next; throws Error(Input) naming the first position that is not.
void require_ordered_chain(const std::vector<Certificate>& chain, const std::string& source);

}  // namespace daneroll
