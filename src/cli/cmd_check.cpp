// `daneroll check`: a Nagios/Icinga plugin (exit 0 OK, 1 WARNING,
// 2 CRITICAL, 3 UNKNOWN; one status line with perfdata, then details) and,
// with --prometheus, node-exporter textfile metrics written atomically.
#include <nlohmann/json.hpp>

#include <iostream>

#include "commands.hpp"
#include "daneroll/common/duration.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/monitor/health.hpp"

namespace daneroll::cli {

namespace {

struct CheckOptions {
    std::string config = config::kDefaultConfigPath;
    std::string service;
    bool json = false;
    std::string prometheus;
    std::string cert_warning = "14d";
    std::string cert_critical = "3d";
    std::string signature_warning = "3d";
    std::string signature_critical = "1d";
    std::string tick_warning = "2h";
    std::string tick_critical = "6h";
};

std::chrono::seconds duration_option(const std::string& name, const std::string& value) {
    const auto d = parse_duration(value);
    if (!d) {
        fail(ErrorKind::Input, "--" + name + " '" + value + "' is not a duration (e.g. 14d)");
    }
    return *d;
}

nlohmann::json problems_json(const std::vector<monitor::Problem>& ps) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : ps) {
        out.push_back({{"level", monitor::to_string(p.level)}, {"text", p.text}});
    }
    return out;
}

nlohmann::json report_json(const monitor::HealthReport& r) {
    nlohmann::json dns = nlohmann::json::array();
    for (const auto& d : r.dns) {
        dns.push_back(
            {{"service", d.service},
             {"owner", d.owner},
             {"security", d.security},
             {"servers", d.servers},
             {"servers_agree", d.servers_agree},
             {"records", d.records},
             {"earliest_signature_expiry",
              d.earliest_signature_expiry ? nlohmann::json(format_utc(*d.earliest_signature_expiry))
                                          : nlohmann::json(nullptr)},
             {"problems", problems_json(d.problems)}});
    }
    nlohmann::json units = nlohmann::json::array();
    for (const auto& u : r.units) {
        nlohmann::json addresses = nlohmann::json::array();
        for (const auto& a : u.addresses) {
            addresses.push_back({{"address", a.address},
                                 {"verified", a.verified},
                                 {"status", a.status},
                                 {"reason", a.reason}});
        }
        units.push_back(
            {{"service", u.service},
             {"algorithm", u.algorithm},
             {"phase", u.phase},
             {"certificate_not_after", u.cert_not_after
                                           ? nlohmann::json(format_utc(*u.cert_not_after))
                                           : nlohmann::json(nullptr)},
             {"last_success", u.last_success ? nlohmann::json(format_utc(*u.last_success))
                                             : nlohmann::json(nullptr)},
             {"records", u.records_owned},
             {"addresses", addresses},
             {"problems", problems_json(u.problems)}});
    }
    return {{"level", monitor::to_string(r.level())},
            {"exit_code", static_cast<int>(r.level())},
            {"dns", dns},
            {"units", units}};
}

int run_check(const CheckOptions& o) {
    try {
        monitor::Thresholds t;
        t.cert_warning = duration_option("cert-warning", o.cert_warning);
        t.cert_critical = duration_option("cert-critical", o.cert_critical);
        t.signature_warning = duration_option("signature-warning", o.signature_warning);
        t.signature_critical = duration_option("signature-critical", o.signature_critical);
        t.tick_warning = duration_option("tick-warning", o.tick_warning);
        t.tick_critical = duration_option("tick-critical", o.tick_critical);
        const auto report = monitor::assess(config::load_config(o.config), t, o.service);
        if (!o.prometheus.empty()) {
            // Atomic, so node-exporter never reads half a file.
            write_file_atomic(o.prometheus, monitor::prometheus_text(report), 0644, Overwrite::Yes);
        }
        if (o.json) {
            std::cout << report_json(report).dump(2) << '\n';
        } else {
            std::cout << monitor::nagios_line(report, t) << '\n';
            for (const auto& d : report.dns) {
                for (const auto& p : d.problems) {
                    std::cout << monitor::to_string(p.level) << ": " << p.text << '\n';
                }
            }
            for (const auto& u : report.units) {
                for (const auto& p : u.problems) {
                    std::cout << monitor::to_string(p.level) << ": " << p.text << '\n';
                }
            }
        }
        return static_cast<int>(report.level());
    } catch (const std::exception& e) {
        // A plugin that cannot judge says UNKNOWN, never OK.
        std::cout << "DANEROLL UNKNOWN - " << e.what() << '\n';
        return static_cast<int>(monitor::Level::Unknown);
    }
}

}  // namespace

void add_check_command(CLI::App& app, Action& action) {
    auto o = std::make_shared<CheckOptions>();
    auto* cmd = app.add_subcommand(
        "check",
        "Monitoring plugin (Nagios/Icinga exit codes 0-3, perfdata; --prometheus): "
        "every MX address DANE-verified, servers agree, nothing near expiry, ticks recent");
    cmd->add_option("-c,--config", o->config, "The configuration file")
        ->default_val(config::kDefaultConfigPath);
    cmd->add_option("--service", o->service, "Only this service");
    cmd->add_flag("--json", o->json, "Print JSON instead of the plugin output");
    cmd->add_option("--prometheus", o->prometheus,
                    "Also write node-exporter textfile metrics to this file (atomically)");
    cmd->add_option("--cert-warning", o->cert_warning, "Certificate expiry warning")
        ->default_val("14d");
    cmd->add_option("--cert-critical", o->cert_critical, "Certificate expiry critical")
        ->default_val("3d");
    cmd->add_option("--signature-warning", o->signature_warning, "RRSIG expiry warning")
        ->default_val("3d");
    cmd->add_option("--signature-critical", o->signature_critical, "RRSIG expiry critical")
        ->default_val("1d");
    cmd->add_option("--tick-warning", o->tick_warning, "Age of the last successful tick: warning")
        ->default_val("2h");
    cmd->add_option("--tick-critical", o->tick_critical,
                    "Age of the last successful tick: critical")
        ->default_val("6h");
    cmd->callback([&action, o] { action = [o] { return run_check(*o); }; });
}

}  // namespace daneroll::cli
