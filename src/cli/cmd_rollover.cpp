// The rollover commands: run (one tick, or --wait until stable), plan,
// status, rotate and init. Human output by default, --json for Ansible and
// monitoring.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <iostream>
#include <thread>

#include "commands.hpp"
#include "daneroll/common/duration.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "daneroll/rollover/engine.hpp"
#include "exit_codes.hpp"

namespace daneroll::cli {

namespace {

using rollover::Engine;
using rollover::TickReport;
using rollover::UnitReport;

struct RolloverOptions {
    std::string config = config::kDefaultConfigPath;
    std::string service;
    bool json = false;
    bool wait = false;
    bool no_take_over = false;
    bool adopt_only = false;
    std::string timeout = "2h";
};

nlohmann::json unit_json(const UnitReport& u) {
    nlohmann::json j{{"service", u.service},   {"algorithm", u.algorithm},
                     {"host", u.host},         {"phase", rollover::to_string(u.phase)},
                     {"done", u.done},         {"planned", u.planned},
                     {"progress", u.progress}, {"waiting_for", u.waiting_for},
                     {"warnings", u.warnings}, {"error", u.error}};
    j["wake_at"] = u.wake_at ? nlohmann::json(format_utc(*u.wake_at)) : nlohmann::json(nullptr);
    return j;
}

// A unit's report for people, as much of it as `level` ([daneroll]
// log_level) asks for: info and debug show everything; warn only units with
// a warning or an error, and only those lines; error only errors and failed
// units. A quiet tick at warn or error prints nothing, so cron mails or
// logs nothing.
void print_unit(const UnitReport& u, config::LogLevel level = config::LogLevel::Info) {
    const bool failed = u.phase == rollover::Phase::Failed ||
                        u.phase == rollover::Phase::Unmanaged || !u.error.empty();
    const bool verbose = level == config::LogLevel::Info || level == config::LogLevel::Debug;
    const bool warnings = level != config::LogLevel::Error && !u.warnings.empty();
    if (!verbose && !failed && !warnings) {
        return;
    }
    std::cout << u.service << "/" << u.algorithm << " (" << u.host
              << "): " << rollover::to_string(u.phase) << '\n';
    if (verbose) {
        for (const auto& d : u.progress) {
            std::cout << "  saw: " << d << '\n';
        }
        for (const auto& d : u.done) {
            std::cout << "  did: " << d << '\n';
        }
        for (const auto& p : u.planned) {
            std::cout << "  would: " << p << '\n';
        }
    }
    if (!u.waiting_for.empty() && (verbose || failed)) {
        std::cout << "  " << u.waiting_for << '\n';
    }
    if (level != config::LogLevel::Error) {
        for (const auto& w : u.warnings) {
            std::cout << "  warning: " << w << '\n';
        }
    }
    if (!u.error.empty()) {
        std::cout << "  ERROR: " << u.error << '\n';
    }
}

// `run`: 0 once every unit is stable with nothing to do now; `run --wait`
// (settled_only): 0 only once every record is everywhere as well. A failed
// or unmanaged unit needs the operator (1); a due unit waiting for certbot
// to deliver is waiting (4), like one waiting for 2 x TTL.
int exit_code(const TickReport& r, bool settled_only = false) {
    const bool error = std::any_of(r.units.begin(), r.units.end(),
                                   [](const UnitReport& u) { return !u.error.empty(); });
    if (r.any_failed() || error || r.any_unmanaged()) {
        return kExitFailed;
    }
    if (r.any_awaiting_delivery()) {
        return kExitWaiting;
    }
    return (settled_only ? r.all_settled() : r.all_stable()) ? kExitOk : kExitWaiting;
}

void print_report(const TickReport& r, bool json, config::LogLevel level = config::LogLevel::Info) {
    if (json) {
        nlohmann::json units = nlohmann::json::array();
        for (const auto& u : r.units) {
            units.push_back(unit_json(u));
        }
        const auto wake = r.next_wake();
        std::cout << nlohmann::json{{"changed", r.changed()},
                                    {"stable", r.all_stable()},
                                    {"settled", r.all_settled()},
                                    {"failed", r.any_failed()},
                                    {"next_wake", wake ? nlohmann::json(format_utc(*wake))
                                                       : nlohmann::json(nullptr)},
                                    {"units", units}}
                         .dump(2)
                  << '\n';
        return;
    }
    for (const auto& u : r.units) {
        print_unit(u, level);
    }
}

TickReport locked_tick(Engine& engine, const std::string& service) {
    const auto lock = rollover::StateLock::acquire(engine.config().global.state_dir);
    return engine.tick(false, service);
}

int run_run(const RolloverOptions& o) {
    Engine engine(config::load_config(o.config));
    if (!o.wait) {
        const auto report = locked_tick(engine, o.service);
        print_report(report, o.json, engine.config().global.log_level);
        return exit_code(report);
    }
    const auto limit = parse_duration(o.timeout);
    if (!limit) {
        fail(ErrorKind::Input, "--timeout '" + o.timeout + "' is not a duration");
    }
    const bool tty = ::isatty(STDOUT_FILENO) == 1 && !o.json;
    const auto deadline = std::chrono::system_clock::now() + *limit;
    TickReport report;
    // Bounded: every round either finishes, or sleeps until the next wake-up
    // (at most 30 s), and the whole loop ends at the deadline.
    for (int round = 0; round < 100000; ++round) {
        report = locked_tick(engine, o.service);
        if (!o.json) {
            for (const auto& u : report.units) {
                if (!u.done.empty() || !u.progress.empty() || !u.error.empty() || round == 0) {
                    if (tty) {
                        std::cout << "\r\033[K";
                    }
                    print_unit(u);
                }
            }
        }
        if (report.all_settled() || report.any_failed()) {
            break;
        }
        const auto now = std::chrono::system_clock::now();
        if (now >= deadline) {
            std::cerr << "daneroll: --timeout reached while waiting\n";
            break;
        }
        auto wake = report.next_wake().value_or(now + std::chrono::seconds(5));
        wake =
            std::clamp(wake, now + std::chrono::milliseconds(200), now + std::chrono::seconds(30));
        wake = std::min(wake, deadline);
        std::string waiting;
        for (const auto& u : report.units) {
            if (!u.settled()) {
                waiting = u.service + "/" + u.algorithm + ": " + u.waiting_for;
                break;
            }
        }
        if (!tty && !o.json) {
            std::cout << "waiting: " << waiting << '\n' << std::flush;
        }
        while (std::chrono::system_clock::now() < wake) {
            if (tty) {
                const auto left = std::chrono::duration_cast<std::chrono::seconds>(
                    wake - std::chrono::system_clock::now());
                std::cout << "\r\033[K  next check in " << format_duration(left) << " — " << waiting
                          << std::flush;
            }
            std::this_thread::sleep_for(std::min<std::chrono::system_clock::duration>(
                std::chrono::seconds(1), wake - std::chrono::system_clock::now()));
        }
    }
    if (tty) {
        std::cout << "\r\033[K";
    }
    if (o.json) {
        print_report(report, true);
    } else {
        std::cout << (report.any_failed()      ? "a service FAILED; see 'daneroll status'\n"
                      : report.any_unmanaged() ? "a service is not managed yet: run 'daneroll "
                                                 "init'\n"
                      : report.any_awaiting_delivery()
                          ? "a rollover is due and waits for certbot to deliver a renewed "
                            "chain (daneroll hook certbot)\n"
                      : report.all_settled() ? "all services are stable\n"
                                             : "still waiting; run again later\n");
    }
    return exit_code(report, true);
}

int run_plan(const RolloverOptions& o) {
    Engine engine(config::load_config(o.config));
    const auto report = engine.tick(true, o.service);
    print_report(report, o.json);
    return kExitOk;
}

int run_status(const RolloverOptions& o) {
    Engine engine(config::load_config(o.config));
    nlohmann::json units = nlohmann::json::array();
    for (const auto& s : engine.states()) {
        if (!o.service.empty() && s.service != o.service) {
            continue;
        }
        nlohmann::json records = nlohmann::json::array();
        for (const auto& r : s.records) {
            records.push_back({{"record", r.record.to_string()},
                               {"role", rollover::to_string(r.role)},
                               {"created_by_daneroll", r.created},
                               {"everywhere_since",
                                r.everywhere_since ? nlohmann::json(format_utc(*r.everywhere_since))
                                                   : nlohmann::json(nullptr)}});
        }
        nlohmann::json deployed = nullptr;
        if (!s.deployed_chain_pem.empty()) {
            const auto chain = parse_certificates(s.deployed_chain_pem, "state");
            deployed = {{"subject", chain.front().subject()},
                        {"issuer", chain.front().issuer()},
                        {"not_after", format_utc(chain.front().not_after())},
                        {"key", s.current_key ? s.current_key->id : ""},
                        {"spki_sha256", s.current_key ? s.current_key->spki_sha256 : ""}};
        }
        nlohmann::json advice = nullptr;
        if (s.renewal_advice) {
            const auto& a = *s.renewal_advice;
            advice = {{"window_start", format_utc(a.window_start)},
                      {"window_end", format_utc(a.window_end)},
                      {"renew_at", format_utc(a.renew_at)},
                      {"explanation_url", a.explanation_url}};
        }
        units.push_back(
            {{"service", s.service},
             {"algorithm", s.algorithm},
             {"phase", rollover::to_string(s.phase)},
             {"deployed", deployed},
             {"next_key", s.next_key ? nlohmann::json(s.next_key->id) : nlohmann::json(nullptr)},
             {"records", records},
             {"waiting_for", s.waiting_for},
             {"next_wake",
              s.next_wake ? nlohmann::json(format_utc(*s.next_wake)) : nlohmann::json(nullptr)},
             {"ca_renewal", advice},
             {"failure", s.failure},
             {"warnings", s.source_warnings},
             {"rotate_requested", s.rotate_requested}});
    }
    if (o.json) {
        std::cout << nlohmann::json{{"units", units}}.dump(2) << '\n';
        return kExitOk;
    }
    for (const auto& u : units) {
        std::cout << u["service"].get<std::string>() << "/" << u["algorithm"].get<std::string>()
                  << ": " << u["phase"].get<std::string>() << '\n';
        if (!u["deployed"].is_null()) {
            std::cout << "  serving   " << u["deployed"]["subject"].get<std::string>()
                      << ", expires " << u["deployed"]["not_after"].get<std::string>() << '\n'
                      << "            key SPKI SHA-256 "
                      << u["deployed"]["spki_sha256"].get<std::string>() << '\n';
        }
        if (!u["ca_renewal"].is_null()) {
            std::cout << "  renewal   the CA suggests "
                      << u["ca_renewal"]["window_start"].get<std::string>() << " to "
                      << u["ca_renewal"]["window_end"].get<std::string>() << " (RFC 9773); at "
                      << u["ca_renewal"]["renew_at"].get<std::string>() << '\n';
        }
        if (!u["next_key"].is_null()) {
            std::cout << "  next key  " << u["next_key"].get<std::string>() << '\n';
        }
        for (const auto& r : u["records"]) {
            std::cout << "  record    " << r["record"].get<std::string>().substr(0, 24) << "… "
                      << r["role"].get<std::string>() << ", "
                      << (r["everywhere_since"].is_null()
                              ? std::string("not yet everywhere")
                              : "everywhere since " + r["everywhere_since"].get<std::string>())
                      << '\n';
        }
        if (!u["waiting_for"].get<std::string>().empty()) {
            std::cout << "  " << u["waiting_for"].get<std::string>() << '\n';
        }
        if (!u["next_wake"].is_null()) {
            std::cout << "  next tick with work: " << u["next_wake"].get<std::string>() << '\n';
        }
        if (!u["failure"].get<std::string>().empty()) {
            std::cout << "  FAILED: " << u["failure"].get<std::string>() << '\n';
        }
        for (const auto& w : u["warnings"]) {
            std::cout << "  warning: " << w.get<std::string>() << '\n';
        }
    }
    return kExitOk;
}

int run_rotate(const RolloverOptions& o) {
    Engine engine(config::load_config(o.config));
    const auto lock = rollover::StateLock::acquire(engine.config().global.state_dir);
    engine.request_rotation(o.service);
    std::cout << "rotation of " << o.service
              << " requested; it starts at the next 'daneroll run'\n";
    return kExitOk;
}

int run_init(const RolloverOptions& o) {
    Engine engine(config::load_config(o.config));
    const auto lock = rollover::StateLock::acquire(engine.config().global.state_dir);
    auto units = engine.init(o.service, !o.no_take_over);
    for (const auto& u : units) {
        if (o.json) {
            continue;
        }
        std::cout << u.service << "/" << u.algorithm << ": "
                  << (u.done.empty() ? "" : u.done.front()) << '\n';
        for (const auto& w : u.warnings) {
            std::cout << "  note: " << w << '\n';
        }
    }
    bool tick_failed = false;
    if (!o.adopt_only) {
        // Take over from here in the same breath: the first tick publishes
        // the adopted key's record (if it is missing) and the next key's.
        std::vector<std::string> services;
        for (const auto& u : units) {
            if (u.phase != rollover::Phase::Unmanaged &&
                std::find(services.begin(), services.end(), u.service) == services.end()) {
                services.push_back(u.service);
            }
        }
        for (const auto& service : services) {
            for (const auto& t : engine.tick(false, service).units) {
                tick_failed = tick_failed || !t.error.empty() || t.phase == rollover::Phase::Failed;
                if (!o.json) {
                    print_unit(t, engine.config().global.log_level);
                }
                for (auto& u : units) {
                    if (u.service == t.service && u.algorithm == t.algorithm) {
                        u.done.insert(u.done.end(), t.done.begin(), t.done.end());
                        u.warnings.insert(u.warnings.end(), t.warnings.begin(), t.warnings.end());
                        u.phase = t.phase;
                        u.waiting_for = t.waiting_for;
                        u.wake_at = t.wake_at;
                        u.error = t.error;
                    }
                }
            }
        }
    }
    if (o.json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& u : units) {
            j.push_back(unit_json(u));
        }
        std::cout << j.dump(2) << '\n';
    } else if (o.adopt_only) {
        std::cout << "now run 'daneroll run' to publish the records and the next key\n";
    } else if (tick_failed) {
        std::cout << "adopted; the first tick FAILED (see above); 'daneroll run' tries again\n";
    } else {
        std::cout << "adopted; 'daneroll run --wait' (or the timer) carries on from here\n";
    }
    return tick_failed ? kExitFailed : kExitOk;
}

void common_options(CLI::App& cmd, RolloverOptions& o, bool service_required) {
    cmd.add_option("-c,--config", o.config, "The configuration file")
        ->default_val(config::kDefaultConfigPath);
    auto* s = cmd.add_option(service_required ? "service" : "--service", o.service,
                             service_required ? "The service" : "Only this service");
    if (service_required) {
        s->required();
    }
    cmd.add_flag("--json", o.json, "Print JSON");
}

}  // namespace

