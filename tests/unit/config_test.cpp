#include "daneroll/config/config.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "test_support.hpp"

namespace daneroll::config {
namespace {

namespace fs = std::filesystem;

const std::string kKey =
    "key \"daneroll\" { algorithm hmac-sha256; secret \"bWFkZSB1cCBmb3IgdGVzdHM=\"; };\n";

// A minimal valid config; tests append to or replace parts of it.
std::string base_config(const std::string& extra_service = "") {
    return R"([daneroll]
state_dir = "/var/lib/daneroll"

[tsig.main]
file = "tsig.key"

[zone."example.test"]
tsig_key = "main"

[service.mx1]
host = "mx1.example.test"
)" + extra_service +
           R"(
[service.mx1.source]
type = "command"
command = ["/usr/local/bin/sign", "{csr}", "{chain}"]

[service.mx1.mta]
type = "postfix"
combined_file = "/etc/postfix/tls/mx1-{algorithm}.pem"
)";
}

class ConfigFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        test::write_text(dir_ / "tsig.key", kKey);
        ::chmod((dir_ / "tsig.key").c_str(), 0600);
    }
    Config parse(const std::string& text, bool check_files = true) {
        return parse_config(text, "test.toml", dir_.path(), check_files);
    }
    std::string error_of(const std::string& text, bool check_files = true) {
        try {
            parse(text, check_files);
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Config);
            return e.what();
        }
        ADD_FAILURE() << "accepted:\n" << text;
        return "";
    }
    test::TempDir dir_;
};

TEST_F(ConfigFiles, MinimalConfigGetsDocumentedDefaults) {
    const Config c = parse(base_config());
    ASSERT_EQ(c.services.size(), 1U);
    const Service& s = c.services[0];
    EXPECT_EQ(s.id, "mx1");
    EXPECT_EQ(s.port, 25);
    EXPECT_EQ(s.zone, "example.test");
    EXPECT_EQ(s.tlsa_owner(), "_25._tcp.mx1.example.test.");
    EXPECT_EQ(s.algorithms, std::vector<KeyAlgorithm>{KeyAlgorithm::EcdsaP256});
    EXPECT_EQ(s.scheme, Scheme::CurrentNext);
    EXPECT_EQ(s.ttl, 3600U);
    EXPECT_EQ(s.names, std::vector<std::string>{"mx1.example.test"});
    EXPECT_EQ(s.mta.reload, (std::vector<std::string>{"/usr/sbin/postfix", "reload"}));
    EXPECT_EQ(Service::expand(s.mta.combined_file, KeyAlgorithm::EcdsaP256),
              "/etc/postfix/tls/mx1-ecdsa-p256.pem");
    const TsigKey& k = c.key_of(c.zone_of(s));
    EXPECT_EQ(k.name, "daneroll.");
    EXPECT_EQ(k.algorithm, "hmac-sha256");
    EXPECT_EQ(k.file, dir_ / "tsig.key");
    EXPECT_EQ(c.global.state_dir, "/var/lib/daneroll");
    EXPECT_EQ(c.find_service("mx1"), &c.services[0]);
    EXPECT_EQ(c.find_service("nope"), nullptr);
}

TEST_F(ConfigFiles, UnknownKeyNamesLineColumnAndSuggests) {
    const auto msg = error_of(base_config("shceme = \"current+next\"\n"));
    EXPECT_NE(msg.find("test.toml:12:1: service.mx1.shceme: unknown key; did you mean 'scheme'?"),
              std::string::npos)
        << msg;
    EXPECT_NE(error_of("[daneroll]\nstate_dri = \"/x\"\n" + base_config().substr(11))
                  .find("did you mean 'state_dir'"),
              std::string::npos);
    EXPECT_NE(error_of(base_config() + "[zones.x]\n").find("did you mean 'zone'"),
              std::string::npos);
}

