// dns-01 and the rollover engine's acme source against the real sandbox
// (BIND signing primary taking the TSIG UPDATEs, NSD secondary, Unbound,
// the non-caching `unbound-acme` that Pebble asks, Postfix) with a real
// Pebble at 127.53.31.40. The TXT records are judged with dig at every
// authoritative server, the issued key with the openssl command line, the
// rollover with the independent observer of the engine's end-to-end tests.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "acme_support.hpp"
#include "daneroll/acme/client.hpp"
#include "daneroll/common/duration.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/crypto/key.hpp"
#include "e2e_support.hpp"

namespace daneroll::acme_test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

const std::string kPebbleAddr = "127.53.31.40";

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// The TXT values `server` serves at `owner` (dig, no recursion).
std::vector<std::string> dig_txt(const dns::Server& server, const std::string& owner) {
    const auto r =
        e2e::run_proc({"/usr/bin/dig", "+norecurse", "+short", "+time=2", "+tries=2", "-p",
                       std::to_string(server.port), "@" + server.address, owner, "TXT"},
                      10s);
    std::vector<std::string> out;
    std::string line;
    for (const char c : r.output) {
        if (c == '\n') {
            if (!line.empty()) {
                out.push_back(line);
            }
            line.clear();
        } else if (c != '"') {
            line.push_back(c);
        }
    }
    return out;
}

class AcmeSandbox : public ::testing::Test {
  protected:
    void SetUp() override {
        sb_ = e2e::Sandbox::load();
        dir_ = fresh_work_dir(current_test_name());
        key_ = dir_ / "keys" / "next.key";
        ensure_private_directory(key_.parent_path());
        save_private_key(PrivateKey::generate(KeyAlgorithm::EcdsaP256), key_, Overwrite::No);
        owners_ = {"_acme-challenge." + sb_.env.mx_host + ".",
                   "_acme-challenge." + sb_.env.zone + "."};
    }

    void TearDown() override {
        if (HasFailure() && pebble_) {
            std::cout << "--- pebble log (tail):\n" << pebble_->log() << '\n';
        }
        pebble_.reset();
    }

    void start_pebble(bool through_sandbox_dns) {
        PebbleOptions o;
        o.addr = kPebbleAddr;
        if (through_sandbox_dns) {
            o.dns = acme_resolver(sb_);
        } else {
            o.fake_dns = "127.53.31.41";  // answers A queries only: no TXT anywhere
        }
        pebble_ = std::make_unique<Pebble>(dir_ / "pebble", o);
    }

    ConfigSpec dns01_spec() const {
        ConfigSpec s;
        s.state_dir = dir_ / "state";
        s.directory = pebble_->directory();
        s.ca_bundle = pebble_->ca();
        s.host = sb_.env.mx_host;
        s.names = {sb_.env.mx_host, sb_.env.zone};
        s.zone = sb_.env.zone;
        s.tsig_file = sb_.env.update.file;
        s.resolver = sb_.env.resolver.address;
        s.source = "challenge = \"dns-01\"\n";
        return s;
    }

    // True once no authoritative server serves any TXT at the challenge
    // names (inline signing makes a removal visible a moment later).
    bool no_txt_left(std::string& report) const {
        report.clear();
        for (const auto& server : sb_.env.name_servers()) {
            for (const auto& owner : owners_) {
                for (const auto& v : dig_txt(server, owner)) {
                    report += server.address + " " + owner + " TXT " + v + "\n";
                }
            }
        }
        return report.empty();
    }

    void expect_no_txt_left() const {
        std::string report;
        const bool clean = test::wait_until([&] { return no_txt_left(report); }, 10s);
        EXPECT_TRUE(clean) << "challenge TXT records left behind:\n" << report;
    }

    e2e::Sandbox sb_;
    fs::path dir_;
    fs::path key_;
    std::vector<std::string> owners_;
    std::unique_ptr<Pebble> pebble_;
};

