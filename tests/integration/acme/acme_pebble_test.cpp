// daneroll's ACME client against a real Pebble (Debian's /usr/bin/pebble),
// one Pebble per test on its own loopback address (127.53.30.N), names
// resolved by pebble-challtestsrv to 127.53.30.(100+N) where the test puts
// its http-01 responder. Checks go through the daneroll binary as an
// operator runs it, and the outcome is judged with the openssl command line
// (public key of the issued leaf vs. the pre-generated key; the chain
// verifies to the root Pebble's management interface hands out).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "acme_support.hpp"
#include "daneroll/acme/challenge.hpp"
#include "daneroll/acme/issue.hpp"
#include "daneroll/common/duration.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/crypto/key.hpp"

namespace daneroll::acme_test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string pebble_addr(int slot) {
    return "127.53.30." + std::to_string(slot);
}
std::string responder_addr(int slot) {
    return "127.53.30." + std::to_string(100 + slot);
}

json parse_json(const ProcResult& r) {
    try {
        return json::parse(r.output);
    } catch (const std::exception&) {
        ADD_FAILURE() << "not JSON: " << r.describe();
        return json::object();
    }
}

class AcmePebble : public ::testing::Test {
  protected:
    // Starts Pebble for test slot `slot` and writes a config whose source
    // section is `source_lines`.
    void start(int slot, const std::vector<std::string>& pebble_env = {},
               std::optional<std::string> eab = std::nullopt) {
        slot_ = slot;
        dir_ = fresh_work_dir(current_test_name());
        PebbleOptions o;
        o.addr = pebble_addr(slot);
        o.fake_dns = responder_addr(slot);
        o.env = pebble_env;
        o.eab = std::move(eab);
        pebble_ = std::make_unique<Pebble>(dir_ / "pebble", o);
        spec_.state_dir = dir_ / "state";
        spec_.directory = pebble_->directory();
        spec_.ca_bundle = pebble_->ca();
        spec_.source = "listen = " + listen() + "\n";
        key_ = dir_ / "keys" / "next.key";
        ensure_private_directory(key_.parent_path());
        save_private_key(PrivateKey::generate(KeyAlgorithm::EcdsaP256), key_, Overwrite::No);
    }

    [[nodiscard]] std::string listen() const { return "\"" + responder_addr(slot_) + ":5002\""; }

    fs::path config() { return write_config(dir_, spec_); }

    // The checks every successful issuance must pass, independently of
    // daneroll: the leaf carries the pre-generated key and names, and the
    // chain verifies to Pebble's root.
    void expect_good_chain(const fs::path& chain, int root = 0) {
        EXPECT_EQ(openssl_cert_pubkey(chain), openssl_key_pubkey(key_))
            << "the issued leaf does not carry the pre-generated key";
        const auto certs = load_certificates(chain);
        ASSERT_EQ(certs.size(), 2u);
        EXPECT_EQ(certs[0].dns_names(), spec_.names);
        EXPECT_TRUE(openssl_verifies(chain, pebble_->root_pem(root), dir_))
            << "openssl verify failed for " << chain;
    }

    void TearDown() override {
        if (HasFailure() && pebble_) {
            std::cout << "--- pebble log (tail):\n" << pebble_->log() << '\n';
        }
        pebble_.reset();
    }

    int slot_ = 0;
    fs::path dir_;
    fs::path key_;
    ConfigSpec spec_;
    std::unique_ptr<Pebble> pebble_;
};

