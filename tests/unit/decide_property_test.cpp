// Randomized sequences of observations for decide(): a simulated world of
// authoritative servers that lag, fail and come and go, a clock that jumps,
// a certificate source that sometimes changes its issuer, probes that fail
// and an agent that crashes between any two of its steps. After every step
// the two safety rules of DESIGN.md are checked against the world's ground
// truth (rollover_sim.hpp), not against decide()'s own bookkeeping.
//
// Replay one seed with a full trace:
//   DANEROLL_DECIDE_SEED=1234 ./unit_tests --gtest_filter='DecideProperty.*'
// Run more seeds: DANEROLL_DECIDE_SEEDS=5000.
// TTLs also go down (config changes, operator edits undone by the next
// UPDATE), which once exposed DecideBug.TtlLoweredBeforeAPublicationIsForgotten;
// DANEROLL_DECIDE_TTL_LOWERING=0 turns that off.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "daneroll/rollover/decide.hpp"
#include "daneroll/rollover/safety.hpp"
#include "rollover_sim.hpp"

namespace daneroll::rollover {
namespace {

using sim::Pki;
using std::chrono::seconds;

constexpr std::size_t kSteps = 200;
// Each seed runs twice (without and with faults). decide() parses
// certificates on every call (~0.5 ms per chain_matches with OpenSSL 3.0),
// so a step costs ~1 ms: 40 seeds x 2 x 200 steps take ~15-20 s in a Debug
// build. Run more with DANEROLL_DECIDE_SEEDS (500 seeds: ~3.5 min).
constexpr std::size_t kDefaultSeeds = 40;
// No faults: a rollover (leaving Stable until the deploy succeeded or the
// unit is Stable again) must finish within this many steps. Every step
// advances the clock by base/4..base (base = the longest TTL in play) except
// for a few zero steps, and the longest wait is 2 x base.
constexpr std::size_t kLivenessSteps = 60;

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
    const char* v = std::getenv(name);
    return v == nullptr ? fallback : std::strtoull(v, nullptr, 10);
}

std::string record_name(const TlsaRecord& r) {
    const Pki& pki = Pki::get();
    for (std::size_t k = 0; k < Pki::kKeys; ++k) {
        if (pki.ee(k) == r) {
            return "K" + std::to_string(k);
        }
    }
    for (std::size_t ca = 0; ca < Pki::kCas; ++ca) {
        if (pki.ta(ca) == r) {
            return std::string("I") + static_cast<char>('A' + ca);
        }
    }
    return r.short_string();
}

std::string records_text(const std::vector<TlsaRecord>& rs) {
    std::string out = "{";
    for (const auto& r : rs) {
        out += (out.size() > 1 ? "," : "") + record_name(r);
    }
    return out + "}";
}

std::string chain_name(const std::string& pem) {
    if (pem.empty()) {
        return "-";
    }
    const Pki& pki = Pki::get();
    for (std::size_t k = 0; k < Pki::kKeys; ++k) {
        for (std::size_t ca = 0; ca <= Pki::kCas; ++ca) {
            if (pki.chain(k, ca) == pem) {
                return "K" + std::to_string(k) + "/" +
                       (ca == Pki::kSelfSigned ? std::string("self")
                                               : std::string(1, static_cast<char>('A' + ca)));
            }
        }
    }
    return "?";
}

struct Stats {
    std::size_t runs = 0;
    std::size_t steps = 0;
    std::size_t actions = 0;
    std::size_t deploys = 0;
    std::size_t rollbacks = 0;
    std::size_t crashes = 0;
    std::size_t errors = 0;
    std::size_t deploy_checks = 0;
    std::size_t staged_records = 0;  // issuer changed under us: a Staged 3 1 1 published
    std::size_t max_busy_no_faults = 0;
    std::size_t max_busy_faults = 0;
    std::size_t foreign_removed = 0;
    std::vector<std::uint64_t> foreign_seeds;
};

class Simulation {
  public:
    Simulation(std::uint64_t seed, bool faults, bool ttl_lowering, bool verbose)
        : seed_(seed),
          rng_(seed * 2 + (faults ? 1 : 0)),
          faults_(faults),
          ttl_lowering_(ttl_lowering),
          verbose_(verbose) {}

