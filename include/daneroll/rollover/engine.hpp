// The observe -> decide -> act loop over every rollover unit of a
// configuration. One call of tick() is one tick: it does what is safe now,
// persists the state after every action, and reports when it next has work.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daneroll/config/config.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "daneroll/crypto/key.hpp"
#include "daneroll/dns/observe.hpp"
#include "daneroll/dns/resolver.hpp"
#include "daneroll/rollover/decide.hpp"
#include "daneroll/rollover/state_store.hpp"
#include "daneroll/smtp/probe.hpp"

namespace daneroll::mta {
class Installer;
}

namespace daneroll::rollover {

struct UnitReport {
    std::string service;
    std::string algorithm;
    std::string host;
    Phase phase = Phase::Unmanaged;
    std::vector<std::string> done;      // what this tick did, one line per action
    std::vector<std::string> planned;   // plan mode: what it would do
    std::vector<std::string> progress;  // what it saw change (Plan::progress)
    std::string waiting_for;
    std::optional<TimePoint> wake_at;
    std::vector<std::string> warnings;
    std::string error;          // an action failed; retried on the next tick
    bool rollover_due = false;  // stable, but waiting for a certbot delivery
    // Every record it publishes is on every server, signed.
    bool records_everywhere = false;
    // An old record stays until the retire rule lets it go (Plan).
    bool retire_blocked = false;

    // Stable with nothing to do now (records may still be propagating).
    [[nodiscard]] bool idle() const {
        return phase == Phase::Stable && error.empty() && planned.empty() && !rollover_due;
    }
    // Nothing more to wait for in this run: idle with every record
    // everywhere; failed or unmanaged (needs the operator); or due but
    // waiting for a source that delivers on its own schedule (certbot).
    [[nodiscard]] bool settled() const {
        const bool quiet = phase == Phase::Stable && error.empty() && planned.empty();
        return (quiet && records_everywhere && !retire_blocked) || phase == Phase::Failed ||
               phase == Phase::Unmanaged;
    }
};

struct TickReport {
    std::vector<UnitReport> units;
    [[nodiscard]] bool changed() const;
    // Every unit Stable with nothing to do now: `run`'s exit 0. A record
    // just published may still be on its way to some server.
    [[nodiscard]] bool all_stable() const;
    // Every unit settled(): where `run --wait` stops. When no unit failed,
    // is unmanaged or awaits a delivery, that is all_stable() with every
    // record on every server (so the next deploy can be judged at once).
    [[nodiscard]] bool all_settled() const;
    [[nodiscard]] bool any_failed() const;
    [[nodiscard]] bool any_unmanaged() const;
    [[nodiscard]] bool any_awaiting_delivery() const;  // rollover_due
    [[nodiscard]] std::optional<TimePoint> next_wake() const;
};

// What Engine::hand_over did with a renewed lineage, per unit.
struct HandOver {
    std::vector<std::string> took;     // "service/algorithm" of each unit that took it
    std::vector<std::string> skipped;  // not renewed for its MX host (RENEWED_DOMAINS)
    std::vector<std::string> refused;  // the chain is not valid for it (why, naming the file)
};

class Engine {
  public:
    explicit Engine(config::Config config);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // One tick for every unit (or only `service`). With dry_run, observes
    // and decides but changes nothing, and reports the plan. The caller
    // holds the StateLock unless dry_run.
    TickReport tick(bool dry_run = false, const std::string& service = "");

    // Adopts the key and chain the MTA serves now as "current" for every
    // unmanaged unit (or only `service`), so the next tick publishes them
    // and the next key. Never touches the MTA. With take_over, the record of
    // the current key counts as daneroll's even if it is already published
    // (it is retired after the next rollover); without, it is left alone
    // for good (for a key another machine also serves).
    std::vector<UnitReport> init(const std::string& service = "", bool take_over = true);

