// Differential tests of the PKI objects daneroll makes with OpenSSL: keys,
// CSRs and issued certificates must read, verify and validate the same way
// in Botan. A CSR that only OpenSSL accepts fails at the CA; a chain that
// only OpenSSL validates fails at the sending MTA.
#include <botan/certstor.h>
#include <botan/data_src.h>
#include <botan/pkcs8.h>
#include <botan/x509_key.h>
#include <botan/x509path.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "botan_oracle.hpp"
#include "corpus.hpp"
#include "daneroll/crypto/certificate_builder.hpp"
#include "daneroll/crypto/csr.hpp"
#include "daneroll/crypto/key.hpp"
#include "test_support.hpp"

namespace daneroll::oracle {
namespace {

using std::chrono::system_clock;

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// The Botan public key of a daneroll key, loaded from its PKCS#8 PEM.
std::unique_ptr<Botan::Private_Key> botan_key_of(const PrivateKey& key) {
    return load_private_key(key.to_pem());
}

// Checks each certificate of a chain against Botan: signature under the
// issuer's key (the next certificate, or itself for the root), names,
// extensions, validity and the public key it carries.
void check_issued_chain(const test::TestPki& pki, const std::string& label) {
    const auto& chain = pki.chain;
    const auto botan_chain = parse_pem_certificates(chain_to_pem(chain));
    ASSERT_EQ(botan_chain.size(), chain.size()) << label;
    for (std::size_t i = 0; i < chain.size(); ++i) {
        const std::string what =
            label + " certificate " + std::to_string(i) + " (" + chain[i].subject() + ")";
        const auto& cert = botan_chain[i];
        const std::size_t up = i + 1 < chain.size() ? i + 1 : i;
        const auto& issuer = botan_chain[up];
        const auto issuer_key = issuer.load_subject_public_key();
        count_comparison("signature verified by Botan");
        EXPECT_TRUE(cert.check_signature(*issuer_key)) << what << ": Botan rejects the signature";
        EXPECT_TRUE(cert.issuer_dn() == issuer.subject_dn()) << what;
        if (up != i) {
            EXPECT_EQ(to_hex(cert.authority_key_id()), to_hex(issuer.subject_key_id()))
                << what << ": AKI does not name the issuer's SKI";
        }
        EXPECT_EQ(cert.is_CA_cert(), chain[i].is_ca()) << what;
        EXPECT_EQ(cert.not_before().to_std_timepoint(), chain[i].not_before()) << what;
        EXPECT_EQ(cert.not_after().to_std_timepoint(), chain[i].not_after()) << what;
        // Certificate::dns_names() falls back to the CN only without a SAN.
        const auto san = dns_names(cert.subject_alt_name());
        EXPECT_EQ(san.empty()
                      ? std::vector<std::string>{cert.subject_dn().get_first_attribute("CN")}
                      : san,
                  sorted(chain[i].dns_names()))
            << what;
        EXPECT_EQ(san.empty(), chain[i].is_ca()) << what << ": only leaves carry DNS names";
        count_comparison("certificate SPKI vs key");
        EXPECT_EQ(to_hex(cert.subject_public_key_info()), to_hex(chain[i].spki_der())) << what;
        EXPECT_EQ(to_hex(cert.subject_public_key_info()),
                  to_hex(spki_of(*botan_key_of(pki.keys[i]))))
            << what << ": the certificate does not carry its key";
    }
    if (chain.size() < 2) {
        return;
    }
    // Path validation with the root as the only trust anchor, as a DANE-TA
    // client does with a "2 x x" record for the root; no host name check.
    const Botan::Certificate_Store_In_Memory anchors(botan_chain.back());
    const std::vector<Botan::X509_Certificate> presented(botan_chain.begin(),
                                                         botan_chain.end() - 1);
    const Botan::Path_Validation_Restrictions restrictions;
    const auto now = system_clock::now();
    const auto result = Botan::x509_path_validate(presented, restrictions, anchors, "",
                                                  Botan::Usage_Type::UNSPECIFIED, now);
    count_comparison("chain validated by Botan");
    EXPECT_TRUE(result.successful_validation()) << label << ": " << result.result_string();

    // Controls: the same chain after the leaf expired, and under an impostor
    // root with the root's name but another key, must both be refused.
    const auto later = Botan::x509_path_validate(presented, restrictions, anchors, "",
                                                 Botan::Usage_Type::UNSPECIFIED,
                                                 now + std::chrono::hours(24 * 60));
    EXPECT_FALSE(later.successful_validation()) << label << ": expired chain accepted";
    CertificateSpec spec;
    spec.common_name = chain.back().subject().substr(3);  // "CN=..." -> the CN
    spec.is_ca = true;
    spec.not_before = now - std::chrono::hours(1);
    spec.not_after = now + std::chrono::hours(24);
    const PrivateKey& impostor_key = test::cached_key(KeyAlgorithm::EcdsaP256, 9);
    const auto impostor = issue_certificate(spec, impostor_key.get(), impostor_key, nullptr);
    ASSERT_EQ(impostor.subject(), chain.back().subject());
    const Botan::Certificate_Store_In_Memory wrong(parse_der_certificate(impostor.der()));
    const auto refused = Botan::x509_path_validate(presented, restrictions, wrong, "",
                                                   Botan::Usage_Type::UNSPECIFIED, now);
    EXPECT_FALSE(refused.successful_validation()) << label << ": impostor root accepted";
}

class PkiOracle : public ::testing::TestWithParam<KeyAlgorithm> {};

TEST_P(PkiOracle, IssuedCertificatesVerifyAndValidateInBotan) {
    for (const int depth : kDepths) {
        check_issued_chain(
            test::make_pki(GetParam(), depth),
            std::string(key_algorithm_name(GetParam())) + " depth " + std::to_string(depth));
    }
}

TEST_P(PkiOracle, CsrParsesAndVerifiesInBotan) {
    const PrivateKey& key = test::cached_key(GetParam(), 0);
    const std::vector<std::string> names = {"mx1.example.test", "mx2.example.test",
                                            "smtp.example.test"};
    const auto csr = CertificateRequest::create(key, names);
    const auto req = parse_pem_csr(csr.to_pem());
    const auto botan_key = botan_key_of(key);

    count_comparison("CSR signature verified by Botan");
    EXPECT_TRUE(req.check_signature(*botan_key)) << "the CSR does not verify under the key";
    const std::unique_ptr<Botan::Public_Key> embedded(req.subject_public_key());
    EXPECT_TRUE(req.check_signature(*embedded));
    count_comparison("CSR public key vs key");
    EXPECT_EQ(to_hex(spki_of(*embedded)), to_hex(spki_of(*botan_key)));
    EXPECT_EQ(to_hex(spki_of(*embedded)), to_hex(csr.spki_der()));
    count_comparison("CSR DER");
    EXPECT_EQ(to_hex(req.BER_encode()), to_hex(csr.der()));
    EXPECT_EQ(dns_names(req.subject_alt_name()), sorted(names));
    EXPECT_EQ(sorted(csr.dns_names()), sorted(names));
    EXPECT_EQ(req.subject_dn().get_first_attribute("CN"), names.front());
    EXPECT_FALSE(req.is_CA());
    if (GetParam() != KeyAlgorithm::Ed25519) {
        EXPECT_EQ(req.hash_used_for_signature(), "SHA-256");
    }

    // Control: one flipped bit in the signature must make Botan refuse the
    // CSR (its constructor checks the self-signature), so the acceptance
    // above is a real verification.
    Bytes der = csr.der();
    der.back() ^= 0x01U;
    EXPECT_THROW(Botan::PKCS10_Request(std::vector<std::uint8_t>(der.begin(), der.end())),
                 Botan::Decoding_Error)
        << "Botan accepted a damaged CSR";
}

TEST_P(PkiOracle, KeySpkiEqualsBotanEncoding) {
    const PrivateKey& key = test::cached_key(GetParam(), 0);
    const auto botan_key = botan_key_of(key);
    EXPECT_TRUE(key_is_consistent(*botan_key)) << key.description();
    count_comparison("key SPKI");
    EXPECT_EQ(to_hex(key.spki_der()), to_hex(spki_of(*botan_key)));

    // The algorithm and size Botan sees are the ones daneroll reports.
    const std::string expected_desc = botan_key->algo_name() == "Ed25519"
                                          ? std::string("Ed25519")
                                          : botan_key->algo_name() +
                                                (botan_key->algo_name() == "ECDSA" ? " P-" : " ") +
                                                std::to_string(botan_key->key_length());
    EXPECT_EQ(key.description(), expected_desc);

    // Keys written by Botan load in daneroll with the same SPKI: public keys
    // (PEM and DER) for `tlsa --key`, and a PKCS#8 private key.
    const test::TempDir dir;
    test::write_text(dir / "pub.pem", Botan::X509::PEM_encode(*botan_key));
    const auto pub_der = Botan::X509::BER_encode(*botan_key);
    test::write_text(dir / "pub.der", std::string(pub_der.begin(), pub_der.end()));
    count_comparison("key SPKI");
    EXPECT_EQ(to_hex(load_spki_from_key_file(dir / "pub.pem")), to_hex(spki_of(*botan_key)));
    count_comparison("key SPKI");
    EXPECT_EQ(to_hex(load_spki_from_key_file(dir / "pub.der")), to_hex(spki_of(*botan_key)));
    const auto reloaded = PrivateKey::parse(Botan::PKCS8::PEM_encode(*botan_key), "botan.pem");
    count_comparison("key SPKI");
    EXPECT_EQ(to_hex(reloaded.spki_der()), to_hex(key.spki_der()));
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, PkiOracle, ::testing::ValuesIn(kAllAlgorithms), param_name);

TEST(PkiOracleMixed, MixedAlgorithmChainsVerifyAndValidateInBotan) {
    for (const auto& [label, pki] : mixed_corpus()) {
        check_issued_chain(pki, label);
    }
}

}  // namespace
}  // namespace daneroll::oracle
