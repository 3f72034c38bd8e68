// A small simulated world for the tests of the rollover's decide(): a pool
// of pre-generated keys and chains, authoritative servers whose TLSA RRsets
// lag behind the primary's (with full per-server history), an MTA whose
// chain changes only through Deploy, and an executor that applies decide()'s
// actions to that world exactly as src/rollover/engine.cpp applies them to
// the real one (same state transitions, same save points, same re-checks).
//
// The world also judges the two safety rules of DESIGN.md from its own
// ground truth (what every server served, and when), independently of the
// bookkeeping decide() keeps in UnitState.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daneroll/crypto/certificate.hpp"
#include "daneroll/crypto/key.hpp"
#include "daneroll/rollover/decide.hpp"
#include "daneroll/rollover/inputs.hpp"
#include "daneroll/rollover/state.hpp"
#include "daneroll/tlsa/record.hpp"

namespace daneroll::rollover::sim {

inline constexpr const char* kHost = "mx1.example.test";

// The simulated clock starts here. Every pool certificate is valid from a
// day before until 400 days after, so DANE-TA matches do not expire while a
// simulation runs.
TimePoint epoch();

// Keys, CAs and chains generated once per process (ECDSA P-256: cheap).
class Pki {
  public:
    static constexpr std::size_t kKeys = 10;
    static constexpr std::size_t kCas = 3;            // "A", "B", "C"
    static constexpr std::size_t kSelfSigned = kCas;  // pseudo-CA index: no issuer

    static const Pki& get();

    [[nodiscard]] const PrivateKey& key(std::size_t k) const { return keys_.at(k); }
    // 3 1 1 of leaf key `k`.
    [[nodiscard]] TlsaRecord ee(std::size_t k) const;
    // 2 1 1 of CA `ca`.
    [[nodiscard]] TlsaRecord ta(std::size_t ca) const;
    [[nodiscard]] const Certificate& ca_cert(std::size_t ca) const { return ca_certs_.at(ca); }
    [[nodiscard]] const PrivateKey& ca_key(std::size_t ca) const { return ca_keys_.at(ca); }
    // PEM, leaf first: key `k`'s certificate for kHost issued by `ca` plus
    // the CA's certificate; or a self-signed leaf for ca == kSelfSigned.
    [[nodiscard]] const std::string& chain(std::size_t k, std::size_t ca) const;
    // KeyInfo as the engine writes it (id = 16 hex digits of SHA-256(SPKI)).
    [[nodiscard]] KeyInfo key_info(std::size_t k, TimePoint created) const;
    // The pool index of a key id; throws if unknown.
    [[nodiscard]] std::size_t index_of(const std::string& key_id) const;
    // A fresh chain for key `k` from `ca` with a chosen validity (not cached).
    [[nodiscard]] std::string chain_valid_until(std::size_t k, std::size_t ca,
                                                TimePoint not_after) const;

  private:
    Pki();
    std::vector<PrivateKey> keys_;
    std::vector<std::string> ids_;
    std::vector<TlsaRecord> ee_;
    std::vector<TlsaRecord> ta_;
    std::vector<PrivateKey> ca_keys_;
    std::vector<Certificate> ca_certs_;
    std::vector<std::string> chains_;  // [k * (kCas + 1) + ca]
};

// What one authoritative server served from `from` until the next snapshot.
struct Snapshot {
    TimePoint from;
    bool exists = true;  // false once the server left the zone's NS set
    bool up = true;      // answering queries
    std::vector<TlsaRecord> rrset;
    std::uint32_t ttl = 0;
};

struct SimServer {
    std::string name;
    std::size_t version = 0;  // index into World's primary versions
    bool up = true;
    bool exists = true;
    std::vector<Snapshot> history;
};

struct ChainChange {
    TimePoint at;
    std::string chain;
};

class World {
  public:
    // The primary (server 0) plus `secondaries` servers, all serving
    // `initial` (may be empty: a new owner name) with `initial_ttl` since
    // `initial_since`, and a zone negative TTL of `negative_ttl`.
    World(TimePoint now, std::size_t secondaries, std::vector<TlsaRecord> initial,
          std::uint32_t initial_ttl, TimePoint initial_since, std::uint32_t negative_ttl,
          std::string installed_chain);

    [[nodiscard]] TimePoint now() const { return now_; }
    void advance(std::chrono::seconds dt) { now_ += dt; }

