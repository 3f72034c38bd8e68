// daneroll's probe against real Postfix instances, with the TLSA records
// published in the sandbox's signed zone so that Postfix's own
// posttls-finger, looking them up through the validating resolver, gives
// its verdict on the same server: the two must agree in every case.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "daneroll/common/files.hpp"
#include "daneroll/crypto/certificate_builder.hpp"
#include "daneroll/crypto/digest.hpp"
#include "daneroll/smtp/probe.hpp"
#include "daneroll/tlsa/compute.hpp"
#include "sandbox.hpp"
#include "test_support.hpp"

namespace daneroll::smtp_it {
namespace {

using namespace std::chrono_literals;
using smtp::ProbeReport;
using smtp::ProbeStatus;
using std::chrono::system_clock;

#define EXPECT_CONTAINS(haystack, needle) \
    EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

// Keys of their own (test::cached_key indexes 0-2 belong to make_pki).
const PrivateKey& ecdsa_key(int n) {
    return test::cached_key(KeyAlgorithm::EcdsaP256, 10 + n);
}

TlsaRecord wrong_311() {
    return TlsaRecord::parse("3 1 1 " + std::string(64, 'a'));
}

class PostfixDane : public ::testing::Test {
  protected:
    const Sandbox& sb() const { return sandbox(); }
    const SandboxInfo& info() const { return sandbox().info(); }
    const PostfixInstance& first() const { return info().postfix.at(0); }
    const PostfixInstance& second() const { return info().postfix.at(1); }

    Certificate self_signed(const PrivateKey& key, const std::string& name = "") const {
        return make_self_signed(key, {name.empty() ? info().mx_host : name}, 30,
                                system_clock::now());
    }

    ProbeReport probe(const std::vector<TlsaRecord>& records,
                      std::chrono::milliseconds timeout = 10s,
                      smtp::KeyPreference pref = smtp::KeyPreference::Any) const {
        smtp::ProbeRequest r;
        r.host = info().mx_host;
        r.addresses = info().mx_addrs;
        r.ehlo_name = "daneroll-test.example.test";
        r.timeout = timeout;
        r.records = records;
        r.key_preference = pref;
        return smtp::probe(r);
    }

    static const smtp::AddressResult& result_for(const ProbeReport& report,
                                                 const std::string& addr) {
        for (const auto& r : report.results) {
            if (r.address == addr) {
                return r;
            }
        }
        throw std::runtime_error("no result for " + addr);
    }

    // posttls-finger's verdict must be daneroll's for the address it tried.
    // With -c it names no address when it never got to TLS (no STARTTLS,
    // no greeting); the tests that cause that put every instance in the
    // same state, so then it must agree with daneroll on every address.
    static void expect_agreement(const ProbeReport& report, const PosttlsVerdict& v) {
        std::vector<const smtp::AddressResult*> compared;
        if (!v.address.empty()) {
            compared.push_back(&result_for(report, v.address));
        } else {
            for (const auto& r : report.results) {
                compared.push_back(&r);
            }
        }
        for (const auto* mine : compared) {
            EXPECT_EQ(mine->verified(), v.verified)
                << mine->address << ": daneroll: " << smtp::status_name(mine->status) << ": "
                << mine->reason << "\nposttls-finger:\n"
                << v.output;
        }
    }

