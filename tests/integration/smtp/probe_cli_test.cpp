// `daneroll probe` as scripts and Ansible use it: exit codes and JSON,
// against the sandbox's Postfix instances.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "daneroll/crypto/certificate_builder.hpp"
#include "daneroll/tlsa/compute.hpp"
#include "process.hpp"
#include "sandbox.hpp"
#include "test_support.hpp"

namespace daneroll::smtp_it {
namespace {

using std::chrono::system_clock;

std::string daneroll_bin() {
    const char* env = std::getenv("DANEROLL_BIN");
    return env != nullptr && *env != '\0' ? env : DANEROLL_BIN;
}

ProcessResult probe_cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv{daneroll_bin(), "probe"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", std::chrono::seconds(60));
}

class ProbeCli : public ::testing::Test {
  protected:
    // Both instances serve `first_key`'s leaf, or postfix2 serves another.
    TlsaRecord set_up(bool second_differs) {
        const auto& s = sandbox();
        const auto& key = test::cached_key(KeyAlgorithm::EcdsaP256, 20);
        const auto& other_key = test::cached_key(KeyAlgorithm::EcdsaP256, 21);
        const auto leaf = make_self_signed(key, {s.info().mx_host}, 30, system_clock::now());
        const auto other = make_self_signed(other_key, {s.info().mx_host}, 30, system_clock::now());
        s.serve(s.info().postfix.at(0), {leaf}, key);
        if (second_differs) {
            s.serve(s.info().postfix.at(1), {other}, other_key);
        } else {
            s.serve(s.info().postfix.at(1), {leaf}, key);
        }
        return tlsa_from_certificate(leaf, 3, 1, 1);
    }

    std::vector<std::string> args_for(const TlsaRecord& rec) const {
        const auto& info = sandbox().info();
        return {info.mx_host,
                "--address",
                info.mx_addrs.at(0),
                "--address",
                info.mx_addrs.at(1),
                "--record",
                rec.to_string(),
                "--ehlo",
                "cli-test.example.test",
                "--timeout",
                "5s"};
    }
};

TEST_F(ProbeCli, AllVerifiedExitsZeroWithAFullJsonReport) {
    const auto rec = set_up(false);
    auto args = args_for(rec);
    args.emplace_back("--json");
    const auto r = probe_cli(args);
    ASSERT_EQ(r.exit_code, 0) << r.summary();
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_TRUE(j.at("all_verified").get<bool>());
    EXPECT_TRUE(j.at("failures").empty());
    EXPECT_EQ(j.at("records").at(0), rec.to_string());
    ASSERT_EQ(j.at("results").size(), 2U);
    for (const auto& res : j.at("results")) {
        EXPECT_EQ(res.at("status"), "verified");
        EXPECT_EQ(res.at("matched_record"), 0);
        EXPECT_EQ(res.at("matched_rdata"), rec.to_string());
        EXPECT_EQ(res.at("match_depth"), 0);
        EXPECT_EQ(res.at("leaf_spki_sha256"), to_hex(rec.data));
        EXPECT_EQ(res.at("tls_version"), "TLSv1.3");
        EXPECT_EQ(res.at("chain").at(0).at("subject"), "CN=" + sandbox().info().mx_host);
        EXPECT_TRUE(res.at("leaf_not_after").is_string());
        for (const char* step : {"connect", "banner", "ehlo", "starttls", "handshake", "total"}) {
            EXPECT_TRUE(res.at("timings_ms").at(step).is_number()) << step;
        }
    }
}

TEST_F(ProbeCli, OneBadAddressExitsOneAndNamesIt) {
    const auto rec = set_up(true);
    const auto& bad = sandbox().info().mx_addrs.at(1);
    auto args = args_for(rec);
    const auto human = probe_cli(args);
    EXPECT_EQ(human.exit_code, 1) << human.summary();
    EXPECT_NE(human.output.find(bad + ": NOT VERIFIED (dane-mismatch)"), std::string::npos)
        << human.output;
    args.emplace_back("--json");
    const auto r = probe_cli(args);
    EXPECT_EQ(r.exit_code, 1) << r.summary();
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_FALSE(j.at("all_verified").get<bool>());
    ASSERT_EQ(j.at("failures").size(), 1U);
    EXPECT_EQ(j.at("failures").at(0).at("address"), bad);
    EXPECT_EQ(j.at("failures").at(0).at("status"), "dane-mismatch");
}

TEST_F(ProbeCli, AddressesAndRecordsComeFromTheValidatingResolver) {
    const auto& info = sandbox().info();
    const auto rec = set_up(false);
    // publish() waits until the validating resolver answers with the AD bit.
    sandbox().publish({rec});
    const std::vector<std::string> args{info.mx_host,
                                        "--resolver",
                                        info.resolver_addr,
                                        "--ehlo",
                                        "cli-test.example.test",
                                        "--timeout",
                                        "5s",
                                        "--json"};
    const auto r = probe_cli(args);
    ASSERT_EQ(r.exit_code, 0) << r.summary();
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j.at("records").size(), 1U);
    EXPECT_EQ(j.at("records").at(0), rec.to_string());
    // Every A record of the MX host was probed.
    EXPECT_EQ(j.at("results").size(), info.mx_addrs.size());

    // Records in DNS that match nothing served: exit 1.
    const TlsaRecord other = TlsaRecord::parse("3 1 1 " + std::string(64, 'b'));
    sandbox().publish({other});
    EXPECT_EQ(probe_cli(args).exit_code, 1);

    // A secure "no TLSA here" means DANE is not in effect: not verified.
    sandbox().publish({});
    const auto none = probe_cli(args);
    EXPECT_EQ(none.exit_code, 1) << none.summary();
    EXPECT_NE(none.output.find("no TLSA records"), std::string::npos) << none.output;
}

TEST(ProbeCliUsage, AddressesAndRecordsAreChecked) {
    const auto bad = probe_cli({"mx1.example.test", "--address", "mx1.example.test", "--record",
                                "3 1 1 " + std::string(64, 'a')});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.output.find("not an IPv4 or IPv6 address"), std::string::npos) << bad.output;
    const auto timeout = probe_cli({"mx1.example.test", "--address", "127.0.0.1", "--record",
                                    "3 1 1 " + std::string(64, 'a'), "--timeout", "soon"});
    EXPECT_EQ(timeout.exit_code, 2);
}

}  // namespace
}  // namespace daneroll::smtp_it
