// `daneroll tlsa match` at the command line: the offline verdict an
// operator (or a deploy hook) relies on before swapping certificates. It
// must accept what `daneroll tlsa` and the other tools print, refuse a wrong
// digest with exit 1, and apply RFC 7672's name rule: DANE-TA needs the MX
// host name on the leaf, DANE-EE ignores names.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common.hpp"
#include "daneroll/common/base64.hpp"
#include "daneroll/crypto/certificate_builder.hpp"
#include "test_support.hpp"

namespace daneroll::interop {
namespace {

using std::to_string;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

std::string rdata(const TlsaLine& l) {
    return to_string(l.usage) + " " + to_string(l.selector) + " " + to_string(l.mtype) + " " +
           l.data;
}

class MatchCli : public InteropTest {
  protected:
    static ProcessResult match(const std::filesystem::path& chain,
                               const std::vector<std::string>& records,
                               const std::vector<std::string>& names = {}, bool json = false) {
        std::vector<std::string> argv{daneroll_binary(), "tlsa", "match", "--chain",
                                      chain.string()};
        for (const auto& r : records) {
            argv.insert(argv.end(), {"--record", r});
        }
        for (const auto& n : names) {
            argv.insert(argv.end(), {"--name", n});
        }
        if (json) {
            argv.emplace_back("--json");
        }
        return run_process(argv);
    }

    // The records `daneroll tlsa` prints for `args`, as RDATA text.
    static std::vector<std::string> records_of(const std::vector<std::string>& args) {
        std::vector<std::string> out;
        for (const auto& l : daneroll_tlsa(args)) {
            out.push_back(rdata(l));
        }
        return out;
    }

    // A record with its last hex digit changed: the same length and kind,
    // a different digest.
    static std::string corrupt(std::string record) {
        char& last = record.back();
        last = last == '0' ? '1' : '0';
        return record;
    }
};

TEST_F(MatchCli, OwnRecordsMatchAndCorruptedOnesFailWithExit1) {
    const auto self = make_self_signed(test::cached_key(KeyAlgorithm::EcdsaP256, 0), {kHost}, 90,
                                       std::chrono::system_clock::now());
    const auto pki = test::make_pki(KeyAlgorithm::Rsa2048, 2, kHost);
    const auto self_file = write("self.pem", self.to_pem());
    const auto chain_file = write_chain("chain.pem", pki.chain);
    for (const auto& file : {self_file, chain_file}) {
        for (const auto& c : kCombos) {
            const auto records = records_of({"--chain", file.string(), "--selector",
                                             to_string(c.selector), "--mtype", to_string(c.mtype)});
            ASSERT_EQ(records.size(), 1U);
            const auto good = match(file, records);
            EXPECT_EQ(good.exit_code, kExitOk) << records[0] << ": " << good.summary();
            EXPECT_NE(good.out.find("match:"), std::string::npos) << good.out;
            count_case("tlsa match");

            const auto bad = match(file, {corrupt(records[0])});
            EXPECT_EQ(bad.exit_code, kExitFailed) << corrupt(records[0]) << ": " << bad.summary();
            EXPECT_NE(bad.out.find("no match"), std::string::npos) << bad.out;
            count_case("tlsa match");
        }
    }
}

TEST_F(MatchCli, DaneTaMatchesOnlyWhenTheNameIsTheLeafs) {
    for (const int depth : {2, 3}) {
        const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, depth, kHost);
        const auto file = write_chain("chain" + to_string(depth) + ".pem", pki.chain);
        const auto records = records_of({"--chain", file.string(), "--usage", "2"});
        ASSERT_EQ(records.size(), pki.chain.size() - 1);
        for (std::size_t i = 0; i < records.size(); ++i) {
            const std::string what = "depth " + to_string(depth) + " record " + records[i];
            const auto right = match(file, {records[i]}, {kHost}, true);
            ASSERT_EQ(right.exit_code, kExitOk) << what << ": " << right.summary();
            const auto verdict = nlohmann::json::parse(right.out);
            EXPECT_TRUE(verdict.at("matched").get<bool>()) << what;
            // The immediate issuer sits at depth 1, the root at the top.
            EXPECT_EQ(verdict.at("depth").get<int>(), static_cast<int>(i + 1)) << what;
            count_case("tlsa match");

            const auto upper = match(file, {records[i]}, {"MX1.Example.TEST."});
            EXPECT_EQ(upper.exit_code, kExitOk) << what << ": " << upper.summary();
            count_case("tlsa match");

            const auto wrong = match(file, {records[i]}, {"mx2.example.test"});
            EXPECT_EQ(wrong.exit_code, kExitFailed) << what << ": " << wrong.summary();
            count_case("tlsa match");

            // Any one of several reference names is enough (MX name and
            // TLSA base domain may differ).
            const auto either = match(file, {records[i]}, {"mx2.example.test", kHost});
            EXPECT_EQ(either.exit_code, kExitOk) << what << ": " << either.summary();
            count_case("tlsa match");

            // Without --name the leaf's own name is assumed, and it says so.
            const auto unnamed = match(file, {records[i]});
            EXPECT_EQ(unnamed.exit_code, kExitOk) << what << ": " << unnamed.summary();
            EXPECT_NE(unnamed.out.find("no reference name given"), std::string::npos)
                << unnamed.out;
            count_case("tlsa match");
        }
    }
}

TEST_F(MatchCli, DaneEeIgnoresNamesAndPinsOnlyTheLeaf) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 2, kHost);
    const auto file = write_chain("chain.pem", pki.chain);
    const auto ee = records_of({"--chain", file.string()});
    ASSERT_EQ(ee.size(), 1U);
    const auto other_name = match(file, ee, {"mx2.example.test"});
    EXPECT_EQ(other_name.exit_code, kExitOk) << other_name.summary();
    count_case("tlsa match");

    // The root's key as a DANE-EE record: it is in the chain, but DANE-EE
    // pins the server's own certificate, so it must not match.
    const auto root_key =
        records_of({"--key", (write("root.key", pki.keys[1].to_pem())).string(), "--owner", kHost});
    ASSERT_EQ(root_key.size(), 1U);
    const auto r = match(file, root_key);
    EXPECT_EQ(r.exit_code, kExitFailed) << r.summary();
    count_case("tlsa match");
}