    // The usual case: one chain on every instance, records published, both
    // verdicts taken and compared. Returns daneroll's report.
    ProbeReport check_everywhere(const std::vector<Certificate>& chain, const PrivateKey& key,
                                 const std::vector<TlsaRecord>& records) const {
        sb().serve_everywhere(chain, key);
        sb().publish(records);
        auto report = probe(records);
        EXPECT_EQ(report.results.size(), info().mx_addrs.size());
        const auto v = sb().posttls();
        expect_agreement(report, v);
        return report;
    }
};

TEST_F(PostfixDane, DaneEe311MatchingTheLeafVerifies) {
    const auto& key = ecdsa_key(0);
    const auto leaf = self_signed(key);
    const auto rec = tlsa_from_certificate(leaf, 3, 1, 1);
    const auto report = check_everywhere({leaf}, key, {wrong_311(), rec});
    EXPECT_TRUE(report.all_verified());
    for (const auto& r : report.results) {
        EXPECT_EQ(r.status, ProbeStatus::Verified) << r.address << ": " << r.reason;
        EXPECT_EQ(r.matched_record, 1U);
        EXPECT_EQ(r.match_depth, 0);
        ASSERT_EQ(r.chain.size(), 1U);
        EXPECT_EQ(r.chain[0].der(), leaf.der());
        EXPECT_EQ(r.leaf_spki_sha256, to_hex(rec.data));
        EXPECT_EQ(r.leaf_not_after, leaf.not_after());
        EXPECT_EQ(r.tls_version, "TLSv1.3");
        EXPECT_CONTAINS(r.banner, info().mx_host);
        EXPECT_TRUE(r.timings.handshake.has_value());
    }
}

TEST_F(PostfixDane, WrongDigestFailsNamingTheReason) {
    const auto& key = ecdsa_key(0);
    const auto leaf = self_signed(key);
    const auto report = check_everywhere({leaf}, key, {wrong_311()});
    EXPECT_FALSE(report.all_verified());
    EXPECT_EQ(report.failures().size(), info().mx_addrs.size());
    for (const auto& r : report.results) {
        EXPECT_EQ(r.status, ProbeStatus::DaneMismatch);
        EXPECT_CONTAINS(r.reason, "no matching DANE TLSA records");
        EXPECT_EQ(r.chain.size(), 1U) << "the chain is reported even when it does not match";
    }
}

TEST_F(PostfixDane, DaneEeFullCertificateAndSha512Variants) {
    const auto& key = ecdsa_key(1);
    const auto leaf = self_signed(key);
    for (const auto& [selector, mtype] : {std::pair{0, 1}, std::pair{1, 2}}) {
        SCOPED_TRACE("3 " + std::to_string(selector) + " " + std::to_string(mtype));
        const auto rec = tlsa_from_certificate(leaf, 3, static_cast<std::uint8_t>(selector),
                                               static_cast<std::uint8_t>(mtype));
        const auto report = check_everywhere({leaf}, key, {rec});
        EXPECT_TRUE(report.all_verified()) << report.results.at(0).reason;
    }
}

TEST_F(PostfixDane, ExpiredSelfSignedLeafStillVerifiesUnderDaneEe) {
    const auto& key = ecdsa_key(2);
    const auto expired = make_self_signed(key, {info().mx_host}, 30,
                                          system_clock::now() - std::chrono::hours(24 * 400));
    ASSERT_LT(expired.not_after(), system_clock::now());
    const auto report = check_everywhere({expired}, key, {tlsa_from_certificate(expired, 3, 1, 1)});
    EXPECT_TRUE(report.all_verified()) << report.results.at(0).reason;
    EXPECT_LT(*report.results.at(0).leaf_not_after, system_clock::now());
}

TEST_F(PostfixDane, DaneTaForTheIssuingCaWithTheFullChainVerifies) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 3, info().mx_host);
    const std::vector<Certificate> served{pki.chain[0], pki.chain[1]};  // leaf, issuing CA
    const auto ta = tlsa_from_certificate(pki.chain[1], 2, 1, 1);
    const auto report = check_everywhere(served, pki.keys[0], {ta});
    EXPECT_TRUE(report.all_verified()) << report.results.at(0).reason;
    for (const auto& r : report.results) {
        EXPECT_EQ(r.match_depth, 1);
        ASSERT_EQ(r.chain.size(), 2U);
        EXPECT_EQ(r.chain[1].subject(), pki.chain[1].subject());
        EXPECT_EQ(r.chain[0].issuer(), pki.chain[1].subject());
    }
}

TEST_F(PostfixDane, DaneTaFailsWhenTheIssuerIsNotServed) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 3, info().mx_host);
    const auto ta = tlsa_from_certificate(pki.chain[1], 2, 1, 1);
    const auto report = check_everywhere({pki.chain[0]}, pki.keys[0], {ta});
    EXPECT_FALSE(report.all_verified());
    for (const auto& r : report.results) {
        EXPECT_EQ(r.status, ProbeStatus::DaneMismatch);
        EXPECT_EQ(r.chain.size(), 1U);
        EXPECT_FALSE(r.reason.empty());
    }
}

TEST_F(PostfixDane, DaneTaFailsForALeafOfAnotherName) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 3, "mx9." + info().zone);
    const auto ta = tlsa_from_certificate(pki.chain[1], 2, 1, 1);
    const auto report = check_everywhere({pki.chain[0], pki.chain[1]}, pki.keys[0], {ta});
    EXPECT_FALSE(report.all_verified());
    for (const auto& r : report.results) {
        EXPECT_EQ(r.status, ProbeStatus::DaneMismatch);
        EXPECT_CONTAINS(r.reason, "hostname mismatch");
    }
}