TEST_F(ConfigFiles, TomlSyntaxErrorsHaveAPosition) {
    const auto msg = error_of("[daneroll\nstate_dir = 1\n");
    EXPECT_NE(msg.find("test.toml:1:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("TOML syntax"), std::string::npos) << msg;
}

TEST_F(ConfigFiles, BadValuesAreExplained) {
    EXPECT_NE(error_of(base_config("scheme = \"current-next\"\n")).find("'current+next'"),
              std::string::npos);
    EXPECT_NE(error_of(base_config("port = 70000\n")).find("out of range"), std::string::npos);
    EXPECT_NE(error_of(base_config("port = \"25\"\n")).find("expected an integer, found a string"),
              std::string::npos);
    EXPECT_NE(error_of(base_config("algorithms = [\"rsa1024\"]\n")).find("'rsa1024'"),
              std::string::npos);
    EXPECT_NE(
        error_of(base_config("algorithms = [\"rsa2048\", \"rsa3072\"]\n")).find("at most one RSA"),
        std::string::npos);
    EXPECT_NE(error_of(base_config("rotation_period = \"soon\"\n")).find("not a duration"),
              std::string::npos);
    EXPECT_NE(error_of(base_config("ttl = 3600\nrotation_period = \"1h\"\n")).find("4 x ttl"),
              std::string::npos);
    EXPECT_NE(error_of(base_config("names = [\"other.example.test\"]\n")).find("must include"),
              std::string::npos);
}

TEST_F(ConfigFiles, HostMustBeInsideAConfiguredZone) {
    std::string text = base_config();
    text.replace(text.find("mx1.example.test"), 16, "mx1.example.org");
    EXPECT_NE(error_of(text).find("no configured [zone"), std::string::npos);
    EXPECT_NE(error_of(base_config("zone = \"other.test\"\n")).find("no [zone.\"other.test\"]"),
              std::string::npos);
}

TEST_F(ConfigFiles, ZoneMustReferenceAKnownTsigKey) {
    std::string text = base_config();
    text.replace(text.find("tsig_key = \"main\""), 17, "tsig_key = \"mian\"");
    EXPECT_NE(error_of(text).find("did you mean 'main'"), std::string::npos);
}

TEST_F(ConfigFiles, SecretFilesMustBePrivate) {
    ::chmod((dir_ / "tsig.key").c_str(), 0644);
    const auto msg = error_of(base_config());
    EXPECT_NE(msg.find("tsig.key"), std::string::npos);
    EXPECT_NE(msg.find("chmod 600"), std::string::npos);
    EXPECT_EQ(msg.find("bWFkZSB1cCBmb3IgdGVzdHM"), std::string::npos) << "secret leaked";
}

TEST_F(ConfigFiles, EmptyTsigKeyNameIsAnError) {
    std::string text = base_config();
    text.replace(text.find("file = \"tsig.key\""), 17, "file = \"tsig.key\"\nname = \"\"");
    EXPECT_NE(error_of(text).find("the key name is empty"), std::string::npos);
}

TEST_F(ConfigFiles, Sha384KeyIsRefused) {
    test::write_text(dir_ / "tsig.key", "hmac-sha384:k:AAAA\n");
    EXPECT_NE(error_of(base_config()).find("hmac-sha384"), std::string::npos);
}

TEST_F(ConfigFiles, InlineSecretsAreNotAccepted) {
    std::string text = base_config();
    text.replace(text.find("file = \"tsig.key\""), 17, "secret = \"AAAA\"");
    EXPECT_NE(error_of(text).find("unknown key"), std::string::npos);
}

TEST_F(ConfigFiles, SourceAndMtaCombinationsAreChecked) {
    auto with = [](const std::string& from, const std::string& to) {
        std::string t = base_config();
        t.replace(t.find(from), from.size(), to);
        return t;
    };
    EXPECT_NE(error_of(with("[\"/usr/local/bin/sign\", \"{csr}\", \"{chain}\"]",
                            "[\"/usr/local/bin/sign\", \"{csr}\"]"))
                  .find("{chain}"),
              std::string::npos);
    EXPECT_NE(error_of(with("\"/usr/local/bin/sign\"", "\"sign\"")).find("absolute path"),
              std::string::npos);
    EXPECT_NE(error_of(with("\"{chain}\"", "\"{chian}\"")).find("unknown placeholder"),
              std::string::npos);
    EXPECT_NE(error_of(with("type = \"command\"", "type = \"acme\"")).find("only used with"),
              std::string::npos);
    EXPECT_NE(error_of(with("combined_file", "comb_file")).find("did you mean 'combined_file'"),
              std::string::npos);
    // With one algorithm a fixed file name is fine.
    EXPECT_NO_THROW(parse(with("mx1-{algorithm}.pem", "mx1.pem")));
}

TEST_F(ConfigFiles, SeveralAlgorithmsNeedDistinctFiles) {
    std::string text = base_config("algorithms = [\"ecdsa-p256\", \"rsa2048\"]\n");
    text.replace(text.find("mx1-{algorithm}.pem"), 19, "mx1.pem");
    EXPECT_NE(error_of(text).find("must contain {algorithm}"), std::string::npos);
}

TEST_F(ConfigFiles, CurrentIssuerNeedsIssuersForEachAlgorithm) {
    EXPECT_NE(
        error_of(base_config("scheme = \"current+issuer\"\n")).find("needs [service.mx1.issuers]"),
        std::string::npos);
    const std::string hex(64, 'a');
    const Config c =
        parse(base_config("scheme = \"current+issuer\"\n[service.mx1.issuers]\n"
                          "ecdsa-p256 = [\"2 1 1 " +
                          hex + "\"]\n"));
    const auto& issuers = c.services[0].issuers.at(KeyAlgorithm::EcdsaP256);
    ASSERT_EQ(issuers.size(), 1U);
    EXPECT_EQ(issuers[0].usage, 2);
    EXPECT_NE(error_of(base_config("scheme = \"current+issuer\"\n[service.mx1.issuers]\n"
                                   "ecdsa-p256 = [\"3 1 1 " +
                                   hex + "\"]\n"))
                  .find("usage 2"),
              std::string::npos);
    EXPECT_NE(error_of(base_config("[service.mx1.issuers]\necdsa-p256 = [\"2 1 1 " + hex + "\"]\n"))
                  .find("only used with scheme"),
              std::string::npos);
}

TEST_F(ConfigFiles, IssuerCertificateFilesBecomeDaneTaRecords) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 3);
    test::write_text(dir_ / "issuers.pem", pki.chain[1].to_pem());
    const Config c =
        parse(base_config("scheme = \"current+issuer\"\n[service.mx1.issuers]\n"
                          "ecdsa-p256 = [\"issuers.pem\"]\n"));
    EXPECT_EQ(c.services[0].issuers.at(KeyAlgorithm::EcdsaP256).size(), 1U);
    // A leaf certificate is not an issuer.
    test::write_text(dir_ / "leaf.pem", pki.chain[0].to_pem());
    EXPECT_NE(error_of(base_config("scheme = \"current+issuer\"\n[service.mx1.issuers]\n"
                                   "ecdsa-p256 = [\"leaf.pem\"]\n"))
                  .find("not a CA"),
              std::string::npos);
}

