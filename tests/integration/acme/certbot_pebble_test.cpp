// Real certbot (Debian's package) against a real Pebble, with
// `daneroll hook certbot` as its deploy hook, rolling over the sandbox's
// Postfix (scheme current+issuer, source type "certbot"). The sandbox is
// this target's own (127.53.33, with the non-caching resolver Pebble asks);
// Pebble runs at .40 of that net.
//
// Challenge: http-01 with certbot's standalone listener on the MX address.
// Pebble resolves mx1.example.test through the sandbox's resolver, so the
// signed zone's A record decides where validation connects, and nothing
// but daneroll writes to the zone while the observer judges its TLSA
// RRset. dns-01 through certbot-dns-rfc2136 works as well, but adds
// certbot's own TSIG UPDATEs to that zone and its propagation wait
// (--dns-rfc2136-propagation-seconds, 60 s by default) to every order.
//
// certbot keeps its files in a directory of the test (--config-dir,
// --work-dir, --logs-dir); Postfix only ever reads the sandbox's own files,
// which daneroll writes. Pebble makes a new CA at every start, so its
// intermediate is fetched from the management port each time and becomes
// the config's issuer.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "acme_support.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "e2e_support.hpp"

#ifndef DANEROLL_BIN
#error "DANEROLL_BIN must be defined"
#endif
#ifndef DANEROLL_HOOK_SCRIPT
#error "DANEROLL_HOOK_SCRIPT must be defined"
#endif

namespace daneroll::acme_test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

const std::vector<std::string> kAlgorithms{"ecdsa-p256", "rsa2048"};
const std::string kCertbot = "/usr/bin/certbot";
constexpr std::uint16_t kHttpPort = 5002;  // Pebble's httpPort, certbot's listener

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::size_t count_of(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = haystack.find(needle); at != std::string::npos;
         at = haystack.find(needle, at + needle.size())) {
        ++n;
    }
    return n;
}

std::string tail_of(const fs::path& file, std::size_t max = 6000) {
    try {
        const std::string all = read_file(file);
        return all.size() > max ? all.substr(all.size() - max) : all;
    } catch (const std::exception& e) {
        return e.what();
    }
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (const char c : s) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
}

