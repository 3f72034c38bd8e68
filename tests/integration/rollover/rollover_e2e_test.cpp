// End-to-end tests of the rollover engine: the real `daneroll` binary
// (init / run --wait / rotate / status --json) against the real sandbox
// (BIND signing primary, NSD secondary, Unbound, Postfix), each test with
// its own state directory, config and local CA. Every test runs an
// independent observer (e2e_support.hpp) that checks the two safety rules
// of DESIGN.md on what the servers actually served, and ends with the
// sandbox's own DANE checks (openssl s_client, posttls-finger).
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "daneroll/common/files.hpp"
#include "daneroll/crypto/key.hpp"
#include "e2e_support.hpp"

namespace daneroll::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::vector<std::string> kBothAlgorithms{"ecdsa-p256", "rsa2048"};

std::string current_test_name() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return std::string(info->test_suite_name()) + "." + info->name();
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

class RolloverE2E : public ::testing::Test {
  protected:
    void SetUp() override {
        sb_ = Sandbox::load();
        sb_.reset_to_served_chains();
        d_ = std::make_unique<Daneroll>(sb_, current_test_name());
        observer_ = std::make_unique<Observer>(sb_, kBothAlgorithms);
    }

    void TearDown() override {
        if (observer_) {
            observer_->stop();
        }
        if (HasFailure() && d_) {
            std::cout << diagnostics(*d_, kBothAlgorithms);
            if (observer_) {
                std::cout << "--- observer timeline:\n" << observer_->judge().timeline;
            }
        }
    }

    // Stops the observer and asserts the safety rules held at every sample.
    Observer::Verdict judge_observer() { return judge_safe(*observer_); }

    ServedChain served(const std::string& alg) const {
        return served_chain(sb_, sb_.env.mx_addrs.front(), alg);
    }

    // Waits (bounded) until the DNS seen by dig satisfies `pred`.
    DnsSnapshot wait_dns(const std::function<bool(const DnsSnapshot&)>& pred,
                         std::chrono::milliseconds limit = 15s) const {
        DnsSnapshot last;
        test::wait_until(
            [&] {
                last = dig_snapshot(sb_);
                return last.complete && pred(last);
            },
            limit);
        return last;
    }

    void expect_dane_checks_pass() const {
        for (const std::string alg : {"ecdsa", "rsa"}) {
            const auto r = sb_.dane_check(alg);
            EXPECT_TRUE(r.ok()) << r.describe();
        }
        const auto p = sb_.posttls();
        EXPECT_TRUE(p.ok()) << p.describe();
    }

    Sandbox sb_;
    std::unique_ptr<Daneroll> d_;
    std::unique_ptr<Observer> observer_;
};

// `sandbox lag nsd` for a scope: thawed at the latest when it ends.
class NsdLag {
  public:
    explicit NsdLag(const Sandbox& sb) : sb_(sb) {
        const auto r = sb_.tool({"lag", "nsd", sb_.env.dir.string()});
        if (!r.ok()) {
            throw std::runtime_error("sandbox lag nsd: " + r.describe());
        }
    }
    NsdLag(const NsdLag&) = delete;
    NsdLag& operator=(const NsdLag&) = delete;
    ~NsdLag() { thaw(); }
    void thaw() {
        if (!thawed_) {
            thawed_ = true;
            const auto r = sb_.tool({"thaw", "nsd", sb_.env.dir.string()});
            EXPECT_TRUE(r.ok()) << r.describe();
        }
    }

  private:
    const Sandbox& sb_;
    bool thawed_ = false;
};

// Config shapes used below (ConfigSpec defaults: ECDSA, current+next,
// Postfix's own files and reload).
ConfigSpec issuer_spec(const fs::path& issuer_file) {
    ConfigSpec s;
    s.issuer_scheme = true;
    s.issuer_files = {issuer_file};
    return s;
}

ConfigSpec algorithms_spec(const std::vector<std::string>& algorithms) {
    ConfigSpec s;
    s.algorithms = algorithms;
    return s;
}

ConfigSpec reload_spec(const std::vector<std::string>& reload) {
    ConfigSpec s;
    s.reload = reload;
    return s;
}

ConfigSpec files_spec(const std::string& combined_file) {
    ConfigSpec s;
    s.combined_file = combined_file;
    return s;
}

// Every record of `unit` with `role`, exactly one expected.
TlsaRecord one_record(const nlohmann::json& unit, const std::string& role) {
    const auto rs = records_with_role(unit, role);
    if (rs.size() != 1) {
        throw std::runtime_error("expected one '" + role + "' record in " + unit.dump(2));
    }
    return rs.front();
}

std::string hex_of(const TlsaRecord& r) {
    return to_hex(r.data);
}

// --------------------------------------------------------------------------

TEST_F(RolloverE2E, CurrentNextEcdsaFullRollover) {
    d_->write_config({});
    const auto old_leaf = sb_.installed_chain("ecdsa-p256").front();
    const TlsaRecord old_rec = ee_record(old_leaf);
    observer_->start();

    const auto init = d_->init();
    ASSERT_TRUE(init.ok()) << init.describe();
    // init takes over at once: its first tick published the next key.
    EXPECT_EQ(records_with_role(d_->unit("ecdsa-p256"), "next").size(), 1U) << init.describe();
    const auto first = d_->run_wait();
    ASSERT_TRUE(first.ok()) << first.describe();
    const auto u1 = d_->unit("ecdsa-p256");
    EXPECT_EQ(u1.at("phase"), "stable");
    ASSERT_EQ(records_with_role(u1, "current"), std::vector<TlsaRecord>{old_rec}) << u1.dump(2);
    const TlsaRecord next1 = one_record(u1, "next");
    const auto published = wait_dns([&](const DnsSnapshot& s) { return s.has_everywhere(next1); });
    ASSERT_TRUE(published.has_everywhere(next1)) << "the next key's 3 1 1 is not on every server:\n"
                                                 << published.describe();

    const auto rotate = d_->rotate();
    ASSERT_TRUE(rotate.ok()) << rotate.describe();
    const auto roll = d_->run_wait();
    ASSERT_TRUE(roll.ok()) << roll.describe();

    const auto u2 = d_->unit("ecdsa-p256");
    EXPECT_EQ(u2.at("phase"), "stable") << u2.dump(2);
    // The new certificate is for the pre-published next key, from the CA.
    const auto now_served = served("ecdsa-p256");
    ASSERT_FALSE(now_served.id.empty()) << now_served.error;
    EXPECT_EQ(now_served.leaf_spki, hex_of(next1));
    EXPECT_NE(now_served.leaf_spki, spki_hex(old_leaf));
    EXPECT_TRUE(contains(now_served.chain.front().issuer(), "intermediate"))
        << now_served.chain.front().issuer();
    EXPECT_EQ(sb_.installed_chain("ecdsa-p256").front().der(), now_served.chain.front().der());
    EXPECT_EQ(records_with_role(u2, "current"), std::vector<TlsaRecord>{next1}) << u2.dump(2);
    const TlsaRecord next2 = one_record(u2, "next");
    EXPECT_NE(next2, next1);
    // Old 3 1 1 retired, new next 3 1 1 published, on every server.
    const auto end = wait_dns([&](const DnsSnapshot& s) {
        return s.absent_everywhere(old_rec) && s.has_everywhere(next1) && s.has_everywhere(next2);
    });
    EXPECT_TRUE(end.absent_everywhere(old_rec)) << "old record not retired:\n" << end.describe();
    EXPECT_TRUE(end.has_everywhere(next2)) << "new next not published:\n" << end.describe();
    EXPECT_TRUE(end.has_everywhere(next1)) << end.describe();
    expect_dane_checks_pass();

    const auto v = judge_observer();
    const auto* a = appearance_of(v, hex_of(next1));
    ASSERT_NE(a, nullptr) << "the observer never saw the new chain appear\n" << v.timeline;
    EXPECT_GE(a->margin_high_s, v.wait_s);
}