TEST_F(AcmeSandbox, Dns01ThroughTheSigningPrimary) {
    start_pebble(true);
    const auto cfg = write_config(dir_, dns01_spec());
    const fs::path chain = dir_ / "chain.pem";
    const auto r = daneroll(cfg, {"acme", "issue", "--key", key_.string(), "--service", "mx1",
                                  "--out", chain.string(), "--json"});
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(openssl_cert_pubkey(chain), openssl_key_pubkey(key_))
        << "the issued leaf does not carry the pre-generated key";
    const auto certs = load_certificates(chain);
    ASSERT_EQ(certs.size(), 2u);
    EXPECT_EQ(certs[0].dns_names(), (std::vector<std::string>{sb_.env.mx_host, sb_.env.zone}));
    EXPECT_TRUE(openssl_verifies(chain, pebble_->root_pem(0), dir_));
    // The primary logged both TXT additions and both removals.
    const std::string log = read_file(sb_.env.dir / "named" / "named.log");
    for (const auto& owner : owners_) {
        const std::string name = owner.substr(0, owner.size() - 1);
        EXPECT_TRUE(contains(log, "adding an RR at '" + name + "' TXT")) << name;
        EXPECT_TRUE(contains(log, "deleting an RR at " + name + " TXT")) << name;
    }
    expect_no_txt_left();
}

TEST_F(AcmeSandbox, Dns01FailureIsReportedAndLeavesNoTxt) {
    // Pebble looks the TXT up where it can never be: validation fails after
    // daneroll published (and checked) the records on every server.
    start_pebble(false);
    const auto cfg = write_config(dir_, dns01_spec());
    const auto r = daneroll(cfg, {"acme", "issue", "--key", key_.string(), "--service", "mx1",
                                  "--out", (dir_ / "chain.pem").string()});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_TRUE(contains(r.output, "could not validate")) << r.output;
    EXPECT_TRUE(contains(r.output, "dns-01")) << r.output;
    EXPECT_FALSE(fs::exists(dir_ / "chain.pem"));
    const std::string log = read_file(sb_.env.dir / "named" / "named.log");
    EXPECT_TRUE(
        contains(log, "adding an RR at '" + owners_[0].substr(0, owners_[0].size() - 1) + "' TXT"));
    expect_no_txt_left();
}

TEST_F(AcmeSandbox, Dns01RefusedUpdateIsExplained) {
    start_pebble(true);
    auto spec = dns01_spec();
    spec.tsig_file = sb_.env.forbidden.file;  // known to named, allowed nothing
    const auto cfg = write_config(dir_, spec);
    const auto r = daneroll(cfg, {"acme", "issue", "--key", key_.string(), "--service", "mx1",
                                  "--out", (dir_ / "chain.pem").string()});
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_TRUE(contains(r.output, "REFUSED")) << r.output;
    EXPECT_TRUE(contains(r.output, "it must allow TXT at _acme-challenge.")) << r.output;
    // Nothing was added, so nothing had to be removed (and no second
    // refusal from the cleanup clutters the message).
    EXPECT_FALSE(contains(r.output, "cleaning up")) << r.output;
    expect_no_txt_left();
}