    // "" if every check held, else what failed and the recent trace.
    std::string run(Stats& stats);

  private:
    std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi) {
        return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng_);
    }
    bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
    template <class T>
    T pick(const std::vector<T>& v) {
        return v.at(uniform(0, v.size() - 1));
    }

    void setup();
    void evolve_world();
    void operator_events();
    std::uint32_t base_seconds() const;
    sim::ExecChoices choose(const Action& a);
    std::string check_instant(const char* when);
    void log(const std::string& line);
    std::string fail(const std::string& what);

    std::uint64_t seed_;
    std::mt19937_64 rng_;
    bool faults_;
    bool ttl_lowering_;
    bool verbose_;
    Policy policy_;
    std::unique_ptr<sim::World> world_;
    UnitState state_;
    UnitState saved_;
    std::size_t step_ = 0;
    std::size_t key_cursor_ = 1;
    std::vector<std::size_t> behind_since_;  // per server: step it fell behind
    bool covered_once_ = false;              // the retire check is armed
    std::size_t busy_ = 0;
    std::size_t changes_seen_ = 0;
    std::uint32_t max_ttl_ever_ = 0;
    std::deque<std::string> trace_;
};

void Simulation::log(const std::string& line) {
    if (verbose_) {
        std::cout << line << "\n";
    }
    trace_.push_back(line);
    if (trace_.size() > 60) {
        trace_.pop_front();
    }
}

std::string Simulation::fail(const std::string& what) {
    std::string out = what + "\n--- last steps ---\n";
    for (const auto& l : trace_) {
        out += l + "\n";
    }
    out += "--- servers ---\n" + world_->describe();
    return out;
}

std::uint32_t Simulation::base_seconds() const {
    return std::max({policy_.ttl, max_ttl_ever_, world_->negative_ttl(), 2U});
}

void Simulation::setup() {
    const Pki& pki = Pki::get();
    const TimePoint t0 = sim::epoch();
    policy_.scheme = chance(0.5) ? config::Scheme::CurrentNext : config::Scheme::CurrentIssuer;
    policy_.host = sim::kHost;
    policy_.ttl = pick(std::vector<std::uint32_t>{30, 120, 600});
    const std::uint32_t negative = pick(std::vector<std::uint32_t>{10, 60, 900});
    policy_.rotation_period = pick(
        std::vector<seconds>{seconds(20LL * policy_.ttl), seconds(3 * 86400), seconds(90 * 86400)});
    // Sometimes every chain is already due for renewal: rollovers back to back.
    policy_.renew_before = chance(0.1) ? seconds(399 * 86400) : seconds(30 * 86400);
    policy_.source_can_issue = true;
    std::size_t initial_ca = Pki::kSelfSigned;
    if (policy_.scheme == config::Scheme::CurrentIssuer) {
        policy_.issuers = {pki.ta(0)};
        if (chance(0.3)) {
            policy_.issuers.push_back(pki.ta(1));
        }
        initial_ca = 0;
    } else {
        initial_ca = uniform(0, Pki::kSelfSigned);
    }
    const std::string& chain = pki.chain(0, initial_ca);
    const bool fresh = chance(0.5);  // a new owner name, or DANE run by hand until now
    std::vector<TlsaRecord> initial;
    std::uint32_t initial_ttl = 0;
    if (!fresh) {
        initial.push_back(pki.ee(0));
        initial.insert(initial.end(), policy_.issuers.begin(), policy_.issuers.end());
        // The TTL the operator used so far: daneroll's first UPDATE changes it.
        initial_ttl = !chance(0.3)    ? policy_.ttl
                      : ttl_lowering_ ? policy_.ttl * 4
                                      : policy_.ttl / 2;
    }
    const std::size_t secondaries = uniform(1, 3);
    world_ = std::make_unique<sim::World>(t0, secondaries, initial, initial_ttl,
                                          t0 - seconds(30 * 86400), negative, chain);
    world_->foreign = policy_.issuers;
    if (fresh) {
        world_->foreign.clear();
    }
    behind_since_.assign(secondaries + 1, 0);
    max_ttl_ever_ = initial_ttl;
    state_ = sim::init_state(0, chain, t0, policy_.ttl);
    saved_ = state_;
    log(std::string("setup: ") +
        (policy_.scheme == config::Scheme::CurrentNext ? "current+next" : "current+issuer") +
        " ttl " + std::to_string(policy_.ttl) + " neg " + std::to_string(negative) + " " +
        (fresh ? "new owner"
               : "established " + records_text(initial) + " ttl " + std::to_string(initial_ttl)) +
        " secondaries " + std::to_string(secondaries) + " rotation " +
        std::to_string(policy_.rotation_period.count()) + "s renew_before " +
        std::to_string(policy_.renew_before.count()) + "s issuers " +
        records_text(policy_.issuers) + (faults_ ? " FAULTS" : " no faults"));
}