TEST_F(RolloverE2E, CurrentIssuerEcdsaFullRollover) {
    const fs::path int_pem = d_->ca() / "int.pem";
    d_->write_config(issuer_spec(int_pem));
    const auto int1 = load_certificates(int_pem).front();
    const TlsaRecord ta1 = ta_record(int1);
    const auto old_leaf = sb_.installed_chain("ecdsa-p256").front();
    const TlsaRecord old_rec = ee_record(old_leaf);
    observer_->start();

    ASSERT_TRUE(d_->init().ok());
    const auto first = d_->run_wait();
    ASSERT_TRUE(first.ok()) << first.describe();
    const auto u1 = d_->unit("ecdsa-p256");
    EXPECT_EQ(records_with_role(u1, "issuer"), std::vector<TlsaRecord>{ta1}) << u1.dump(2);
    EXPECT_TRUE(records_with_role(u1, "next").empty()) << u1.dump(2);

    ASSERT_TRUE(d_->rotate().ok());
    const auto roll = d_->run_wait();
    ASSERT_TRUE(roll.ok()) << roll.describe();

    const auto u2 = d_->unit("ecdsa-p256");
    EXPECT_EQ(u2.at("phase"), "stable") << u2.dump(2);
    const auto now_served = served("ecdsa-p256");
    ASSERT_FALSE(now_served.id.empty()) << now_served.error;
    EXPECT_NE(now_served.leaf_spki, spki_hex(old_leaf));
    ASSERT_GE(now_served.chain.size(), 2u);
    EXPECT_TRUE(now_served.chain.front().issued_by(int1));
    const TlsaRecord new_rec = ee_record(now_served.chain.front());
    EXPECT_EQ(records_with_role(u2, "current"), std::vector<TlsaRecord>{new_rec}) << u2.dump(2);
    const auto end = wait_dns([&](const DnsSnapshot& s) {
        return s.absent_everywhere(old_rec) && s.has_everywhere(ta1) && s.has_everywhere(new_rec);
    });
    EXPECT_TRUE(end.absent_everywhere(old_rec)) << end.describe();
    EXPECT_TRUE(end.has_everywhere(ta1)) << end.describe();
    EXPECT_TRUE(end.has_everywhere(new_rec)) << end.describe();
    expect_dane_checks_pass();

    const auto v = judge_observer();
    const auto* a = appearance_of(v, now_served.leaf_spki);
    ASSERT_NE(a, nullptr) << v.timeline;
    // Deployed on the strength of the issuer's 2 1 1: the leaf's own 3 1 1
    // only comes after the deploy.
    EXPECT_EQ(a->record, ta1.short_string());
    EXPECT_GE(a->margin_high_s, v.wait_s);
}

TEST_F(RolloverE2E, RsaAndEcdsaBothRoll) {
    d_->write_config(algorithms_spec(kBothAlgorithms));
    std::map<std::string, Certificate> old_leaf;
    for (const auto& alg : kBothAlgorithms) {
        old_leaf.emplace(alg, sb_.installed_chain(alg).front());
    }
    observer_->start();

    ASSERT_TRUE(d_->init().ok());
    const auto first = d_->run_wait();
    ASSERT_TRUE(first.ok()) << first.describe();
    std::map<std::string, TlsaRecord> next1;
    for (const auto& alg : kBothAlgorithms) {
        const auto u = d_->unit(alg);
        EXPECT_EQ(u.at("phase"), "stable") << u.dump(2);
        next1.emplace(alg, one_record(u, "next"));
    }
    ASSERT_TRUE(d_->rotate().ok());
    const auto roll = d_->run_wait(90s);
    ASSERT_TRUE(roll.ok()) << roll.describe();

    const auto end = wait_dns([&](const DnsSnapshot& s) {
        for (const auto& alg : kBothAlgorithms) {
            if (!s.absent_everywhere(ee_record(old_leaf.at(alg))) ||
                !s.has_everywhere(next1.at(alg))) {
                return false;
            }
        }
        return true;
    });
    for (const auto& alg : kBothAlgorithms) {
        SCOPED_TRACE(alg);
        const auto u = d_->unit(alg);
        EXPECT_EQ(u.at("phase"), "stable") << u.dump(2);
        const auto c = served(alg);
        ASSERT_FALSE(c.id.empty()) << c.error;
        EXPECT_EQ(c.leaf_spki, hex_of(next1.at(alg)));
        EXPECT_EQ(c.chain.front().key_description().rfind(alg == "rsa2048" ? "RSA" : "ECDSA", 0),
                  0u)
            << c.chain.front().key_description();
        EXPECT_TRUE(end.absent_everywhere(ee_record(old_leaf.at(alg)))) << end.describe();
        const TlsaRecord next2 = one_record(u, "next");
        EXPECT_TRUE(test::wait_until(
            [&] {
                const auto s = dig_snapshot(sb_);
                return s.has_everywhere(next2);
            },
            15s))
            << dig_snapshot(sb_).describe();
    }
    expect_dane_checks_pass();

    const auto v = judge_observer();
    for (const auto& alg : kBothAlgorithms) {
        const auto* a = appearance_of(v, hex_of(next1.at(alg)));
        ASSERT_NE(a, nullptr) << alg << "\n" << v.timeline;
        EXPECT_GE(a->margin_high_s, v.wait_s) << alg;
    }
}

