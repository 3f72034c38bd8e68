#include "daneroll/common/duration.hpp"

#include <array>
#include <cstdint>
#include <ctime>
#include <iomanip>
#include <limits>
#include <sstream>
#include <utility>

namespace daneroll {

namespace {

constexpr std::array<std::pair<char, std::int64_t>, 5> kUnits{{
    {'w', 7 * 86400},
    {'d', 86400},
    {'h', 3600},
    {'m', 60},
    {'s', 1},
}};

std::optional<std::int64_t> unit_seconds(char c) {
    for (const auto& [unit, secs] : kUnits) {
        if (unit == c) {
            return secs;
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
    if (text.empty()) {
        return std::nullopt;
    }
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    std::int64_t total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        if (text[i] < '0' || text[i] > '9') {
            return std::nullopt;
        }
        std::int64_t n = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            const int digit = text[i] - '0';
            if (n > (kMax - digit) / 10) {
                return std::nullopt;
            }
            n = n * 10 + digit;
            ++i;
        }
        std::int64_t mult = 1;
        if (i < text.size()) {
            const auto u = unit_seconds(text[i]);
            if (!u) {
                return std::nullopt;
            }
            mult = *u;
            ++i;
        } else if (total != 0) {
            return std::nullopt;  // "1h30" is ambiguous: require a unit after the first part
        }
        if (n > (kMax - total) / mult) {
            return std::nullopt;
        }
        total += n * mult;
    }
    return std::chrono::seconds(total);
}

std::string format_duration(std::chrono::seconds d) {
    std::int64_t left = d.count();
    if (left == 0) {
        return "0s";
    }
    std::string out;
    if (left < 0) {
        out = "-";
        left = -left;
    }
    for (const auto& [unit, secs] : kUnits) {
        if (unit == 'w') {
            continue;  // days read better than weeks in countdowns
        }
        if (left >= secs) {
            out += std::to_string(left / secs);
            out.push_back(unit);
            left %= secs;
        }
    }
    return out;
}

std::string format_utc(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    std::ostringstream out;
    out << std::put_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
    return out.str();
}

}  // namespace daneroll