TEST_F(MatchCli, OneMatchingRecordAmongSeveralIsEnough) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 2, kHost);
    const auto file = write_chain("chain.pem", pki.chain);
    const auto ee = records_of({"--chain", file.string()});
    ASSERT_EQ(ee.size(), 1U);
    const auto r = match(file, {corrupt(ee[0]), ee[0]}, {}, true);
    ASSERT_EQ(r.exit_code, kExitOk) << r.summary();
    const auto verdict = nlohmann::json::parse(r.out);
    EXPECT_EQ(verdict.at("record_index").get<int>(), 1);
    EXPECT_EQ(verdict.at("depth").get<int>(), 0);
    count_case("tlsa match");
}

TEST_F(MatchCli, MalformedRecordIsAUsageError) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 1, kHost);
    const auto file = write_chain("self.pem", pki.chain);
    for (const std::string bad : {"3 1 1 zz", "3 1", "3 1 1 abc", "DANE-XX SPKI SHA2-256 00"}) {
        const auto r = match(file, {bad});
        EXPECT_EQ(r.exit_code, kExitUsage) << "'" << bad << "': " << r.summary();
        count_case("tlsa match");
    }
}

TEST_F(MatchCli, RecordsCreatedByLdnsDaneMatch) {
    // What an operator pasted from ldns-dane into the zone must be accepted
    // by daneroll's own check.
    const auto missing = missing_tool_message(kLdnsDane);
    ASSERT_TRUE(missing.empty()) << missing;
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 3, kHost);
    const auto file = write_chain("chain.pem", pki.chain);
    // ldns-dane -o N picks the Nth certificate from the end for usage 2.
    const std::vector<std::pair<int, std::vector<std::string>>> cases = {
        {3, {}}, {2, {"-o", "0"}}, {2, {"-o", "1"}}};
    for (const auto& [usage, options] : cases) {
        const auto theirs = ldns_dane_create(file, kHost, usage, 1, 1, options);
        ASSERT_EQ(theirs.size(), 1U);
        const auto r = match(file, {rdata(theirs[0])}, {kHost});
        EXPECT_EQ(r.exit_code, kExitOk) << rdata(theirs[0]) << ": " << r.summary();
        count_case("tlsa match");
    }
}

// `daneroll tlsa --cert C --key K`: K may be the private key or only the
// public key (PEM SPKI), as the help says; either way a key that is not the
// certificate's is refused (exit 2), and a matching one gives the same
// record as --cert alone.
TEST_F(MatchCli, TlsaChecksCertAgainstAPublicOrPrivateKey) {
    const auto& key = test::cached_key(KeyAlgorithm::EcdsaP256, 0);
    const auto& other = test::cached_key(KeyAlgorithm::EcdsaP256, 1);
    const auto cert = make_self_signed(key, {kHost}, 90, std::chrono::system_clock::now());
    const auto cert_file = write("cert.pem", cert.to_pem());
    auto public_pem = [](const PrivateKey& k) {
        const std::string b64 = base64_encode(k.spki_der());
        std::string pem = "-----BEGIN PUBLIC KEY-----\n";
        for (std::size_t i = 0; i < b64.size(); i += 64) {
            pem += b64.substr(i, 64) + "\n";
        }
        return pem + "-----END PUBLIC KEY-----\n";
    };
    const auto expected = records_of({"--cert", cert_file.string()});
    ASSERT_EQ(expected.size(), 1U);
    const auto pub = write("pub.pem", public_pem(key));
    const auto priv = write("priv.pem", key.to_pem());
    for (const auto& k : {pub, priv}) {
        EXPECT_EQ(records_of({"--cert", cert_file.string(), "--key", k.string()}), expected) << k;
        count_case("tlsa --cert --key");
    }
    const auto other_pub = write("other-pub.pem", public_pem(other));
    const auto other_priv = write("other-priv.pem", other.to_pem());
    for (const auto& k : {other_pub, other_priv}) {
        const auto r = run_process(
            {daneroll_binary(), "tlsa", "--cert", cert_file.string(), "--key", k.string()});
        EXPECT_EQ(r.exit_code, kExitUsage) << r.summary();
        EXPECT_NE(r.err.find("does not belong to the certificate"), std::string::npos)
            << r.summary();
        EXPECT_TRUE(r.out.empty()) << r.out;
        count_case("tlsa --cert --key");
    }
}

}  // namespace
}  // namespace daneroll::interop