// The CA switches to a new intermediate and the config names the CA's
// int.pem, so it follows: the new issuer's 2 1 1 is published at the
// rotation and the new leaf (issued by it) waits 2 x TTL for it.
TEST_F(RolloverE2E, IssuerChangeWithConfigFollowingTheCa) {
    const fs::path int_pem = d_->ca() / "int.pem";
    d_->write_config(issuer_spec(int_pem));
    const TlsaRecord ta1 = ta_record(load_certificates(int_pem).front());
    observer_->start();

    ASSERT_TRUE(d_->init().ok());
    const auto first = d_->run_wait();
    ASSERT_TRUE(first.ok()) << first.describe();
    ASSERT_TRUE(d_->rotate().ok());
    const auto roll1 = d_->run_wait();
    ASSERT_TRUE(roll1.ok()) << roll1.describe();
    const auto chain_a = served("ecdsa-p256");
    ASSERT_FALSE(chain_a.id.empty()) << chain_a.error;

    const auto rekey = sb_.local_ca({"rekey", d_->ca().string()});
    ASSERT_TRUE(rekey.ok()) << rekey.describe();
    const auto int2 = load_certificates(int_pem).front();
    const TlsaRecord ta2 = ta_record(int2);
    ASSERT_NE(ta1, ta2);
    const auto before = dig_snapshot(sb_);
    ASSERT_TRUE(before.absent_everywhere(ta2)) << before.describe();

    ASSERT_TRUE(d_->rotate().ok());
    const auto roll2 = d_->run_wait();
    ASSERT_TRUE(roll2.ok()) << roll2.describe();

    const auto chain_b = served("ecdsa-p256");
    ASSERT_FALSE(chain_b.id.empty()) << chain_b.error;
    EXPECT_NE(chain_b.leaf_spki, chain_a.leaf_spki);
    EXPECT_TRUE(chain_b.chain.front().issued_by(int2)) << chain_b.chain.front().issuer();
    const auto u = d_->unit("ecdsa-p256");
    EXPECT_EQ(u.at("phase"), "stable") << u.dump(2);
    EXPECT_EQ(records_with_role(u, "issuer"), std::vector<TlsaRecord>{ta2}) << u.dump(2);
    // The old issuer's record goes once nothing served needs it (it may
    // take one more tick: the new leaf's 3 1 1 must be established first).
    auto end = wait_dns(
        [&](const DnsSnapshot& s) { return s.has_everywhere(ta2) && s.absent_everywhere(ta1); });
    if (!end.absent_everywhere(ta1)) {
        std::this_thread::sleep_for(sb_.two_ttl() + 1s);
        const auto again = d_->run_wait();
        EXPECT_TRUE(again.ok()) << again.describe();
        end = wait_dns([&](const DnsSnapshot& s) { return s.absent_everywhere(ta1); });
    }
    EXPECT_TRUE(end.has_everywhere(ta2)) << end.describe();
    EXPECT_TRUE(end.absent_everywhere(ta1)) << "old issuer record not retired\n" << end.describe();
    expect_dane_checks_pass();

    const auto v = judge_observer();
    const auto* a = appearance_of(v, chain_b.leaf_spki);
    ASSERT_NE(a, nullptr) << v.timeline;
    // Nothing that matches chain B existed before the rotation, so this
    // margin is the deploy's own wait.
    EXPECT_TRUE(a->record == ta2.short_string() ||
                a->record == ee_record(chain_b.chain.front()).short_string())
        << a->record;
    EXPECT_GE(a->margin_high_s, v.wait_s);
    EXPECT_LT(a->margin_high_s, 1e9) << "chain B matched a record from before the rotation";
}

// The CA switches to a new intermediate but the config still pins the old
// one (a copy of it): the new leaf matches no configured issuer, so its own
// 3 1 1 is published (role "staged") and the deploy waits 2 x TTL for it.
TEST_F(RolloverE2E, IssuerChangedUnderYouPublishesTheLeafRecordAndWaits) {
    const fs::path pinned = d_->dir() / "pinned-int.pem";
    write_file_atomic(pinned, read_file(d_->ca() / "int.pem"), 0644, Overwrite::Yes);
    d_->write_config(issuer_spec(pinned));
    const TlsaRecord ta1 = ta_record(load_certificates(pinned).front());
    observer_->start();

    ASSERT_TRUE(d_->init().ok());
    const auto first = d_->run_wait();
    ASSERT_TRUE(first.ok()) << first.describe();
    const auto rekey = sb_.local_ca({"rekey", d_->ca().string()});
    ASSERT_TRUE(rekey.ok()) << rekey.describe();
    const auto int2 = load_certificates(d_->ca() / "int.pem").front();

    ASSERT_TRUE(d_->rotate().ok());
    const auto roll = d_->run_wait();
    ASSERT_TRUE(roll.ok()) << roll.describe();
    EXPECT_TRUE(contains(roll.output, "3 1 1")) << roll.output;

    const auto c = served("ecdsa-p256");
    ASSERT_FALSE(c.id.empty()) << c.error;
    EXPECT_TRUE(c.chain.front().issued_by(int2));
    const TlsaRecord leaf_rec = ee_record(c.chain.front());
    const auto u = d_->unit("ecdsa-p256");
    EXPECT_EQ(u.at("phase"), "stable") << u.dump(2);
    EXPECT_EQ(records_with_role(u, "current"), std::vector<TlsaRecord>{leaf_rec}) << u.dump(2);
    const auto end = wait_dns(
        [&](const DnsSnapshot& s) { return s.has_everywhere(leaf_rec) && s.has_everywhere(ta1); });
    EXPECT_TRUE(end.has_everywhere(leaf_rec)) << end.describe();
    EXPECT_TRUE(end.has_everywhere(ta1)) << end.describe();
    expect_dane_checks_pass();

    const auto v = judge_observer();
    const auto* a = appearance_of(v, c.leaf_spki);
    ASSERT_NE(a, nullptr) << v.timeline;
    EXPECT_EQ(a->record, leaf_rec.short_string());
    EXPECT_GE(a->margin_high_s, v.wait_s);
}

