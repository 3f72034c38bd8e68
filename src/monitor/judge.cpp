// The pure part of monitoring: facts in, levelled problems out, and the
// renderings. No I/O here, so every threshold is unit-tested.
#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "daneroll/common/duration.hpp"
#include "daneroll/monitor/health.hpp"

namespace daneroll::monitor {

namespace {

using std::chrono::seconds;

std::string left_text(TimePoint until, TimePoint now) {
    const auto d = std::chrono::duration_cast<seconds>(until - now);
    return d.count() <= 0 ? "already" : "in " + format_duration(d);
}

void expiry(std::vector<Problem>& out, const std::string& what, std::optional<TimePoint> until,
            TimePoint now, seconds warn, seconds crit) {
    if (!until) {
        return;
    }
    if (*until - now <= crit) {
        out.push_back({Level::Critical, what + " expires " + left_text(*until, now)});
    } else if (*until - now <= warn) {
        out.push_back({Level::Warning, what + " expires " + left_text(*until, now)});
    }
}

Level worst(const std::vector<Problem>& ps) {
    Level l = Level::Ok;
    for (const auto& p : ps) {
        l = std::max(l, p.level);
    }
    return l;
}

std::string label(const std::string& s) {
    // Prometheus label values: escape backslash, quote and newline.
    std::string out;
    for (char c : s) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

double days(TimePoint until, TimePoint now) {
    return std::chrono::duration<double>(until - now).count() / 86400.0;
}

std::string number(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

}  // namespace

std::string_view to_string(Level l) {
    switch (l) {
        case Level::Ok:
            return "OK";
        case Level::Warning:
            return "WARNING";
        case Level::Critical:
            return "CRITICAL";
        case Level::Unknown:
            return "UNKNOWN";
    }
    return "UNKNOWN";
}

Level HealthReport::level() const {
    Level l = Level::Ok;
    for (const auto& d : dns) {
        l = std::max(l, worst(d.problems));
    }
    for (const auto& u : units) {
        l = std::max(l, worst(u.problems));
    }
    return l;
}

void judge(HealthReport& r, const Thresholds& t) {
    for (auto& d : r.dns) {
        d.problems.clear();
        if (d.security == "bogus") {
            d.problems.push_back({Level::Critical, d.owner + ": DNSSEC validation fails (bogus): "
                                                             "DANE senders defer all mail"});
        } else if (d.security != "secure") {
            d.problems.push_back({Level::Critical, d.owner + ": the TLSA RRset is " + d.security +
                                                       ": DANE is not in effect"});
        } else if (d.records == 0) {
            d.problems.push_back({Level::Critical, d.owner + " has no TLSA records"});
        }
        for (const auto& e : d.server_errors) {
            d.problems.push_back({Level::Warning, e});
        }
        if (d.server_errors.empty() && !d.servers_agree) {
            d.problems.push_back(
                {Level::Warning, d.owner + ": the authoritative servers serve different RRsets"});
        }
        expiry(d.problems, d.owner + "'s RRSIG", d.earliest_signature_expiry, r.at,
               t.signature_warning, t.signature_critical);
    }
    for (auto& u : r.units) {
        u.problems.clear();
        const std::string who = u.service + "/" + u.algorithm;
        if (u.phase == "unmanaged") {
            u.problems.push_back({Level::Warning, who + " is not managed yet (daneroll init)"});
            continue;
        }
        if (u.phase == "failed") {
            u.problems.push_back({Level::Critical, who + " FAILED: " + u.failure});
        }
        for (const auto& w : u.source_warnings) {
            u.problems.push_back({Level::Warning, who + ": " + w});
        }
        for (const auto& a : u.addresses) {
            if (!a.verified) {
                u.problems.push_back({Level::Critical, who + " " + a.address + ": " + a.status +
                                                           " (" + a.reason + ")"});
            }
        }
        if (u.addresses.empty()) {
            u.problems.push_back({Level::Critical, who + ": no address was probed"});
        }
        expiry(u.problems, who + "'s certificate", u.cert_not_after, r.at, t.cert_warning,
               t.cert_critical);
        if (!u.last_success) {
            u.problems.push_back({Level::Warning, who + ": no successful tick yet"});
        } else {
            const auto age = std::chrono::duration_cast<seconds>(r.at - *u.last_success);
            const std::string text =
                who + ": last successful tick " + format_duration(age) + " ago";
            if (age >= t.tick_critical) {
                u.problems.push_back({Level::Critical, text});
            } else if (age >= t.tick_warning) {
                u.problems.push_back({Level::Warning, text});
            }
        }
    }
}

std::string nagios_line(const HealthReport& r, const Thresholds& t) {
    const Level level = r.level();
    std::vector<std::string> shown;
    for (const auto& d : r.dns) {
        for (const auto& p : d.problems) {
            if (p.level == level) {
                shown.push_back(p.text);
            }
        }
    }
    for (const auto& u : r.units) {
        for (const auto& p : u.problems) {
            if (p.level == level) {
                shown.push_back(p.text);
            }
        }
    }
    std::string text;
    if (shown.empty()) {
        std::size_t addresses = 0;
        for (const auto& u : r.units) {
            addresses += u.addresses.size();
        }
        text = std::to_string(r.units.size()) + " unit(s), " + std::to_string(addresses) +
               " address check(s) DANE-verified";
    } else {
        for (const auto& s : shown) {
            text += (text.empty() ? "" : "; ") + s;
        }
    }
    // Perfdata: 'label'=value[UOM];warn;crit (Nagios plugin guidelines).
    std::string perf;
    const auto day = [](seconds s) { return number(static_cast<double>(s.count()) / 86400.0); };
    for (const auto& u : r.units) {
        const std::string who = u.service + "/" + u.algorithm;
        if (u.cert_not_after) {
            perf += " '" + who + " cert_days'=" + number(days(*u.cert_not_after, r.at)) + ";" +
                    day(t.cert_warning) + ";" + day(t.cert_critical);
        }
        if (u.last_success) {
            perf += " '" + who + " tick_age'=" +
                    std::to_string(
                        std::chrono::duration_cast<seconds>(r.at - *u.last_success).count()) +
                    "s;" + std::to_string(t.tick_warning.count()) + ";" +
                    std::to_string(t.tick_critical.count());
        }
    }
    for (const auto& d : r.dns) {
        if (d.earliest_signature_expiry) {
            perf += " '" + d.service +
                    " rrsig_days'=" + number(days(*d.earliest_signature_expiry, r.at)) + ";" +
                    day(t.signature_warning) + ";" + day(t.signature_critical);
        }
    }
    return "DANEROLL " + std::string(to_string(level)) + " - " + text +
           (perf.empty() ? "" : " |" + perf);
}

std::string prometheus_text(const HealthReport& r) {
    std::ostringstream out;
    const auto ts = [](TimePoint t) {
        return std::to_string(std::chrono::duration_cast<seconds>(t.time_since_epoch()).count());
    };
    out << "# HELP daneroll_probe_verified 1 if the address presents a chain matching the "
           "published TLSA records (RFC 7672).\n# TYPE daneroll_probe_verified gauge\n";
    for (const auto& u : r.units) {
        for (const auto& a : u.addresses) {
            out << "daneroll_probe_verified{service=\"" << label(u.service) << "\",algorithm=\""
                << label(u.algorithm) << "\",address=\"" << label(a.address) << "\"} "
                << (a.verified ? 1 : 0) << '\n';
        }
    }
    out << "# HELP daneroll_certificate_expiry_timestamp_seconds notAfter of the deployed "
           "certificate.\n# TYPE daneroll_certificate_expiry_timestamp_seconds gauge\n";
    for (const auto& u : r.units) {
        if (u.cert_not_after) {
            out << "daneroll_certificate_expiry_timestamp_seconds{service=\"" << label(u.service)
                << "\",algorithm=\"" << label(u.algorithm) << "\"} " << ts(*u.cert_not_after)
                << '\n';
        }
    }
    out << "# HELP daneroll_phase 1 for the unit's current rollover phase.\n"
           "# TYPE daneroll_phase gauge\n";
    for (const auto& u : r.units) {
        out << "daneroll_phase{service=\"" << label(u.service) << "\",algorithm=\""
            << label(u.algorithm) << "\",phase=\"" << label(u.phase) << "\"} 1\n";
    }
    out << "# HELP daneroll_seconds_since_last_success Seconds since the last tick that "
           "finished without an error.\n# TYPE daneroll_seconds_since_last_success gauge\n";
    for (const auto& u : r.units) {
        if (u.last_success) {
            out << "daneroll_seconds_since_last_success{service=\"" << label(u.service)
                << "\",algorithm=\"" << label(u.algorithm) << "\"} "
                << std::chrono::duration_cast<seconds>(r.at - *u.last_success).count() << '\n';
        }
    }
    out << "# HELP daneroll_records_published TLSA records this unit publishes or relies on.\n"
           "# TYPE daneroll_records_published gauge\n";
    for (const auto& u : r.units) {
        out << "daneroll_records_published{service=\"" << label(u.service) << "\",algorithm=\""
            << label(u.algorithm) << "\"} " << u.records_owned << '\n';
    }
    out << "# HELP daneroll_dns_servers_agree 1 if every authoritative server serves the same "
           "TLSA RRset.\n# TYPE daneroll_dns_servers_agree gauge\n";
    for (const auto& d : r.dns) {
        out << "daneroll_dns_servers_agree{service=\"" << label(d.service) << "\"} "
            << (d.servers_agree ? 1 : 0) << '\n';
    }
    out << "# HELP daneroll_dns_secure 1 if the validating resolver answers the TLSA RRset "
           "securely.\n# TYPE daneroll_dns_secure gauge\n";
    for (const auto& d : r.dns) {
        out << "daneroll_dns_secure{service=\"" << label(d.service) << "\"} "
            << (d.security == "secure" ? 1 : 0) << '\n';
    }
    out << "# HELP daneroll_rrsig_expiry_timestamp_seconds Earliest expiry of the TLSA RRSIGs "
           "served.\n# TYPE daneroll_rrsig_expiry_timestamp_seconds gauge\n";
    for (const auto& d : r.dns) {
        if (d.earliest_signature_expiry) {
            out << "daneroll_rrsig_expiry_timestamp_seconds{service=\"" << label(d.service)
                << "\"} " << ts(*d.earliest_signature_expiry) << '\n';
        }
    }
    out << "# HELP daneroll_check_level The overall level: 0 OK, 1 WARNING, 2 CRITICAL, 3 "
           "UNKNOWN.\n# TYPE daneroll_check_level gauge\ndaneroll_check_level "
        << static_cast<int>(r.level()) << '\n';
    return out.str();
}

}  // namespace daneroll::monitor