TEST_F(PostfixDane, MissingStarttlsIsReportedAsADowngrade) {
    const auto& key = ecdsa_key(0);
    const auto leaf = self_signed(key);
    const auto rec = tlsa_from_certificate(leaf, 3, 1, 1);
    sb().serve_everywhere({leaf}, key);
    sb().publish({rec});
    sb().set_starttls(false);
    struct Restore {
        const Sandbox& s;
        ~Restore() {
            try {
                s.set_starttls(true);
            } catch (const std::exception& e) {
                ADD_FAILURE() << "could not turn STARTTLS back on: " << e.what();
            }
        }
    } restore{sb()};
    const auto report = probe({rec});
    EXPECT_FALSE(report.all_verified());
    for (const auto& r : report.results) {
        EXPECT_EQ(r.status, ProbeStatus::NoStarttls);
        EXPECT_TRUE(r.downgrade);
        EXPECT_CONTAINS(r.reason, "downgrade");
        EXPECT_TRUE(r.chain.empty());
    }
    const auto v = sb().posttls();
    expect_agreement(report, v);
    EXPECT_FALSE(v.verified);
}

TEST_F(PostfixDane, OneBadAddressOfTwoFailsTheWholeProbeNamingIt) {
    const auto& good_key = ecdsa_key(0);
    const auto& other_key = ecdsa_key(3);
    const auto good = self_signed(good_key);
    const auto other = self_signed(other_key);
    const auto rec = tlsa_from_certificate(good, 3, 1, 1);
    sb().serve(first(), {good}, good_key);
    sb().serve(second(), {other}, other_key);
    sb().publish({rec});

    const auto report = probe({rec});
    EXPECT_FALSE(report.all_verified());
    EXPECT_TRUE(result_for(report, first().addr).verified());
    const auto& bad = result_for(report, second().addr);
    EXPECT_EQ(bad.status, ProbeStatus::DaneMismatch);
    EXPECT_EQ(bad.leaf_spki_sha256, to_hex(sha256(other.spki_der())));
    const auto failures = report.failures();
    ASSERT_EQ(failures.size(), 1U);
    EXPECT_EQ(failures[0]->address, second().addr);

    // posttls-finger stops at the first address that answers, so each
    // address is checked with the other instance stopped.
    const auto v1 = sb().posttls(&first());
    EXPECT_EQ(v1.address, first().addr) << v1.output;
    expect_agreement(report, v1);
    const auto v2 = sb().posttls(&second());
    EXPECT_EQ(v2.address, second().addr) << v2.output;
    expect_agreement(report, v2);
}

TEST_F(PostfixDane, SilentServerTimesOutWithinTheBound) {
    const auto& key = ecdsa_key(0);
    const auto leaf = self_signed(key);
    const auto rec = tlsa_from_certificate(leaf, 3, 1, 1);
    sb().serve_everywhere({leaf}, key);
    sb().publish({rec});
    // Frozen: the kernel still accepts TCP connections, nobody greets.
    for (const auto& pf : info().postfix) {
        sb().freeze(pf);
    }
    struct Thaw {
        const Sandbox& s;
        ~Thaw() {
            for (const auto& pf : s.info().postfix) {
                try {
                    s.thaw(pf);
                } catch (const std::exception& e) {
                    ADD_FAILURE() << "could not thaw " << pf.name << ": " << e.what();
                }
            }
        }
    } thaw{sb()};
    const auto start = std::chrono::steady_clock::now();
    const auto report = probe({rec}, 1500ms);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 1500ms);
    EXPECT_LT(took, 2500ms) << "addresses are probed concurrently, each bounded by the timeout";
    for (const auto& r : report.results) {
        EXPECT_EQ(r.status, ProbeStatus::Timeout) << r.reason;
        EXPECT_CONTAINS(r.reason, "220 greeting");
        EXPECT_LE(r.timings.total, 1600ms);
    }
    const auto v = sb().posttls(nullptr, {"-t", "2", "-T", "2"});
    EXPECT_FALSE(v.verified);
    EXPECT_CONTAINS(v.output, "timeout while reading server greeting");
    expect_agreement(report, v);
}