// NSD stops transferring (xfrd SIGSTOPped) before the next key's record is
// published: the rollover must wait while NSD lacks it, Postfix keeps the
// old chain, and the deploy comes >= 2 x TTL after NSD catches up.
TEST_F(RolloverE2E, LaggingSecondaryDelaysTheDeploy) {
    d_->write_config({});
    const auto old_leaf = sb_.installed_chain("ecdsa-p256").front();
    const std::string nsd_addr = sb_.env.secondaries.at(0).address;
    observer_->start();
    // Adopt only: the next key's record must be published after NSD froze.
    const auto init = d_->cmd({"init", "--adopt-only"});
    ASSERT_TRUE(init.ok()) << init.describe();

    NsdLag lag(sb_);

    // The next key's record is published but NSD never gets it: run --wait
    // must not call that settled (exit 4, naming what it waits for).
    const auto first = d_->run_wait(std::chrono::seconds(5));
    EXPECT_TRUE(first.exited && first.code == 4)
        << "expected exit 4 (waiting): " << first.describe();
    EXPECT_TRUE(contains(first.output, "not yet served")) << first.output;
    const TlsaRecord next1 = one_record(d_->unit("ecdsa-p256"), "next");
    const auto lagging =
        wait_dns([&](const DnsSnapshot& s) { return s.servers.front().records.count(next1) != 0; });
    ASSERT_EQ(lagging.servers.size(), 2u);
    ASSERT_EQ(lagging.servers.front().records.count(next1), 1u) << lagging.describe();
    ASSERT_EQ(lagging.servers.back().records.count(next1), 0u) << "NSD is not lagging:\n"
                                                               << lagging.describe();

    ASSERT_TRUE(d_->rotate().ok());
    // Well past 2 x TTL: it must still be waiting, not deploying.
    const auto waiting = d_->run_wait(std::chrono::seconds(3 * sb_.env.ttl + 4));
    EXPECT_TRUE(waiting.exited && waiting.code == 4)
        << "expected exit 4 (waiting): " << waiting.describe();
    const auto u = d_->unit("ecdsa-p256");
    EXPECT_EQ(u.at("phase"), "awaiting-propagation") << u.dump(2);
    const std::string waiting_for = u.at("waiting_for").get<std::string>();
    EXPECT_TRUE(contains(waiting_for, nsd_addr)) << "the wait should name NSD: " << waiting_for;
    const auto still = dig_snapshot(sb_);
    EXPECT_EQ(still.servers.back().records.count(next1), 0u) << still.describe();
    // From the Postfix side: the old chain, still DANE-verified.
    const auto c = served("ecdsa-p256");
    EXPECT_EQ(c.leaf_spki, spki_hex(old_leaf)) << c.error;
    const auto check = sb_.dane_check("ecdsa");
    EXPECT_TRUE(check.ok()) << check.describe();
    EXPECT_FALSE(observer_->ever_served_leaf(hex_of(next1)))
        << "the new chain was served while NSD lacked its record";

    const auto thawed_at = Clock::now();
    lag.thaw();
    const auto roll = d_->run_wait();
    ASSERT_TRUE(roll.ok()) << roll.describe();
    const auto after = served("ecdsa-p256");
    EXPECT_EQ(after.leaf_spki, hex_of(next1)) << after.error;
    expect_dane_checks_pass();

    const auto v = judge_observer();
    const auto nsd_got = observer_->first_served_by(nsd_addr, next1);
    ASSERT_TRUE(nsd_got.has_value()) << v.timeline;
    EXPECT_GT(*nsd_got, thawed_at);
    const auto shown = observer_->first_seen_leaf(hex_of(next1));
    ASSERT_TRUE(shown.has_value()) << v.timeline;
    // NSD cannot have had the record before the thaw, and the first sample
    // that saw the new chain ended after it appeared.
    EXPECT_GE(std::chrono::duration<double>(*shown - thawed_at).count(), v.wait_s)
        << "deployed too soon after NSD caught up\n"
        << v.timeline;
}

