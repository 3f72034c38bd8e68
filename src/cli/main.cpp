// daneroll: DANE-safe certificate rollover for mail servers.
#include <openssl/ssl.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "commands.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/rollover/state_store.hpp"
#include "exit_codes.hpp"

namespace {

int exit_code_for(daneroll::ErrorKind kind) {
    using daneroll::ErrorKind;
    switch (kind) {
        case ErrorKind::Input:
            return daneroll::cli::kExitUsage;
        case ErrorKind::Config:
            return daneroll::cli::kExitConfig;
        case ErrorKind::Internal:
            return daneroll::cli::kExitInternal;
        case ErrorKind::Io:
        case ErrorKind::Crypto:
        case ErrorKind::Network:
        case ErrorKind::Safety:
            return daneroll::cli::kExitFailed;
    }
    return daneroll::cli::kExitInternal;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "daneroll rolls over the TLS certificates of mail servers that publish DANE TLSA "
        "records, without breaking mail delivery.",
        "daneroll"};
    app.require_subcommand(1);
    app.fallthrough(false);
    app.footer("See daneroll(8) and https://www.rfc-editor.org/rfc/rfc7672 for the rules.");

    daneroll::cli::Action action;
    daneroll::cli::add_version_command(app, action);
    daneroll::cli::add_tlsa_commands(app, action);
    daneroll::cli::add_keygen_command(app, action);
    daneroll::cli::add_cert_commands(app, action);
    daneroll::cli::add_config_commands(app, action);
    daneroll::cli::add_probe_command(app, action);
    daneroll::cli::add_dns_commands(app, action);
    daneroll::cli::add_rollover_commands(app, action);
    daneroll::cli::add_demo_command(app, action);
    daneroll::cli::add_acme_commands(app, action);
    daneroll::cli::add_hook_commands(app, action);
    daneroll::cli::add_check_command(app, action);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? daneroll::cli::kExitOk : daneroll::cli::kExitUsage;
    }
    try {
        OPENSSL_init_ssl(0, nullptr);
        return action ? action() : daneroll::cli::kExitUsage;
    } catch (const daneroll::rollover::LockedError& e) {
        std::cerr << "daneroll: " << e.what() << '\n';
        return daneroll::cli::kExitLocked;
    } catch (const daneroll::Error& e) {
        std::cerr << "daneroll: " << e.what() << '\n';
        return exit_code_for(e.kind());
    } catch (const std::exception& e) {
        std::cerr << "daneroll: internal error: " << e.what() << '\n';
        return daneroll::cli::kExitInternal;
    }
}
