#include "daneroll/rollover/decide.hpp"

#include <algorithm>

#include "daneroll/common/bytes.hpp"
#include "daneroll/common/duration.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "daneroll/rollover/safety.hpp"
#include "daneroll/tlsa/compute.hpp"

namespace daneroll::rollover {

namespace {

using std::chrono::seconds;

struct Desired {
    TlsaRecord record;
    RecordRole role;
};

TlsaRecord ee_record(const KeyInfo& key) {
    return TlsaRecord{tlsa::kDaneEe, tlsa::kSelectorSpki, tlsa::kMatchSha256,
                      from_hex(key.spki_sha256)};
}

std::optional<TlsaRecord> leaf_record(const std::string& chain_pem) {
    try {
        const auto chain = parse_certificates(chain_pem, "chain");
        return tlsa_from_spki(tlsa::kDaneEe, chain.front().spki_der(), tlsa::kMatchSha256);
    } catch (const Error&) {
        return std::nullopt;
    }
}

std::optional<TimePoint> leaf_not_after(const std::string& chain_pem) {
    try {
        return parse_certificates(chain_pem, "chain").front().not_after();
    } catch (const Error&) {
        return std::nullopt;
    }
}

// The records this unit wants published now.
std::vector<Desired> desired_records(const UnitState& s, const Inputs& in) {
    std::vector<Desired> out;
    auto add = [&](const TlsaRecord& r, RecordRole role) {
        if (std::none_of(out.begin(), out.end(), [&](const Desired& d) { return d.record == r; })) {
            out.push_back({r, role});
        }
    };
    if (s.current_key) {
        add(ee_record(*s.current_key), RecordRole::Current);
    }
    if (in.policy.scheme == config::Scheme::CurrentNext && s.next_key) {
        add(ee_record(*s.next_key), RecordRole::Next);
    }
    if (in.policy.scheme == config::Scheme::CurrentIssuer) {
        for (const auto& r : in.policy.issuers) {
            add(r, RecordRole::Issuer);
        }
    }
    if (!s.staged_chain_pem.empty()) {
        // A staged chain no wanted record covers (an issuer outside the set,
        // a key certbot changed): publish its own 3 1 1 and let the deploy
        // rule make it wait.
        const bool covered = std::any_of(out.begin(), out.end(), [&](const Desired& d) {
            return chain_matches(s.staged_chain_pem, d.record, in.policy.host, in.now);
        });
        if (!covered) {
            if (auto r = leaf_record(s.staged_chain_pem)) {
                add(*r, RecordRole::Staged);
            }
        }
    }
    return out;
}

bool in_rrset(const Inputs& in, const TlsaRecord& r) {
    return std::find(in.dns.rrset_at_primary.begin(), in.dns.rrset_at_primary.end(), r) !=
           in.dns.rrset_at_primary.end();
}

// Builds the Publish action that brings the owned records to `wanted`, if
// one is needed, and drops records we track but neither want nor created.
std::optional<Action> publish_action(UnitState& s, const std::vector<Desired>& wanted,
                                     const Inputs& in, std::vector<std::string>& warnings,
                                     bool& retire_blocked) {
    Action a;
    a.type = ActionType::Publish;
    for (const auto& d : wanted) {
        OwnedRecord* o = s.find(d.record);
        if (o != nullptr) {
            o->role = d.role;
        }
        const bool published = o != nullptr && o->published_at.has_value();
        // Re-publish a record someone removed behind our back.
        const bool missing = in.dns.complete && !in_rrset(in, d.record);
        if (!published || missing) {
            a.add.push_back(d.record);
            a.add_roles.push_back(d.role);
        }
    }
    std::vector<TlsaRecord> unwanted;
    for (const auto& o : s.records) {
        const bool want = std::any_of(wanted.begin(), wanted.end(),
                                      [&](const Desired& d) { return d.record == o.record; });
        if (!want) {
            unwanted.push_back(o.record);
        }
    }
    for (const auto& r : unwanted) {
        const OwnedRecord* o = s.find(r);
        auto peer_has = [&](auto member) {
            return std::any_of(in.peers.begin(), in.peers.end(), [&](const PeerUnit& u) {
                const auto& list = u.*member;
                return std::find(list.begin(), list.end(), r) != list.end();
            });
        };
        if (peer_has(&PeerUnit::wanted)) {
            // Another unit of this agent at the same owner (the other key
            // type, or a service sharing the MX name) still wants it: keep
            // tracking it, so whoever created it can retire it later.
            continue;
        }
        // This agent created it if this unit or a peer unit did.
        if (!o->created && !peer_has(&PeerUnit::created)) {
            // Not ours to delete: stop relying on it, leave it in DNS.
            std::string why;
            if (retire_allowed({r}, s, in, why)) {
                s.records.erase(std::find_if(s.records.begin(), s.records.end(),
                                             [&](const OwnedRecord& x) { return x.record == r; }));
            }
            continue;
        }
        std::string why;
        if (retire_allowed({r}, s, in, why)) {
            a.remove.push_back(r);
        } else {
            warnings.push_back("keeping " + r.short_string() + ": " + why);
            retire_blocked = true;
        }
    }
    // Removing several at once must also be safe as a whole.
    std::string why;
    if (a.remove.size() > 1 && !retire_allowed(a.remove, s, in, why)) {
        warnings.push_back("retiring one record at a time: " + why);
        a.remove.resize(1);
    }
    std::vector<TlsaRecord> result = in.dns.rrset_at_primary;
    for (const auto& r : a.add) {
        if (std::find(result.begin(), result.end(), r) == result.end()) {
            result.push_back(r);
        }
    }
    for (const auto& r : a.remove) {
        result.erase(std::remove(result.begin(), result.end(), r), result.end());
    }
    const std::size_t after = result.size();
    if (!a.add.empty() && after > in.policy.max_records) {
        warnings.push_back("the TLSA RRset will hold " + std::to_string(after) +
                           " records, more than " + std::to_string(in.policy.max_records) +
                           "; some large receivers stop evaluating beyond about that");
    }
    if (a.add.empty() && a.remove.empty()) {
        return std::nullopt;
    }
    if (!in.dns.primary_answered) {
        // Whether a record is ours is judged from the primary's RRset, and
        // the UPDATE goes there: without its answer, wait.
        warnings.emplace_back("the primary did not answer; not changing the RRset now");
        return std::nullopt;
    }
    a.reason = "bring the TLSA RRset to what this unit needs";
    return a;
}

seconds poll_interval(const Policy& p) {
    // While a record propagates there is no known end: look again soon, but
    // not more than every second nor less than every 30 s.
    return std::clamp(seconds(p.ttl / 4), seconds(1), seconds(30));
}

// When a refused retire may be allowed: the moment the next of our records
// becomes established (it may be the cover that was missing), or else a
// poll (what blocks it is outside the state: an address, a peer).
TimePoint retire_retry_at(const UnitState& s, const Inputs& in) {
    const TimePoint poll = in.now + poll_interval(in.policy);
    std::optional<TimePoint> next;
    bool propagating = false;
    for (const auto& o : s.records) {
        const auto ready = ready_at(o, s, in.policy);
        if (!ready) {
            propagating = true;  // its "everywhere since" is still to come
        } else if (*ready > in.now && (!next || *ready < *next)) {
            next = ready;
        }
    }
    if (!next || propagating) {
        return next ? std::min(*next, poll) : poll;
    }
    return *next;
}

std::string describe_wait(TimePoint until, TimePoint now) {
    const auto left = std::chrono::duration_cast<seconds>(until - now);
    return format_duration(std::max(left, seconds(0))) + " more";
}

void set_phase(UnitState& s, Phase p, TimePoint now, const std::string& why) {
    if (s.phase != p) {
        s.note(now,
               std::string(to_string(s.phase)) + " -> " + std::string(to_string(p)) + ": " + why);
        s.phase = p;
    }
}

// Why the current chain should be replaced now, or "" if it need not be.
std::string rollover_trigger(const UnitState& s, const Inputs& in,
                             std::optional<TimePoint>& next_trigger) {
    if (s.rotate_requested) {
        return "the operator asked for a rotation";
    }
    if (const auto expiry = leaf_not_after(s.deployed_chain_pem)) {
        const TimePoint due = *expiry - in.policy.renew_before;
        if (due <= in.now) {
            return "the certificate expires within " + format_duration(in.policy.renew_before);
        }
        next_trigger = due;
    }
    if (in.ca_renewal) {
        const RenewalAdvice& a = *in.ca_renewal;
        if (a.renew_at <= in.now) {
            return "the CA's renewal window (RFC 9773) is open: " + format_utc(a.window_start) +
                   " to " + format_utc(a.window_end) +
                   (a.explanation_url.empty() ? "" : " (" + a.explanation_url + ")");
        }
        if (!next_trigger || a.renew_at < *next_trigger) {
            next_trigger = a.renew_at;
        }
    }
    if (s.current_key) {
        // The key's age counts from when it went live: in current+next it was
        // generated a whole period earlier, to be published in advance.
        const TimePoint live = s.deployed_at.value_or(s.current_key->created);
        const TimePoint due = live + in.policy.rotation_period;
        if (due <= in.now) {
            return "the key is older than " + format_duration(in.policy.rotation_period);
        }
        if (!next_trigger || due < *next_trigger) {
            next_trigger = due;
        }
    }
    return "";
}

// current+next expects every chain to be for the current key or the
// published next key. A chain delivered (certbot) for any other key means
// the source made its own key: say so, and what to do about it. The chain
// itself is handled like any other: its own 3 1 1, deployed after 2 x TTL.
std::vector<std::string> source_warnings(const UnitState& s, const Inputs& in) {
    if (in.policy.scheme != config::Scheme::CurrentNext) {
        return {};
    }
    std::string id;
    if (!s.staged_chain_pem.empty()) {
        id = s.staged_key_id;
    } else if (!in.delivered_chain_pem.empty() && in.delivered_chain_pem != s.deployed_chain_pem) {
        id = in.delivered_key_id;
    }
    const std::string current = s.current_key ? s.current_key->id : "";
    const std::string next = s.next_key ? s.next_key->id : "";
    if (id.empty() || id == current || id == next) {
        return {};
    }
    return {"the certificate source delivered a chain for key " + id +
            ", which is neither the current key " + (current.empty() ? "(none)" : current) +
            " nor the published next key " + (next.empty() ? "(none yet)" : next) +
            ": certbot made a new key behind daneroll's back, so this chain must wait 2 x TTL "
            "for its own 3 1 1 record and the next key is published for nothing. Run certbot "
            "with --reuse-key, or use the \"command\" source with `certbot certonly --csr {csr} "
            "--fullchain-path {chain} ...` so that certbot certifies daneroll's pre-published "
            "next key"};
}

}  // namespace

std::string_view to_string(ActionType t) {
    switch (t) {
        case ActionType::GenerateNextKey:
            return "generate-next-key";
        case ActionType::Publish:
            return "publish";
        case ActionType::Issue:
            return "issue";
        case ActionType::Deploy:
            return "deploy";
    }
    return "?";
}

UnitState absorb(UnitState s, const Inputs& in) {
    for (auto& o : s.records) {
        const bool everywhere = in.dns.complete && in.dns.everywhere.count(o.record) != 0;
        if (everywhere) {
            if (!o.everywhere_since) {
                o.everywhere_since = in.now;
            }
        } else {
            o.everywhere_since.reset();  // one server lost it: the clock starts again
        }
        o.max_ttl_seen = std::max(o.max_ttl_seen, in.dns.max_ttl);
        if (o.new_owner) {
            o.negative_ttl_seen = std::max(o.negative_ttl_seen, in.dns.negative_ttl);
        }
    }
    // The cache watermarks (see CacheWatermark).
    CacheWatermark& c = s.caches;
    const std::uint32_t ttl = in.dns.max_ttl;
    if (ttl >= c.ttl) {
        c.ttl = ttl;
        c.ttl_until = in.now;
        c.ttl_lowered = false;
    } else {
        if (!c.ttl_lowered) {
            // The larger TTL may have been served until just before now.
            c.ttl_until = in.now;
            c.ttl_lowered = true;
        }
        if (c.ttl_until && in.now >= *c.ttl_until + seconds(2LL * c.ttl)) {
            c.ttl = ttl;  // anything cached with the larger TTL has expired
            c.ttl_until = in.now;
            c.ttl_lowered = false;
        }
    }
    c.negative_ttl = std::max(c.negative_ttl, in.dns.negative_ttl);
    if (in.dns.owner_empty_somewhere) {
        c.empty_until = in.now;
        c.empty_ended = false;
    } else if (c.empty_until && !c.empty_ended) {
        c.empty_until = in.now;  // it may have been empty until just before now
        c.empty_ended = true;
    }
    s.last_tick = in.now;
    return s;
}

// Records that reached, or fell off, every server with this observation.
std::vector<std::string> propagation_progress(const UnitState& before, const UnitState& after,
                                              const Inputs& in) {
    std::vector<std::string> out;
    for (const auto& o : after.records) {
        const OwnedRecord* b = before.find(o.record);
        const bool was = b != nullptr && b->everywhere_since.has_value();
        if (!was && o.everywhere_since) {
            out.push_back(o.record.short_string() +
                          " is now served, signed, by every authoritative server");
        } else if (was && !o.everywhere_since && in.dns.complete) {
            std::string who;
            if (const auto it = in.dns.gaps.find(o.record); it != in.dns.gaps.end()) {
                for (const auto& g : it->second) {
                    who += (who.empty() ? " (" : "; ") + g;
                }
                who += who.empty() ? "" : ")";
            }
            out.push_back(o.record.short_string() + " is no longer on every server" + who +
                          ": its 2 x TTL starts again");
        }
    }
    return out;
}

Plan decide(const UnitState& state, const Inputs& in) {
    Plan p;
    p.state = absorb(state, in);
    p.progress = propagation_progress(state, p.state, in);
    UnitState& s = p.state;
    const TimePoint now = in.now;

    if (s.phase == Phase::Unmanaged) {
        p.waiting_for = "not managed yet: run 'daneroll init'";
        return p;
    }
    p.warnings = in.warnings;
    s.source_warnings = source_warnings(s, in);
    p.warnings.insert(p.warnings.end(), s.source_warnings.begin(), s.source_warnings.end());
    if (s.phase == Phase::Failed) {
        if (!s.rotate_requested) {
            p.waiting_for = "failed: " + s.failure + " (fix it, then run 'daneroll rotate')";
            return p;
        }
        s.failure.clear();
        set_phase(s, Phase::Stable, now, "the operator asked to try again");
    }
    if (!in.dns.complete) {
        p.warnings.insert(p.warnings.end(), in.dns.problems.begin(), in.dns.problems.end());
    }

    // Up to a few pure transitions per decision (e.g. Stable -> Issuing);
    // each loop either returns or changes the phase, so it is bounded.
    for (int step = 0; step < 8; ++step) {
        if (!s.next_key &&
            (in.policy.scheme == config::Scheme::CurrentNext || s.phase == Phase::Issuing)) {
            p.actions.push_back(
                {ActionType::GenerateNextKey, {}, {}, {}, "a key for the next certificate"});
            return p;
        }
        const auto wanted = desired_records(s, in);
        p.retire_blocked = false;
        if (auto publish = publish_action(s, wanted, in, p.warnings, p.retire_blocked)) {
            p.actions.push_back(std::move(*publish));
            return p;
        }

        switch (s.phase) {
            case Phase::Stable: {
                if (!in.delivered_chain_pem.empty() &&
                    in.delivered_chain_pem != s.deployed_chain_pem) {
                    s.staged_chain_pem = in.delivered_chain_pem;
                    s.staged_key_id = in.delivered_key_id;
                    s.staged_at = now;
                    set_phase(s, Phase::AwaitingPropagation, now, "a new chain was handed over");
                    continue;
                }
                std::optional<TimePoint> next_trigger;
                const std::string trigger = rollover_trigger(s, in, next_trigger);
                if (trigger.empty()) {
                    p.wake_at = next_trigger;
                    p.waiting_for = next_trigger ? "stable; next rollover due in " +
                                                       describe_wait(*next_trigger, now)
                                                 : "stable";
                    if (p.retire_blocked) {
                        const TimePoint retry = retire_retry_at(s, in);
                        p.wake_at = p.wake_at ? std::min(*p.wake_at, retry) : retry;
                        p.waiting_for =
                            "stable, but an old record stays until it can be "
                            "retired safely; looking again in " +
                            describe_wait(retry, now);
                    }
                    return p;
                }
                if (!in.policy.source_can_issue) {
                    p.rollover_due = true;
                    p.waiting_for = "due (" + trigger +
                                    "); waiting for the certificate source "
                                    "to hand over a renewed chain";
                    p.wake_at = now + poll_interval(in.policy);
                    return p;
                }
                set_phase(s, Phase::Issuing, now, trigger);
                continue;
            }
            case Phase::Issuing:
                p.actions.push_back(
                    {ActionType::Issue, {}, {}, {}, "a certificate for the next key"});
                return p;
            case Phase::AwaitingPropagation: {
                if (s.staged_chain_pem.empty()) {
                    set_phase(s, Phase::Stable, now, "nothing staged");
                    continue;
                }
                const DeployVerdict v = deploy_allowed(s.staged_chain_pem, s, in);
                if (v.allowed) {
                    set_phase(s, Phase::Deploying, now, v.reason);
                    continue;
                }
                if (v.ready_at) {
                    p.wake_at = v.ready_at;
                    p.waiting_for = "waiting " + describe_wait(*v.ready_at, now) +
                                    " for 2 x TTL before deploying";
                } else {
                    p.wake_at = now + poll_interval(in.policy);
                    p.waiting_for = v.reason;
                    // Name the servers that lack a record this chain could use.
                    for (const auto& [rec, gaps] : in.dns.gaps) {
                        if (s.find(rec) == nullptr ||
                            !chain_matches(s.staged_chain_pem, rec, in.policy.host, now)) {
                            continue;
                        }
                        for (const auto& g : gaps) {
                            p.waiting_for += "; " + g;
                        }
                    }
                }
                return p;
            }
            case Phase::Deploying: {
                const bool already_installed =
                    !in.installed_chain_pem.empty() && in.installed_chain_pem == s.staged_chain_pem;
                if (!already_installed && !deploy_allowed(s.staged_chain_pem, s, in).allowed) {
                    // The rule held when we chose to deploy but not any more
                    // (a server lost the record): wait again.
                    set_phase(s, Phase::AwaitingPropagation, now,
                              "the deploy rule no longer holds");
                    continue;
                }
                p.actions.push_back({ActionType::Deploy, {}, {}, {}, "install the staged chain"});
                return p;
            }
            case Phase::Retiring:
                // publish_action found nothing left to add or remove (now).
                set_phase(s, Phase::Stable, now,
                          p.retire_blocked ? "old records retired, but for one the retire rule "
                                             "keeps for now"
                                           : "old records retired");
                s.rotate_requested = false;
                continue;
            case Phase::Unmanaged:
            case Phase::Failed:
                return p;
        }
    }
    p.warnings.emplace_back("decide() did not settle; this is a bug");
    return p;
}

}  // namespace daneroll::rollover