// The deploy rule measured closely: NSD is thawed so that it gets the next
// key's record mid-second, the test watches NSD with dig back to back (the
// last moment it lacked the record is known to a few ms), then ticks the
// engine itself with one-shot `daneroll run`s until it installs the new
// chain; the install time is the file's mtime. Two checks:
//  - the "everywhere since" the engine persisted is not earlier than a
//    moment at which NSD was seen lacking the record (DESIGN: "served
//    since" is a timestamp the agent observed);
//  - the chain was installed >= 2 x TTL after that moment.
TEST_F(RolloverE2E, DeployWaitsTwoTtlFromTheMomentTheLastServerHadTheRecord) {
    d_->write_config({});
    const fs::path pem = sb_.postfix_pem.at("ecdsa-p256");
    const dns::Server nsd = sb_.env.secondaries.at(0);
    observer_->start();
    // Adopt only: the next key's record must be published after NSD froze.
    const auto init = d_->cmd({"init", "--adopt-only"});
    ASSERT_TRUE(init.ok()) << init.describe();
    NsdLag lag(sb_);
    const auto publish = d_->cmd({"run"});
    ASSERT_TRUE(publish.exited && (publish.code == 0 || publish.code == 4)) << publish.describe();
    const TlsaRecord next1 = one_record(d_->unit("ecdsa-p256"), "next");
    ASSERT_TRUE(d_->rotate().ok());
    const auto stage = d_->cmd({"run"});
    EXPECT_TRUE(stage.exited && stage.code == 4) << stage.describe();
    ASSERT_EQ(d_->unit("ecdsa-p256").at("phase"), "awaiting-propagation");
    const std::string before_pem = read_file(pem);

    // Thaw at ~.3 s past a second (SIGCONT ~0.1 s later).
    auto frac = [] {
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
                .count();
        return ms % 1000;
    };
    // A watcher digs NSD back to back from before the thaw (NSD catches up
    // within ~20 ms of SIGCONT, before `sandbox thaw` even returns).
    std::optional<TimePoint> lacked;  // begin of the last dig that did not see it
    std::optional<TimePoint> had;     // end of the first dig that did
    std::thread watcher([&] {
        const auto until = Clock::now() + 20s;
        for (int i = 0; i < 4000 && !had && Clock::now() < until; ++i) {
            const auto b = Clock::now();
            const auto rr = dig_server(nsd, sb_.owner);
            const auto e = Clock::now();
            if (rr.answered && rr.signed_ && rr.records.count(next1) != 0) {
                had = e;
            } else {
                lacked = b;
            }
        }
    });
    const bool phased = test::wait_until([&] { return frac() >= 300 && frac() < 350; }, 3s);
    lag.thaw();
    watcher.join();
    ASSERT_TRUE(phased);
    ASSERT_TRUE(lacked && had) << "NSD did not catch up, or had the record before the thaw";

    // Tick every ~50 ms until the chain is installed (bounded: 20 s).
    std::optional<double> persisted_since;
    ProcResult last;
    bool changed = false;
    const auto deadline = Clock::now() + 20s;
    for (int i = 0; i < 1000 && !changed && Clock::now() < deadline; ++i) {
        if (i > 0) {
            std::this_thread::sleep_for(50ms);
        }
        last = d_->cmd({"run"});
        if (!persisted_since) {
            const auto st = nlohmann::json::parse(d_->state_file("ecdsa-p256"));
            for (const auto& r : st.at("records")) {
                if (TlsaRecord::parse(r.at("record").get<std::string>()) == next1 &&
                    !r.at("everywhere_since").is_null()) {
                    persisted_since = r.at("everywhere_since").get<double>();
                }
            }
        }
        changed = read_file(pem) != before_pem;
    }
    ASSERT_TRUE(changed) << "never installed: " << last.describe();
    const TimePoint installed = mtime_of(pem);
    ASSERT_TRUE(persisted_since.has_value()) << d_->state_file("ecdsa-p256");
    const auto roll = d_->run_wait();
    EXPECT_TRUE(roll.ok()) << roll.describe();

    auto secs = [](TimePoint t) {
        return std::chrono::duration<double>(t.time_since_epoch()).count();
    };
    const double wait = std::chrono::duration<double>(sb_.two_ttl()).count();
    std::ostringstream times;
    times.setf(std::ios::fixed);
    times.precision(3);
    times << "NSD last seen lacking the record at " << secs(*lacked) << ", first seen with it at "
          << secs(*had) << "; daneroll persisted everywhere_since = " << *persisted_since
          << "; the chain was installed at " << secs(installed) << ", "
          << secs(installed) - secs(*lacked) << " s after the last moment NSD lacked the record"
          << " (2 x TTL = " << wait << " s)";
    std::cout << times.str() << "\n";
    EXPECT_GE(*persisted_since, secs(*lacked))
        << "the persisted 'everywhere since' predates a moment at which NSD was seen lacking "
           "the record: "
        << times.str();
    EXPECT_GE(secs(installed) - secs(*lacked), wait)
        << "the chain was installed less than 2 x TTL after the record reached every "
           "server: "
        << times.str();
    judge_observer();
}

// The MTA reload fails (/bin/false): the deploy is rolled back, the old
// chain stays served and verified, status says failed with the reason,
// exit 1. After the config is fixed, rotate + run --wait complete.
TEST_F(RolloverE2E, FailingReloadRollsBackThenRecovers) {
    d_->write_config(reload_spec({"/bin/false"}));
    const auto old_chain = sb_.installed_chain("ecdsa-p256");
    const std::string old_pem = chain_to_pem(old_chain);
    observer_->start();

    ASSERT_TRUE(d_->init().ok());
    const auto first = d_->run_wait();
    ASSERT_TRUE(first.ok()) << first.describe();
    const TlsaRecord next1 = one_record(d_->unit("ecdsa-p256"), "next");
    ASSERT_TRUE(d_->rotate().ok());
    const auto failed = d_->run_wait();
    EXPECT_TRUE(failed.exited && failed.code == 1) << "expected exit 1: " << failed.describe();

    const auto u = d_->unit("ecdsa-p256");
    EXPECT_EQ(u.at("phase"), "failed") << u.dump(2);
    const std::string failure = u.at("failure").get<std::string>();
    EXPECT_TRUE(contains(failure, "/bin/false")) << failure;
    EXPECT_TRUE(contains(failure, "reload")) << failure;
    std::cout << "failure reason: " << failure << "\n";
    // The previous chain is back in the file and served, and verifies.
    EXPECT_EQ(chain_to_pem(sb_.installed_chain("ecdsa-p256")), old_pem);
    const auto c = served("ecdsa-p256");
    EXPECT_EQ(c.leaf_spki, spki_hex(old_chain.front())) << c.error;
    const auto check = sb_.dane_check("ecdsa");
    EXPECT_TRUE(check.ok()) << check.describe();
    // The records the old chain needs stayed.
    const auto dns = dig_snapshot(sb_);
    EXPECT_TRUE(dns.has_everywhere(ee_record(old_chain.front()))) << dns.describe();

    d_->write_config({});
    ASSERT_TRUE(d_->rotate().ok());
    const auto roll = d_->run_wait();
    ASSERT_TRUE(roll.ok()) << roll.describe();
    const auto u2 = d_->unit("ecdsa-p256");
    EXPECT_EQ(u2.at("phase"), "stable") << u2.dump(2);
    EXPECT_EQ(u2.at("failure"), "");
    EXPECT_EQ(served("ecdsa-p256").leaf_spki, hex_of(next1));
    expect_dane_checks_pass();
    judge_observer();
}