class CertbotPebble : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(fs::exists(kCertbot)) << "certbot is not installed (apt-get install certbot)";
        sb_ = e2e::Sandbox::load();
        sb_.reset_to_served_chains();
        d_ = std::make_unique<e2e::Daneroll>(sb_, current_test_name());
        dir_ = fresh_work_dir(current_test_name());
        observer_ = std::make_unique<e2e::Observer>(sb_, kAlgorithms);
    }

    void TearDown() override {
        if (observer_) {
            observer_->stop();
        }
        if (HasFailure()) {
            if (d_) {
                std::cout << e2e::diagnostics(*d_, {"ecdsa-p256"});
            }
            if (observer_) {
                std::cout << "--- observer timeline:\n" << observer_->judge().timeline;
            }
            std::cout << "--- certbot log (tail):\n"
                      << tail_of(certbot_dir() / "logs" / "letsencrypt.log") << '\n';
            if (pebble_) {
                std::cout << "--- pebble log (tail):\n" << pebble_->log() << '\n';
            }
        }
        pebble_.reset();
    }

    // ---------------------------------------------------------- Pebble

    std::unique_ptr<Pebble> make_pebble(const std::string& name) const {
        PebbleOptions o;
        o.addr = sb_.env.net + ".40";
        o.dns = acme_resolver(sb_);
        o.http_port = kHttpPort;
        // Leaf + one intermediate, the one /intermediates/0 returns (also
        // Pebble's default; a longer chain would only add intermediates
        // above it, which Pebble does not publish).
        o.env = {"PEBBLE_CHAIN_LENGTH=1"};
        return std::make_unique<Pebble>(dir_ / name, o);
    }

    // Pebble's intermediate (it signs the leaves) into a file of the test.
    fs::path save_intermediate(const Pebble& pebble, const std::string& file) const {
        const fs::path out = dir_ / file;
        write_file_atomic(out, pebble.intermediate_pem(0), 0644, Overwrite::Yes);
        return out;
    }

    // ---------------------------------------------------------- certbot

    fs::path certbot_dir() const { return dir_ / "certbot"; }
    fs::path lineage() const { return certbot_dir() / "config" / "live" / "mx1"; }

    std::string daneroll_bin() const {
        const char* bin = std::getenv("DANEROLL_E2E_BIN");  // as e2e::Daneroll::cmd
        return bin != nullptr ? bin : DANEROLL_BIN;
    }

    // certbot runs it through a shell, but first looks its first word up
    // as a program, quotes and all ("Unable to find deploy-hook command"):
    // the binary's path goes in unquoted, so it must need no quoting.
    std::string hook_command() const {
        const std::string bin = daneroll_bin();
        if (bin.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789/._+-") != std::string::npos) {
            throw std::runtime_error("the daneroll binary's path needs shell quoting: " + bin);
        }
        return bin + " hook certbot -c " + shell_quote(d_->config());
    }

    // The deploy hook certbot runs: `daneroll hook certbot` unless a test
    // installed hooks/certbot-deploy (install_hook_script).
    std::string deploy_hook() const {
        return hook_script_.empty() ? hook_command() : hook_script_.string();
    }

    // hooks/certbot-deploy as an install lays it out (the binary's path
    // replaced by this build's), executable, in the test's directory.
    void install_hook_script() {
        std::string text = read_file(DANEROLL_HOOK_SCRIPT);
        const std::string from = "/usr/bin/daneroll";
        ASSERT_TRUE(contains(text, "exec " + from + " hook certbot")) << text;
        text.replace(text.find(from), from.size(), daneroll_bin());
        hook_script_ = dir_ / "certbot-deploy";
        write_file_atomic(hook_script_, text, 0755, Overwrite::Yes);
    }

    // certbot's directories; with the hook, certbot's own options.
    std::vector<std::string> certbot_dirs() const {
        return {"--config-dir",     (certbot_dir() / "config").string(),
                "--work-dir",       (certbot_dir() / "work").string(),
                "--logs-dir",       (certbot_dir() / "logs").string(),
                "--non-interactive"};
    }

    ProcResult certbot(std::vector<std::string> args,
                       const std::vector<std::string>& env = {}) const {
        args.insert(args.begin(), kCertbot);
        const auto dirs = certbot_dirs();
        args.insert(args.end(), dirs.begin(), dirs.end());
        args.emplace_back("--deploy-hook");
        args.push_back(deploy_hook());
        std::vector<std::string> all_env{"REQUESTS_CA_BUNDLE=" + pebble_->ca().string()};
        all_env.insert(all_env.end(), env.begin(), env.end());
        const auto r = e2e::run_proc(args, 180s, all_env);
        std::cout << r.describe() << '\n';
        return r;
    }

    // certbot's arguments for this Pebble, with its own http-01 listener on
    // the MX address.
    std::vector<std::string> pebble_standalone_args() const {
        return {"--server",
                pebble_->directory(),
                "--agree-tos",
                "--register-unsafely-without-email",
                "--standalone",
                "--preferred-challenges",
                "http-01",
                "--http-01-address",
                sb_.env.mx_addrs.front(),
                "--http-01-port",
                std::to_string(kHttpPort)};
    }

    ProcResult certonly(const std::vector<std::string>& env = {}) const {
        std::vector<std::string> args{"certonly"};
        const auto common = pebble_standalone_args();
        args.insert(args.end(), common.begin(), common.end());
        args.insert(args.end(), {"--cert-name", "mx1", "-d", sb_.env.mx_host, "--key-type", "ecdsa",
                                 "--elliptic-curve", "secp256r1"});
        return certbot(args, env);
    }

    ProcResult renew(bool reuse_key, const std::vector<std::string>& env = {}) const {
        std::vector<std::string> args{"renew", "--force-renewal", "--no-random-sleep-on-renew",
                                      "--cert-name", "mx1"};
        if (reuse_key) {
            args.emplace_back("--reuse-key");
        }
        return certbot(args, env);
    }

    // certbot's live chain (leaf first).
    std::vector<Certificate> live_chain() const {
        return load_certificates(lineage() / "fullchain.pem");
    }

    // The hook ran for this lineage, once more than before: certbot says so
    // (its output and its log), and daneroll's history of the unit says so.
    void expect_hook_ran(const ProcResult& r, std::size_t handed_over_before) const {
        EXPECT_TRUE(contains(r.output, "Hook 'deploy-hook' ran with output:")) << r.output;
        EXPECT_FALSE(contains(r.output, "reported error code")) << r.output;
        EXPECT_TRUE(contains(r.output, "daneroll: took the renewed certificate of " +
                                           lineage().string() + " for mx1/ecdsa-p256"))
            << r.output;
        const std::string log = read_file(certbot_dir() / "logs" / "letsencrypt.log");
        EXPECT_TRUE(contains(log, "Running deploy-hook command: " + deploy_hook()))
            << tail_of(certbot_dir() / "logs" / "letsencrypt.log");
        EXPECT_EQ(handed_over(), handed_over_before + 1) << d_->state_file("ecdsa-p256");
    }

    // How many hand-overs from certbot the unit's history holds.
    std::size_t handed_over() const {
        return count_of(d_->state_file("ecdsa-p256"), "certbot handed over a chain for ");
    }

    // ---------------------------------------------------- what is served

    e2e::ServedChain served() const {
        return e2e::served_chain(sb_, sb_.env.mx_addrs.front(), "ecdsa-p256");
    }

    // Postfix serves exactly certbot's live chain, from the sandbox's own
    // file (a copy daneroll wrote), and nothing of Postfix's points into
    // certbot's directory.
    void expect_serving(const std::vector<Certificate>& chain) const {
        const auto s = served();
        ASSERT_FALSE(s.id.empty()) << s.error;
        ASSERT_EQ(s.chain.size(), chain.size());
        for (std::size_t i = 0; i < chain.size(); ++i) {
            EXPECT_EQ(s.chain[i].der(), chain[i].der()) << "certificate " << i;
        }
        const auto installed = sb_.installed_chain("ecdsa-p256");
        ASSERT_FALSE(installed.empty());
        EXPECT_EQ(installed.front().der(), chain.front().der());
        expect_postfix_reads_no_certbot_file();
    }

    void expect_postfix_reads_no_certbot_file() const {
        const fs::path pem = sb_.postfix_pem.at("ecdsa-p256");
        EXPECT_FALSE(fs::is_symlink(pem)) << pem;
        const std::string canonical = fs::canonical(pem).string();
        EXPECT_FALSE(contains(canonical, certbot_dir().string())) << canonical;
        const auto conf =
            e2e::run_proc({"/usr/sbin/postconf", "-c", sb_.postfix_config_dir.string(), "-x", "-h",
                           "smtpd_tls_chain_files", "smtpd_tls_cert_file", "smtpd_tls_key_file",
                           "smtpd_tls_eccert_file", "smtpd_tls_eckey_file", "smtpd_tls_dcert_file",
                           "smtpd_tls_dkey_file"},
                          10s);
        ASSERT_TRUE(conf.ok()) << conf.describe();
        EXPECT_TRUE(contains(conf.output, pem.string())) << conf.output;
        EXPECT_FALSE(contains(conf.output, certbot_dir().string())) << conf.output;
        EXPECT_FALSE(contains(conf.output, "letsencrypt")) << conf.output;
    }

    // `daneroll probe` (records and addresses from the sandbox's validating
    // resolver) verifies the ECDSA chain; so does `record` alone (the one
    // that let the deploy happen); dane-check and posttls-finger agree.
    void expect_verified(const TlsaRecord& record, const std::string& leaf_spki) const {
        const auto p = d_->cmd({"probe", sb_.env.mx_host, "--alg", "ecdsa", "--json"}, 60s);
        ASSERT_TRUE(p.ok()) << p.describe();
        const json j = json::parse(p.output);
        EXPECT_TRUE(j.at("all_verified").get<bool>()) << j.dump(2);
        ASSERT_EQ(j.at("results").size(), sb_.env.mx_addrs.size()) << j.dump(2);
        for (const auto& r : j.at("results")) {
            EXPECT_TRUE(r.at("verified").get<bool>()) << r.dump(2);
            EXPECT_EQ(r.at("leaf_spki_sha256"), leaf_spki) << r.dump(2);
        }
        for (const auto& address : sb_.env.mx_addrs) {
            const auto only = d_->cmd({"probe", sb_.env.mx_host, "--alg", "ecdsa", "--address",
                                       address, "--record", record.to_string()},
                                      60s);
            EXPECT_TRUE(only.ok()) << only.describe();
        }
        const auto check = sb_.dane_check("ecdsa");
        EXPECT_TRUE(check.ok()) << check.describe();
        const auto finger = sb_.posttls();
        EXPECT_TRUE(finger.ok()) << finger.describe();
    }

    // ---------------------------------------------------------- daneroll

    // init, the first run --wait, the chain Postfix serves then (`before`),
    // and 2 x TTL more (let_records_settle).
    void init_and_publish(const fs::path& issuer, e2e::ServedChain& before) {
        e2e::ConfigSpec spec;
        spec.issuer_scheme = true;
        spec.issuer_files = {issuer};
        spec.certbot_lineage = lineage().string();
        d_->write_config(spec);
        const std::string config = read_file(d_->config());
        ASSERT_TRUE(contains(config, "type = \"certbot\"")) << config;
        ASSERT_FALSE(contains(config, "combined_file = \"" + certbot_dir().string())) << config;
        observer_->start();
        const auto init = d_->init();
        ASSERT_TRUE(init.ok()) << init.describe();
        const auto first = d_->run_wait();
        ASSERT_TRUE(first.ok()) << first.describe();
        const auto u = d_->unit("ecdsa-p256");
        ASSERT_EQ(e2e::records_with_role(u, "issuer"),
                  std::vector<TlsaRecord>{e2e::ta_record(load_certificates(issuer).front())})
            << u.dump(2);
        before = served();
        ASSERT_FALSE(before.id.empty()) << before.error;
        let_records_settle();
    }

    // A renewal long after the last change is the normal case; this makes
    // it so. Called after a `run --wait`, which returns only once every
    // record the unit tracks is on every server; then 2 x TTL more.
    void let_records_settle() const {
        const auto u = d_->unit("ecdsa-p256");
        for (const auto& r : u.at("records")) {
            ASSERT_FALSE(r.at("everywhere_since").is_null())
                << "run --wait returned before every record was everywhere:\n"
                << u.dump(2);
        }
        std::this_thread::sleep_for(sb_.two_ttl() + 1s);
    }

    void expect_stable() const {
        const auto settle = d_->run_wait();
        ASSERT_TRUE(settle.ok()) << settle.describe();
        const auto u = d_->unit("ecdsa-p256");
        EXPECT_EQ(u.at("phase"), "stable") << u.dump(2);
    }

    e2e::Observer::Verdict judge_observer() { return e2e::judge_safe(*observer_); }

    // The appearance (not the initial one) of a chain whose leaf is `leaf`.
    static const e2e::Observer::Appearance* appearance_of(const e2e::Observer::Verdict& v,
                                                          const Certificate& leaf) {
        const std::string spki = e2e::spki_hex(leaf);
        for (const auto& a : v.appearances) {
            if (!a.initial && a.leaf_spki == spki) {
                return &a;
            }
        }
        return nullptr;
    }

    e2e::Sandbox sb_;
    std::unique_ptr<e2e::Daneroll> d_;
    std::unique_ptr<e2e::Observer> observer_;
    std::unique_ptr<Pebble> pebble_;
    fs::path dir_;
    fs::path hook_script_;
};