TEST_F(PostfixDane, UnloadableChainFilesAreSeenAsTheyAre) {
    const auto& ec = ecdsa_key(0);
    const auto& rsa = test::cached_key(KeyAlgorithm::Rsa2048, 10);
    const auto ec_leaf = self_signed(ec);
    const auto rsa_leaf = self_signed(rsa);
    const auto rec = tlsa_from_certificate(ec_leaf, 3, 1, 1);
    sb().serve_everywhere({ec_leaf}, ec);
    sb().serve_everywhere({rsa_leaf}, rsa);
    sb().publish({rec});
    struct Repair {
        const Sandbox& s;
        const Certificate& ec_leaf;
        const PrivateKey& ec;
        const Certificate& rsa_leaf;
        const PrivateKey& rsa;
        ~Repair() {
            try {
                s.serve_everywhere({ec_leaf}, ec);
                s.serve_everywhere({rsa_leaf}, rsa);
            } catch (const std::exception& e) {
                ADD_FAILURE() << "could not restore the chains: " << e.what();
            }
        }
    } repair{sb(), ec_leaf, ec, rsa_leaf, rsa};
    const auto break_files = [&](bool ecdsa_file) {
        for (const auto& pf : info().postfix) {
            write_file_atomic(ecdsa_file ? pf.ecdsa_pem : pf.rsa_pem, "not a key\n", 0600,
                              Overwrite::Yes);
            sb().tool("postfix-reload", {pf.name});
        }
    };
    const auto probe_until = [&](ProbeStatus want, smtp::KeyPreference pref) {
        ProbeReport report;
        const auto deadline = std::chrono::steady_clock::now() + 15s;
        do {
            std::this_thread::sleep_for(100ms);
            report = probe({rec}, 5s, pref);
        } while (report.results.at(0).status != want &&
                 std::chrono::steady_clock::now() < deadline);
        return report;
    };

    // The ECDSA file unloadable: Postfix carries on with the RSA chain, which
    // the ECDSA record does not cover, and the handshake of an ECDSA-only
    // client fails.
    break_files(true);
    auto report = probe_until(ProbeStatus::DaneMismatch, smtp::KeyPreference::Any);
    for (const auto& r : report.results) {
        EXPECT_EQ(r.status, ProbeStatus::DaneMismatch) << r.reason;
        ASSERT_FALSE(r.chain.empty());
        EXPECT_CONTAINS(r.chain[0].key_description(), "RSA");
    }
    expect_agreement(report, sb().posttls());
    report = probe({rec}, 5s, smtp::KeyPreference::Ecdsa);
    for (const auto& r : report.results) {
        EXPECT_EQ(r.status, ProbeStatus::TlsHandshakeFailed) << r.reason;
    }

    // Both unloadable: Postfix still offers STARTTLS, then refuses it.
    break_files(false);
    report = probe_until(ProbeStatus::SmtpError, smtp::KeyPreference::Any);
    for (const auto& r : report.results) {
        EXPECT_EQ(r.status, ProbeStatus::SmtpError) << r.reason;
        EXPECT_CONTAINS(r.reason, "STARTTLS was refused: 454");
        EXPECT_TRUE(r.chain.empty());
        EXPECT_TRUE(r.timings.starttls.has_value());
        EXPECT_FALSE(r.timings.handshake.has_value());
    }
    expect_agreement(report, sb().posttls());
}

TEST_F(PostfixDane, EveryAlgorithmsChainIsCheckedOnItsOwn) {
    // Postfix holds an ECDSA and an RSA chain; a client's signature
    // algorithms pick one, and each must match a record.
    const auto& ec = ecdsa_key(0);
    const auto rsa = test::cached_key(KeyAlgorithm::Rsa2048, 10);
    const auto ec_leaf = self_signed(ec);
    const auto rsa_leaf = self_signed(rsa);
    sb().serve_everywhere({ec_leaf}, ec);
    sb().serve_everywhere({rsa_leaf}, rsa);
    const auto rec_rsa = tlsa_from_certificate(rsa_leaf, 3, 1, 1);
    const auto rec_ec = tlsa_from_certificate(ec_leaf, 3, 1, 1);
    sb().publish({rec_rsa, rec_ec});
    const auto with_rsa = probe({rec_rsa, rec_ec}, 10s, smtp::KeyPreference::Rsa);
    EXPECT_TRUE(with_rsa.all_verified());
    EXPECT_EQ(with_rsa.results.at(0).matched_record, 0U);
    EXPECT_CONTAINS(with_rsa.results.at(0).chain.at(0).key_description(), "RSA");
    const auto with_ec = probe({rec_rsa, rec_ec}, 10s, smtp::KeyPreference::Ecdsa);
    EXPECT_TRUE(with_ec.all_verified());
    EXPECT_EQ(with_ec.results.at(0).matched_record, 1U);
    // Only the ECDSA record published: the RSA chain no longer matches.
    const auto rsa_only_ec_record = probe({rec_ec}, 10s, smtp::KeyPreference::Rsa);
    EXPECT_EQ(rsa_only_ec_record.results.at(0).status, ProbeStatus::DaneMismatch);
    expect_agreement(with_ec, sb().posttls());
}

}  // namespace
}  // namespace daneroll::smtp_it
