// Each subcommand registers its options on the CLI11 app and returns the
// action to run once parsing succeeded.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace daneroll::cli {

// Runs a command; returns the process exit code.
using Action = std::function<int()>;

// Every registrar adds one subcommand to `app` and stores its action in
// `action` when that subcommand is chosen.
void add_version_command(CLI::App& app, Action& action);
void add_tlsa_commands(CLI::App& app, Action& action);
void add_keygen_command(CLI::App& app, Action& action);
void add_cert_commands(CLI::App& app, Action& action);
void add_config_commands(CLI::App& app, Action& action);
void add_probe_command(CLI::App& app, Action& action);
void add_dns_commands(CLI::App& app, Action& action);
void add_rollover_commands(CLI::App& app, Action& action);
void add_demo_command(CLI::App& app, Action& action);
void add_acme_commands(CLI::App& app, Action& action);
void add_hook_commands(CLI::App& app, Action& action);
void add_check_command(CLI::App& app, Action& action);

}  // namespace daneroll::cli
