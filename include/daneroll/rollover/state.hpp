// The durable state of one rollover unit: one service (MX host + port) and
// one key algorithm. RSA and ECDSA units of a service roll independently.
// It is written after every action (see state_store.hpp) and is all a tick
// knows about the past: "served since" times are observations persisted
// here, never guesses.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daneroll/tlsa/record.hpp"

namespace daneroll::rollover {

using TimePoint = std::chrono::system_clock::time_point;

inline constexpr int kStateVersion = 1;

enum class Phase {
    Unmanaged,            // no state yet: `daneroll init` adopts the MTA's key
    Stable,               // serving the current chain; "next" published or not needed
    Issuing,              // asking the certificate source for a chain
    AwaitingPropagation,  // a staged chain waits for its record to be everywhere 2 x TTL
    Deploying,            // installing the staged chain, reloading, probing
    Retiring,             // deployed and verified: old records out, next key in
    Failed,               // a deploy was rolled back; needs the operator (see failure)
};
std::string_view to_string(Phase p);
std::optional<Phase> parse_phase(std::string_view s);

enum class RecordRole {
    Current,  // 3 1 1 of the deployed key
    Next,     // 3 1 1 of the pre-generated next key (current+next)
    Issuer,   // 2 1 1 of a configured issuing CA (current+issuer)
    Staged,   // 3 1 1 of a staged chain's key that no published record covers
};
std::string_view to_string(RecordRole r);
std::optional<RecordRole> parse_role(std::string_view s);

// A record this unit publishes or relies on.
struct OwnedRecord {
    TlsaRecord record;
    RecordRole role = RecordRole::Current;
    // Whether this agent's UPDATE added it. An agent removes only records it
    // created: others (another host's, an operator's) are never dropped.
    bool created = false;
    std::optional<TimePoint> published_at;  // our UPDATE that carried it succeeded
    // First observed on every authoritative server, signed; reset whenever
    // one server lacks it.
    std::optional<TimePoint> everywhere_since;
    // The largest TTL seen on the RRset since publication (a raised TTL
    // lengthens the wait: the larger of old and new).
    std::uint32_t max_ttl_seen = 0;
    // The owner had no TLSA RRset when this record was published, so
    // resolvers may hold a cached denial for the negative TTL.
    bool new_owner = false;
    std::uint32_t negative_ttl_seen = 0;
};

struct KeyInfo {
    std::string id;    // first 16 hex digits of SHA-256(SPKI)
    std::string file;  // private key file in the state directory
    TimePoint created;
    std::string spki_sha256;  // hex: the 3 1 1 data
};

struct Event {
    TimePoint at;
    std::string text;
};

// What resolvers may still hold in their caches for the owner name, from
// this unit's observations: the largest TTL served recently and until when,
// and until when some server answered "no TLSA here" (a denial lives for
// the negative TTL). A record only counts as everywhere long enough once
// such caches have expired, however long ago the record itself appeared.
struct CacheWatermark {
    std::uint32_t ttl = 0;                 // the largest TTL possibly still cached
    std::optional<TimePoint> ttl_until;    // it was served until (at most) then
    bool ttl_lowered = false;              // a lower TTL has been seen since
    std::optional<TimePoint> empty_until;  // the owner was empty somewhere until then
    bool empty_ended = false;              // it has been seen non-empty since
    std::uint32_t negative_ttl = 0;        // the largest negative TTL seen
};

// The CA's renewal advice (RFC 9773) for the deployed leaf, as last
// fetched. renew_at is drawn once inside the window and kept, so that
// hourly ticks do not redraw it (each redraw would pull the renewal
// towards the window's start).
struct RenewalAdvice {
    std::string leaf_sha256;  // hex SHA-256 of the leaf's DER: whose advice
    TimePoint window_start;
    TimePoint window_end;
    TimePoint renew_at;
    TimePoint check_after;  // do not ask the CA again before then
    std::string explanation_url;
};

struct UnitState {
    int version = kStateVersion;
    std::string service;
    std::string algorithm;  // "ecdsa-p256", ...
    Phase phase = Phase::Unmanaged;

    std::optional<KeyInfo> current_key;
    std::optional<KeyInfo> next_key;
    std::string deployed_chain_pem;  // what daneroll installed (or adopted)
    std::optional<TimePoint> deployed_at;
    std::string staged_chain_pem;  // obtained, not yet deployed
    std::string staged_key_id;     // the key the staged chain is for
    std::optional<TimePoint> staged_at;

    std::vector<OwnedRecord> records;
    CacheWatermark caches;
    std::optional<RenewalAdvice> renewal_advice;
    bool rotate_requested = false;
    std::string failure;  // why phase is Failed
    std::optional<TimePoint> last_tick;
    // The end of the last tick that finished without an error (monitoring:
    // a timer that stopped running, or ticks that keep failing).
    std::optional<TimePoint> last_success;
    std::optional<TimePoint> next_wake;  // when the next tick has work
    std::string waiting_for;             // human summary of the current wait
    // What the last decision found wrong with the certificate source's
    // deliveries (certbot changed the key under current+next): shown by
    // `status` and raised by `check` as a warning.
    std::vector<std::string> source_warnings;
    std::vector<Event> history;  // the last events, newest last

    void note(TimePoint at, std::string text);  // appends to history (bounded)
    [[nodiscard]] OwnedRecord* find(const TlsaRecord& r);
    [[nodiscard]] const OwnedRecord* find(const TlsaRecord& r) const;
};

// JSON (de)serialisation. parse_state throws Error(Input) naming `source`
// on a malformed or newer-versioned document.
std::string serialize_state(const UnitState& state);
UnitState parse_state(const std::string& json, const std::string& source);

// Seconds since the epoch <-> TimePoint, for JSON and tests.
std::int64_t to_unix(TimePoint t);
TimePoint from_unix(std::int64_t s);

}  // namespace daneroll::rollover