void Simulation::evolve_world() {
    sim::World& w = *world_;
    const std::size_t latest = w.versions() - 1;
    for (std::size_t i = 0; i < w.servers().size(); ++i) {
        const sim::SimServer& s = w.servers()[i];
        if (!s.exists) {
            continue;
        }
        if (faults_) {
            const double down = i == 0 ? 0.02 : 0.05;
            if (s.up && chance(down)) {
                w.set_up(i, false);
            } else if (!s.up && chance(0.35)) {
                w.set_up(i, true);
            }
        }
        if (i == 0 || !s.up) {
            continue;
        }
        if (s.version == latest) {
            behind_since_[i] = step_;
        }
        if (!faults_ && step_ - behind_since_[i] >= 3) {
            w.sync(i, latest);  // bounded lag when nothing fails
        } else if (chance(0.55)) {
            w.sync(i, latest);
        } else if (chance(0.3)) {
            w.sync(i, uniform(s.version, latest));
        }
        if (w.servers()[i].version == latest) {
            behind_since_[i] = step_;
        }
    }
    if (faults_ && chance(0.015) && w.servers().size() < 8) {
        // A secondary appears, with a fresh transfer of the zone. (One
        // restored from an old copy would serve records long retired: no
        // agent can prevent that, so it is not simulated.)
        w.add_server(latest);
        behind_since_.push_back(step_);
        log("  a new secondary " + w.servers().back().name + " appears at version " +
            std::to_string(w.servers().back().version));
    }
    if (faults_ && chance(0.015) && w.live_servers() > 2) {
        const std::size_t i = uniform(1, w.servers().size() - 1);
        if (w.servers()[i].exists) {
            w.remove_server(i);
            log("  " + w.servers()[i].name + " leaves the NS set");
        }
    }
    if (chance(0.01) && w.servers().front().up) {
        const std::uint32_t ttl =
            std::min<std::uint32_t>(std::max(w.primary_ttl(), policy_.ttl) * 4 + 1, 2400);
        w.set_primary_ttl(ttl);
        log("  the operator raises the TTL at the primary to " + std::to_string(ttl));
        if (!ttl_lowering_) {
            // ... and in daneroll's configuration, so that no later UPDATE
            // lowers it again (DecideBug.TtlLoweredBeforeAPublicationIsForgotten).
            policy_.ttl = ttl;
        }
    }
    for (const auto& s : w.servers()) {
        max_ttl_ever_ = std::max(max_ttl_ever_, s.history.back().ttl);
    }
}