TEST_F(ConfigFiles, DuplicateServiceForSameHostPortAlgorithmIsRefused) {
    std::string text = base_config();
    text += R"(
[service.mx1b]
host = "mx1.example.test"
[service.mx1b.source]
type = "command"
command = ["/usr/local/bin/sign", "{csr}", "{chain}"]
[service.mx1b.mta]
type = "exim"
key_file = "/k"
chain_file = "/c"
)";
    EXPECT_NE(error_of(text).find("already rolled by another service"), std::string::npos);
}

TEST_F(ConfigFiles, AcmeSourceRequiresAgreeingToTerms) {
    std::string text = base_config();
    const std::string command_source =
        "type = \"command\"\ncommand = [\"/usr/local/bin/sign\", \"{csr}\", \"{chain}\"]";
    text.replace(text.find(command_source), command_source.size(),
                 "type = \"acme\"\nwebroot = \"/var/www/acme\"");
    EXPECT_NE(error_of(text).find("agree_tos"), std::string::npos);
    EXPECT_NO_THROW(parse("[acme]\nagree_tos = true\n" + text));
}

TEST_F(ConfigFiles, LoadRefusesConfigWritableByOthers) {
    const fs::path file = dir_ / "daneroll.toml";
    test::write_text(file, base_config());
    ::chmod(file.c_str(), 0644);
    EXPECT_NO_THROW(load_config(file));
    ::chmod(file.c_str(), 0664);
    try {
        load_config(file);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("writable by group or others"), std::string::npos);
    }
    EXPECT_THROW(load_config(dir_ / "missing.toml"), Error);
}

TEST(Examples, EveryExampleConfigParses) {
    std::size_t count = 0;
    for (const auto& entry : fs::directory_iterator(DANEROLL_EXAMPLES_DIR)) {
        if (entry.path().extension() != ".toml") {
            continue;
        }
        SCOPED_TRACE(entry.path().string());
        const std::string text = read_file(entry.path());
        // The referenced key and issuer files live on the operator's host.
        EXPECT_NO_THROW({
            const Config c = parse_config(text, entry.path().string(), "/", false);
            EXPECT_FALSE(c.services.empty());
        });
        ++count;
    }
    EXPECT_GE(count, 3U);
}

}  // namespace
}  // namespace daneroll::config
