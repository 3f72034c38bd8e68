#include "rollover_sim.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>

#include "daneroll/common/bytes.hpp"
#include "daneroll/crypto/certificate_builder.hpp"
#include "daneroll/crypto/digest.hpp"
#include "daneroll/rollover/safety.hpp"
#include "daneroll/tlsa/compute.hpp"
#include "test_support.hpp"

namespace daneroll::rollover::sim {

namespace {

using std::chrono::hours;
using std::chrono::seconds;

bool contains(const std::vector<TlsaRecord>& v, const TlsaRecord& r) {
    return std::find(v.begin(), v.end(), r) != v.end();
}

// Two changes of one server at the same instant (say, down and then out of
// the NS set) leave a snapshot nobody could have queried: ignore it.
bool instantaneous(const std::vector<Snapshot>& h, std::size_t j) {
    return j + 1 < h.size() && h[j + 1].from == h[j].from;
}

std::string unix_string(TimePoint t) {
    return std::to_string(to_unix(t) - to_unix(epoch()));
}

// chain_matches() is pure and, for the pool's chains (valid for the whole
// simulated time), independent of the time: the ground-truth checks ask it
// a lot, so they remember its answers. decide() is never given this cache.
bool cached_match(const std::string& chain, const TlsaRecord& r, TimePoint now) {
    static std::mutex mu;
    static std::map<std::pair<std::string, TlsaRecord>, bool> cache;
    const std::lock_guard lock(mu);
    auto key = std::make_pair(chain, r);
    auto it = cache.find(key);
    if (it == cache.end()) {
        it = cache.emplace(std::move(key), chain_matches(chain, r, kHost, now)).first;
    }
    return it->second;
}

}  // namespace

TimePoint epoch() {
    return from_unix(1'800'000'000);
}

Pki::Pki() {
    const TimePoint from = epoch() - hours(24);
    const TimePoint until = epoch() + hours(24 * 400);
    for (std::size_t ca = 0; ca < kCas; ++ca) {
        const PrivateKey& key =
            test::cached_key(KeyAlgorithm::EcdsaP256, 30 + static_cast<int>(ca));
        CertificateSpec spec;
        spec.common_name = std::string("daneroll sim CA ") + static_cast<char>('A' + ca);
        spec.is_ca = true;
        spec.not_before = from;
        spec.not_after = until;
        ca_keys_.push_back(key);
        ca_certs_.push_back(issue_certificate(spec, key.get(), key, nullptr));
        ta_.push_back(
            tlsa_from_spki(tlsa::kDaneTa, ca_certs_.back().spki_der(), tlsa::kMatchSha256));
    }
    for (std::size_t k = 0; k < kKeys; ++k) {
        const PrivateKey& key = test::cached_key(KeyAlgorithm::EcdsaP256, 40 + static_cast<int>(k));
        keys_.push_back(key);
        ids_.push_back(to_hex(sha256(key.spki_der())).substr(0, 16));
        ee_.push_back(tlsa_from_spki(tlsa::kDaneEe, key.spki_der(), tlsa::kMatchSha256));
        for (std::size_t ca = 0; ca <= kCas; ++ca) {
            chains_.push_back(chain_valid_until(k, ca, until));
        }
    }
}

const Pki& Pki::get() {
    static const Pki pki;
    return pki;
}

TlsaRecord Pki::ee(std::size_t k) const {
    return ee_.at(k);
}

TlsaRecord Pki::ta(std::size_t ca) const {
    return ta_.at(ca);
}

const std::string& Pki::chain(std::size_t k, std::size_t ca) const {
    return chains_.at(k * (kCas + 1) + ca);
}

KeyInfo Pki::key_info(std::size_t k, TimePoint created) const {
    return KeyInfo{ids_.at(k), "/nonexistent/" + ids_.at(k) + ".key", created,
                   to_hex(ee_.at(k).data)};
}

std::size_t Pki::index_of(const std::string& key_id) const {
    const auto it = std::find(ids_.begin(), ids_.end(), key_id);
    if (it == ids_.end()) {
        throw std::invalid_argument("unknown key id " + key_id);
    }
    return static_cast<std::size_t>(it - ids_.begin());
}

std::string Pki::chain_valid_until(std::size_t k, std::size_t ca, TimePoint not_after) const {
    CertificateSpec spec;
    spec.common_name = kHost;
    spec.dns_names = {kHost};
    spec.not_before = epoch() - hours(24);
    spec.not_after = not_after;
    const PrivateKey& key = keys_.at(k);
    if (ca == kSelfSigned) {
        return chain_to_pem({issue_certificate(spec, key.get(), key, nullptr)});
    }
    return chain_to_pem(
        {issue_certificate(spec, key.get(), ca_keys_.at(ca), &ca_certs_.at(ca)), ca_certs_.at(ca)});
}

// ---------------------------------------------------------------- World

World::World(TimePoint now, std::size_t secondaries, std::vector<TlsaRecord> initial,
             std::uint32_t initial_ttl, TimePoint initial_since, std::uint32_t negative_ttl,
             std::string installed_chain)
    : now_(now),
      negative_ttl_(negative_ttl),
      start_(initial_since),
      installed_(std::move(installed_chain)) {
    versions_.push_back({std::move(initial), initial_ttl});
    for (std::size_t i = 0; i <= secondaries; ++i) {
        SimServer s;
        s.name = "ns" + std::to_string(i + 1) + (i == 0 ? " (primary)" : "");
        s.history.push_back({initial_since, true, true, versions_[0].rrset, initial_ttl});
        servers_.push_back(std::move(s));
    }
}

const std::vector<TlsaRecord>& World::primary_rrset() const {
    return versions_.at(servers_.front().version).rrset;
}

std::uint32_t World::primary_ttl() const {
    return versions_.at(servers_.front().version).ttl;
}

void World::snapshot(SimServer& s) {
    const Version& v = versions_.at(s.version);
    const Snapshot& last = s.history.back();
    if (last.exists == s.exists && last.up == s.up && last.rrset == v.rrset && last.ttl == v.ttl) {
        return;
    }
    s.history.push_back({now_, s.exists, s.up, v.rrset, v.ttl});
}

bool World::update(const std::vector<TlsaRecord>& add, const std::vector<TlsaRecord>& remove,
                   std::uint32_t ttl) {
    SimServer& primary = servers_.front();
    if (!primary.up) {
        return false;
    }
    Version v = versions_.at(primary.version);
    for (const auto& r : add) {
        if (!contains(v.rrset, r)) {
            v.rrset.push_back(r);
        }
    }
    for (const auto& r : remove) {
        v.rrset.erase(std::remove(v.rrset.begin(), v.rrset.end(), r), v.rrset.end());
    }
    if (!add.empty()) {
        v.ttl = ttl;
    }
    versions_.push_back(std::move(v));
    primary.version = versions_.size() - 1;
    snapshot(primary);
    return true;
}

void World::set_primary_ttl(std::uint32_t ttl) {
    Version v = versions_.at(servers_.front().version);
    v.ttl = ttl;
    versions_.push_back(std::move(v));
    servers_.front().version = versions_.size() - 1;
    snapshot(servers_.front());
}

void World::sync(std::size_t server, std::size_t version) {
    SimServer& s = servers_.at(server);
    if (!s.exists || !s.up || server == 0) {
        return;
    }
    s.version = std::clamp(version, s.version, versions_.size() - 1);
    snapshot(s);
}

void World::set_up(std::size_t server, bool up) {
    SimServer& s = servers_.at(server);
    if (!s.exists) {
        return;
    }
    s.up = up;
    snapshot(s);
}

void World::add_server(std::size_t version) {
    SimServer s;
    s.name = "ns" + std::to_string(servers_.size() + 1);
    s.version = std::min(version, versions_.size() - 1);
    s.history.push_back({now_, true, true, versions_[s.version].rrset, versions_[s.version].ttl});
    servers_.push_back(std::move(s));
}

void World::remove_server(std::size_t server) {
    SimServer& s = servers_.at(server);
    if (server == 0 || !s.exists) {
        return;
    }
    s.exists = false;
    snapshot(s);
}

std::size_t World::live_servers() const {
    return static_cast<std::size_t>(std::count_if(servers_.begin(), servers_.end(),
                                                  [](const SimServer& s) { return s.exists; }));
}

Inputs World::observe(const UnitState& state, const Policy& policy) const {
    // Mirrors Engine::observe (signatures are always valid here).
    Inputs in;
    in.now = now_;
    in.policy = policy;
    DnsObservation& d = in.dns;
    d.complete = true;
    d.owner_empty_somewhere = false;
    d.negative_ttl = 0;
    std::vector<TlsaRecord> seen;
    for (const auto& s : servers_) {
        if (!s.exists) {
            continue;
        }
        if (!s.up) {
            d.complete = false;
            d.problems.push_back(s.name + ": timed out");
            continue;
        }
        const Version& v = versions_.at(s.version);
        d.negative_ttl = std::max(d.negative_ttl, negative_ttl_);
        if (v.rrset.empty()) {
            d.owner_empty_somewhere = true;
        } else {
            d.max_ttl = std::max(d.max_ttl, v.ttl);
        }
        seen.insert(seen.end(), v.rrset.begin(), v.rrset.end());
        if (&s == &servers_.front()) {
            d.rrset_at_primary = v.rrset;
            d.primary_answered = true;
        }
    }
    for (const auto& o : state.records) {
        seen.push_back(o.record);
    }
    for (const auto& r : seen) {
        std::vector<std::string> gaps;
        for (const auto& s : servers_) {
            if (!s.exists) {
                continue;
            }
            if (!s.up) {
                gaps.push_back(s.name + " does not answer");
            } else if (!contains(versions_.at(s.version).rrset, r)) {
                gaps.push_back(s.name + " lacks " + r.short_string());
            }
        }
        if (gaps.empty()) {
            d.everywhere.insert(r);
        } else {
            d.gaps[r] = gaps;
        }
    }
    in.installed_chain_pem = installed_;
    return in;
}

void World::install(const std::string& chain) {
    backup_ = installed_;
    if (chain != installed_) {
        installed_ = chain;
        changes_.push_back({now_, chain});
    }
}

void World::restore_backup() {
    if (backup_ != installed_) {
        installed_ = backup_;
        changes_.push_back({now_, installed_});
    }
}

bool World::matches(const std::string& chain, const TlsaRecord& r) const {
    return cached_match(chain, r, now_);
}

std::string World::check_deploy_rule(const std::string& chain) const {
    std::set<TlsaRecord> candidates;
    for (const auto& s : servers_) {
        for (const auto& snap : s.history) {
            candidates.insert(snap.rrset.begin(), snap.rrset.end());
        }
    }
    std::string why;
    for (const auto& r : candidates) {
        if (!matches(chain, r)) {
            continue;
        }
        std::string fault;
        TimePoint since = start_;
        for (const auto& s : servers_) {
            for (std::size_t j = 0; j < s.history.size(); ++j) {
                const Snapshot& snap = s.history[j];
                if (!snap.exists || (snap.up && contains(snap.rrset, r)) ||
                    instantaneous(s.history, j)) {
                    continue;
                }
                if (j + 1 == s.history.size()) {
                    fault = s.name + (snap.up ? " lacks it now" : " does not answer now");
                    break;
                }
                since = std::max(since, s.history[j + 1].from);
            }
        }
        if (fault.empty()) {
            std::uint32_t ttl = 0;
            for (const auto& s : servers_) {
                for (std::size_t j = 0; j < s.history.size(); ++j) {
                    const Snapshot& snap = s.history[j];
                    const bool overlaps =
                        j + 1 == s.history.size() || s.history[j + 1].from > since;
                    if (snap.exists && snap.up && overlaps && !instantaneous(s.history, j)) {
                        ttl = std::max(ttl, snap.ttl);
                    }
                }
            }
            if (now_ - since < seconds(2LL * ttl)) {
                fault = "everywhere only since t+" + unix_string(since) + ", less than 2 x TTL " +
                        std::to_string(ttl);
            }
        }
        for (const auto& s : servers_) {
            for (std::size_t j = 0; fault.empty() && j + 1 < s.history.size(); ++j) {
                const Snapshot& snap = s.history[j];
                if (!snap.exists || !snap.up || contains(snap.rrset, r) ||
                    instantaneous(s.history, j)) {
                    continue;
                }
                const TimePoint end = s.history[j + 1].from;
                const std::uint32_t life = snap.rrset.empty() ? negative_ttl_ : snap.ttl;
                if (now_ - end < seconds(2LL * life)) {
                    fault = s.name + " served " +
                            (snap.rrset.empty()
                                 ? std::string("a denial")
                                 : "an RRset without it at TTL " + std::to_string(snap.ttl)) +
                            " until t+" + unix_string(end) + " (" +
                            (snap.rrset.empty() ? "negative TTL " + std::to_string(negative_ttl_)
                                                : std::string("TTL")) +
                            "): resolvers may hold it for 2 x that";
                }
            }
        }
        if (fault.empty()) {
            return "";
        }
        why += "; " + r.short_string() + ": " + fault;
    }
    return why.empty() ? "no record ever served matches the chain" : why.substr(2);
}

std::string World::check_covered(const std::string& chain) const {
    std::set<TlsaRecord> everywhere;
    bool first = true;
    for (const auto& s : servers_) {
        if (!s.exists) {
            continue;
        }
        const auto& rr = versions_.at(s.version).rrset;
        std::set<TlsaRecord> here(rr.begin(), rr.end());
        if (first) {
            everywhere = here;
            first = false;
        } else {
            std::set<TlsaRecord> both;
            std::set_intersection(everywhere.begin(), everywhere.end(), here.begin(), here.end(),
                                  std::inserter(both, both.begin()));
            everywhere = std::move(both);
        }
    }
    for (const auto& r : everywhere) {
        if (matches(chain, r)) {
            return "";
        }
    }
    return "no record present on every server matches the chain";
}

std::string World::check_caches(const std::string& chain) const {
    for (const auto& s : servers_) {
        for (std::size_t j = 0; j < s.history.size(); ++j) {
            const Snapshot& snap = s.history[j];
            if (!snap.exists || !snap.up || snap.rrset.empty() || instantaneous(s.history, j)) {
                continue;
            }
            const bool current = j + 1 == s.history.size();
            if (!current && s.history[j + 1].from + seconds(snap.ttl) <= now_) {
                continue;  // every cached copy has expired
            }
            const bool ok = std::any_of(snap.rrset.begin(), snap.rrset.end(),
                                        [&](const TlsaRecord& r) { return matches(chain, r); });
            if (!ok) {
                return s.name + " served an RRset from t+" + unix_string(snap.from) +
                       (current ? std::string(" until now")
                                : " until t+" + unix_string(s.history[j + 1].from)) +
                       " (TTL " + std::to_string(snap.ttl) +
                       ") that resolvers may still hold and that matches no record of the chain";
            }
        }
    }
    return "";
}

std::string World::describe() const {
    std::string out = "t+" + unix_string(now_) + "s; primary version " +
                      std::to_string(servers_.front().version) + "\n";
    for (const auto& s : servers_) {
        out += "  " + s.name + ":";
        for (const auto& snap : s.history) {
            out += " [t+" + unix_string(snap.from) + (snap.exists ? "" : " gone") +
                   (snap.up ? "" : " down") + " ttl " + std::to_string(snap.ttl) + ":";
            for (const auto& r : snap.rrset) {
                out += " " + r.to_string().substr(0, 14);
            }
            out += "]";
        }
        out += "\n";
    }
    return out;
}

// ------------------------------------------------------------- executor

ExecResult execute(World& world, const Policy& policy, UnitState& state, UnitState& saved,
                   const Inputs& in, const Action& a, const ExecChoices& c) {
    ExecResult res;
    const auto save = [&] { saved = state; };
    const auto crash = [&](const char* point) { return c.crash_at == point; };
    const Pki& pki = Pki::get();
    switch (a.type) {
        case ActionType::GenerateNextKey: {
            if (crash("after-keygen")) {
                res.crashed = true;
                return res;
            }
            state.next_key = pki.key_info(c.new_key, in.now);
            state.note(in.now, "generated next key " + state.next_key->id);
            save();
            return res;
        }
        case ActionType::Publish: {
            if (!in.dns.primary_answered) {
                res.refused = "the primary did not answer; not publishing";
                return res;
            }
            std::string why;
            if (!a.remove.empty() && !retire_allowed(a.remove, state, in, why)) {
                res.refused = "refusing to retire: " + why;
                return res;
            }
            for (std::size_t i = 0; i < a.add.size(); ++i) {
                if (state.find(a.add[i]) != nullptr) {
                    continue;
                }
                OwnedRecord o;
                o.record = a.add[i];
                o.role = a.add_roles.at(i);
                const auto& rr = in.dns.rrset_at_primary;
                o.created = std::find(rr.begin(), rr.end(), a.add[i]) == rr.end();
                o.new_owner = rr.empty() || in.dns.owner_empty_somewhere;
                o.max_ttl_seen = std::max(policy.ttl, in.dns.max_ttl);
                o.negative_ttl_seen = in.dns.negative_ttl;
                state.records.push_back(std::move(o));
            }
            save();
            if (crash("before-update")) {
                res.crashed = true;
                return res;
            }
            if (!world.update(a.add, a.remove, policy.ttl)) {
                res.error = "the primary did not answer the UPDATE";
                return res;
            }
            if (crash("after-update")) {
                res.crashed = true;
                return res;
            }
            for (const auto& r : a.add) {
                if (OwnedRecord* o = state.find(r)) {
                    o->published_at = in.now;
                }
            }
            for (const auto& r : a.remove) {
                state.records.erase(
                    std::remove_if(state.records.begin(), state.records.end(),
                                   [&](const OwnedRecord& o) { return o.record == r; }),
                    state.records.end());
            }
            state.note(in.now, "published/retired");
            save();
            return res;
        }
        case ActionType::Issue: {
            if (!state.next_key) {
                res.error = "issue without a next key";
                return res;
            }
            if (c.issue_fails) {
                res.error = "the certificate source failed";
                return res;
            }
            const std::string& chain = pki.chain(pki.index_of(state.next_key->id), c.issue_ca);
            if (crash("after-issue")) {
                res.crashed = true;
                return res;
            }
            state.staged_chain_pem = chain;
            state.staged_key_id = state.next_key->id;
            state.staged_at = in.now;
            state.note(in.now, "staged a chain for key " + state.staged_key_id);
            state.phase = Phase::AwaitingPropagation;
            save();
            return res;
        }
        case ActionType::Deploy: {
            const bool already_installed = in.installed_chain_pem == state.staged_chain_pem;
            if (!already_installed) {
                const auto verdict = deploy_allowed(state.staged_chain_pem, state, in);
                if (!verdict.allowed) {
                    res.refused = "refusing to deploy: " + verdict.reason;
                    return res;
                }
            }
            const KeyInfo* info = nullptr;
            if (state.next_key && state.next_key->id == state.staged_key_id) {
                info = &*state.next_key;
            } else if (state.current_key && state.current_key->id == state.staged_key_id) {
                info = &*state.current_key;
            } else {
                res.error = "the key " + state.staged_key_id + " of the staged chain is gone";
                return res;
            }
            const KeyInfo staged_key = *info;
            state.phase = Phase::Deploying;
            save();
            if (crash("before-install")) {
                res.crashed = true;
                return res;
            }
            world.install(state.staged_chain_pem);
            if (crash("after-install") || crash("after-reload")) {
                res.crashed = true;
                return res;
            }
            // The probe DANE-verifies the served chain against the RRset at
            // the primary, as observed before the action.
            bool verified = false;
            for (const auto& r : in.dns.rrset_at_primary) {
                verified = verified || cached_match(world.installed(), r, in.now);
            }
            if (c.probe_fails || !verified) {
                if (!c.rollback_fails) {
                    world.restore_backup();
                }
                state.phase = Phase::Failed;
                state.failure = c.probe_fails ? "the probe after the reload failed"
                                              : "the probe found no matching TLSA record";
                state.staged_chain_pem.clear();
                state.staged_key_id.clear();
                state.note(in.now, "deploy failed: " + state.failure);
                save();
                res.error = "deploy failed: " + state.failure;
                res.rolled_back = true;
                return res;
            }
            if (crash("after-probe")) {
                res.crashed = true;
                return res;
            }
            state.deployed_chain_pem = state.staged_chain_pem;
            state.deployed_at = in.now;
            state.current_key = staged_key;
            if (state.next_key && state.next_key->id == staged_key.id) {
                state.next_key.reset();
            }
            state.staged_chain_pem.clear();
            state.staged_key_id.clear();
            state.rotate_requested = false;
            state.phase = Phase::Retiring;
            state.note(in.now, "deployed the chain for key " + staged_key.id);
            save();
            res.deployed = true;
            return res;
        }
    }
    return res;
}

Tick tick(World& world, const Policy& policy, UnitState& state, const ExecChoices& choices) {
    Tick t;
    t.in = world.observe(state, policy);
    t.plan = decide(state, t.in);
    state = t.plan.state;
    state.next_wake = t.plan.wake_at;
    state.waiting_for = t.plan.waiting_for;
    UnitState saved = state;
    if (!t.plan.actions.empty()) {
        t.exec = execute(world, policy, state, saved, t.in, t.plan.actions.front(), choices);
        state = saved;
    }
    return t;
}

UnitState init_state(std::size_t k, const std::string& chain_pem, TimePoint now, std::uint32_t ttl,
                     const std::string& algorithm) {
    UnitState s;
    s.service = "mx1";
    s.algorithm = algorithm;
    s.phase = Phase::Stable;
    s.current_key = Pki::get().key_info(k, now);
    s.deployed_chain_pem = chain_pem;
    s.deployed_at = now;
    OwnedRecord current;
    current.record = Pki::get().ee(k);
    current.role = RecordRole::Current;
    current.created = true;
    current.max_ttl_seen = ttl;
    s.records.push_back(current);
    s.phase = Phase::Stable;
    return s;
}

}  // namespace daneroll::rollover::sim
