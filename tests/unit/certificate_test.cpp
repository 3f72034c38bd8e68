#include "daneroll/crypto/certificate.hpp"

#include <gtest/gtest.h>

#include "daneroll/common/error.hpp"
#include "daneroll/crypto/certificate_builder.hpp"
#include "test_support.hpp"

namespace daneroll {
namespace {

TEST(Certificate, BuiltChainHasExpectedShape) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 3, "mx1.example.test");
    ASSERT_EQ(pki.chain.size(), 3U);
    const auto& leaf = pki.chain[0];
    EXPECT_EQ(leaf.subject(), "CN=mx1.example.test");
    EXPECT_EQ(leaf.dns_names(), std::vector<std::string>{"mx1.example.test"});
    EXPECT_FALSE(leaf.is_ca());
    EXPECT_TRUE(pki.chain[1].is_ca());
    EXPECT_TRUE(pki.chain[2].is_ca());
    EXPECT_TRUE(pki.chain[2].is_self_signed());
    EXPECT_TRUE(leaf.issued_by(pki.chain[1]));
    EXPECT_FALSE(leaf.issued_by(pki.chain[2]));
    EXPECT_TRUE(leaf.matches_key(pki.keys[0]));
    EXPECT_FALSE(leaf.matches_key(pki.keys[1]));
    EXPECT_NO_THROW(require_ordered_chain(pki.chain, "chain.pem"));
    EXPECT_EQ(leaf.key_description(), "ECDSA P-256");
    EXPECT_LT(leaf.not_before(), leaf.not_after());
}

TEST(Certificate, SelfSignedServerCertificateIsAnEndEntity) {
    const auto& key = test::cached_key(KeyAlgorithm::EcdsaP256);
    const auto cert = make_self_signed(key, {"mx.example.test", "mx2.example.test"}, 10,
                                       std::chrono::system_clock::now());
    EXPECT_TRUE(cert.is_self_signed());
    EXPECT_FALSE(cert.is_ca());
    EXPECT_EQ(cert.dns_names().size(), 2U);
    EXPECT_EQ(cert.spki_der(), key.spki_der());
}

TEST(Certificate, ParsesPemChainWithKeyAndCommentsInBetween) {
    const auto pki = test::make_pki(KeyAlgorithm::Rsa2048, 2);
    const std::string text = pki.keys[0].to_pem() + "# a comment\n" + pki.chain[0].to_pem() +
                             "\n\n" + pki.chain[1].to_pem();
    const auto certs = parse_certificates(text, "combined.pem");
    ASSERT_EQ(certs.size(), 2U);
    EXPECT_EQ(certs[0].der(), pki.chain[0].der());
    EXPECT_EQ(certs[1].der(), pki.chain[1].der());
}

TEST(Certificate, ParsesDer) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 1);
    const Bytes der = pki.chain[0].der();
    const auto certs = parse_certificates(std::string(der.begin(), der.end()), "cert.der");
    ASSERT_EQ(certs.size(), 1U);
    EXPECT_EQ(certs[0].der(), der);
}

TEST(Certificate, TruncatedOrDamagedPemIsAClearError) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 2);
    const std::string leaf = pki.chain[0].to_pem();
    const std::string ca = pki.chain[1].to_pem();
    auto error_of = [](const std::string& text) {
        try {
            parse_certificates(text, "chain.pem");
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Input);
            return std::string(e.what());
        }
        ADD_FAILURE() << "accepted damaged input";
        return std::string();
    };
    // The second certificate cut in half.
    EXPECT_NE(error_of(leaf + ca.substr(0, ca.size() / 2)).find("certificate 2 of 2"),
              std::string::npos);
    // Only a BEGIN line.
    EXPECT_NE(error_of("-----BEGIN CERTIFICATE-----\n").find("chain.pem"), std::string::npos);
    // Damaged base64 in the first certificate.
    std::string damaged = leaf;
    damaged[80] = '!';
    EXPECT_NE(error_of(damaged).find("chain.pem"), std::string::npos);
    // No certificate at all.
    EXPECT_NE(error_of(pki.keys[0].to_pem()).find("no certificate"), std::string::npos);
    EXPECT_NE(error_of("").find("no certificate"), std::string::npos);
    EXPECT_NE(error_of("\x30\x03\x02\x01\x01").find("not a certificate"), std::string::npos);
}

TEST(Certificate, MisorderedChainIsRefusedNamingThePosition) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 3);
    const std::vector<Certificate> wrong{pki.chain[0], pki.chain[2], pki.chain[1]};
    try {
        require_ordered_chain(wrong, "chain.pem");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("certificate 2"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace daneroll
