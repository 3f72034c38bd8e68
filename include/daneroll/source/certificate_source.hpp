// Where certificates come from. The engine asks a source for a chain for a
// key it generated (and, in current+next, published long ago); a source
// never picks the key itself.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daneroll/config/config.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "daneroll/crypto/key.hpp"

namespace daneroll::source {

struct IssueRequest {
    std::string service;
    KeyAlgorithm algorithm = KeyAlgorithm::EcdsaP256;
    std::vector<std::string> names;   // DNS names, the MX host first
    const PrivateKey* key = nullptr;  // the key the certificate must carry
    std::filesystem::path work_dir;   // private scratch directory for this request
};

// A CA's suggested renewal window for one certificate (RFC 9773, ACME
// Renewal Information).
struct RenewalWindow {
    std::chrono::system_clock::time_point start;
    std::chrono::system_clock::time_point end;
    std::string explanation_url;  // "" if the CA gave none
    // When to ask again (the CA's Retry-After), if it said.
    std::optional<std::chrono::seconds> retry_after;
};

// What a source hands back: the chain, and what a person should hear about
// that did not stop the issuance (e.g. a challenge response left behind).
struct IssuedChain {
    std::vector<Certificate> chain;  // leaf first
    std::vector<std::string> warnings;
};

class CertificateSource {
  public:
    virtual ~CertificateSource() = default;
    CertificateSource() = default;
    CertificateSource(const CertificateSource&) = delete;
    CertificateSource& operator=(const CertificateSource&) = delete;

    // False for sources that only hand chains over (certbot's deploy hook).
    [[nodiscard]] virtual bool can_issue() const = 0;
    // A chain, leaf first, for request.key. Throws Error with a reason a
    // person can act on.
    virtual IssuedChain issue(const IssueRequest& request) = 0;
    // The CA's suggested renewal window for a deployed leaf, or nullopt if
    // the source has no such notion or the CA offers none. Throws Error when
    // the CA cannot be asked (the caller falls back to renew_before).
    virtual std::optional<RenewalWindow> renewal_window(const Certificate& /*leaf*/) {
        return std::nullopt;
    }
};

// The source a service's configuration names: acme is daneroll's own ACME
// client (src/acme). The certbot source cannot issue (certbot hands chains
// over through its deploy hook): asking it to fails with a clear message.
std::unique_ptr<CertificateSource> make_source(const config::Config& config,
                                               const config::Service& service);

// Checks a chain a source returned before it is staged: ordered leaf first,
// the leaf carries `key`, names the MX host, and is valid now.
void validate_issued_chain(const std::vector<Certificate>& chain, const PrivateKey& key,
                           const std::string& host, std::chrono::system_clock::time_point now,
                           const std::string& source);

}  // namespace daneroll::source
