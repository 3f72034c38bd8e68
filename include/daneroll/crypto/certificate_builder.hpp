// Issues X.509 certificates: self-signed ones for a first deployment, and a
// small local CA for tests and the demo's certificate source.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "daneroll/crypto/certificate.hpp"
#include "daneroll/crypto/key.hpp"

namespace daneroll {

struct CertificateSpec {
    std::string common_name;
    std::vector<std::string> dns_names;  // subjectAltName; none for a CA
    bool is_ca = false;
    std::chrono::system_clock::time_point not_before;
    std::chrono::system_clock::time_point not_after;
};

// Signs a certificate for `subject_key` (any EVP_PKEY; only the public half
// is used) with `signer_key`. With `issuer` null the certificate is
// self-signed and `signer_key` must be the subject's key.
Certificate issue_certificate(const CertificateSpec& spec, const EVP_PKEY* subject_key,
                              const PrivateKey& signer_key, const Certificate* issuer);

// Convenience: a self-signed end-entity certificate valid from now-1h for
// `days` days, as an MTA uses for DANE-EE (3 1 1) without a CA.
Certificate make_self_signed(const PrivateKey& key, const std::vector<std::string>& dns_names,
                             int days, std::chrono::system_clock::time_point now);

}  // namespace daneroll
