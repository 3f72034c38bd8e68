// Engine::hand_over, certbot's deploy hook's half: which units of a
// certbot-sourced config take a renewed lineage, and which refuse it (the
// MX host is not among RENEWED_DOMAINS; the chain is not valid for the unit:
// another key, another name, expired). No network: hand_over only reads the
// lineage and writes the units' inboxes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/config/config.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "daneroll/crypto/key.hpp"
#include "daneroll/rollover/engine.hpp"
#include "test_support.hpp"

namespace daneroll::rollover {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777U;
}

class HandOverTest : public ::testing::Test {
  protected:
    void SetUp() override {
        test::write_text(dir_ / "tsig.key",
                         "key \"main\" { algorithm hmac-sha256; secret "
                         "\"bWFkZSB1cCBmb3IgdGVzdHM=\"; };\n");
        ::chmod((dir_ / "tsig.key").c_str(), 0600);
        fs::create_directories(lineage());
    }

    fs::path lineage() const { return dir_ / "letsencrypt" / "live" / "mx1"; }
    fs::path inbox() const { return dir_ / "state" / "inbox" / "mx1" / "ecdsa-p256"; }

    Engine engine() const {
        const std::string text = "[daneroll]\nstate_dir = \"" + (dir_ / "state").string() +
                                 "\"\n\n[tsig.main]\nfile = \"tsig.key\"\n\n"
                                 "[zone.\"example.test\"]\ntsig_key = \"main\"\n\n"
                                 "[service.mx1]\nhost = \"mx1.example.test\"\n"
                                 "algorithms = [\"ecdsa-p256\"]\n\n"
                                 "[service.mx1.source]\ntype = \"certbot\"\nlineage = \"" +
                                 lineage().string() +
                                 "\"\n\n[service.mx1.mta]\ntype = \"postfix\"\n"
                                 "combined_file = \"" +
                                 (dir_ / "mx1-{algorithm}.pem").string() + "\"\n";
        return Engine(config::parse_config(text, "test.toml", dir_.path()));
    }

    // certbot's live/ files: privkey.pem holds `key`, fullchain.pem `pki`'s
    // leaf and issuer.
    void write_lineage(const test::TestPki& pki, const PrivateKey& key) const {
        save_private_key(key, lineage() / "privkey.pem", Overwrite::Yes);
        const std::vector<Certificate> chain{pki.chain[0], pki.chain[1]};
        write_file_atomic(lineage() / "fullchain.pem", chain_to_pem(chain), 0644, Overwrite::Yes);
    }
    void write_lineage(const test::TestPki& pki) const { write_lineage(pki, pki.keys[0]); }

    void expect_refused(const HandOver& h, const std::string& why) const {
        EXPECT_TRUE(h.took.empty());
        ASSERT_EQ(h.refused.size(), 1U);
        EXPECT_TRUE(contains(h.refused[0], (lineage() / "fullchain.pem").string())) << h.refused[0];
        EXPECT_TRUE(contains(h.refused[0], "mx1/ecdsa-p256")) << h.refused[0];
        EXPECT_TRUE(contains(h.refused[0], why)) << h.refused[0];
        EXPECT_FALSE(fs::exists(inbox() / "chain.pem"));
        EXPECT_FALSE(fs::exists(inbox() / "key.pem"));
    }

    test::TempDir dir_;
};

TEST_F(HandOverTest, ValidChainIsTakenIntoThePrivateInbox) {
    write_lineage(test::make_pki(KeyAlgorithm::EcdsaP256, 2));
    auto e = engine();
    const auto h = e.hand_over(lineage(), std::vector<std::string>{"mx1.example.test"});
    EXPECT_EQ(h.took, std::vector<std::string>{"mx1/ecdsa-p256"});
    EXPECT_TRUE(h.skipped.empty());
    EXPECT_TRUE(h.refused.empty());
    EXPECT_EQ(mode_of(inbox()), 0700U);
    EXPECT_EQ(mode_of(inbox() / "key.pem"), 0600U);
    EXPECT_EQ(mode_of(inbox() / "chain.pem"), 0600U);
    EXPECT_TRUE(e.takes_lineage(lineage()));
    EXPECT_FALSE(e.takes_lineage(dir_ / "letsencrypt" / "live" / "other"));
}

TEST_F(HandOverTest, WithoutRenewedDomainsTheChainIsTaken) {
    write_lineage(test::make_pki(KeyAlgorithm::EcdsaP256, 2));
    auto e = engine();
    EXPECT_EQ(e.hand_over(lineage()).took, std::vector<std::string>{"mx1/ecdsa-p256"});
}

TEST_F(HandOverTest, MxHostNotAmongRenewedDomainsIsNotHandedTheChain) {
    write_lineage(test::make_pki(KeyAlgorithm::EcdsaP256, 2));
    auto e = engine();
    const auto h =
        e.hand_over(lineage(), std::vector<std::string>{"www.example.test", "example.test"});
    EXPECT_TRUE(h.took.empty());
    ASSERT_EQ(h.skipped.size(), 1U);
    EXPECT_TRUE(contains(h.skipped[0], "mx1.example.test")) << h.skipped[0];
    EXPECT_TRUE(contains(h.skipped[0], "www.example.test example.test")) << h.skipped[0];
    EXPECT_FALSE(fs::exists(inbox() / "chain.pem"));
}

TEST_F(HandOverTest, ChainWithoutTheMxHostIsRefusedNamingTheFile) {
    write_lineage(test::make_pki(KeyAlgorithm::EcdsaP256, 2, "www.example.test"));
    auto e = engine();
    expect_refused(e.hand_over(lineage()), "without the name mx1.example.test");
}

TEST_F(HandOverTest, ExpiredChainIsRefused) {
    write_lineage(test::make_pki(KeyAlgorithm::EcdsaP256, 2, "mx1.example.test",
                                 std::chrono::system_clock::now() - hours(24 * 60)));
    auto e = engine();
    expect_refused(e.hand_over(lineage()), "not valid now");
}

TEST_F(HandOverTest, ChainForAnotherKeyIsRefused) {
    write_lineage(test::make_pki(KeyAlgorithm::EcdsaP256, 2),
                  test::cached_key(KeyAlgorithm::EcdsaP256, 7));
    auto e = engine();
    expect_refused(e.hand_over(lineage()), "another key");
}

TEST_F(HandOverTest, UnknownLineageIsAnError) {
    auto e = engine();
    EXPECT_THROW((void)e.hand_over(dir_ / "letsencrypt" / "live" / "other"), Error);
}

}  // namespace
}  // namespace daneroll::rollover