// The probe after the reload fails. How: the config's combined_file points
// at copies of Postfix's files that Postfix does not read (a misconfigured
// path), with the real reload. daneroll installs the new chain there,
// reloads Postfix, and Postfix keeps presenting the old chain: the probe
// reports "still presents the previous certificate" and the deploy is
// rolled back. (A reload of /bin/true is not used: a newly forked smtpd
// would read the new file anyway, sandbox fact 4, so the outcome would
// depend on Postfix's process reuse.)
TEST_F(RolloverE2E, FailingProbeRollsBackAndMailKeepsFlowing) {
    const fs::path mta_dir = d_->dir() / "files-postfix-does-not-read";
    fs::create_directories(mta_dir);
    for (const auto& [alg, file] : sb_.postfix_pem) {
        write_file_atomic(mta_dir / (alg + ".pem"), read_file(file), 0600, Overwrite::Yes);
    }
    d_->write_config(files_spec((mta_dir / "{algorithm}.pem").string()));
    const auto old_chain = sb_.installed_chain("ecdsa-p256");
    observer_->start();

    ASSERT_TRUE(d_->init().ok());
    const auto first = d_->run_wait();
    ASSERT_TRUE(first.ok()) << first.describe();
    const TlsaRecord next1 = one_record(d_->unit("ecdsa-p256"), "next");
    ASSERT_TRUE(d_->rotate().ok());
    const auto failed = d_->run_wait(90s);
    EXPECT_TRUE(failed.exited && failed.code == 1) << "expected exit 1: " << failed.describe();

    const auto u = d_->unit("ecdsa-p256");
    EXPECT_EQ(u.at("phase"), "failed") << u.dump(2);
    const std::string failure = u.at("failure").get<std::string>();
    EXPECT_TRUE(contains(failure, "still presents the previous certificate")) << failure;
    EXPECT_TRUE(contains(failure, "rolled back")) << failure;
    std::cout << "failure reason: " << failure << "\n";
    // daneroll's (unread) file is back to the old chain; Postfix never
    // changed; mail flows: the old chain matches the published records.
    EXPECT_EQ(parse_certificates(read_file(mta_dir / "ecdsa-p256.pem"), "file").front().der(),
              old_chain.front().der());
    const auto c = served("ecdsa-p256");
    EXPECT_EQ(c.leaf_spki, spki_hex(old_chain.front())) << c.error;
    const auto dns = dig_snapshot(sb_);
    EXPECT_TRUE(dns.has_everywhere(ee_record(old_chain.front()))) << dns.describe();
    expect_dane_checks_pass();

    const auto v = judge_observer();
    EXPECT_FALSE(observer_->ever_served_leaf(hex_of(next1))) << v.timeline;
}

// The command MTA: daneroll stages key and chain, and an install command
// (here a script that writes Postfix's combined file) takes them to the
// MTA. The install command writes the new files, then fails once: the
// deploy must roll back through the same command, so Postfix goes on
// presenting the old chain, and the unit waits for the operator.
TEST_F(RolloverE2E, FailingInstallCommandRollsBackThroughTheCommand) {
    const std::string alg = "ecdsa-p256";
    const fs::path staged = d_->dir() / "staged";
    fs::create_directories(staged);
    const std::string live = read_file(sb_.postfix_pem.at(alg));
    write_file_atomic(staged / (alg + ".key"), PrivateKey::parse(live, "postfix's file").to_pem(),
                      0600, Overwrite::Yes);
    write_file_atomic(staged / (alg + ".crt"),
                      chain_to_pem(parse_certificates(live, "postfix's file")), 0644,
                      Overwrite::Yes);
    const fs::path fail_once = d_->dir() / "fail-once";
    const fs::path script = d_->dir() / "install-into-postfix";
    write_file_atomic(script,
                      "#!/bin/sh\n"
                      "# usage: install-into-postfix KEY CHAIN COMBINED FAIL_ONCE_FLAG\n"
                      "set -e\n"
                      "cat \"$1\" \"$2\" > \"$3.tmp\"\n"
                      "mv \"$3.tmp\" \"$3\"\n"
                      "if [ -e \"$4\" ]; then rm -f \"$4\"; echo 'simulated failure' >&2; exit 1; "
                      "fi\n",
                      0755, Overwrite::Yes);
    ConfigSpec spec;
    spec.key_file = (staged / "{algorithm}.key").string();
    spec.chain_file = (staged / "{algorithm}.crt").string();
    spec.install = {script.string(), "{key}", "{chain}",
                    (sb_.postfix_pem.at(alg).parent_path() / "{algorithm}.pem").string(),
                    fail_once.string()};
    d_->write_config(spec);
    const auto old_chain = sb_.installed_chain(alg);
    observer_->start();

    ASSERT_TRUE(d_->init().ok());
    const auto first = d_->run_wait();
    ASSERT_TRUE(first.ok()) << first.describe();
    const TlsaRecord next1 = one_record(d_->unit(alg), "next");
    write_file_atomic(fail_once, "", 0600, Overwrite::Yes);
    ASSERT_TRUE(d_->rotate().ok());
    const auto failed = d_->run_wait();
    EXPECT_TRUE(failed.exited && failed.code == 1) << "expected exit 1: " << failed.describe();
    EXPECT_FALSE(fs::exists(fail_once)) << "the install command never ran";

    const auto u = d_->unit(alg);
    EXPECT_EQ(u.at("phase"), "failed") << u.dump(2);
    const std::string failure = u.at("failure").get<std::string>();
    EXPECT_TRUE(contains(failure, "install command")) << failure;
    EXPECT_TRUE(contains(failure, "rolled back")) << failure;
    std::cout << "failure reason: " << failure << "\n";
    // Postfix's file went back through the command; Postfix presents the
    // old chain, which its records still cover.
    EXPECT_EQ(sb_.installed_chain(alg).front().der(), old_chain.front().der());
    const auto c = served(alg);
    EXPECT_EQ(c.leaf_spki, spki_hex(old_chain.front())) << c.error;
    const auto dns = dig_snapshot(sb_);
    EXPECT_TRUE(dns.has_everywhere(ee_record(old_chain.front()))) << dns.describe();
    expect_dane_checks_pass();

    // Fixed (the flag is gone): the next rotation goes through the command.
    ASSERT_TRUE(d_->rotate().ok());
    const auto roll = d_->run_wait();
    ASSERT_TRUE(roll.ok()) << roll.describe();
    EXPECT_EQ(served(alg).leaf_spki, hex_of(next1));
    expect_dane_checks_pass();
    judge_observer();
}

// certbot renews on its own; a renewal, laid out as certbot does it
// (archive/ files, live/ symlinks), signed by the test's local CA.
fs::path renew_like_certbot(const Sandbox& sb, const Daneroll& d, int n) {
    const fs::path archive = d.dir() / "letsencrypt" / "archive" / "mx1";
    const fs::path live = d.dir() / "letsencrypt" / "live" / "mx1";
    fs::create_directories(archive);
    fs::create_directories(live);
    const std::string key = (archive / ("privkey" + std::to_string(n) + ".pem")).string();
    const std::string csr = (archive / ("req" + std::to_string(n) + ".csr")).string();
    const std::string chain = (archive / ("fullchain" + std::to_string(n) + ".pem")).string();
    auto must = [](const ProcResult& r) {
        if (!r.ok()) {
            throw std::runtime_error(r.describe());
        }
    };
    must(run_proc({"/usr/bin/openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-out", key},
                  Ms(20000)));
    must(run_proc({"/usr/bin/openssl", "req", "-new", "-key", key, "-subj", "/CN=" + sb.env.mx_host,
                   "-addext", "subjectAltName=DNS:" + sb.env.mx_host, "-out", csr},
                  Ms(20000)));
    must(sb.local_ca({"sign", d.ca().string(), csr, chain, "90"}));
    for (const auto& [link, target] :
         {std::pair{"privkey.pem", key}, std::pair{"fullchain.pem", chain}}) {
        fs::remove(live / link);
        fs::create_symlink(target, live / link);
    }
    return live;
}