// The engine's acme source in a whole current+next rollover: init adopts
// what Postfix serves, the next key is published, `rotate` has Pebble issue
// a certificate for that pre-published key (dns-01 through BIND), and the
// deploy waits for the deploy rule. Then the CA's renewal information (RFC
// 9773) opens a window for that certificate and a plain `run --wait` rolls
// again. The independent observer checks both safety rules on what the
// servers served throughout.
TEST_F(AcmeSandbox, FullRolloverWithTheAcmeSourceThenOneTheCaAsksFor) {
    start_pebble(true);
    e2e::Daneroll d(sb_, current_test_name());
    auto spec = dns01_spec();
    spec.state_dir = d.state();
    spec.names = {sb_.env.mx_host};
    spec.service_extra = "ttl = " + std::to_string(sb_.env.ttl) +
                         "\nalgorithms = [\"ecdsa-p256\"]\nscheme = \"current+next\"\n"
                         "rotation_period = \"30d\"\nrenew_before = \"10d\"\n";
    spec.mta = "type = \"postfix\"\ncombined_file = \"" +
               (sb_.postfix_pem.begin()->second.parent_path() / "{algorithm}.pem").string() +
               "\"\nreload = [\"/usr/sbin/postfix\", \"-c\", \"" + sb_.postfix_config_dir.string() +
               "\", \"reload\"]\n";
    // The e2e helper's own config file is replaced by one with the acme source.
    const fs::path written = write_config(dir_, spec);
    write_file_atomic(d.config(), read_file(written), 0644, Overwrite::Yes);

    sb_.reset_to_served_chains();
    const std::vector<std::string> algorithms{"ecdsa-p256", "rsa2048"};
    e2e::Observer observer(sb_, algorithms);
    const auto old_leaf = sb_.installed_chain("ecdsa-p256").front();
    observer.start();

    const auto init = d.init();
    ASSERT_TRUE(init.ok()) << init.describe();
    const auto first = d.run_wait();
    ASSERT_TRUE(first.ok()) << first.describe() << e2e::diagnostics(d, {"ecdsa-p256"});
    const auto u1 = d.unit("ecdsa-p256");
    const auto next = e2e::records_with_role(u1, "next");
    ASSERT_EQ(next.size(), 1u) << u1.dump(2);

    const auto rotate = d.rotate();
    ASSERT_TRUE(rotate.ok()) << rotate.describe();
    const auto roll = d.run_wait(std::chrono::seconds(120));
    ASSERT_TRUE(roll.ok()) << roll.describe() << e2e::diagnostics(d, {"ecdsa-p256"});
    std::cout << "run --wait after rotate:\n" << roll.output;

    const auto u2 = d.unit("ecdsa-p256");
    EXPECT_EQ(u2.at("phase"), "stable") << u2.dump(2);
    const auto served = e2e::served_chain(sb_, sb_.env.mx_addrs.front(), "ecdsa-p256");
    ASSERT_FALSE(served.id.empty()) << served.error;
    // Pebble issued it, for the key published as "next" before the order.
    EXPECT_TRUE(contains(served.chain.front().issuer(), "Pebble Intermediate CA"))
        << served.chain.front().issuer();
    EXPECT_EQ(served.leaf_spki, to_hex(next.front().data));
    EXPECT_NE(served.leaf_spki, e2e::spki_hex(old_leaf));
    EXPECT_EQ(sb_.installed_chain("ecdsa-p256").front().der(), served.chain.front().der());
    EXPECT_EQ(e2e::records_with_role(u2, "current"), next) << u2.dump(2);

    for (const std::string alg : {"ecdsa"}) {
        const auto check = sb_.dane_check(alg);
        EXPECT_TRUE(check.ok()) << check.describe();
    }
    const auto p = sb_.posttls();
    EXPECT_TRUE(p.ok()) << p.describe();

    // RFC 9773: now the CA asks for the deployed certificate to be renewed
    // (a window already past: renew at once, as ahead of a revocation) long
    // before
    // renew_before or rotation_period would. Pebble 2.4 offers no
    // renewalInfo, so a static web server serves Pebble's own directory
    // plus a renewalInfo URL, and the window for this leaf's certificate
    // id. `run --wait` without `rotate` must roll again, safely.
    const fs::path www = dir_ / "ari-www";
    fs::create_directories(www / "renewal-info");
    const auto pebble_directory =
        e2e::run_proc({"/usr/bin/curl", "-sS", "--fail", "--max-time", "10", "--cacert",
                       pebble_->ca().string(), spec.directory},
                      20s);
    ASSERT_TRUE(pebble_directory.ok()) << pebble_directory.describe();
    json directory = json::parse(pebble_directory.output);
    const std::string ari_addr = "127.53.31.42";
    directory["renewalInfo"] = "https://" + ari_addr + ":8443/renewal-info/";
    write_file_atomic(www / "directory", directory.dump(), 0644, Overwrite::Yes);
    const auto now = std::chrono::system_clock::now();
    write_file_atomic(www / "renewal-info" / acme::ari_cert_id(served.chain.front()),
                      json{{"suggestedWindow",
                            {{"start", format_utc(now - 3h)}, {"end", format_utc(now - 1min)}}},
                           {"explanationURL", "https://ca.example/ari-test"}}
                          .dump(),
                      0644, Overwrite::Yes);
    // daneroll wants an https:// directory: the server's certificate comes
    // from the CA pebble-up made for Pebble's own HTTPS (the ca_bundle).
    const fs::path pki = dir_ / "pebble";
    write_file_atomic(dir_ / "ari-ext",
                      "subjectAltName=IP:" + ari_addr + "\nextendedKeyUsage=serverAuth\n", 0644,
                      Overwrite::Yes);
    const auto csr =
        e2e::run_proc({"/usr/bin/openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                       "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + ari_addr, "-keyout",
                       (dir_ / "ari.key").string(), "-out", (dir_ / "ari.csr").string()},
                      10s);
    ASSERT_TRUE(csr.ok()) << csr.describe();
    const auto sign =
        e2e::run_proc({"/usr/bin/openssl", "x509", "-req", "-in", (dir_ / "ari.csr").string(),
                       "-CA", (pki / "ca.pem").string(), "-CAkey", (pki / "ca.key").string(),
                       "-set_serial", "4242", "-days", "1", "-extfile", (dir_ / "ari-ext").string(),
                       "-out", (dir_ / "ari.pem").string()},
                      10s);
    ASSERT_TRUE(sign.ok()) << sign.describe();
    Background web(
        {"/usr/bin/python3", "-c",
         "import functools, http.server, ssl, sys\n"
         "addr, port, root, cert, key = sys.argv[1:6]\n"
         "handler = functools.partial(http.server.SimpleHTTPRequestHandler,"
         " directory=root)\n"
         "server = http.server.ThreadingHTTPServer((addr, int(port)), handler)\n"
         "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
         "ctx.load_cert_chain(cert, key)\n"
         "server.socket = ctx.wrap_socket(server.socket, server_side=True)\n"
         "server.serve_forever()\n",
         ari_addr, "8443", www.string(), (dir_ / "ari.pem").string(), (dir_ / "ari.key").string()},
        dir_ / "ari-https.log");
    ASSERT_TRUE(web.wait_port(ari_addr, 8443, 10s));
    spec.directory = "https://" + ari_addr + ":8443/directory";
    write_file_atomic(d.config(), read_file(write_config(dir_, spec)), 0644, Overwrite::Yes);

    const auto ari_roll = d.run_wait(std::chrono::seconds(120));
    ASSERT_TRUE(ari_roll.ok()) << ari_roll.describe() << e2e::diagnostics(d, {"ecdsa-p256"});
    std::cout << "run --wait with the CA's window open:\n" << ari_roll.output;
    const std::string state = d.state_file("ecdsa-p256");
    EXPECT_TRUE(contains(state, "renewal window (RFC 9773) is open")) << state;
    EXPECT_TRUE(contains(state, "https://ca.example/ari-test")) << state;
    const auto served2 = e2e::served_chain(sb_, sb_.env.mx_addrs.front(), "ecdsa-p256");
    ASSERT_FALSE(served2.id.empty()) << served2.error;
    EXPECT_NE(served2.leaf_spki, served.leaf_spki) << "the CA's window did not roll the key";
    EXPECT_TRUE(contains(served2.chain.front().issuer(), "Pebble Intermediate CA"));
    // The advice was about the old leaf; the new one is unknown to the
    // static CA (404, a warning): no advice now.
    EXPECT_TRUE(d.unit("ecdsa-p256").at("ca_renewal").is_null()) << d.unit("ecdsa-p256").dump(2);

    const auto v = e2e::judge_safe(observer);
    for (const auto& leaf : {served.leaf_spki, served2.leaf_spki}) {
        const auto* a = e2e::appearance_of(v, leaf);
        ASSERT_NE(a, nullptr) << leaf << " never appeared\n" << v.timeline;
        EXPECT_GE(a->margin_high_s, v.wait_s);
    }
    expect_no_txt_left();
}

}  // namespace
}  // namespace daneroll::acme_test
