#include "daneroll/crypto/csr.hpp"

#include <gtest/gtest.h>

#include "daneroll/common/error.hpp"
#include "test_support.hpp"

namespace daneroll {
namespace {

TEST(Csr, CarriesTheKeyAndNamesAndVerifies) {
    for (const auto alg : {KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048, KeyAlgorithm::Ed25519}) {
        const auto& key = test::cached_key(alg);
        const auto csr = CertificateRequest::create(key, {"mx1.example.test", "mail.example.test"});
        EXPECT_EQ(csr.spki_der(), key.spki_der());
        EXPECT_EQ(csr.dns_names(),
                  (std::vector<std::string>{"mx1.example.test", "mail.example.test"}));
        EXPECT_TRUE(csr.signature_valid());
        const auto again = CertificateRequest::parse(csr.to_pem(), "req.pem");
        EXPECT_EQ(again.der(), csr.der());
        const Bytes der = csr.der();
        EXPECT_EQ(CertificateRequest::parse(std::string(der.begin(), der.end()), "req.der").der(),
                  der);
    }
}

TEST(Csr, RefusesBadNamesAndInput) {
    const auto& key = test::cached_key(KeyAlgorithm::EcdsaP256);
    EXPECT_THROW(CertificateRequest::create(key, {}), Error);
    EXPECT_THROW(CertificateRequest::create(key, {"bad name"}), Error);
    EXPECT_THROW(CertificateRequest::create(key, {"a,DNS:evil.example"}), Error);
    EXPECT_THROW(CertificateRequest::parse("junk", "req.pem"), Error);
    EXPECT_THROW(CertificateRequest::parse("-----BEGIN CERTIFICATE REQUEST-----\nAAA\n", "r"),
                 Error);
}

}  // namespace
}  // namespace daneroll