TEST_F(RolloverE2E, CertbotRenewalFromAPublishedIssuerDeploysFromTheHook) {
    const fs::path int_pem = d_->ca() / "int.pem";
    ConfigSpec spec = issuer_spec(int_pem);
    spec.certbot_lineage = (d_->dir() / "letsencrypt" / "live" / "mx1").string();
    d_->write_config(spec);
    const TlsaRecord ta1 = ta_record(load_certificates(int_pem).front());
    observer_->start();
    ASSERT_TRUE(d_->init().ok());
    const auto first = d_->run_wait();
    ASSERT_TRUE(first.ok()) << first.describe();

    // A timer tick sees the issuer's 2 1 1 everywhere (run --wait returns
    // as soon as it is published), and 2 x TTL pass.
    std::this_thread::sleep_for(1s);
    const auto tick = d_->cmd({"run"});
    ASSERT_TRUE(tick.exited && (tick.code == 0 || tick.code == 4)) << tick.describe();
    std::this_thread::sleep_for(sb_.two_ttl() + 1s);
    // certbot renews (a new key) and runs its deploy hook: the issuer's
    // 2 1 1 is established, so the hook deploys at once.
    const fs::path live = renew_like_certbot(sb_, *d_, 1);
    const auto hook = d_->cmd({"hook", "certbot"}, Ms(90000), {"RENEWED_LINEAGE=" + live.string()});
    ASSERT_TRUE(hook.ok()) << hook.describe();
    EXPECT_TRUE(contains(hook.output, "deployed the new certificate")) << hook.output;
    const auto renewed = load_certificates(live / "fullchain.pem").front();
    EXPECT_EQ(served("ecdsa-p256").leaf_spki, spki_hex(renewed));
    // The MTA reads daneroll's copy, never certbot's files.
    EXPECT_EQ(sb_.installed_chain("ecdsa-p256").front().der(), renewed.der());
    expect_dane_checks_pass();
    const auto v = judge_observer();
    const auto* a = appearance_of(v, spki_hex(renewed));
    ASSERT_NE(a, nullptr) << v.timeline;
    EXPECT_EQ(a->record, ta1.short_string());
}

TEST_F(RolloverE2E, CertbotRenewalFromANewIssuerWaitsForItsOwnRecord) {
    const fs::path int_pem = d_->ca() / "int.pem";
    // The config pins the CA's first intermediate; certbot's next
    // certificate comes from a new one.
    const fs::path pinned = d_->dir() / "pinned-int.pem";
    fs::copy_file(int_pem, pinned);
    ConfigSpec spec = issuer_spec(pinned);
    spec.certbot_lineage = (d_->dir() / "letsencrypt" / "live" / "mx1").string();
    d_->write_config(spec);
    observer_->start();
    ASSERT_TRUE(d_->init().ok());
    ASSERT_TRUE(d_->run_wait().ok());
    const auto before = served("ecdsa-p256");

    ASSERT_TRUE(sb_.local_ca({"rekey", d_->ca().string()}).ok());
    const fs::path live = renew_like_certbot(sb_, *d_, 1);
    const auto renewed = load_certificates(live / "fullchain.pem").front();
    const auto hook = d_->cmd({"hook", "certbot"}, Ms(90000), {"RENEWED_LINEAGE=" + live.string()});
    ASSERT_TRUE(hook.ok()) << hook.describe();
    // Its own 3 1 1 is published; nothing is deployed yet.
    EXPECT_TRUE(contains(hook.output, "awaiting-propagation")) << hook.output;
    EXPECT_EQ(served("ecdsa-p256").leaf_spki, before.leaf_spki);
    const auto u = d_->unit("ecdsa-p256");
    EXPECT_EQ(records_with_role(u, "staged"), std::vector<TlsaRecord>{ee_record(renewed)})
        << u.dump(2);
    // The next timer tick deploys it once the record is established.
    const auto later = d_->run_wait();
    ASSERT_TRUE(later.ok()) << later.describe();
    EXPECT_EQ(served("ecdsa-p256").leaf_spki, spki_hex(renewed));
    expect_dane_checks_pass();
    const auto v = judge_observer();
    const auto* a = appearance_of(v, spki_hex(renewed));
    ASSERT_NE(a, nullptr) << v.timeline;
    EXPECT_EQ(a->record, ee_record(renewed).short_string());
    EXPECT_GE(a->margin_high_s, v.wait_s);
}

TEST_F(RolloverE2E, CertbotHookForAnUnknownLineageFailsClearly) {
    d_->write_config(issuer_spec(d_->ca() / "int.pem"));
    const auto hook =
        d_->cmd({"hook", "certbot"}, Ms(30000), {"RENEWED_LINEAGE=/nonexistent/live/x"});
    EXPECT_FALSE(hook.ok());
    EXPECT_TRUE(contains(hook.output, "no service with source type \"certbot\"")) << hook.output;
}

TEST_F(RolloverE2E, InitWithoutTakeOverNeverRetiresTheAdoptedRecord) {
    d_->write_config(ConfigSpec{});
    const auto old_leaf = sb_.installed_chain("ecdsa-p256").front();
    const TlsaRecord old_rec = ee_record(old_leaf);
    observer_->start();
    // Another machine might serve the same key under the same name: its
    // record (published before daneroll) must survive our rollovers.
    const auto init = d_->cmd({"init", "--no-take-over"});
    ASSERT_TRUE(init.ok()) << init.describe();
    EXPECT_TRUE(contains(init.output, "will not retire it")) << init.output;
    ASSERT_TRUE(d_->run_wait().ok());
    ASSERT_TRUE(d_->rotate().ok());
    const auto roll = d_->run_wait();
    ASSERT_TRUE(roll.ok()) << roll.describe();
    const auto now_served = served("ecdsa-p256");
    EXPECT_NE(now_served.leaf_spki, spki_hex(old_leaf));
    const auto end = wait_dns([&](const DnsSnapshot& s) {
        return s.has_everywhere(ee_record(now_served.chain.front()));
    });
    EXPECT_TRUE(end.has_everywhere(old_rec))
        << "the adopted record was retired: " << end.describe();
    expect_dane_checks_pass();
    judge_observer();
}

