// daneroll's `tlsa` output against the tools operators already trust:
// ldns-dane (ldnsutils), hash-slinger's `tlsa`, and the openssl pipeline
// from the DANE how-tos. Same certificate, same owner: the owner name and
// the RDATA must be equal. A disagreement means one of them publishes a
// record that matches nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "common.hpp"
#include "daneroll/crypto/certificate_builder.hpp"
#include "daneroll/crypto/key.hpp"
#include "test_support.hpp"

namespace daneroll::interop {
namespace {

using std::to_string;

// "ecdsa_p256": gtest parameter names allow only letters, digits and '_'.
std::string algorithm_name(const ::testing::TestParamInfo<KeyAlgorithm>& param) {
    std::string n(key_algorithm_name(param.param));
    for (char& c : n) {
        c = c == '-' ? '_' : c;
    }
    return n;
}

// The inputs for DANE-EE records: a self-signed certificate (`--cert`) and
// a CA-issued leaf inside its chain (`--chain`; every tool must pick the
// leaf).
struct EeInput {
    std::string label;
    std::filesystem::path file;
    std::string daneroll_flag;
};

class EeInterop : public InteropTest, public ::testing::WithParamInterface<KeyAlgorithm> {
  protected:
    std::vector<EeInput> inputs() {
        const PrivateKey& key = test::cached_key(GetParam(), 0);
        const auto self = make_self_signed(key, {kHost, "mx2.example.test"}, 90,
                                           std::chrono::system_clock::now());
        const auto pki = test::make_pki(GetParam(), 2, kHost);
        return {{"self-signed", write("self.pem", self.to_pem()), "--cert"},
                {"CA-issued leaf in its chain", write_chain("chain.pem", pki.chain), "--chain"}};
    }

