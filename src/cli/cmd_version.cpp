#include <openssl/opensslv.h>

#include <iostream>

#include "commands.hpp"
#include "daneroll/version.hpp"
#include "exit_codes.hpp"

namespace daneroll::cli {

void add_version_command(CLI::App& app, Action& action) {
    auto* cmd = app.add_subcommand("version", "Print the version of daneroll and its libraries");
    cmd->callback([&action] {
        action = [] {
            std::cout << "daneroll " << kVersion << " (OpenSSL " << OPENSSL_VERSION_STR << ")\n";
            return kExitOk;
        };
    });
}

}  // namespace daneroll::cli
