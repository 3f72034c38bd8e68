// Differential test of TLSA association data: every selector x matching type
// daneroll computes (from a certificate, a chain, a key or a CSR) must equal,
// byte for byte, what Botan derives on its own from the PEM/DER daneroll
// wrote. A wrong SPKI boundary or a hash over the wrong bytes produces a
// record that looks fine and matches nothing, which is exactly the outage
// daneroll exists to prevent.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "botan_oracle.hpp"
#include "corpus.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/crypto/certificate_builder.hpp"
#include "daneroll/crypto/csr.hpp"
#include "daneroll/tlsa/compute.hpp"
#include "daneroll/tlsa/record.hpp"
#include "test_support.hpp"

namespace daneroll::oracle {
namespace {

constexpr std::uint8_t kSelectors[] = {tlsa::kSelectorCert, tlsa::kSelectorSpki};
constexpr std::uint8_t kMatchingTypes[] = {tlsa::kMatchFull, tlsa::kMatchSha256,
                                           tlsa::kMatchSha512};

std::string describe(const std::string& what, std::uint8_t usage, std::uint8_t selector,
                     std::uint8_t mtype) {
    return what + " as " + std::to_string(usage) + " " + std::to_string(selector) + " " +
           std::to_string(mtype);
}

void expect_record(const TlsaRecord& ours, std::uint8_t usage, std::uint8_t selector,
                   std::uint8_t mtype, const BotanBytes& botan, const std::string& what) {
    count_comparison("TLSA data");
    EXPECT_EQ(ours.usage, usage) << what;
    EXPECT_EQ(ours.selector, selector) << what;
    EXPECT_EQ(ours.matching_type, mtype) << what;
    EXPECT_EQ(to_hex(ours.data), to_hex(botan)) << what << ": daneroll and Botan disagree";
}

// All records daneroll can derive for one chain and its keys, each against
// Botan's reading of the same chain.
void check_chain(const test::TestPki& pki, const std::string& label) {
    const auto& chain = pki.chain;
    const std::string pem = chain_to_pem(chain);
    const auto botan_chain = parse_pem_certificates(pem);
    ASSERT_EQ(botan_chain.size(), chain.size()) << label << ": Botan read another chain length";

    // Botan's reading of the DER must be the same certificate as its
    // reading of the PEM, so selector 0 is not an artefact of one encoding.
    for (std::size_t i = 0; i < chain.size(); ++i) {
        count_comparison("DER vs PEM encoding");
        EXPECT_EQ(to_hex(parse_der_certificate(chain[i].der()).BER_encode()),
                  to_hex(botan_chain[i].BER_encode()))
            << label << " certificate " << i;
    }

    for (const auto selector : kSelectors) {
        for (const auto mtype : kMatchingTypes) {
            const BotanBytes leaf = tlsa_data(botan_chain[0], selector, mtype);
            expect_record(tlsa_from_certificate(chain[0], tlsa::kDaneEe, selector, mtype),
                          tlsa::kDaneEe, selector, mtype, leaf,
                          describe(label + ": leaf certificate", 3, selector, mtype));

            const auto ee = tlsa_from_chain(chain, tlsa::kDaneEe, selector, mtype);
            ASSERT_EQ(ee.size(), 1U) << label;
            expect_record(ee[0], tlsa::kDaneEe, selector, mtype, leaf,
                          describe(label + ": chain", 3, selector, mtype));

            for (std::size_t i = 1; i < chain.size(); ++i) {
                expect_record(
                    tlsa_from_certificate(chain[i], tlsa::kDaneTa, selector, mtype), tlsa::kDaneTa,
                    selector, mtype, tlsa_data(botan_chain[i], selector, mtype),
                    describe(label + ": CA certificate " + std::to_string(i), 2, selector, mtype));
            }

            if (chain.size() == 1) {
                EXPECT_THROW(
                    static_cast<void>(tlsa_from_chain(chain, tlsa::kDaneTa, selector, mtype)),
                    Error)
                    << label << ": a lone certificate has no issuer to pin";
                continue;
            }
            const auto ta = tlsa_from_chain(chain, tlsa::kDaneTa, selector, mtype);
            ASSERT_EQ(ta.size(), chain.size() - 1) << label << ": one record per CA";
            for (std::size_t j = 0; j < ta.size(); ++j) {
                expect_record(
                    ta[j], tlsa::kDaneTa, selector, mtype,
                    tlsa_data(botan_chain[j + 1], selector, mtype),
                    describe(label + ": chain CA " + std::to_string(j + 1), 2, selector, mtype));
            }
        }
    }

    // Selector 1 from the bare keys: what daneroll publishes for a key
    // before any certificate for it exists must match the certificate later.
    ASSERT_EQ(pki.keys.size(), chain.size());
    for (std::size_t i = 0; i < chain.size(); ++i) {
        const std::uint8_t usage = i == 0 ? tlsa::kDaneEe : tlsa::kDaneTa;
        const Bytes spki = pki.keys[i].spki_der();
        for (const auto mtype : kMatchingTypes) {
            expect_record(tlsa_from_spki(usage, spki, mtype), usage, tlsa::kSelectorSpki, mtype,
                          tlsa_data(botan_chain[i], tlsa::kSelectorSpki, mtype),
                          describe(label + ": key " + std::to_string(i), usage, 1, mtype));
        }
    }
}

class TlsaOracle : public ::testing::TestWithParam<KeyAlgorithm> {};

TEST_P(TlsaOracle, RecordsOfCertificatesChainsAndKeysEqualBotan) {
    for (const int depth : kDepths) {
        check_chain(test::make_pki(GetParam(), depth), std::string(key_algorithm_name(GetParam())) +
                                                           " depth " + std::to_string(depth));
    }
    // The certificate `daneroll cert selfsign` makes, with two names.
    const PrivateKey& key = test::cached_key(GetParam(), 0);
    test::TestPki self;
    self.chain.push_back(make_self_signed(key, {"mx1.example.test", "mx2.example.test"}, 90,
                                          std::chrono::system_clock::now()));
    self.keys.push_back(key);
    check_chain(self, std::string(key_algorithm_name(GetParam())) + " make_self_signed");
}

TEST_P(TlsaOracle, CsrRecordsEqualBotanAndTheLaterCertificate) {
    // A "next" key is published from its CSR, long before the CA answers:
    // the record must equal both Botan's hash of the CSR's key and the
    // record of the certificate eventually issued for it.
    const PrivateKey& key = test::cached_key(GetParam(), 0);
    const auto csr = CertificateRequest::create(key, {"mx1.example.test"});
    const auto botan_csr = parse_pem_csr(csr.to_pem());
    const auto cert =
        make_self_signed(key, {"mx1.example.test"}, 90, std::chrono::system_clock::now());
    const auto botan_cert = parse_pem_certificates(cert.to_pem()).at(0);
    const std::unique_ptr<Botan::Public_Key> csr_key(botan_csr.subject_public_key());
    const BotanBytes csr_spki = spki_of(*csr_key);
    for (const auto mtype : kMatchingTypes) {
        const auto record = tlsa_from_spki(tlsa::kDaneEe, csr.spki_der(), mtype);
        const std::string what = describe("CSR", 3, 1, mtype);
        expect_record(record, tlsa::kDaneEe, tlsa::kSelectorSpki, mtype, match(csr_spki, mtype),
                      what + " vs Botan's CSR key");
        expect_record(record, tlsa::kDaneEe, tlsa::kSelectorSpki, mtype,
                      tlsa_data(botan_cert, tlsa::kSelectorSpki, mtype),
                      what + " vs Botan's certificate for the same key");
    }
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, TlsaOracle, ::testing::ValuesIn(kAllAlgorithms),
                         param_name);

TEST(TlsaOracleMixed, RecordsOfMixedAlgorithmChainsEqualBotan) {
    for (const auto& [label, pki] : mixed_corpus()) {
        check_chain(pki, label);
    }
}

// The oracle must be able to say no: a record of one certificate must not
// equal Botan's data for another, or every comparison above is vacuous.
TEST(TlsaOracleControl, DifferentCertificatesGiveDifferentData) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 2);
    const auto botan_chain = parse_pem_certificates(chain_to_pem(pki.chain));
    ASSERT_EQ(botan_chain.size(), 2U);
    for (const auto selector : kSelectors) {
        for (const auto mtype : kMatchingTypes) {
            const auto leaf = tlsa_from_certificate(pki.chain[0], 3, selector, mtype);
            EXPECT_NE(to_hex(leaf.data), to_hex(tlsa_data(botan_chain[1], selector, mtype)))
                << describe("leaf vs root", 3, selector, mtype);
        }
    }
    // subject_public_key_bits() is only the BIT STRING inside the SPKI: a
    // tool that hashes it (a real, published bug) must not agree with us.
    const auto wrong = match(botan_chain[0].subject_public_key_bits(), tlsa::kMatchSha256);
    EXPECT_NE(to_hex(tlsa_from_certificate(pki.chain[0], 3, 1, 1).data), to_hex(wrong));
}

}  // namespace
}  // namespace daneroll::oracle