void Simulation::operator_events() {
    const Pki& pki = Pki::get();
    if (chance(state_.phase == Phase::Failed ? 0.25 : 0.03)) {
        state_.rotate_requested = true;
        saved_.rotate_requested = true;
        log("  the operator runs 'daneroll rotate'");
    }
    if (chance(0.01)) {
        const std::uint32_t ttl = pick(std::vector<std::uint32_t>{30, 120, 600});
        if (ttl_lowering_ || ttl > policy_.ttl) {
            policy_.ttl = ttl;
            log("  config: ttl " + std::to_string(policy_.ttl));
        }
    }
    if (policy_.scheme == config::Scheme::CurrentIssuer && chance(0.01)) {
        const auto sets = std::vector<std::vector<TlsaRecord>>{
            {pki.ta(0)}, {pki.ta(1)}, {pki.ta(0), pki.ta(1)}, {pki.ta(1), pki.ta(2)}};
        policy_.issuers = pick(sets);
        log("  config: issuers " + records_text(policy_.issuers));
    }
}

sim::ExecChoices Simulation::choose(const Action& a) {
    const Pki& pki = Pki::get();
    sim::ExecChoices c;
    if (faults_ && chance(0.04)) {
        switch (a.type) {
            case ActionType::GenerateNextKey:
                c.crash_at = "after-keygen";
                break;
            case ActionType::Publish:
                c.crash_at = pick(std::vector<std::string>{"before-update", "after-update"});
                break;
            case ActionType::Issue:
                c.crash_at = "after-issue";
                break;
            case ActionType::Deploy:
                c.crash_at = pick(std::vector<std::string>{"before-install", "after-install",
                                                           "after-reload", "after-probe"});
                break;
        }
    }
    // A fresh key: none in use, none anywhere in DNS.
    std::set<TlsaRecord> busy;
    for (const auto& s : world_->servers()) {
        busy.insert(s.history.back().rrset.begin(), s.history.back().rrset.end());
    }
    for (const auto& o : state_.records) {
        busy.insert(o.record);
    }
    for (std::size_t n = 0; n < Pki::kKeys; ++n) {
        const std::size_t k = (key_cursor_ + n) % Pki::kKeys;
        const std::string id = pki.key_info(k, {}).id;
        const bool used =
            busy.count(pki.ee(k)) != 0 || (state_.current_key && state_.current_key->id == id) ||
            (state_.next_key && state_.next_key->id == id) || state_.staged_key_id == id;
        if (!used) {
            c.new_key = k;
            break;
        }
    }
    key_cursor_ = c.new_key + 1;
    if (policy_.scheme == config::Scheme::CurrentIssuer) {
        std::vector<std::size_t> in_set;
        std::vector<std::size_t> others;
        for (std::size_t ca = 0; ca < Pki::kCas; ++ca) {
            const bool listed = std::find(policy_.issuers.begin(), policy_.issuers.end(),
                                          pki.ta(ca)) != policy_.issuers.end();
            (listed ? in_set : others).push_back(ca);
        }
        // Mostly a configured issuer; sometimes the CA changed under us.
        c.issue_ca =
            (others.empty() || (chance(0.8) && !in_set.empty())) ? pick(in_set) : pick(others);
    } else {
        c.issue_ca = uniform(0, Pki::kSelfSigned);
    }
    if (faults_) {
        c.issue_fails = chance(0.05);
        c.probe_fails = chance(0.06);
        c.rollback_fails = chance(0.1);
    }
    return c;
}

std::string Simulation::check_instant(const char* when) {
    const std::string& chain = world_->installed();
    if (const std::string why = world_->check_caches(chain); !why.empty()) {
        return fail(std::string("DELIVERY BROKEN ") + when + ": the MTA presents " +
                    chain_name(chain) + " but " + why);
    }
    const std::string covered = world_->check_covered(chain);
    if (covered.empty()) {
        covered_once_ = true;
    } else if (covered_once_) {
        return fail(std::string("RETIRE RULE VIOLATED ") + when + ": the MTA presents " +
                    chain_name(chain) + " and " + covered);
    }
    return "";
}