// The config pins Pebble's intermediate; its 2 1 1 is established before
// certbot's first order, so the hook deploys each new chain at once: the
// first issuance (certbot's key, not one daneroll made) and a forced
// renewal (another new key), each judged by the observer.
TEST_F(CertbotPebble, IssueAndRenewDeployAtOnceUnderThePinnedIssuer) {
    pebble_ = make_pebble("pebble");
    const fs::path issuer = save_intermediate(*pebble_, "pebble-intermediate.pem");
    const TlsaRecord ta = e2e::ta_record(load_certificates(issuer).front());
    e2e::ServedChain before;
    init_and_publish(issuer, before);
    ASSERT_FALSE(HasFatalFailure());

    // certbot's first certificate.
    const auto issued = certonly();
    ASSERT_TRUE(issued.ok());
    expect_hook_ran(issued, 0);
    EXPECT_TRUE(contains(issued.output, "deployed the new certificate")) << issued.output;
    const auto chain1 = live_chain();
    ASSERT_EQ(chain1.size(), 2u);
    EXPECT_EQ(chain1[1].der(), load_certificates(issuer).front().der())
        << "Pebble issued under another intermediate than /intermediates/0";
    EXPECT_NE(e2e::spki_hex(chain1.front()), before.leaf_spki);
    // Deployed by the hook itself: served as soon as certbot returns.
    expect_serving(chain1);
    expect_verified(ta, e2e::spki_hex(chain1.front()));
    expect_stable();

    // certbot renews: a new key under the same intermediate.
    let_records_settle();
    ASSERT_FALSE(HasFatalFailure());
    const auto renewed = renew(false);
    ASSERT_TRUE(renewed.ok());
    expect_hook_ran(renewed, 1);
    EXPECT_TRUE(contains(renewed.output, "deployed the new certificate")) << renewed.output;
    const auto chain2 = live_chain();
    ASSERT_EQ(chain2.size(), 2u);
    EXPECT_NE(e2e::spki_hex(chain2.front()), e2e::spki_hex(chain1.front()))
        << "certbot renewed without a new key";
    expect_serving(chain2);
    expect_verified(ta, e2e::spki_hex(chain2.front()));
    expect_stable();

    const auto v = judge_observer();
    for (const auto* leaf : {&chain1.front(), &chain2.front()}) {
        const auto* a = appearance_of(v, *leaf);
        ASSERT_NE(a, nullptr) << leaf->subject() << "\n" << v.timeline;
        EXPECT_EQ(a->record, ta.short_string());
        EXPECT_GE(a->margin_high_s, v.wait_s);
    }
}

