#include "daneroll/rollover/state.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cmath>

#include "daneroll/common/error.hpp"

namespace daneroll::rollover {

namespace {

constexpr std::size_t kHistoryLimit = 50;

constexpr std::array<std::pair<Phase, std::string_view>, 7> kPhases{{
    {Phase::Unmanaged, "unmanaged"},
    {Phase::Stable, "stable"},
    {Phase::Issuing, "issuing"},
    {Phase::AwaitingPropagation, "awaiting-propagation"},
    {Phase::Deploying, "deploying"},
    {Phase::Retiring, "retiring"},
    {Phase::Failed, "failed"},
}};

constexpr std::array<std::pair<RecordRole, std::string_view>, 4> kRoles{{
    {RecordRole::Current, "current"},
    {RecordRole::Next, "next"},
    {RecordRole::Issuer, "issuer"},
    {RecordRole::Staged, "staged"},
}};

using nlohmann::json;

// Times are stored as seconds with millisecond precision. Whole seconds are
// not enough: "everywhere since" rounded down would end a 2 x TTL wait up
// to a second early.
json precise_time(TimePoint t) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    return json(static_cast<double>(ms) / 1000.0);
}

TimePoint time_of(const json& j) {
    if (j.is_number_integer()) {
        return from_unix(j.get<std::int64_t>());
    }
    const auto ms = static_cast<std::int64_t>(std::llround(j.get<double>() * 1000.0));
    return TimePoint(std::chrono::milliseconds(ms));
}

json time_json(const std::optional<TimePoint>& t) {
    return t ? precise_time(*t) : json(nullptr);
}

std::optional<TimePoint> time_from(const json& j, const char* key) {
    if (!j.contains(key) || j.at(key).is_null()) {
        return std::nullopt;
    }
    return time_of(j.at(key));
}

json advice_json(const std::optional<RenewalAdvice>& a) {
    if (!a) {
        return nullptr;
    }
    return {{"leaf_sha256", a->leaf_sha256},
            {"window_start", precise_time(a->window_start)},
            {"window_end", precise_time(a->window_end)},
            {"renew_at", precise_time(a->renew_at)},
            {"check_after", precise_time(a->check_after)},
            {"explanation_url", a->explanation_url}};
}

json key_json(const std::optional<KeyInfo>& k) {
    if (!k) {
        return nullptr;
    }
    return {{"id", k->id},
            {"file", k->file},
            {"created", precise_time(k->created)},
            {"spki_sha256", k->spki_sha256}};
}

std::optional<KeyInfo> key_from(const json& j) {
    if (j.is_null()) {
        return std::nullopt;
    }
    return KeyInfo{j.at("id").get<std::string>(), j.at("file").get<std::string>(),
                   time_of(j.at("created")), j.at("spki_sha256").get<std::string>()};
}

}  // namespace

std::string_view to_string(Phase p) {
    for (const auto& [v, s] : kPhases) {
        if (v == p) {
            return s;
        }
    }
    return "?";
}

std::optional<Phase> parse_phase(std::string_view s) {
    for (const auto& [v, name] : kPhases) {
        if (name == s) {
            return v;
        }
    }
    return std::nullopt;
}

std::string_view to_string(RecordRole r) {
    for (const auto& [v, s] : kRoles) {
        if (v == r) {
            return s;
        }
    }
    return "?";
}

std::optional<RecordRole> parse_role(std::string_view s) {
    for (const auto& [v, name] : kRoles) {
        if (name == s) {
            return v;
        }
    }
    return std::nullopt;
}