std::string Simulation::run(Stats& stats) {
    setup();
    ++stats.runs;
    std::set<TlsaRecord> foreign_present;
    for (step_ = 1; step_ <= kSteps; ++step_) {
        ++stats.steps;
        // 1. time passes; the world changes.
        const std::uint32_t base = base_seconds();
        std::uint64_t dt = 0;
        const double roll = std::uniform_real_distribution<double>(0, 1)(rng_);
        if (faults_) {
            dt = roll < 0.15   ? 0
                 : roll < 0.70 ? uniform(1, std::max<std::uint32_t>(base / 2, 1))
                 : roll < 0.95 ? uniform(base / 2, 3ULL * base)
                               : uniform(3600, 3 * 86400);
        } else {
            dt = roll < 0.10 ? 0 : roll < 0.95 ? uniform(base / 4, base) : uniform(3600, 3 * 86400);
        }
        world_->advance(seconds(dt));
        evolve_world();
        operator_events();
        if (auto why = check_instant("after the world changed"); !why.empty()) {
            return why;
        }

        // 2. observe, decide.
        const Inputs in = world_->observe(state_, policy_);
        const Plan plan = decide(state_, in);
        for (const auto& w : plan.warnings) {
            if (w.find("did not settle") != std::string::npos) {
                return fail("decide() did not settle");
            }
        }
        std::string line = "step " + std::to_string(step_) + " t+" +
                           std::to_string(to_unix(in.now) - to_unix(sim::epoch())) + ": " +
                           std::string(to_string(state_.phase)) + " -> " +
                           std::string(to_string(plan.state.phase));
        line += " primary " + records_text(world_->primary_rrset()) + " ttl " +
                std::to_string(world_->primary_ttl()) + (in.dns.complete ? "" : " (incomplete)");
        line += " mta " + chain_name(world_->installed());
        if (plan.actions.empty()) {
            const bool waiting_ok = plan.state.phase == Phase::Unmanaged ||
                                    plan.state.phase == Phase::Failed || plan.wake_at.has_value();
            if (!waiting_ok) {
                return fail("STUCK: no action and no wake-up time in phase " +
                            std::string(to_string(plan.state.phase)) + ": " + plan.waiting_for);
            }
            if (plan.wake_at && *plan.wake_at <= in.now) {
                return fail("decide() waits until a time already past: " + plan.waiting_for);
            }
            line += "; wait: " + plan.waiting_for;
        }
        state_ = plan.state;
        saved_ = state_;  // run_unit persists the plan's state before acting

        // 3. act: the first action, as the engine does.
        bool deployed = false;
        if (!plan.actions.empty()) {
            const Action& a = plan.actions.front();
            ++stats.actions;
            line += "; " + std::string(to_string(a.type));
            if (a.type == ActionType::Publish) {
                line += " +" + records_text(a.add) + " -" + records_text(a.remove);
                stats.staged_records += static_cast<std::size_t>(
                    std::count(a.add_roles.begin(), a.add_roles.end(), RecordRole::Staged));
            }
            foreign_present.clear();
            for (const auto& r : world_->foreign) {
                if (std::find(world_->primary_rrset().begin(), world_->primary_rrset().end(), r) !=
                    world_->primary_rrset().end()) {
                    foreign_present.insert(r);
                }
            }
            const sim::ExecChoices c = choose(a);
            const sim::ExecResult r = sim::execute(*world_, policy_, state_, saved_, in, a, c);
            if (!r.refused.empty()) {
                log(line);
                return fail("the engine's safety re-check refused what decide() planned: " +
                            r.refused);
            }
            if (r.crashed) {
                ++stats.crashes;
                line += " [crash " + c.crash_at + "]";
                state_ = saved_;
            } else if (!r.error.empty()) {
                ++stats.errors;
                line += " [error: " + r.error + "]";
                saved_ = state_;
            }
            if (a.type == ActionType::Issue && !r.crashed && r.error.empty()) {
                line += " from CA " + std::to_string(c.issue_ca);
            }
            stats.rollbacks += r.rolled_back ? 1 : 0;
            deployed = r.deployed;
            stats.deploys += deployed ? 1 : 0;
            for (const auto& f : foreign_present) {
                if (std::find(world_->primary_rrset().begin(), world_->primary_rrset().end(), f) ==
                    world_->primary_rrset().end()) {
                    ++stats.foreign_removed;
                    stats.foreign_seeds.push_back(seed_);
                    line += " [removed the operator's " + record_name(f) + "]";
                }
            }
        }
        log(line);

        // 4. the deploy rule, for every change of the MTA's chain.
        const auto& changes = world_->chain_changes();
        for (; changes_seen_ < changes.size(); ++changes_seen_) {
            ++stats.deploy_checks;
            const std::string why = world_->check_deploy_rule(changes[changes_seen_].chain);
            if (!why.empty()) {
                return fail("DEPLOY RULE VIOLATED: the MTA now presents " +
                            chain_name(changes[changes_seen_].chain) + " but " + why);
            }
        }
        if (auto why = check_instant("after the action"); !why.empty()) {
            return why;
        }

        // 5. liveness, when nothing fails.
        if (state_.phase == Phase::Stable || deployed) {
            busy_ = 0;
        } else {
            ++busy_;
        }
        if (faults_) {
            stats.max_busy_faults = std::max(stats.max_busy_faults, busy_);
        } else {
            stats.max_busy_no_faults = std::max(stats.max_busy_no_faults, busy_);
            if (busy_ > kLivenessSteps) {
                return fail("LIVENESS: no rollover progress for " + std::to_string(busy_) +
                            " steps without faults (phase " + std::string(to_string(state_.phase)) +
                            ")");
            }
            if (world_->primary_rrset().size() > 7) {
                return fail("records pile up at the primary: " +
                            records_text(world_->primary_rrset()));
            }
        }
    }
    return "";
}