// The config pins an intermediate Pebble no longer issues from (that of
// an earlier start of Pebble, as when a CA moves to a new one). Its 2 1 1
// covers nothing certbot gets, so the hook publishes the new key's 3 1 1
// and leaves the old chain in place; the next `run --wait` deploys once
// that record is established. A renewal with --reuse-key then keeps that
// key, whose 3 1 1 is established: deployed at once by the hook.
TEST_F(CertbotPebble, NewIssuerWaitsForItsOwnRecordThenReuseKeyDeploysAtOnce) {
    fs::path stale;
    {
        const auto earlier = make_pebble("pebble-earlier");
        stale = save_intermediate(*earlier, "earlier-intermediate.pem");
    }
    pebble_ = make_pebble("pebble");
    const fs::path current = save_intermediate(*pebble_, "pebble-intermediate.pem");
    ASSERT_NE(load_certificates(stale).front().der(), load_certificates(current).front().der());
    e2e::ServedChain before;
    init_and_publish(stale, before);
    ASSERT_FALSE(HasFatalFailure());

    const auto issued = certonly();
    ASSERT_TRUE(issued.ok());
    expect_hook_ran(issued, 0);
    EXPECT_TRUE(contains(issued.output, "awaiting-propagation")) << issued.output;
    EXPECT_FALSE(contains(issued.output, "deployed the new certificate")) << issued.output;
    const auto chain1 = live_chain();
    const TlsaRecord ee1 = e2e::ee_record(chain1.front());
    // Nothing deployed yet: the old chain is still served, the new key's
    // 3 1 1 is staged.
    EXPECT_EQ(served().leaf_spki, before.leaf_spki);
    EXPECT_EQ(sb_.installed_chain("ecdsa-p256").front().der(), before.chain.front().der());
    const auto u = d_->unit("ecdsa-p256");
    EXPECT_EQ(e2e::records_with_role(u, "staged"), std::vector<TlsaRecord>{ee1}) << u.dump(2);

    // The next timer tick (run --wait) deploys it after 2 x TTL.
    const auto later = d_->run_wait();
    ASSERT_TRUE(later.ok()) << later.describe();
    expect_serving(chain1);
    expect_verified(ee1, e2e::spki_hex(chain1.front()));
    expect_stable();

    // Renewal with the same key: its 3 1 1 has long been everywhere.
    let_records_settle();
    ASSERT_FALSE(HasFatalFailure());
    const auto renewed = renew(true);
    ASSERT_TRUE(renewed.ok());
    expect_hook_ran(renewed, 1);
    EXPECT_TRUE(contains(renewed.output, "deployed the new certificate")) << renewed.output;
    const auto chain2 = live_chain();
    EXPECT_EQ(e2e::spki_hex(chain2.front()), e2e::spki_hex(chain1.front()))
        << "--reuse-key did not keep the key";
    EXPECT_NE(chain2.front().der(), chain1.front().der()) << "certbot did not renew";
    expect_serving(chain2);
    expect_verified(ee1, e2e::spki_hex(chain2.front()));
    expect_stable();

    const auto v = judge_observer();
    const auto* a = appearance_of(v, chain1.front());
    ASSERT_NE(a, nullptr) << v.timeline;
    EXPECT_EQ(a->record, ee1.short_string());
    EXPECT_GE(a->margin_high_s, v.wait_s);
    // The stale issuer's 2 1 1 never covered a chain Postfix served.
    const TlsaRecord stale_ta = e2e::ta_record(load_certificates(stale).front());
    for (const auto& x : v.appearances) {
        EXPECT_NE(x.record, stale_ta.short_string()) << x.where;
    }
}

