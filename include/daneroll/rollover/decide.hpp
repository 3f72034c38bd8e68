// The decision function of the rollover: (state, inputs) -> plan. Pure: no
// I/O, no clock, no globals; every time comes from Inputs::now. The engine
// executes the plan's first action, persists, observes again and asks
// again, so each action is decided on fresh observations.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daneroll/rollover/inputs.hpp"
#include "daneroll/rollover/state.hpp"

namespace daneroll::rollover {

enum class ActionType {
    GenerateNextKey,  // a new key in the "next" slot
    Publish,          // one UPDATE: add `add`, remove `remove`
    Issue,            // ask the certificate source for a chain for the next key
    Deploy,           // install the staged chain, reload, probe; roll back on failure
};
std::string_view to_string(ActionType t);

struct Action {
    ActionType type = ActionType::Publish;
    std::vector<TlsaRecord> add;
    std::vector<RecordRole> add_roles;  // parallel to `add`
    std::vector<TlsaRecord> remove;
    std::string reason;  // for people and logs
};

struct Plan {
    // The state after absorbing the observations and the pure transitions
    // (phase changes that need no I/O). The engine persists it.
    UnitState state;
    std::vector<Action> actions;       // the first is executed now
    std::optional<TimePoint> wake_at;  // when waiting ends (or the next check)
    std::string waiting_for;           // e.g. "2 x TTL for 3 1 1 ab12… (41s more)"
    // Stable, but a rollover is due and waits for a source that only hands
    // chains over (certbot): not idle.
    bool rollover_due = false;
    // A record this unit no longer wants stays published because removing
    // it now would break the retire rule: not settled, and wake_at says
    // when to look again.
    bool retire_blocked = false;
    std::vector<std::string> warnings;
    // What this observation changed for people following along ("3 1 1
    // ab12… is now on every server"): progress, not actions.
    std::vector<std::string> progress;
};

// Folds this tick's DNS observation into the records' "everywhere since"
// times. Part of decide(); exposed for tests.
UnitState absorb(UnitState state, const Inputs& in);

Plan decide(const UnitState& state, const Inputs& in);

}  // namespace daneroll::rollover