    // --- DNS ---
    [[nodiscard]] std::size_t versions() const { return versions_.size(); }
    [[nodiscard]] const std::vector<SimServer>& servers() const { return servers_; }
    [[nodiscard]] const std::vector<TlsaRecord>& primary_rrset() const;
    [[nodiscard]] std::uint32_t primary_ttl() const;
    [[nodiscard]] std::uint32_t negative_ttl() const { return negative_ttl_; }
    // A TSIG-signed UPDATE at the primary: adding sets the RRset's TTL to
    // `ttl` (as BIND does). Returns false if the primary is down.
    bool update(const std::vector<TlsaRecord>& add, const std::vector<TlsaRecord>& remove,
                std::uint32_t ttl);
    // An operator edits the zone's TTL at the primary.
    void set_primary_ttl(std::uint32_t ttl);
    // A secondary transfers version `version` (never goes backwards).
    void sync(std::size_t server, std::size_t version);
    void set_up(std::size_t server, bool up);
    // A new secondary appears, serving primary version `version`.
    void add_server(std::size_t version);
    // A secondary leaves the NS set for good.
    void remove_server(std::size_t server);
    [[nodiscard]] std::size_t live_servers() const;

    // What Engine::observe would build from these servers.
    [[nodiscard]] Inputs observe(const UnitState& state, const Policy& policy) const;

    // --- MTA ---
    [[nodiscard]] const std::string& installed() const { return installed_; }
    [[nodiscard]] const std::string& backup() const { return backup_; }
    // Installer::install: the live files become `chain`, the old ones the backup.
    void install(const std::string& chain);
    // Installer::restore_backup.
    void restore_backup();
    [[nodiscard]] const std::vector<ChainChange>& chain_changes() const { return changes_; }

    // --- ground truth ---
    // Deploy rule, judged from the servers' histories when `chain` was
    // installed now: some record R matching `chain` (chain_matches) is
    // served by every server in the NS set, answering, continuously since s,
    // with
    //   now - s >= 2 x the largest TTL served since s (a raised TTL), and
    //   every answer that lacked R (on any server, at any time) ended at
    //   least 2 x its TTL ago (the old TTL, even if lowered since), or 2 x
    //   the negative TTL ago for a denial (a new owner name).
    // A server that does not answer breaks "continuously" (decide() cannot
    // see what it serves). Returns "" if it holds, else why not.
    [[nodiscard]] std::string check_deploy_rule(const std::string& chain) const;
    // Retire rule, as seen in DNS: `chain` matches some record present in
    // the data of every server in the NS set. "" if it holds.
    [[nodiscard]] std::string check_covered(const std::string& chain) const;
    // Delivery: every answer a resolver may still hold from a server (TTL
    // not yet run out) is a denial or holds a record matching `chain`.
    [[nodiscard]] std::string check_caches(const std::string& chain) const;
    // Records the operator published before daneroll came: daneroll must
    // never remove them (the test watches; the world does not enforce it).
    std::vector<TlsaRecord> foreign;

    [[nodiscard]] std::string describe() const;

  private:
    struct Version {
        std::vector<TlsaRecord> rrset;
        std::uint32_t ttl = 0;
    };
    void snapshot(SimServer& s);
    [[nodiscard]] bool matches(const std::string& chain, const TlsaRecord& r) const;

    TimePoint now_;
    std::vector<Version> versions_;
    std::vector<SimServer> servers_;
    std::uint32_t negative_ttl_;
    TimePoint start_;
    std::string installed_;
    std::string backup_;
    std::vector<ChainChange> changes_;
};

// The choices an executed action leaves to chance, made by the test.
struct ExecChoices {
    // One of the engine's crash points ("after-keygen", "before-update",
    // "after-update", "after-issue", "before-install", "after-install",
    // "after-reload", "after-probe"), or "" for none.
    std::string crash_at;
    std::size_t new_key = 0;   // pool index of a generated key
    std::size_t issue_ca = 0;  // the CA the certificate source uses
    bool issue_fails = false;
    bool probe_fails = false;
    bool rollback_fails = false;
};

struct ExecResult {
    bool crashed = false;  // killed at choices.crash_at: state reverts to `saved`
    std::string error;     // an error the engine reports and retries next tick
    // The engine's own re-check of a safety rule refused the action decide
    // planned: decide and the executor disagree, a bug.
    std::string refused;
    bool deployed = false;     // a deploy succeeded
    bool rolled_back = false;  // a deploy failed its probe
};

// Engine::execute for one action. `state` is the in-memory state (already
// persisted by the caller as `saved`); every store_.save() of the engine
// copies it to `saved`. After a crash the caller continues from `saved`.
ExecResult execute(World& world, const Policy& policy, UnitState& state, UnitState& saved,
                   const Inputs& in, const Action& action, const ExecChoices& choices);

// One step of Engine::run_unit: observe, decide, persist the plan's state,
// execute its first action (if any) with `choices`. After a crash `state`
// is what was saved.
struct Tick {
    Inputs in;
    Plan plan;
    std::optional<ExecResult> exec;
};
Tick tick(World& world, const Policy& policy, UnitState& state, const ExecChoices& choices = {});

// The state `daneroll init` writes for key `k` and its chain `chain_pem`.
UnitState init_state(std::size_t k, const std::string& chain_pem, TimePoint now, std::uint32_t ttl,
                     const std::string& algorithm = "ecdsa-p256");

}  // namespace daneroll::rollover::sim