    static std::vector<std::string> daneroll_args(const EeInput& in, int usage, const Combo& c) {
        return {in.daneroll_flag, in.file.string(),      "--usage", to_string(usage),
                "--selector",     to_string(c.selector), "--mtype", to_string(c.mtype)};
    }
};

std::string combo_label(const std::string& what, int usage, const Combo& c) {
    return what + ", record " + to_string(usage) + " " + to_string(c.selector) + " " +
           to_string(c.mtype);
}

TEST_P(EeInterop, LdnsDaneGivesTheSameRecords) {
    const auto missing = missing_tool_message(kLdnsDane);
    ASSERT_TRUE(missing.empty()) << missing;
    for (const auto& in : inputs()) {
        for (const auto& c : kCombos) {
            const std::string what = combo_label(in.label, 3, c);
            const auto ours = daneroll_tlsa(daneroll_args(in, 3, c));
            const auto theirs = ldns_dane_create(in.file, kHost, 3, c.selector, c.mtype, {});
            ASSERT_EQ(ours.size(), 1U) << what;
            ASSERT_EQ(theirs.size(), 1U) << what;
            EXPECT_EQ(ours[0], theirs[0]) << what;
            count_case("ldns-dane");
        }
    }
}

TEST_P(EeInterop, HashSlingerGivesTheSameRecords) {
    const auto missing = missing_tool_message(kHashSlinger);
    ASSERT_TRUE(missing.empty()) << missing;
    for (const auto& in : inputs()) {
        for (const auto& c : kCombos) {
            const std::string what = combo_label(in.label, 3, c);
            const auto ours = daneroll_tlsa(daneroll_args(in, 3, c));
            const auto theirs = hash_slinger_create(in.file, kHost, 3, c.selector, c.mtype, "",
                                                    loopback_resolv_conf());
            ASSERT_EQ(ours.size(), 1U) << what;
            ASSERT_EQ(theirs.size(), 1U) << what;
            EXPECT_EQ(ours[0], theirs[0]) << what;
            count_case("hash-slinger");
        }
    }
}

INSTANTIATE_TEST_SUITE_P(EcdsaAndRsa, EeInterop,
                         ::testing::Values(KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048),
                         algorithm_name);

// DANE-TA: `daneroll tlsa --chain --usage 2` prints one record per CA, the
// immediate issuer first. The tools print one, chosen by position.
class TaInterop : public InteropTest, public ::testing::WithParamInterface<KeyAlgorithm> {};

TEST_P(TaInterop, LdnsDaneGivesTheSameIssuerRecords) {
    const auto missing = missing_tool_message(kLdnsDane);
    ASSERT_TRUE(missing.empty()) << missing;
    for (const int depth : {2, 3}) {
        const auto pki = test::make_pki(GetParam(), depth, kHost);
        const auto file = write_chain("chain" + to_string(depth) + ".pem", pki.chain);
        for (const auto& c : kCombos) {
            const auto ours = daneroll_tlsa({"--chain", file.string(), "--usage", "2", "--selector",
                                             to_string(c.selector), "--mtype", to_string(c.mtype)});
            ASSERT_EQ(ours.size(), pki.chain.size() - 1);
            for (std::size_t ca = 1; ca < pki.chain.size(); ++ca) {
                // ldns-dane -o N picks the Nth certificate from the end.
                const auto offset = pki.chain.size() - 1 - ca;
                const std::string what =
                    combo_label("depth " + to_string(depth) + " CA " + to_string(ca), 2, c);
                const auto theirs = ldns_dane_create(file, kHost, 2, c.selector, c.mtype,
                                                     {"-o", to_string(offset)});
                ASSERT_EQ(theirs.size(), 1U) << what;
                EXPECT_EQ(ours[ca - 1], theirs[0]) << what;
                count_case("ldns-dane");
            }
        }
    }
}

TEST_P(TaInterop, HashSlingerGivesTheSameIssuerRecords) {
    const auto missing = missing_tool_message(kHashSlinger);
    ASSERT_TRUE(missing.empty()) << missing;
    for (const int depth : {2, 3}) {
        const auto pki = test::make_pki(GetParam(), depth, kHost);
        const auto file = write_chain("chain" + to_string(depth) + ".pem", pki.chain);
        for (const auto& c : kCombos) {
            const auto ours = daneroll_tlsa({"--chain", file.string(), "--usage", "2", "--selector",
                                             to_string(c.selector), "--mtype", to_string(c.mtype)});
            ASSERT_EQ(ours.size(), pki.chain.size() - 1);
            for (std::size_t ca = 1; ca < pki.chain.size(); ++ca) {
                // "n" for every certificate before this CA, then "y" unless
                // it is the last one, which hash-slinger takes unasked.
                std::string answers;
                for (std::size_t i = 0; i < ca; ++i) {
                    answers += "n\n";
                }
                if (ca + 1 < pki.chain.size()) {
                    answers += "y\n";
                }
                const std::string what =
                    combo_label("depth " + to_string(depth) + " CA " + to_string(ca), 2, c);
                const auto theirs = hash_slinger_create(file, kHost, 2, c.selector, c.mtype,
                                                        answers, loopback_resolv_conf());
                ASSERT_EQ(theirs.size(), 1U) << what;
                EXPECT_EQ(ours[ca - 1], theirs[0]) << what;
                count_case("hash-slinger");
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(EcdsaAndRsa, TaInterop,
                         ::testing::Values(KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048),
                         algorithm_name);

class OwnerNames : public InteropTest {};

TEST_F(OwnerNames, AgreeForOtherPortsAndSpellings) {
    const auto missing = missing_tool_message(kLdnsDane);
    ASSERT_TRUE(missing.empty()) << missing;
    const auto cert = make_self_signed(test::cached_key(KeyAlgorithm::EcdsaP256, 0), {kHost}, 90,
                                       std::chrono::system_clock::now());
    const auto file = write("self.pem", cert.to_pem());
    // ldns-dane keeps the spelling it is given; DNS names compare without
    // regard to case, and daneroll prints them normalised.
    for (const std::string host : {"MX1.Example.TEST.", "mx1.example.test"}) {
        for (const std::string port : {"25", "587", "465"}) {
            const auto ours =
                daneroll_tlsa({"--cert", file.string(), "--owner", host, "--port", port});
            auto argv = offline({"ldns-dane", "-r", "127.0.0.1", "-c", file.string(), "create",
                                 host, port, "3", "1", "1"});
            const auto r = run_process(argv);
            ASSERT_EQ(r.exit_code, 0) << r.summary();
            const auto theirs = parse_tlsa_lines(r.out);
            ASSERT_EQ(ours.size(), 1U);
            ASSERT_EQ(theirs.size(), 1U) << r.summary();
            EXPECT_EQ(ours[0], theirs[0]) << host << " port " << port;
            EXPECT_EQ(ours[0].owner, "_" + port + "._tcp.mx1.example.test.");
            count_case("ldns-dane");
        }
    }
}

// The recipe in every DANE how-to:
//   openssl x509 -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256
class OpensslPipeline : public InteropTest {
  protected:
    // Runs one stage of a pipeline, failing the test if it fails.
    static std::string stage(const std::vector<std::string>& argv, const std::string& input) {
        const auto r = run_process(argv, input);
        EXPECT_EQ(r.exit_code, 0) << argv[0] << " " << argv[1] << ": " << r.summary();
        return r.out;
    }

    // "SHA2-256(stdin)= ab12..." -> "ab12...".
    static std::string digest_of(const std::string& dgst_output) {
        const auto eq = dgst_output.find("= ");
        EXPECT_NE(eq, std::string::npos) << "unexpected openssl dgst output: " << dgst_output;
        if (eq == std::string::npos) {
            return "";
        }
        std::string hex = dgst_output.substr(eq + 2);
        while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r')) {
            hex.pop_back();
        }
        return hex;
    }
};

class OpensslInterop : public OpensslPipeline,
                       public ::testing::WithParamInterface<KeyAlgorithm> {};

TEST_P(OpensslInterop, PipelineDigestsEqualDanerollRecords) {
    const auto missing = missing_tool_message(kOpenssl);
    ASSERT_TRUE(missing.empty()) << missing;
    const auto cert = make_self_signed(test::cached_key(GetParam(), 0), {kHost}, 90,
                                       std::chrono::system_clock::now());
    const auto file = write("cert.pem", cert.to_pem()).string();

    const std::string pub = stage({"openssl", "x509", "-in", file, "-pubkey", "-noout"}, "");
    const std::string spki = stage({"openssl", "pkey", "-pubin", "-outform", "DER"}, pub);
    const std::string der = stage({"openssl", "x509", "-in", file, "-outform", "DER"}, "");
    struct Case {
        const char* record;
        const std::string& input;
        const char* digest;
    };
    for (const auto& c : {Case{"3 1 1", spki, "-sha256"}, Case{"3 1 2", spki, "-sha512"},
                          Case{"3 0 1", der, "-sha256"}, Case{"3 0 2", der, "-sha512"}}) {
        const std::string expected = digest_of(stage({"openssl", "dgst", c.digest}, c.input));
        const std::string rec(c.record);
        const auto ours = daneroll_tlsa({"--cert", file, "--usage", rec.substr(0, 1), "--selector",
                                         rec.substr(2, 1), "--mtype", rec.substr(4, 1)});
        ASSERT_EQ(ours.size(), 1U);
        EXPECT_EQ(ours[0].data, expected) << c.record;
        count_case("openssl");
    }
}

TEST_F(OpensslPipeline, KeygenAndKeyFileRecordsEqualThePipeline) {
    // `daneroll keygen` announces the key's 3 1 1 record, and `daneroll
    // tlsa --key` computes it again from the file: both must equal
    // openssl's digest of the public half.
    const auto missing = missing_tool_message(kOpenssl);
    ASSERT_TRUE(missing.empty()) << missing;
    for (const std::string alg : {"ecdsa-p256", "ecdsa-p384", "rsa2048"}) {
        const auto key_file = dir_ / (alg + ".key");
        const auto gen = run_process(
            {daneroll_binary(), "keygen", "--algorithm", alg, "--out", key_file.string()});
        ASSERT_EQ(gen.exit_code, 0) << gen.summary();
        const std::string spki =
            stage({"openssl", "pkey", "-in", key_file.string(), "-pubout", "-outform", "DER"}, "");
        const std::string expected = digest_of(stage({"openssl", "dgst", "-sha256"}, spki));
        ASSERT_FALSE(expected.empty());
        EXPECT_NE(gen.out.find("3 1 1 " + expected), std::string::npos)
            << alg << ": keygen announced another record: " << gen.out;
        const auto ours = daneroll_tlsa({"--key", key_file.string(), "--owner", kHost});
        ASSERT_EQ(ours.size(), 1U);
        EXPECT_EQ(ours[0].data, expected) << alg;
        count_case("openssl");
    }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, OpensslInterop,
                         ::testing::Values(KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384,
                                           KeyAlgorithm::Rsa2048, KeyAlgorithm::Ed25519),
                         algorithm_name);

}  // namespace
}  // namespace daneroll::interop
