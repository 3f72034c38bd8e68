// The two safety rules of ../DESIGN.md, in one place. decide() asks them
// before it plans a deploy or a retire, and the executor asks again right
// before it acts.
//
// 1. Deploy rule: a chain is installed only if it matches (RFC 7672) a
//    record that every authoritative server has served, signed, for at
//    least 2 x TTL (the larger of old and new TTL; for a new owner name, at
//    least 2 x the negative TTL too), as observed and persisted.
// 2. Retire rule: a record is removed only if every chain the MTA can
//    present still matches another record that stays published.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daneroll/rollover/inputs.hpp"
#include "daneroll/rollover/state.hpp"

namespace daneroll::rollover {

// When an owned record has been everywhere long enough for the deploy rule;
// nullopt if it is not everywhere now. The record-level form looks at the
// record's own history; the unit-level form also waits out what resolvers
// may have cached before it (a larger TTL served until recently, a denial
// of the owner name).
std::optional<TimePoint> ready_at(const OwnedRecord& record, const Policy& policy);
std::optional<TimePoint> ready_at(const OwnedRecord& record, const UnitState& state,
                                  const Policy& policy);

struct DeployVerdict {
    bool allowed = false;
    std::optional<TimePoint> ready_at;  // earliest time a matching record is ready
    std::string reason;
};

// The deploy rule for `chain_pem` at `now`.
DeployVerdict deploy_allowed(const std::string& chain_pem, const UnitState& state,
                             const Inputs& in);

// The retire rule: may `records` (all at once) be removed, given the chains
// the MTA can present now (deployed and installed; while a deploy is under
// way, the staged chain too), for this unit and every peer unit at the same
// owner name? When the engine probed the MX host's addresses
// (Inputs::served), what each presents counts too, and an address it could
// not see refuses the removal. `reason` names a chain that would be left
// without a record.
bool retire_allowed(const std::vector<TlsaRecord>& records, const UnitState& state,
                    const Inputs& in, std::string& reason);

// The chains the MTA can present now (PEM, deduplicated, non-empty).
std::vector<std::string> presentable_chains(const UnitState& state, const Inputs& in);

// True if `chain_pem` matches `record` under RFC 7672 for `host` at `now`.
bool chain_matches(const std::string& chain_pem, const TlsaRecord& record, const std::string& host,
                   TimePoint now);

}  // namespace daneroll::rollover
