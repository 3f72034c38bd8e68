// Human durations in configs and flags: "90d", "12h", "1h30m", "45s", "2w".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace daneroll {

// Parses a sequence of <integer><unit> with units w, d, h, m, s (a bare
// integer means seconds). Returns nullopt on any syntax error or overflow.
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

// The shortest exact form, e.g. 5400s -> "1h30m", 0 -> "0s".
std::string format_duration(std::chrono::seconds d);

// "2026-11-27T01:45:03Z": UTC, whole seconds, for people and JSON.
std::string format_utc(std::chrono::system_clock::time_point t);

}  // namespace daneroll