// Before `daneroll init` there is nothing to wait for: `run` says what to
// do and fails (the timer's unit shows it), and `run --wait` stops at once
// instead of ticking until its timeout.
TEST_F(RolloverE2E, RunBeforeInitAsksForInitAndDoesNotWait) {
    d_->write_config(ConfigSpec{});
    const auto once = d_->cmd({"run"});
    EXPECT_TRUE(once.exited && once.code == 1) << "expected exit 1: " << once.describe();
    EXPECT_TRUE(contains(once.output, "daneroll init")) << once.output;
    const auto wait = d_->run_wait(std::chrono::seconds(60));
    EXPECT_TRUE(wait.exited && wait.code == 1) << "expected exit 1: " << wait.describe();
    EXPECT_TRUE(contains(wait.output, "not managed yet")) << wait.output;
    EXPECT_LT(wait.elapsed, Ms(15000)) << "run --wait kept ticking: " << wait.describe();
    const auto dns = dig_snapshot(sb_);
    EXPECT_TRUE(dns.has_everywhere(ee_record(sb_.installed_chain("ecdsa-p256").front())))
        << "the zone changed: " << dns.describe();
}

TEST_F(RolloverE2E, CheckIsOkWhenHealthyAndCriticalWhenAnAddressStopsVerifying) {
    d_->write_config(algorithms_spec(kBothAlgorithms));
    ASSERT_TRUE(d_->init().ok());
    ASSERT_TRUE(d_->run_wait().ok());
    // Roll once so the deployed certificates are the CA's (90 days).
    ASSERT_TRUE(d_->rotate().ok());
    ASSERT_TRUE(d_->run_wait().ok());
    const fs::path prom = d_->dir() / "daneroll.prom";
    ProcResult check;
    // The secondary may still be catching up with the last UPDATE.
    for (int i = 0; i < 20; ++i) {
        check = d_->cmd({"check", "--prometheus", prom.string()});
        if (check.exited && check.code == 0) {
            break;
        }
        std::this_thread::sleep_for(500ms);
    }
    ASSERT_TRUE(check.exited && check.code == 0) << check.describe();
    EXPECT_TRUE(contains(check.output, "DANEROLL OK - 2 unit(s)")) << check.output;
    EXPECT_TRUE(contains(check.output, "'mx1/rsa2048 cert_days'=")) << check.output;
    const std::string metrics = read_file(prom);
    EXPECT_TRUE(contains(metrics,
                         "daneroll_probe_verified{service=\"mx1\",algorithm=\"rsa2048\","
                         "address=\"" +
                             sb_.env.mx_addrs.front() + "\"} 1"))
        << metrics;
    EXPECT_TRUE(contains(metrics, "daneroll_check_level 0")) << metrics;

    // Postfix stops answering: the plugin says CRITICAL (exit 2) and why.
    ASSERT_TRUE(sb_.tool({"freeze", "postfix", sb_.env.dir.string()}).ok());
    const auto frozen = d_->cmd({"check", "--prometheus", prom.string()});
    ASSERT_TRUE(sb_.tool({"thaw", "postfix", sb_.env.dir.string()}).ok());
    EXPECT_TRUE(frozen.exited && frozen.code == 2) << frozen.describe();
    EXPECT_TRUE(contains(frozen.output, "DANEROLL CRITICAL - ")) << frozen.output;
    EXPECT_TRUE(contains(read_file(prom), "daneroll_check_level 2"));

    // A config it refuses (writable by others): UNKNOWN (3), never OK.
    fs::permissions(d_->config(), fs::perms::others_write, fs::perm_options::add);
    const auto unknown = d_->cmd({"check"});
    fs::permissions(d_->config(), fs::perms::others_write, fs::perm_options::remove);
    EXPECT_TRUE(unknown.exited && unknown.code == 3) << unknown.describe();
    EXPECT_TRUE(contains(unknown.output, "DANEROLL UNKNOWN - ")) << unknown.output;
}

// [daneroll] log_level for the tick that cron or the timer runs: at "warn"
// a healthy tick and a tick that is merely waiting print nothing (cron
// mails nothing); "info" shows every unit; at "error" the tick whose deploy
// fails and is rolled back prints the failure.
TEST_F(RolloverE2E, QuietLogLevelsPrintOnlyWhatNeedsAPerson) {
    ConfigSpec spec;
    spec.log_level = "warn";
    d_->write_config(spec);
    ASSERT_TRUE(d_->init().ok());
    ASSERT_TRUE(d_->run_wait().ok());
    const auto quiet = d_->cmd({"run"});
    EXPECT_TRUE(quiet.exited && quiet.code == 0) << quiet.describe();
    EXPECT_EQ(quiet.output, "") << quiet.describe();

    spec.log_level = "info";
    d_->write_config(spec);
    const auto shown = d_->cmd({"run"});
    EXPECT_TRUE(shown.ok()) << shown.describe();
    EXPECT_TRUE(contains(shown.output, "mx1/ecdsa-p256 (" + sb_.env.mx_host + "): stable"))
        << shown.output;

    spec.log_level = "error";
    spec.reload = {"/bin/false"};
    d_->write_config(spec);
    ASSERT_TRUE(d_->rotate().ok());
    ProcResult tick;
    int waiting_ticks = 0;
    for (int i = 0; i < 60; ++i) {  // bounded: 2 x TTL is a few seconds
        tick = d_->cmd({"run"});
        if (!(tick.exited && tick.code == 4)) {
            break;
        }
        ++waiting_ticks;
        EXPECT_EQ(tick.output, "")
            << "a waiting tick printed at log_level error: " << tick.describe();
        std::this_thread::sleep_for(500ms);
    }
    EXPECT_GT(waiting_ticks, 0) << "the rollover never waited for 2 x TTL";
    EXPECT_TRUE(tick.exited && tick.code == 1) << "expected the failed deploy: " << tick.describe();
    EXPECT_TRUE(contains(tick.output, "mx1/ecdsa-p256 (" + sb_.env.mx_host + "): failed"))
        << tick.output;
    EXPECT_TRUE(contains(tick.output, "/bin/false")) << tick.output;
    EXPECT_FALSE(contains(tick.output, "did: ")) << tick.output;
}

}  // namespace
}  // namespace daneroll::e2e
