// Monitoring: is mail to every MX address still DANE-verified, do all
// authoritative servers agree, are signatures and certificates far enough
// from expiry, and is the agent still ticking? `daneroll check` renders
// this for Nagios/Icinga and as Prometheus textfile metrics.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "daneroll/config/config.hpp"

namespace daneroll::monitor {

using TimePoint = std::chrono::system_clock::time_point;

// Nagios plugin levels; the values are the plugin exit codes.
enum class Level { Ok = 0, Warning = 1, Critical = 2, Unknown = 3 };
std::string_view to_string(Level l);  // "OK", "WARNING", "CRITICAL", "UNKNOWN"

struct Thresholds {
    std::chrono::seconds cert_warning{std::chrono::hours(24 * 14)};
    std::chrono::seconds cert_critical{std::chrono::hours(24 * 3)};
    std::chrono::seconds signature_warning{std::chrono::hours(24 * 3)};
    std::chrono::seconds signature_critical{std::chrono::hours(24)};
    std::chrono::seconds tick_warning{std::chrono::hours(2)};
    std::chrono::seconds tick_critical{std::chrono::hours(6)};
};

struct Problem {
    Level level = Level::Ok;
    std::string text;
};

struct AddressHealth {
    std::string address;
    bool verified = false;
    std::string status;  // smtp::status_name(), e.g. "verified", "dane-mismatch"
    std::string reason;
};

struct UnitHealth {
    std::string service;
    std::string algorithm;
    std::string phase;  // rollover::to_string(Phase)
    std::string failure;
    std::optional<TimePoint> cert_not_after;
    std::optional<TimePoint> last_success;
    std::size_t records_owned = 0;
    // What the last tick found wrong with the certificate source (certbot
    // made its own key under current+next): each one a WARNING.
    std::vector<std::string> source_warnings;
    std::vector<AddressHealth> addresses;
    std::vector<Problem> problems;  // filled by judge()
};

struct DnsHealth {
    std::string service;
    std::string owner;
    std::string security;  // "secure", "insecure", "bogus", "indeterminate"
    std::size_t servers = 0;
    std::vector<std::string> server_errors;
    bool servers_agree = false;
    std::size_t records = 0;  // in the validated RRset
    std::optional<TimePoint> earliest_signature_expiry;
    std::vector<Problem> problems;  // filled by judge()
};

struct HealthReport {
    TimePoint at;
    std::vector<DnsHealth> dns;
    std::vector<UnitHealth> units;

    [[nodiscard]] Level level() const;  // the worst problem, Ok if none
};

// Turns the observed facts into problems with levels. Pure.
void judge(HealthReport& report, const Thresholds& t);

// Observes everything (DNS, every MX address, the persisted state) and
// judges it. Network trouble becomes problems, not exceptions.
HealthReport assess(const config::Config& config, const Thresholds& t,
                    const std::string& only_service = "");

// "DANEROLL WARNING - mx1/ecdsa-p256: certificate expires in 9d | perfdata",
// the first line of a Nagios plugin's output.
std::string nagios_line(const HealthReport& report, const Thresholds& t);

// node-exporter textfile metrics.
std::string prometheus_text(const HealthReport& report);

}  // namespace daneroll::monitor