TEST_F(AcmePebble, RegisterCreatesPrivateKeyAndAccountOnce) {
    start(1);
    const auto cfg = config();
    const auto before = daneroll(cfg, {"acme", "show"});
    ASSERT_TRUE(before.ok()) << before.describe();
    EXPECT_TRUE(contains(before.output, "does not exist")) << before.output;

    const auto r = daneroll(cfg, {"acme", "register", "--json"});
    ASSERT_TRUE(r.ok()) << r.describe();
    const json j = parse_json(r);
    EXPECT_TRUE(j.value("key_created", false));
    EXPECT_FALSE(j.value("already_registered", true));
    EXPECT_EQ(j["alg"], "ES256");
    EXPECT_EQ(j["account"]["status"], "valid");
    EXPECT_EQ(j["account"]["contact"], json::array({"mailto:hostmaster@example.test"}));
    const std::string url = j["account"]["url"];
    EXPECT_TRUE(contains(url, "/my-account/")) << url;

    // The key is a secret: 0600 in a 0700 directory; the URL is kept beside it.
    struct stat st {};
    ASSERT_EQ(::stat((spec_.state_dir / "acme" / "account.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat((spec_.state_dir / "acme").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    const std::string record = read_file(spec_.state_dir / "acme" / "account.json");
    EXPECT_TRUE(contains(record, url)) << record;
    EXPECT_FALSE(contains(r.output, "PRIVATE KEY"));

    const auto again = daneroll(cfg, {"acme", "register", "--json"});
    ASSERT_TRUE(again.ok()) << again.describe();
    const json j2 = parse_json(again);
    EXPECT_TRUE(j2.value("already_registered", false));
    EXPECT_FALSE(j2.value("key_created", true));
    EXPECT_EQ(j2["account"]["url"], url);
    EXPECT_EQ(j2["account"]["status"], "valid");

    const auto show = daneroll(cfg, {"acme", "show", "--json"});
    ASSERT_TRUE(show.ok()) << show.describe();
    const json s = parse_json(show);
    EXPECT_EQ(s["account"]["url"], url);
    EXPECT_EQ(s["directory"]["external_account_required"], false);
    EXPECT_EQ(s["thumbprint"], j["thumbprint"]);
}

TEST_F(AcmePebble, RegisterWithRsaAccountKey) {
    start(2);
    const auto r = daneroll(config(), {"acme", "register", "--key-algorithm", "rsa2048", "--json"});
    ASSERT_TRUE(r.ok()) << r.describe();
    const json j = parse_json(r);
    EXPECT_EQ(j["alg"], "RS256");
    EXPECT_EQ(j["account"]["status"], "valid");
    // And the RS256 account can order.
    const auto issue = daneroll(config(), {"acme", "issue", "--key", key_.string(), "--service",
                                           "mx1", "--out", (dir_ / "chain.pem").string()});
    ASSERT_TRUE(issue.ok()) << issue.describe();
    expect_good_chain(dir_ / "chain.pem");
}

TEST_F(AcmePebble, ExternalAccountBindingRequiredAndUsed) {
    // A 32-byte MAC key, base64url as CAs hand it out.
    const std::string mac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    start(3, {}, "kid-1:" + mac);
    const auto no_eab = daneroll(config(), {"acme", "register"});
    EXPECT_EQ(no_eab.code, 3) << no_eab.describe();
    EXPECT_TRUE(contains(no_eab.output, "External Account Binding")) << no_eab.output;

    const fs::path mac_file = dir_ / "eab.key";
    write_file_atomic(mac_file, mac + "\n", 0600, Overwrite::Yes);
    spec_.eab_kid = "kid-1";
    spec_.eab_key_file = mac_file;
    const auto r = daneroll(config(), {"acme", "register", "--json"});
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(parse_json(r)["account"]["status"], "valid");
    EXPECT_FALSE(contains(r.output, mac));

    // A wrong MAC key is refused by the CA, and said so.
    write_file_atomic(mac_file, "AAAA" + mac.substr(4) + "\n", 0600, Overwrite::Yes);
    fs::remove_all(spec_.state_dir);
    const auto bad = daneroll(config(), {"acme", "register"});
    EXPECT_FALSE(bad.ok()) << bad.describe();
    EXPECT_TRUE(contains(bad.output, "new-account")) << bad.output;
}

TEST_F(AcmePebble, Http01WithBuiltInListener) {
    start(4);
    const fs::path chain = dir_ / "chain.pem";
    const auto r = daneroll(config(), {"acme", "issue", "--key", key_.string(), "--service", "mx1",
                                       "--out", chain.string(), "--json"});
    ASSERT_TRUE(r.ok()) << r.describe();
    const json j = parse_json(r);
    EXPECT_EQ(j["chain_length"], 2);
    EXPECT_TRUE(contains(j.value("issuer", ""), "Pebble Intermediate CA")) << j.dump(2);
    expect_good_chain(chain);
    // The listener is gone once the command returns.
    EXPECT_TRUE(port_closed(responder_addr(slot_), 5002));
    // The account was registered on the way; a second issuance reuses it.
    const auto second =
        daneroll(config(),
                 {"acme", "issue", "--key", key_.string(), "--name", "mx1.example.test", "--listen",
                  responder_addr(slot_) + ":5002", "--out", (dir_ / "chain2.pem").string()});
    ASSERT_TRUE(second.ok()) << second.describe();
    EXPECT_EQ(openssl_cert_pubkey(dir_ / "chain2.pem"), openssl_key_pubkey(key_));
}

TEST_F(AcmePebble, Http01WithWebrootServedByAnotherServer) {
    start(5);
    const fs::path www = dir_ / "www";
    fs::create_directories(www);
    fs::permissions(www, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    // A web server daneroll knows nothing about, serving the webroot.
    Background web({"/usr/bin/python3", "-m", "http.server", "--bind", responder_addr(slot_),
                    "--directory", www.string(), "5002"},
                   dir_ / "http.server.log");
    ASSERT_TRUE(web.wait_port(responder_addr(slot_), 5002, 10s));
    spec_.source = "webroot = \"" + www.string() + "\"\n";
    const fs::path chain = dir_ / "chain.pem";
    const auto r = daneroll(config(), {"acme", "issue", "--key", key_.string(), "--service", "mx1",
                                       "--out", chain.string()});
    ASSERT_TRUE(r.ok()) << r.describe();
    expect_good_chain(chain);
    // Pebble fetched both tokens from the web server ...
    const std::string log = read_file(dir_ / "http.server.log");
    EXPECT_NE(log.find("/.well-known/acme-challenge/"), std::string::npos) << log;
    // ... and nothing is left in the webroot, not even the directories.
    EXPECT_TRUE(files_below(www).empty());
    EXPECT_FALSE(fs::exists(www / ".well-known"));
}

TEST_F(AcmePebble, BadNoncesAreRetried) {
    start(6, {"PEBBLE_WFE_NONCEREJECT=50"});
    const fs::path chain = dir_ / "chain.pem";
    const auto r = daneroll(config(), {"acme", "issue", "--key", key_.string(), "--service", "mx1",
                                       "--out", chain.string(), "--verbose"});
    ASSERT_TRUE(r.ok()) << r.describe();
    expect_good_chain(chain);
    std::size_t retries = 0;
    for (auto pos = r.output.find("badNonce"); pos != std::string::npos;
         pos = r.output.find("badNonce", pos + 1)) {
        ++retries;
    }
    // About half of ~15 requests: none at all would mean Pebble's rate
    // was not applied and the retry path untested.
    EXPECT_GE(retries, 1u) << r.output;
    std::cout << "badNonce retries: " << retries << '\n';
}

TEST_F(AcmePebble, FailedAuthorizationIsReportedAndWebrootLeftClean) {
    start(7);
    const fs::path www = dir_ / "www";
    fs::create_directories(www / ".well-known");  // the operator's: must survive
    write_file_atomic(www / ".well-known" / "security.txt", "Contact: x\n", 0644, Overwrite::Yes);
    // Nothing serves the webroot: Pebble's connection is refused.
    spec_.source = "webroot = \"" + www.string() + "\"\n";
    const auto r = daneroll(config(), {"acme", "issue", "--key", key_.string(), "--service", "mx1",
                                       "--out", (dir_ / "chain.pem").string()});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_TRUE(contains(r.output, "could not validate")) << r.output;
    EXPECT_TRUE(contains(r.output, "http-01")) << r.output;
    EXPECT_TRUE(contains(r.output, "connection refused")) << r.output;
    EXPECT_FALSE(fs::exists(dir_ / "chain.pem"));
    EXPECT_EQ(files_below(www), std::vector<fs::path>{www / ".well-known" / "security.txt"});
    EXPECT_FALSE(fs::exists(www / ".well-known" / "acme-challenge"));
}

TEST_F(AcmePebble, FailedAuthorizationWithListenerStopsIt) {
    start(8);
    // The listener on another address than the names resolve to.
    const std::string elsewhere = "127.53.30.250";
    const auto r =
        daneroll(config(), {"acme", "issue", "--key", key_.string(), "--service", "mx1", "--listen",
                            elsewhere + ":5002", "--out", (dir_ / "chain.pem").string()});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_TRUE(contains(r.output, "could not validate")) << r.output;
    EXPECT_TRUE(port_closed(elsewhere, 5002));
}

TEST_F(AcmePebble, PreferredAlternateChainIsChosen) {
    start(9, {"PEBBLE_ALTERNATE_ROOTS=2"});
    const std::string default_root = pebble_->root_cn(0);
    const std::string alternate = pebble_->root_cn(2);
    ASSERT_NE(default_root, alternate);

    const auto plain =
        daneroll(config(), {"acme", "issue", "--key", key_.string(), "--service", "mx1", "--out",
                            (dir_ / "default.pem").string(), "--json"});
    ASSERT_TRUE(plain.ok()) << plain.describe();
    const json p = parse_json(plain);
    EXPECT_EQ(p["chains_offered"], 3);
    EXPECT_EQ(p["top_issuer"], default_root);
    expect_good_chain(dir_ / "default.pem", 0);

    spec_.preferred_chain = alternate;
    const auto pref =
        daneroll(config(), {"acme", "issue", "--key", key_.string(), "--service", "mx1", "--out",
                            (dir_ / "preferred.pem").string(), "--json"});
    ASSERT_TRUE(pref.ok()) << pref.describe();
    const json q = parse_json(pref);
    EXPECT_EQ(q["top_issuer"], alternate);
    expect_good_chain(dir_ / "preferred.pem", 2);
    EXPECT_FALSE(openssl_verifies(dir_ / "preferred.pem", pebble_->root_pem(0), dir_));

    // An unknown preference falls back to the CA's default chain.
    spec_.preferred_chain = "No Such Root";
    const auto none =
        daneroll(config(), {"acme", "issue", "--key", key_.string(), "--service", "mx1", "--out",
                            (dir_ / "fallback.pem").string(), "--json"});
    ASSERT_TRUE(none.ok()) << none.describe();
    EXPECT_EQ(parse_json(none)["top_issuer"], default_root);
}

TEST_F(AcmePebble, LibraryIssuesForTheGivenKeyOnly) {
    start(10);
    const auto cfg = config::load_config(config());
    const PrivateKey key = PrivateKey::load_file(key_);
    acme::Client client(acme::client_options(cfg.acme),
                        acme::load_or_create_account_key(acme::account_files(cfg.acme).key));
    acme::ListenerSolver solver(config::Endpoint{responder_addr(slot_), 5002}, 60s);
    acme::IssueOptions o;
    o.names = {"mx1.example.test"};
    o.key = &key;
    o.solver = &solver;
    o.timeout = 60s;
    const auto result = acme::issue_with_account(client, cfg.acme, o);
    ASSERT_EQ(result.chain.size(), 2u);
    EXPECT_EQ(result.chain[0].spki_der(), key.spki_der());
    EXPECT_TRUE(result.chain[0].issued_by(result.chain[1]));
    // Pebble validates from three "perspectives", one GET each.
    EXPECT_GE(solver.listener().tokens_served(), 1u);
    EXPECT_TRUE(result.cleanup_problems.empty());
    // Pebble 2.4 offers no renewal information: said so, not guessed.
    EXPECT_FALSE(client.renewal_info(result.chain[0]).has_value());
    const fs::path leaf = dir_ / "leaf.pem";
    write_file_atomic(leaf, chain_to_pem(result.chain), 0644, Overwrite::Yes);
    const auto ari = daneroll(config(), {"acme", "renewal-info", "--cert", leaf.string()});
    EXPECT_EQ(ari.code, 1) << ari.describe();
    EXPECT_TRUE(contains(ari.output, "offers no renewal information")) << ari.output;
}

// RFC 9773 against a directory that offers renewalInfo: Pebble 2.4 does
// not, so a static web server plays the CA's two GET endpoints (ARI needs
// no signed request). The certificate is a real Pebble-style chain from the
// test PKI; the path is its certificate id.
TEST(AcmeRenewalInfo, WindowFetchedForTheCertificateId) {
    const fs::path dir = fresh_work_dir(current_test_name());
    const std::string addr = "127.53.30.99";
    const auto key = PrivateKey::generate(KeyAlgorithm::EcdsaP256);
    // A leaf with an authority key identifier, from a CA made by openssl.
    const auto ca = e2e::run_proc(
        {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=ARI test CA", "-keyout", (dir / "ca.key").string(),
         "-out", (dir / "ca.pem").string()},
        10s);
    ASSERT_TRUE(ca.ok()) << ca.describe();
    write_file_atomic(dir / "leaf.key", key.to_pem(), 0600, Overwrite::Yes);
    const auto csr =
        e2e::run_proc({"/usr/bin/openssl", "req", "-new", "-key", (dir / "leaf.key").string(),
                       "-subj", "/CN=mx1.example.test", "-out", (dir / "leaf.csr").string()},
                      10s);
    ASSERT_TRUE(csr.ok()) << csr.describe();
    write_file_atomic(dir / "ext", "authorityKeyIdentifier=keyid\n", 0644, Overwrite::Yes);
    const auto sign =
        e2e::run_proc({"/usr/bin/openssl", "x509", "-req", "-in", (dir / "leaf.csr").string(),
                       "-CA", (dir / "ca.pem").string(), "-CAkey", (dir / "ca.key").string(),
                       "-set_serial", "0x87654321", "-days", "1", "-extfile",
                       (dir / "ext").string(), "-out", (dir / "leaf.pem").string()},
                      10s);
    ASSERT_TRUE(sign.ok()) << sign.describe();
    const auto leaf = load_certificates(dir / "leaf.pem").front();
    const std::string id = acme::ari_cert_id(leaf);
    EXPECT_EQ(id.substr(id.find('.')), ".AIdlQyE");  // 00 87 65 43 21, as in RFC 9773

    const fs::path www = dir / "www";
    fs::create_directories(www / "renewal-info");
    write_file_atomic(www / "directory",
                      json{{"newNonce", "http://" + addr + ":8080/nonce"},
                           {"newAccount", "http://" + addr + ":8080/acct"},
                           {"newOrder", "http://" + addr + ":8080/order"},
                           {"renewalInfo", "http://" + addr + ":8080/renewal-info/"}}
                          .dump(),
                      0644, Overwrite::Yes);
    write_file_atomic(www / "renewal-info" / id,
                      R"({"suggestedWindow":{"start":"2030-01-02T03:04:05Z",)"
                      R"("end":"2030-01-03T03:04:05.5+00:00"},)"
                      R"("explanationURL":"https://ca.example/why"})",
                      0644, Overwrite::Yes);
    Background web({"/usr/bin/python3", "-m", "http.server", "--bind", addr, "--directory",
                    www.string(), "8080"},
                   dir / "http.server.log");
    ASSERT_TRUE(web.wait_port(addr, 8080, 10s));

    acme::HttpClient http;
    const auto d = acme::fetch_directory(http, "http://" + addr + ":8080/directory");
    const auto info = acme::fetch_renewal_info(http, d, leaf);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(format_utc(info->window_start), "2030-01-02T03:04:05Z");
    EXPECT_EQ(format_utc(info->window_end), "2030-01-03T03:04:05Z");
    EXPECT_EQ(info->explanation_url, "https://ca.example/why");
    const auto start = acme::renewal_start(leaf, info, std::chrono::hours(24 * 30),
                                           std::chrono::system_clock::now(), 0.5);
    EXPECT_GT(start, info->window_start);
    EXPECT_LT(start, info->window_end);
    // Without ARI: renew_before ahead of notAfter.
    EXPECT_EQ(acme::renewal_start(leaf, std::nullopt, std::chrono::hours(1),
                                  std::chrono::system_clock::now(), 0.5),
              leaf.not_after() - std::chrono::hours(1));

    // A certificate the CA does not know: a clear error naming it.
    const auto other = load_certificates(dir / "ca.pem").front();
    EXPECT_THROW(static_cast<void>(acme::fetch_renewal_info(http, d, other)), Error);
}

}  // namespace
}  // namespace daneroll::acme_test