// Runs `seeds` seeds (or only DANEROLL_DECIDE_SEED, with a full trace), each
// once without faults (where liveness is checked too) and once with them.
void run_seeds(std::uint64_t seeds, bool ttl_lowering) {
    const std::uint64_t only = env_number("DANEROLL_DECIDE_SEED", 0);
    seeds = env_number("DANEROLL_DECIDE_SEEDS", seeds);
    const auto started = std::chrono::steady_clock::now();
    Stats stats;
    std::size_t failures = 0;
    for (std::uint64_t seed = only != 0 ? only : 1; seed <= (only != 0 ? only : seeds); ++seed) {
        for (const bool faults : {false, true}) {
            Simulation s(seed, faults, ttl_lowering, only != 0);
            const std::string why = s.run(stats);
            if (!why.empty()) {
                ADD_FAILURE() << "seed " << seed << (faults ? " (faults)" : " (no faults)")
                              << ": replay with DANEROLL_DECIDE_SEED=" << seed << "\n"
                              << why;
                if (++failures >= 3) {
                    return;
                }
            }
        }
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    std::cout << "[ decide  ] " << stats.runs << " runs x " << kSteps << " steps: " << stats.actions
              << " actions, " << stats.deploys << " deploys, " << stats.rollbacks
              << " rolled back, " << stats.crashes << " crashes, " << stats.errors << " errors, "
              << stats.deploy_checks << " chain changes checked, " << stats.staged_records
              << " staged records; longest rollover without faults " << stats.max_busy_no_faults
              << " steps (with faults " << stats.max_busy_faults << "); " << stats.foreign_removed
              << " operator records removed; " << ms.count() << " ms\n";
    // No agent may ever drop a record it did not create (Engine::publish,
    // mirrored in rollover_sim, publishes only after the primary answered,
    // so it knows which records were there before).
    EXPECT_EQ(stats.foreign_removed, 0U);
    for (const auto s : stats.foreign_seeds) {
        ADD_FAILURE() << "seed " << s << ": an operator's record was removed (replay with "
                      << "DANEROLL_DECIDE_SEED=" << s << ")";
    }
    EXPECT_GT(stats.deploys, stats.runs);  // the simulation does exercise rollovers
}

TEST(DecideProperty, RandomWorldsNeverBreakTheSafetyRules) {
    run_seeds(kDefaultSeeds, env_number("DANEROLL_DECIDE_TTL_LOWERING", 1) != 0);
}

}  // namespace
}  // namespace daneroll::rollover
