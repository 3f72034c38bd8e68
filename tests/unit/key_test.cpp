#include "daneroll/crypto/key.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "test_support.hpp"

namespace daneroll {
namespace {

TEST(KeyAlgorithm, NamesRoundTrip) {
    for (const auto alg :
         {KeyAlgorithm::Rsa2048, KeyAlgorithm::Rsa3072, KeyAlgorithm::Rsa4096,
          KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384, KeyAlgorithm::Ed25519}) {
        EXPECT_EQ(parse_key_algorithm(key_algorithm_name(alg)), alg);
    }
    EXPECT_FALSE(parse_key_algorithm("rsa1024").has_value());
    EXPECT_FALSE(parse_key_algorithm("ECDSA-P256").has_value());
    EXPECT_EQ(mta_key_algorithms().size(), 5U);
}

TEST(PrivateKey, GeneratesEachAlgorithmWithTheRightDescription) {
    EXPECT_EQ(test::cached_key(KeyAlgorithm::EcdsaP256).description(), "ECDSA P-256");
    EXPECT_EQ(test::cached_key(KeyAlgorithm::EcdsaP384).description(), "ECDSA P-384");
    EXPECT_EQ(test::cached_key(KeyAlgorithm::Rsa2048).description(), "RSA 2048");
    EXPECT_EQ(test::cached_key(KeyAlgorithm::Rsa3072).description(), "RSA 3072");
    EXPECT_EQ(test::cached_key(KeyAlgorithm::Ed25519).description(), "Ed25519");
    EXPECT_EQ(test::cached_key(KeyAlgorithm::EcdsaP384).algorithm(), KeyAlgorithm::EcdsaP384);
    // SPKI sizes of well-known shapes: P-256 is 91 bytes, RSA-2048 294.
    EXPECT_EQ(test::cached_key(KeyAlgorithm::EcdsaP256).spki_der().size(), 91U);
    EXPECT_EQ(test::cached_key(KeyAlgorithm::Rsa2048).spki_der().size(), 294U);
}

TEST(PrivateKey, SaveWritesMode0600AndLoadsBackTheSameKey) {
    test::TempDir dir;
    const auto& key = test::cached_key(KeyAlgorithm::EcdsaP256);
    save_private_key(key, dir / "k.pem", Overwrite::No);
    struct stat st {};
    ASSERT_EQ(::stat((dir / "k.pem").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600U);
    const PrivateKey loaded = PrivateKey::load_file(dir / "k.pem");
    EXPECT_EQ(loaded.spki_der(), key.spki_der());
    EXPECT_THROW(save_private_key(key, dir / "k.pem", Overwrite::No), Error);
}

TEST(PrivateKey, SpkiFromPublicAndPrivateKeyFilesAgree) {
    test::TempDir dir;
    const auto& key = test::cached_key(KeyAlgorithm::Rsa2048);
    save_private_key(key, dir / "k.pem", Overwrite::No);
    EXPECT_EQ(load_spki_from_key_file(dir / "k.pem"), key.spki_der());
    // DER SPKI as a public key file.
    const Bytes spki = key.spki_der();
    write_file_atomic(dir / "pub.der", std::string(spki.begin(), spki.end()), 0644, Overwrite::No);
    EXPECT_EQ(load_spki_from_key_file(dir / "pub.der"), spki);
}

TEST(PrivateKey, BadInputGivesClearErrors) {
    auto message_of = [](const std::string& data) {
        try {
            PrivateKey::parse(data, "test.key");
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Input);
            return std::string(e.what());
        }
        ADD_FAILURE() << "accepted bad key data";
        return std::string();
    };
    const std::string pem = test::cached_key(KeyAlgorithm::EcdsaP256).to_pem();
    EXPECT_NE(message_of(pem.substr(0, pem.size() / 2)).find("test.key"), std::string::npos);
    EXPECT_NE(message_of("garbage").find("test.key"), std::string::npos);
    EXPECT_NE(message_of("").find("test.key"), std::string::npos);
    EXPECT_NE(message_of("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED "
                         "PRIVATE KEY-----\n")
                  .find("encrypted"),
              std::string::npos);
}

TEST(PrivateKey, CertificateIsNotAKey) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 1);
    EXPECT_THROW(PrivateKey::parse(pki.chain.front().to_pem(), "cert.pem"), Error);
}

}  // namespace
}  // namespace daneroll
