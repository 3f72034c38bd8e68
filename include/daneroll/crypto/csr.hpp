// Certificate signing requests: built from a pre-generated key so that the
// certificate a CA returns carries exactly the key already in the TLSA RRset.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "daneroll/common/bytes.hpp"
#include "daneroll/crypto/key.hpp"
#include "daneroll/crypto/openssl_handles.hpp"

namespace daneroll {

class CertificateRequest {
  public:
    explicit CertificateRequest(ossl::X509ReqPtr req);

    // A SHA-256-signed CSR for `key` with the DNS names as subjectAltName
    // (and the first as CN, which some CAs still like to see).
    static CertificateRequest create(const PrivateKey& key, const std::vector<std::string>& names);
    static CertificateRequest parse(std::string_view data, const std::string& source);
    static CertificateRequest load_file(const std::filesystem::path& path);

    [[nodiscard]] Bytes der() const;
    [[nodiscard]] std::string to_pem() const;
    [[nodiscard]] Bytes spki_der() const;
    [[nodiscard]] std::vector<std::string> dns_names() const;
    // True if the self-signature verifies (the requester holds the key).
    [[nodiscard]] bool signature_valid() const;
    [[nodiscard]] X509_REQ* get() const noexcept { return req_.get(); }

  private:
    ossl::X509ReqPtr req_;
};

}  // namespace daneroll
