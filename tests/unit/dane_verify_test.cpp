#include "daneroll/tlsa/dane_verify.hpp"

#include <gtest/gtest.h>

#include "daneroll/crypto/certificate_builder.hpp"
#include "daneroll/tlsa/compute.hpp"
#include "test_support.hpp"

namespace daneroll {
namespace {

using std::chrono::hours;
using std::chrono::system_clock;

OfflineMatchOptions named(const std::string& name) {
    OfflineMatchOptions o;
    o.reference_names = {name};
    return o;
}

TlsaRecord wrong_digest() {
    return TlsaRecord::parse("3 1 1 " + std::string(64, 'a'));
}

TEST(DaneVerify, DaneEeMatchesTheLeafAndReportsWhichRecord) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 1);
    const auto good = tlsa_from_certificate(pki.chain[0], 3, 1, 1);
    const auto v = verify_chain_offline(pki.chain, {wrong_digest(), good}, named("other.test"));
    EXPECT_TRUE(v.verified) << v.reason;
    EXPECT_EQ(v.matched_record, 1U);
    EXPECT_EQ(v.match_depth, 0);
}

TEST(DaneVerify, DaneEeIgnoresNamesAndExpiry) {
    const auto& key = test::cached_key(KeyAlgorithm::EcdsaP256);
    const auto long_ago = system_clock::now() - hours(24 * 800);
    const auto expired = make_self_signed(key, {"old.example.test"}, 30, long_ago);
    const auto rec = tlsa_from_certificate(expired, 3, 1, 1);
    const auto v = verify_chain_offline({expired}, {rec}, named("mx1.example.test"));
    EXPECT_TRUE(v.verified) << v.reason;
}

TEST(DaneVerify, WrongDigestIsNoMatch) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 1);
    const auto v = verify_chain_offline(pki.chain, {wrong_digest()}, named("mx1.example.test"));
    EXPECT_FALSE(v.verified);
    EXPECT_NE(v.reason.find("no matching DANE TLSA records"), std::string::npos) << v.reason;
}

TEST(DaneVerify, PkixUsagesAreIgnoredForSmtp) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 2);
    auto rec = tlsa_from_certificate(pki.chain[0], 3, 1, 1);
    rec.usage = 1;  // PKIX-EE: unusable for SMTP even though the digest matches
    const auto v = verify_chain_offline(pki.chain, {rec}, named("mx1.example.test"));
    EXPECT_FALSE(v.verified);
    ASSERT_EQ(v.notes.size(), 1U);
    EXPECT_NE(v.notes[0].find("unusable for SMTP"), std::string::npos);
    EXPECT_NE(v.reason.find("no usable TLSA records"), std::string::npos);
}

TEST(DaneVerify, DaneTaNeedsTheIssuerInTheChainAndTheRightName) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 3, "mx1.example.test");
    const auto ta = tlsa_from_certificate(pki.chain[1], 2, 1, 1);
    // Full chain, right name: verified at depth 1.
    auto v = verify_chain_offline(pki.chain, {ta}, named("mx1.example.test"));
    EXPECT_TRUE(v.verified) << v.reason;
    EXPECT_EQ(v.match_depth, 1);
    // Wrong reference name: a DANE-TA match checks names.
    v = verify_chain_offline(pki.chain, {ta}, named("mx2.example.test"));
    EXPECT_FALSE(v.verified);
    EXPECT_NE(v.reason.find("hostname mismatch"), std::string::npos) << v.reason;
    // The issuer missing from the presented chain: a digest cannot be matched.
    v = verify_chain_offline({pki.chain[0]}, {ta}, named("mx1.example.test"));
    EXPECT_FALSE(v.verified);
}

TEST(DaneVerify, DaneTaChecksExpiryOfTheChain) {
    const auto past = system_clock::now() - hours(24 * 400);
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 2, "mx1.example.test", past);
    const auto ta = tlsa_from_certificate(pki.chain[1], 2, 1, 1);
    auto v = verify_chain_offline(pki.chain, {ta}, named("mx1.example.test"));
    EXPECT_FALSE(v.verified);
    EXPECT_NE(v.reason.find("expired"), std::string::npos) << v.reason;
    // At a time inside the validity window it verifies.
    auto at_then = named("mx1.example.test");
    at_then.at = past + hours(24);
    v = verify_chain_offline(pki.chain, {ta}, at_then);
    EXPECT_TRUE(v.verified) << v.reason;
}

TEST(DaneVerify, NoRecordsMeansNoDane) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 1);
    const auto v = verify_chain_offline(pki.chain, {}, {});
    EXPECT_FALSE(v.verified);
    EXPECT_NE(v.reason.find("DANE is not in effect"), std::string::npos);
}

}  // namespace
}  // namespace daneroll
