#include "daneroll/tlsa/compute.hpp"

#include <gtest/gtest.h>

#include "daneroll/common/error.hpp"
#include "daneroll/crypto/csr.hpp"
#include "daneroll/crypto/digest.hpp"
#include "test_support.hpp"

namespace daneroll {
namespace {

TEST(TlsaCompute, SelectorsAndMatchingTypesUseTheRightBytes) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 2);
    const auto& leaf = pki.chain[0];
    EXPECT_EQ(tlsa_from_certificate(leaf, 3, 1, 1).data, sha256(leaf.spki_der()));
    EXPECT_EQ(tlsa_from_certificate(leaf, 3, 1, 2).data, sha512(leaf.spki_der()));
    EXPECT_EQ(tlsa_from_certificate(leaf, 3, 1, 0).data, leaf.spki_der());
    EXPECT_EQ(tlsa_from_certificate(leaf, 3, 0, 1).data, sha256(leaf.der()));
    EXPECT_EQ(tlsa_from_certificate(leaf, 3, 0, 2).data, sha512(leaf.der()));
    EXPECT_EQ(tlsa_from_certificate(leaf, 3, 0, 0).data, leaf.der());
}

TEST(TlsaCompute, KeyCsrAndCertificateGiveTheSameSpkiRecord) {
    const auto& key = test::cached_key(KeyAlgorithm::Rsa2048);
    const auto cert = test::make_pki(KeyAlgorithm::Rsa2048, 1).chain[0];
    ASSERT_TRUE(cert.matches_key(key));
    const auto csr = CertificateRequest::create(key, {"mx1.example.test"});
    const auto from_key = tlsa_from_spki(3, key.spki_der(), 1);
    EXPECT_EQ(tlsa_from_spki(3, csr.spki_der(), 1), from_key);
    EXPECT_EQ(tlsa_from_certificate(cert, 3, 1, 1), from_key);
}

TEST(TlsaCompute, UsageMustFitTheCertificate) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 3);
    try {
        tlsa_from_certificate(pki.chain[1], 3, 1, 1);
        FAIL() << "made a DANE-EE record for a CA";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("CA certificate"), std::string::npos);
    }
    try {
        tlsa_from_certificate(pki.chain[0], 2, 1, 1);
        FAIL() << "made a DANE-TA record for a leaf";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not a CA certificate"), std::string::npos);
    }
    EXPECT_THROW(tlsa_from_certificate(pki.chain[0], 1, 1, 1), Error);
    EXPECT_THROW(tlsa_from_certificate(pki.chain[0], 3, 2, 1), Error);
    EXPECT_THROW(tlsa_from_certificate(pki.chain[0], 3, 1, 7), Error);
}

TEST(TlsaCompute, ChainUsage2GivesEveryIssuerImmediateFirst) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 3);
    const auto records = tlsa_from_chain(pki.chain, 2, 1, 1);
    ASSERT_EQ(records.size(), 2U);
    EXPECT_EQ(records[0].data, sha256(pki.chain[1].spki_der()));
    EXPECT_EQ(records[1].data, sha256(pki.chain[2].spki_der()));
    const auto ee = tlsa_from_chain(pki.chain, 3, 1, 1);
    ASSERT_EQ(ee.size(), 1U);
    EXPECT_EQ(ee[0].data, sha256(pki.chain[0].spki_der()));
    // A leaf alone has no issuer to pin.
    EXPECT_THROW(tlsa_from_chain({pki.chain[0]}, 2, 1, 1), Error);
    EXPECT_THROW(tlsa_from_chain({}, 3, 1, 1), Error);
}

}  // namespace
}  // namespace daneroll
