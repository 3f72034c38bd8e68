#include "daneroll/rollover/safety.hpp"

#include <algorithm>

#include "daneroll/common/error.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "daneroll/tlsa/dane_verify.hpp"

namespace daneroll::rollover {

std::optional<TimePoint> ready_at(const OwnedRecord& record, const Policy& policy) {
    if (!record.everywhere_since) {
        return std::nullopt;
    }
    const std::uint32_t ttl = std::max(record.max_ttl_seen, policy.ttl);
    std::chrono::seconds wait(2LL * ttl);
    if (record.new_owner) {
        // A resolver may hold a denial of the owner name (NXDOMAIN/NODATA or
        // an aggressive-NSEC proof) for the negative TTL.
        wait = std::max(wait, std::chrono::seconds(2LL * record.negative_ttl_seen));
    }
    return *record.everywhere_since + wait;
}

std::optional<TimePoint> ready_at(const OwnedRecord& record, const UnitState& state,
                                  const Policy& policy) {
    auto ready = ready_at(record, policy);
    if (!ready) {
        return ready;
    }
    // Only answers given before the record was everywhere can lack it: such
    // an answer, cached at time t with TTL T, is gone by t + T. The latest
    // such t for the largest recent TTL (or for a denial) is the earlier of
    // "served until" and "everywhere since".
    const TimePoint since = *record.everywhere_since;
    const CacheWatermark& c = state.caches;
    if (c.ttl_until) {
        ready = std::max(*ready, std::min(*c.ttl_until, since) + std::chrono::seconds(2LL * c.ttl));
    }
    if (c.empty_until) {
        ready = std::max(
            *ready, std::min(*c.empty_until, since) + std::chrono::seconds(2LL * c.negative_ttl));
    }
    return ready;
}

bool chain_matches(const std::string& chain_pem, const TlsaRecord& record, const std::string& host,
                   TimePoint now) {
    if (chain_pem.empty()) {
        return false;
    }
    try {
        const auto chain = parse_certificates(chain_pem, "chain");
        OfflineMatchOptions options;
        options.reference_names = {host};
        options.at = now;
        return verify_chain_offline(chain, {record}, options).verified;
    } catch (const Error&) {
        return false;
    }
}

DeployVerdict deploy_allowed(const std::string& chain_pem, const UnitState& state,
                             const Inputs& in) {
    DeployVerdict v;
    bool any_match = false;
    for (const auto& o : state.records) {
        if (!chain_matches(chain_pem, o.record, in.policy.host, in.now)) {
            continue;
        }
        any_match = true;
        const auto ready = ready_at(o, state, in.policy);
        if (!ready) {
            continue;
        }
        if (*ready <= in.now) {
            v.allowed = true;
            v.ready_at = *ready;
            v.reason = "matches " + o.record.short_string() + ", everywhere since " +
                       std::to_string(to_unix(*o.everywhere_since));
            return v;
        }
        if (!v.ready_at || *ready < *v.ready_at) {
            v.ready_at = *ready;
        }
    }
    v.reason = !any_match   ? "no published record matches the chain"
               : v.ready_at ? "the matching record has not been everywhere for 2 x TTL yet"
                            : "the matching record is not yet served, signed, by every "
                              "authoritative server";
    return v;
}

std::vector<std::string> presentable_chains(const UnitState& state, const Inputs& in) {
    std::vector<std::string> out;
    auto add = [&](const std::string& pem) {
        if (!pem.empty() && std::find(out.begin(), out.end(), pem) == out.end()) {
            out.push_back(pem);
        }
    };
    add(state.deployed_chain_pem);
    add(in.installed_chain_pem);
    if (state.phase == Phase::Deploying) {
        add(state.staged_chain_pem);
    }
    return out;
}

namespace {

std::string subject_of(const std::string& chain_pem) {
    try {
        return parse_certificates(chain_pem, "chain").front().subject();
    } catch (const Error&) {
        return "(unparsable chain)";
    }
}

// The served half of the retire rule. A chain an address presents that
// matches a record being removed must match a remaining established one.
// A chain that matches none of them is not made worse by the removal (it
// fails already, or matches records of others), so it does not block.
bool served_chains_stay_covered(const std::vector<TlsaRecord>& removed,
                                const std::vector<TlsaRecord>& remaining, const Inputs& in,
                                std::string& reason) {
    if (!in.served.probed) {
        return true;
    }
    if (!in.served.unseen.empty()) {
        reason = "cannot see what every address presents (" + in.served.unseen.front() +
                 "); a record is retired only when every address is seen";
        return false;
    }
    auto matches_any = [&](const std::string& pem, const std::vector<TlsaRecord>& rs) {
        return std::any_of(rs.begin(), rs.end(), [&](const TlsaRecord& r) {
            return chain_matches(pem, r, in.policy.host, in.now);
        });
    };
    for (const auto& a : in.served.chains) {
        if (matches_any(a.chain_pem, removed) && !matches_any(a.chain_pem, remaining)) {
            reason = a.address + " presents " + subject_of(a.chain_pem) +
                     ", which would match no remaining established record";
            return false;
        }
    }
    return true;
}

}  // namespace

bool retire_allowed(const std::vector<TlsaRecord>& records, const UnitState& state,
                    const Inputs& in, std::string& reason) {
    auto removed = [&](const TlsaRecord& r) {
        return std::find(records.begin(), records.end(), r) != records.end();
    };
    // Only records that stay and are established count: a record still
    // propagating does not yet protect anyone. Peers' established records
    // count too (they keep them), and peers' chains must stay covered.
    std::vector<TlsaRecord> remaining;
    for (const auto& o : state.records) {
        const auto ready = ready_at(o, state, in.policy);
        if (!removed(o.record) && ready && *ready <= in.now) {
            remaining.push_back(o.record);
        }
    }
    std::vector<std::pair<std::string, std::string>> chains;  // (owner of chain, PEM)
    for (const auto& c : presentable_chains(state, in)) {
        chains.emplace_back(state.service + "/" + state.algorithm, c);
    }
    for (const auto& peer : in.peers) {
        for (const auto& r : peer.established) {
            if (!removed(r)) {
                remaining.push_back(r);
            }
        }
        for (const auto& c : peer.chains) {
            chains.emplace_back(peer.name, c);
        }
    }
    for (const auto& entry : chains) {
        const auto& [who, chain] = entry;
        // (clang 14 cannot capture a structured binding: use the pair.)
        const bool covered =
            std::any_of(remaining.begin(), remaining.end(), [&](const TlsaRecord& r) {
                return chain_matches(entry.second, r, in.policy.host, in.now);
            });
        if (!covered) {
            std::string leaf = "a chain";
            try {
                leaf = "the chain of " + parse_certificates(chain, "chain").front().subject();
            } catch (const Error&) {
            }
            reason = leaf + " that " + who +
                     "'s MTA can present would match no remaining established record";
            return false;
        }
    }
    return served_chains_stay_covered(records, remaining, in, reason);
}

}  // namespace daneroll::rollover
