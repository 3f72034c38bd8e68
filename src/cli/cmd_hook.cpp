// `daneroll hook certbot`: certbot's deploy hook. certbot renewed a
// lineage; daneroll checks the new chain (valid now, carries its key, names
// the MX host, renewed for it per RENEWED_DOMAINS), takes key and chain into
// its own state and runs one tick for the affected services. If another
// daneroll holds the lock for longer than --lock-wait, it leaves the renewal
// to the next tick, which reads the lineage itself. The new chain goes live only when the
// deploy rule holds: at once if a published record already covers it (its
// issuer's 2 1 1, or the key's 3 1 1 published long ago), otherwise after
// its own 3 1 1 has been everywhere for 2 x TTL, at a later tick.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "daneroll/common/duration.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/config/config.hpp"
#include "daneroll/rollover/engine.hpp"
#include "exit_codes.hpp"

namespace daneroll::cli {

namespace {

struct HookOptions {
    std::string config = config::kDefaultConfigPath;
    std::string lineage;
    std::string lock_wait = "60s";
};

// RENEWED_DOMAINS as certbot sets it: the names, separated by spaces.
std::optional<std::vector<std::string>> renewed_domains() {
    const char* env = std::getenv("RENEWED_DOMAINS");
    if (env == nullptr || *env == '\0') {
        return std::nullopt;
    }
    std::vector<std::string> out;
    std::istringstream words(env);
    for (std::string w; words >> w;) {
        out.push_back(w);
    }
    return out;
}

// The state lock, waiting for it up to `limit` (polling): certbot runs its
// hooks at its own times, which may fall on a daneroll tick.
std::optional<rollover::StateLock> acquire_within(const std::filesystem::path& state_dir,
                                                  std::chrono::seconds limit,
                                                  std::string& last_error) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        try {
            return rollover::StateLock::acquire(state_dir);
        } catch (const rollover::LockedError& e) {
            last_error = e.what();
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
}

int run_certbot_hook(const HookOptions& o) {
    std::string lineage = o.lineage;
    if (lineage.empty()) {
        const char* env = std::getenv("RENEWED_LINEAGE");
        if (env == nullptr || *env == '\0') {
            fail(ErrorKind::Input,
                 "RENEWED_LINEAGE is not set: run this as certbot's deploy "
                 "hook, or give --lineage /etc/letsencrypt/live/NAME");
        }
        lineage = env;
    }
    const auto wait = parse_duration(o.lock_wait);
    if (!wait) {
        fail(ErrorKind::Input, "--lock-wait '" + o.lock_wait + "' is not a duration");
    }
    rollover::Engine engine(config::load_config(o.config));
    if (!engine.takes_lineage(lineage)) {
        fail(ErrorKind::Input, "no service with source type \"certbot\" has lineage " + lineage +
                                   " in " + engine.config().file.string());
    }
    std::string busy;
    const auto lock = acquire_within(engine.config().global.state_dir, *wait, busy);
    if (!lock) {
        // Nothing is lost: every tick of a certbot-sourced unit also looks
        // at its lineage and takes a renewal it finds there.
        std::cout << "daneroll: " << busy << " (waited " << format_duration(*wait)
                  << "); not handing the renewed certificate over now: the next 'daneroll run' "
                     "takes it from "
                  << lineage << " itself\n";
        return kExitOk;
    }
    if (!busy.empty()) {
        std::cout << "daneroll: waited for another daneroll to finish (" << busy << ")\n";
    }
    const auto result = engine.hand_over(lineage, renewed_domains());
    for (const auto& s : result.skipped) {
        std::cout << "daneroll: " << s << '\n';
    }
    for (const auto& r : result.refused) {
        std::cerr << "daneroll: " << r << '\n';
    }
    std::vector<std::string> services;
    for (const auto& unit : result.took) {
        std::cout << "daneroll: took the renewed certificate of " << lineage << " for " << unit
                  << '\n';
        const std::string service = unit.substr(0, unit.find('/'));
        if (std::find(services.begin(), services.end(), service) == services.end()) {
            services.push_back(service);
        }
    }
    for (const auto& service : services) {
        for (const auto& u : engine.tick(false, service).units) {
            std::cout << u.service << "/" << u.algorithm << ": " << rollover::to_string(u.phase);
            if (!u.waiting_for.empty()) {
                std::cout << " (" << u.waiting_for << ")";
            }
            std::cout << '\n';
            for (const auto& d : u.done) {
                std::cout << "  did: " << d << '\n';
            }
            for (const auto& w : u.warnings) {
                std::cout << "  warning: " << w << '\n';
            }
            if (!u.error.empty()) {
                std::cout << "  ERROR: " << u.error << '\n';
            }
        }
    }
    // certbot only logs a hook's failure; "waiting" is the normal outcome
    // when the new chain needs its own record first, so it is success here.
    // A chain refused as invalid is a failure certbot should log as one.
    return result.refused.empty() ? kExitOk : kExitFailed;
}

}  // namespace

void add_hook_commands(CLI::App& app, Action& action) {
    auto* cmd = app.add_subcommand("hook", "Hooks for other tools");
    cmd->require_subcommand(1);
    auto opts = std::make_shared<HookOptions>();
    auto* certbot = cmd->add_subcommand(
        "certbot",
        "certbot's deploy hook: take the renewed key and chain (RENEWED_LINEAGE) and "
        "deploy it when the deploy rule holds");
    certbot->add_option("-c,--config", opts->config, "The configuration file")
        ->default_val(config::kDefaultConfigPath);
    certbot->add_option("--lineage", opts->lineage,
                        "The lineage directory (default: $RENEWED_LINEAGE)");
    certbot
        ->add_option("--lock-wait", opts->lock_wait,
                     "Wait this long for another daneroll to finish (e.g. 60s); then leave the "
                     "renewal to the next 'daneroll run', which reads the lineage itself")
        ->default_val("60s");
    certbot->callback([&action, opts] { action = [opts] { return run_certbot_hook(*opts); }; });
}

}  // namespace daneroll::cli