void add_rollover_commands(CLI::App& app, Action& action) {
    auto run = std::make_shared<RolloverOptions>();
    auto* r =
        app.add_subcommand("run", "One tick: do what is safe now for every service, then exit");
    common_options(*r, *run, false);
    r->add_flag("--wait", run->wait, "Keep ticking until every service is stable");
    r->add_option("--timeout", run->timeout, "With --wait: give up after this long (e.g. 30m)")
        ->default_val("2h");
    r->callback([&action, run] { action = [run] { return run_run(*run); }; });

    auto plan = std::make_shared<RolloverOptions>();
    auto* p = app.add_subcommand("plan", "Show what the next tick would do, changing nothing");
    common_options(*p, *plan, false);
    p->callback([&action, plan] { action = [plan] { return run_plan(*plan); }; });

    auto status = std::make_shared<RolloverOptions>();
    auto* s = app.add_subcommand("status", "Show every service's phase, certificate and records");
    common_options(*s, *status, false);
    s->callback([&action, status] { action = [status] { return run_status(*status); }; });

    auto rotate = std::make_shared<RolloverOptions>();
    auto* ro = app.add_subcommand("rotate", "Start a rollover of SERVICE at the next tick");
    common_options(*ro, *rotate, true);
    ro->callback([&action, rotate] { action = [rotate] { return run_rotate(*rotate); }; });

    auto init = std::make_shared<RolloverOptions>();
    auto* i = app.add_subcommand(
        "init", "Adopt the key and certificate the MTA serves today, then run one tick");
    common_options(*i, *init, false);
    i->add_flag("--no-take-over", init->no_take_over,
                "Leave the current key's record to whoever published it (another machine "
                "serving the same key under the same MX name); it is never retired");
    i->add_flag("--adopt-only", init->adopt_only,
                "Only adopt; leave publishing the records and the next key to the next "
                "'daneroll run'");
    i->callback([&action, init] { action = [init] { return run_init(*init); }; });
}

}  // namespace daneroll::cli