std::int64_t to_unix(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

TimePoint from_unix(std::int64_t s) {
    return TimePoint(std::chrono::seconds(s));
}

void UnitState::note(TimePoint at, std::string text) {
    history.push_back({at, std::move(text)});
    if (history.size() > kHistoryLimit) {
        history.erase(history.begin(), history.begin() + static_cast<std::ptrdiff_t>(
                                                             history.size() - kHistoryLimit));
    }
}

OwnedRecord* UnitState::find(const TlsaRecord& r) {
    for (auto& o : records) {
        if (o.record == r) {
            return &o;
        }
    }
    return nullptr;
}

const OwnedRecord* UnitState::find(const TlsaRecord& r) const {
    for (const auto& o : records) {
        if (o.record == r) {
            return &o;
        }
    }
    return nullptr;
}

std::string serialize_state(const UnitState& s) {
    json records = json::array();
    for (const auto& r : s.records) {
        records.push_back({{"record", r.record.to_string()},
                           {"role", to_string(r.role)},
                           {"created", r.created},
                           {"published_at", time_json(r.published_at)},
                           {"everywhere_since", time_json(r.everywhere_since)},
                           {"max_ttl_seen", r.max_ttl_seen},
                           {"new_owner", r.new_owner},
                           {"negative_ttl_seen", r.negative_ttl_seen}});
    }
    json history = json::array();
    for (const auto& e : s.history) {
        history.push_back({{"at", precise_time(e.at)}, {"text", e.text}});
    }
    const json j{{"version", s.version},
                 {"service", s.service},
                 {"algorithm", s.algorithm},
                 {"phase", to_string(s.phase)},
                 {"current_key", key_json(s.current_key)},
                 {"next_key", key_json(s.next_key)},
                 {"deployed_chain", s.deployed_chain_pem},
                 {"deployed_at", time_json(s.deployed_at)},
                 {"staged_chain", s.staged_chain_pem},
                 {"staged_key_id", s.staged_key_id},
                 {"staged_at", time_json(s.staged_at)},
                 {"records", records},
                 {"caches",
                  {{"ttl", s.caches.ttl},
                   {"ttl_until", time_json(s.caches.ttl_until)},
                   {"ttl_lowered", s.caches.ttl_lowered},
                   {"empty_until", time_json(s.caches.empty_until)},
                   {"empty_ended", s.caches.empty_ended},
                   {"negative_ttl", s.caches.negative_ttl}}},
                 {"renewal_advice", advice_json(s.renewal_advice)},
                 {"rotate_requested", s.rotate_requested},
                 {"failure", s.failure},
                 {"last_tick", time_json(s.last_tick)},
                 {"last_success", time_json(s.last_success)},
                 {"next_wake", time_json(s.next_wake)},
                 {"waiting_for", s.waiting_for},
                 {"source_warnings", s.source_warnings},
                 {"history", history}};
    return j.dump(2) + "\n";
}

UnitState parse_state(const std::string& text, const std::string& source) {
    try {
        const json j = json::parse(text);
        UnitState s;
        s.version = j.at("version").get<int>();
        if (s.version > kStateVersion) {
            fail(ErrorKind::Input, source + " was written by a newer daneroll (state version " +
                                       std::to_string(s.version) + "); upgrade daneroll");
        }
        s.service = j.at("service").get<std::string>();
        s.algorithm = j.at("algorithm").get<std::string>();
        const auto phase = parse_phase(j.at("phase").get<std::string>());
        if (!phase) {
            fail(ErrorKind::Input,
                 source + ": unknown phase '" + j.at("phase").get<std::string>() + "'");
        }
        s.phase = *phase;
        s.current_key = key_from(j.at("current_key"));
        s.next_key = key_from(j.at("next_key"));
        s.deployed_chain_pem = j.at("deployed_chain").get<std::string>();
        s.deployed_at = time_from(j, "deployed_at");
        s.staged_chain_pem = j.at("staged_chain").get<std::string>();
        s.staged_key_id = j.value("staged_key_id", std::string());
        s.staged_at = time_from(j, "staged_at");
        for (const auto& r : j.at("records")) {
            OwnedRecord o;
            o.record = TlsaRecord::parse(r.at("record").get<std::string>());
            const auto role = parse_role(r.at("role").get<std::string>());
            if (!role) {
                fail(ErrorKind::Input, source + ": unknown record role");
            }
            o.role = *role;
            o.created = r.at("created").get<bool>();
            o.published_at = time_from(r, "published_at");
            o.everywhere_since = time_from(r, "everywhere_since");
            o.max_ttl_seen = r.at("max_ttl_seen").get<std::uint32_t>();
            o.new_owner = r.value("new_owner", false);
            o.negative_ttl_seen = r.value("negative_ttl_seen", 0U);
            s.records.push_back(std::move(o));
        }
        if (j.contains("caches")) {
            const auto& c = j.at("caches");
            s.caches.ttl = c.value("ttl", 0U);
            s.caches.ttl_until = time_from(c, "ttl_until");
            s.caches.ttl_lowered = c.value("ttl_lowered", false);
            s.caches.empty_until = time_from(c, "empty_until");
            s.caches.empty_ended = c.value("empty_ended", false);
            s.caches.negative_ttl = c.value("negative_ttl", 0U);
        }
        if (j.contains("renewal_advice") && !j.at("renewal_advice").is_null()) {
            const auto& a = j.at("renewal_advice");
            s.renewal_advice = RenewalAdvice{a.at("leaf_sha256").get<std::string>(),
                                             time_of(a.at("window_start")),
                                             time_of(a.at("window_end")),
                                             time_of(a.at("renew_at")),
                                             time_of(a.at("check_after")),
                                             a.value("explanation_url", std::string())};
        }
        s.rotate_requested = j.value("rotate_requested", false);
        s.failure = j.value("failure", std::string());
        s.last_tick = time_from(j, "last_tick");
        s.last_success = time_from(j, "last_success");
        s.next_wake = time_from(j, "next_wake");
        s.waiting_for = j.value("waiting_for", std::string());
        s.source_warnings = j.value("source_warnings", std::vector<std::string>());
        for (const auto& e : j.value("history", json::array())) {
            s.history.push_back({time_of(e.at("at")), e.at("text").get<std::string>()});
        }
        return s;
    } catch (const json::exception& e) {
        fail(ErrorKind::Input, source + " is not a valid daneroll state document: " + e.what());
    }
}

}  // namespace daneroll::rollover