// certbot renews while another daneroll holds the state lock (the test
// holds a flock on <state_dir>/lock). The hook, hooks/certbot-deploy itself
// as certbot's --deploy-hook, waits DANEROLL_LOCK_WAIT (3 s here), then
// exits 0 saying the next tick takes the chain from the lineage; nothing is
// handed over. Once the lock is free, `run --wait` finds the renewal in the
// lineage and deploys it (under the pinned issuer's 2 1 1), once: the next
// run takes nothing. A renewal while the lock is held for a few seconds
// only: the hook waits and deploys it. A hook run for other names
// (RENEWED_DOMAINS without the MX host) hands nothing over.
TEST_F(CertbotPebble, LockedHookLeavesTheRenewalToTheNextRunWhichTakesItFromTheLineage) {
    pebble_ = make_pebble("pebble");
    const fs::path issuer = save_intermediate(*pebble_, "pebble-intermediate.pem");
    const TlsaRecord ta = e2e::ta_record(load_certificates(issuer).front());
    e2e::ServedChain before;
    init_and_publish(issuer, before);
    ASSERT_FALSE(HasFatalFailure());
    install_hook_script();
    ASSERT_FALSE(HasFatalFailure());

    UniqueFd lock(::open((d_->state() / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_TRUE(lock.valid());
    ASSERT_EQ(::flock(lock.get(), LOCK_EX | LOCK_NB), 0);
    const std::vector<std::string> hook_env{"DANEROLL_CONFIG=" + d_->config().string(),
                                            "DANEROLL_LOCK_WAIT=3s"};
    const auto issued = certonly(hook_env);
    ASSERT_TRUE(issued.ok());
    EXPECT_TRUE(contains(issued.output, "(waited 3s)")) << issued.output;
    EXPECT_TRUE(contains(issued.output, "Hook 'deploy-hook' ran with output:")) << issued.output;
    EXPECT_FALSE(contains(issued.output, "reported error code")) << issued.output;
    EXPECT_TRUE(contains(issued.output, "another daneroll is running")) << issued.output;
    EXPECT_TRUE(
        contains(issued.output, "the next 'daneroll run' takes it from " + lineage().string()))
        << issued.output;
    EXPECT_TRUE(contains(read_file(certbot_dir() / "logs" / "letsencrypt.log"),
                         "Running deploy-hook command: " + hook_script_.string()));
    EXPECT_EQ(handed_over(), 0U);
    const auto chain1 = live_chain();
    EXPECT_NE(e2e::spki_hex(chain1.front()), before.leaf_spki);
    EXPECT_EQ(served().leaf_spki, before.leaf_spki);
    lock = UniqueFd();

    const auto later = d_->run_wait();
    ASSERT_TRUE(later.ok()) << later.describe();
    EXPECT_TRUE(contains(later.output, "deployed the new certificate")) << later.output;
    expect_serving(chain1);
    expect_verified(ta, e2e::spki_hex(chain1.front()));
    const auto again = d_->run_wait();
    ASSERT_TRUE(again.ok()) << again.describe();
    EXPECT_FALSE(contains(again.output, "deployed")) << again.output;
    expect_stable();

    // A renewal while the lock is held for less than the hook waits: the
    // hook waits for it, then hands the chain over and deploys it itself.
    let_records_settle();
    ASSERT_FALSE(HasFatalFailure());
    lock = UniqueFd(::open((d_->state() / "lock").c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(lock.valid());
    ASSERT_EQ(::flock(lock.get(), LOCK_EX | LOCK_NB), 0);
    std::thread release([&lock] {
        // certbot takes a few seconds to renew; the hook runs after that.
        std::this_thread::sleep_for(8s);
        lock = UniqueFd();
    });
    const auto renewed =
        renew(false, {"DANEROLL_CONFIG=" + d_->config().string(), "DANEROLL_LOCK_WAIT=60s"});
    release.join();
    ASSERT_TRUE(renewed.ok());
    expect_hook_ran(renewed, 0);
    EXPECT_TRUE(contains(renewed.output, "daneroll: waited for another daneroll to finish"))
        << renewed.output;
    EXPECT_TRUE(contains(renewed.output, "deployed the new certificate")) << renewed.output;
    const auto chain2 = live_chain();
    expect_serving(chain2);
    expect_verified(ta, e2e::spki_hex(chain2.front()));

    const auto other = d_->cmd({"hook", "certbot", "--lineage", lineage().string()}, 60s,
                               {"RENEWED_DOMAINS=www.example.test other.example.test"});
    EXPECT_TRUE(other.ok()) << other.describe();
    EXPECT_TRUE(contains(other.output, "its MX host " + sb_.env.mx_host +
                                           " is not among the renewed domains "
                                           "(RENEWED_DOMAINS: www.example.test "
                                           "other.example.test)"))
        << other.output;
    EXPECT_EQ(handed_over(), 1U);

    const auto v = judge_observer();
    for (const auto* leaf : {&chain1.front(), &chain2.front()}) {
        const auto* a = appearance_of(v, *leaf);
        ASSERT_NE(a, nullptr) << v.timeline;
        EXPECT_EQ(a->record, ta.short_string());
        EXPECT_GE(a->margin_high_s, v.wait_s);
    }
}

// The supported current+next way with certbot: the `command` source runs
// `certbot certonly --csr {csr} --fullchain-path {chain} ...`, so certbot
// certifies the next key daneroll generated and published a rollover
// earlier; the new chain deploys at once under that key's 3 1 1. Twice:
// the second run of certbot finds no file of the first in its way.
TEST_F(CertbotPebble, CurrentNextCertbotCertifiesThePrePublishedNextKeyThroughTheCommandSource) {
    pebble_ = make_pebble("pebble");
    const auto intermediate = load_certificates(save_intermediate(*pebble_, "intermediate.pem"));
    e2e::ConfigSpec spec;
    spec.command = {kCertbot,  "certonly",    "--csr",  "{csr}",        "--fullchain-path",
                    "{chain}", "--cert-path", "{cert}", "--chain-path", "{issuer}"};
    const auto common = pebble_standalone_args();
    spec.command.insert(spec.command.end(), common.begin(), common.end());
    const auto dirs = certbot_dirs();
    spec.command.insert(spec.command.end(), dirs.begin(), dirs.end());
    d_->write_config(spec);
    const std::vector<std::string> env{"REQUESTS_CA_BUNDLE=" + pebble_->ca().string()};
    observer_->start();
    const auto init = d_->init();
    ASSERT_TRUE(init.ok()) << init.describe();
    const auto first = d_->run_wait(60s, env);
    ASSERT_TRUE(first.ok()) << first.describe();
    const auto next = e2e::records_with_role(d_->unit("ecdsa-p256"), "next");
    ASSERT_EQ(next.size(), 1U) << d_->unit("ecdsa-p256").dump(2);
    const auto before = served();
    ASSERT_FALSE(before.id.empty()) << before.error;
    let_records_settle();
    ASSERT_FALSE(HasFatalFailure());

    const auto rotate = d_->rotate();
    ASSERT_TRUE(rotate.ok()) << rotate.describe();
    const auto rolled = d_->run_wait(90s, env);
    ASSERT_TRUE(rolled.ok()) << rolled.describe();
    const auto installed = sb_.installed_chain("ecdsa-p256");
    ASSERT_EQ(installed.size(), 2U);
    // certbot certified daneroll's pre-published next key, under Pebble.
    EXPECT_EQ(e2e::ee_record(installed.front()), next.front());
    EXPECT_EQ(installed[1].der(), intermediate.front().der());
    EXPECT_NE(e2e::spki_hex(installed.front()), before.leaf_spki);
    expect_serving(installed);
    expect_verified(next.front(), e2e::spki_hex(installed.front()));
    EXPECT_TRUE(contains(read_file(certbot_dir() / "logs" / "letsencrypt.log"), "--csr"));
    expect_stable();

    // The next rollover: the key published as next after the first one.
    const auto next2 = e2e::records_with_role(d_->unit("ecdsa-p256"), "next");
    ASSERT_EQ(next2.size(), 1U) << d_->unit("ecdsa-p256").dump(2);
    EXPECT_NE(next2.front(), next.front());
    let_records_settle();
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(d_->rotate().ok());
    const auto rolled2 = d_->run_wait(90s, env);
    ASSERT_TRUE(rolled2.ok()) << rolled2.describe();
    const auto installed2 = sb_.installed_chain("ecdsa-p256");
    ASSERT_FALSE(installed2.empty());
    EXPECT_EQ(e2e::ee_record(installed2.front()), next2.front());
    expect_verified(next2.front(), e2e::spki_hex(installed2.front()));
    expect_stable();

    const auto v = judge_observer();
    for (const auto& [leaf, record] :
         {std::pair{&installed.front(), next.front()}, {&installed2.front(), next2.front()}}) {
        const auto* a = appearance_of(v, *leaf);
        ASSERT_NE(a, nullptr) << v.timeline;
        EXPECT_EQ(a->record, record.short_string());
        EXPECT_GE(a->margin_high_s, v.wait_s);
    }
}

}  // namespace
}  // namespace daneroll::acme_test