    // Hands a key and chain obtained elsewhere (certbot renewed
    // `lineage`) to every unit of a certbot-sourced service with that
    // lineage and the key's algorithm, if the chain is valid now, carries
    // the key and names the unit's MX host, and (when certbot said which
    // domains it renewed) the MX host is among `renewed_domains`. The next
    // tick stages and deploys it when safe. Throws if no unit has that
    // lineage.
    HandOver hand_over(
        const std::filesystem::path& lineage,
        const std::optional<std::vector<std::string>>& renewed_domains = std::nullopt);

    // Some certbot-sourced unit has this lineage (every tick of such a
    // unit also looks at the lineage itself for a renewal).
    [[nodiscard]] bool takes_lineage(const std::filesystem::path& lineage) const;

    // Asks for a rollover of every unit of `service` at the next tick.
    void request_rotation(const std::string& service);

    // The persisted states, in configuration order.
    [[nodiscard]] std::vector<UnitState> states() const;

    [[nodiscard]] const config::Config& config() const { return config_; }

  private:
    struct ZoneContext;
    struct Unit {
        const config::Service* service;
        KeyAlgorithm algorithm;
    };

    [[nodiscard]] std::vector<Unit> units(const std::string& only) const;
    ZoneContext& zone_context(const config::Zone& zone);
    Inputs observe(const Unit& unit, const UnitState& state);
    Policy policy_for(const Unit& unit) const;
    std::vector<PeerUnit> peers_of(const Unit& unit, TimePoint now) const;
    // Sets in.delivered_*: the hook's hand-over, else a renewal found in
    // the certbot lineage (read_lineage). In handover.cpp.
    void read_inbox(const Unit& unit, const UnitState& state, Inputs& in);
    // A probe of every address of the unit's MX host, for its key type.
    smtp::ProbeRequest probe_request(const Unit& unit, std::vector<TlsaRecord> records);
    // Probes every address and records what each presents (in.served).
    void observe_served(const Unit& unit, Inputs& in);
    void read_lineage(const Unit& unit, const UnitState& state, Inputs& in);
    void import_delivery(const UnitState& state, const PrivateKey& key,
                         const std::vector<Certificate>& chain, Inputs& in);
    void execute(const Unit& unit, UnitState& state, const Inputs& in, const Action& action,
                 UnitReport& report);
    void generate_next_key(const Unit& unit, UnitState& state, const Inputs& in);
    void publish(const Unit& unit, UnitState& state, const Inputs& in, const Action& action);
    // Returns what the source warned about (the chain is staged all the same).
    std::vector<std::string> issue(const Unit& unit, UnitState& state, const Inputs& in);
    void deploy(const Unit& unit, UnitState& state, const Inputs& in, UnitReport& report);
    // "" once every address presents `leaf`'s chain, DANE-verified (bounded
    // retries); else why not.
    std::string probe_new_chain(const Unit& unit, const Certificate& leaf, const Inputs& in,
                                UnitReport& report);
    static std::string roll_back(const mta::Installer& installer);
    UnitReport run_unit(const Unit& unit, bool dry_run);
    void prune_keys(const UnitState& state) const;
    void refresh_renewal_advice(const Unit& unit, UnitState& state, UnitReport& report) const;

    config::Config config_;
    StateStore store_;
    std::map<std::string, std::unique_ptr<ZoneContext>> zones_;  // per tick
    // service/algorithm/leaf -> do not ask the CA for renewal information
    // before then (it failed, or offers none). Lives as long as the Engine.
    mutable std::map<std::string, TimePoint> renewal_quiet_until_;
    bool dry_run_ = false;  // this tick is `plan`: observe and decide only
};

// Fault injection for crash tests: when the environment variable
// DANEROLL_CRASH_AT names `point`, the process kills itself with SIGKILL
// right there. The points are listed in docs/crash-points.md.
void crash_point(const char* point);

}  // namespace daneroll::rollover
