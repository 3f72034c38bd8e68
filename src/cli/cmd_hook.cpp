// `daneroll hook certbot`: certbot's deploy hook. certbot renewed a
// lineage; daneroll takes the new key and chain into its own state and runs
// one tick for the affected services. The new chain goes live only when the
// deploy rule holds: at once if a published record already covers it (its
// issuer's 2 1 1, or the key's 3 1 1 published long ago), otherwise after
// its own 3 1 1 has been everywhere for 2 x TTL, at a later tick.
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "commands.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/config/config.hpp"
#include "daneroll/rollover/engine.hpp"
#include "exit_codes.hpp"

namespace daneroll::cli {

namespace {

struct HookOptions {
    std::string config = config::kDefaultConfigPath;
    std::string lineage;
};

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
    rollover::Engine engine(config::load_config(o.config));
    const auto lock = rollover::StateLock::acquire(engine.config().global.state_dir);
    const auto took = engine.hand_over(lineage);
    std::vector<std::string> services;
    for (const auto& unit : took) {
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
            if (!u.error.empty()) {
                std::cout << "  ERROR: " << u.error << '\n';
            }
        }
    }
    // certbot only logs a hook's failure; "waiting" is the normal outcome
    // when the new chain needs its own record first, so it is success here.
    return kExitOk;
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
    certbot->callback([&action, opts] { action = [opts] { return run_certbot_hook(*opts); }; });
}

}  // namespace daneroll::cli
