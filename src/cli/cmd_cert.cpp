// `daneroll cert selfsign`: a self-signed certificate for an existing key,
// enough for DANE-EE (3 1 1), which ignores the issuer and names.
#include <chrono>
#include <iostream>

#include "commands.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/crypto/certificate_builder.hpp"
#include "daneroll/tlsa/record.hpp"
#include "exit_codes.hpp"

namespace daneroll::cli {

namespace {

struct SelfsignOptions {
    std::string key;
    std::vector<std::string> names;
    int days = 365;
    std::string out;
    bool force = false;
};

int run_selfsign(const SelfsignOptions& o) {
    std::vector<std::string> names;
    for (const auto& n : o.names) {
        names.push_back(normalize_host_name(n, "--name"));
    }
    const PrivateKey key = PrivateKey::load_file(o.key);
    const Certificate cert = make_self_signed(key, names, o.days, std::chrono::system_clock::now());
    write_file_atomic(o.out, cert.to_pem(), 0644, o.force ? Overwrite::Yes : Overwrite::No);
    std::cout << "wrote self-signed certificate for " << names.front() << " (" << key.description()
              << ", " << o.days << " days) to " << o.out << '\n';
    return kExitOk;
}

}  // namespace

void add_cert_commands(CLI::App& app, Action& action) {
    auto* cmd = app.add_subcommand("cert", "Certificate utilities");
    cmd->require_subcommand(1);
    auto opts = std::make_shared<SelfsignOptions>();
    auto* selfsign =
        cmd->add_subcommand("selfsign", "Make a self-signed server certificate for a key");
    selfsign->add_option("--key", opts->key, "The private key")->required();
    selfsign->add_option("--name", opts->names, "DNS name(s), the MX host name first")->required();
    selfsign->add_option("--days", opts->days, "Validity in days")
        ->check(CLI::Range(1, 36500))
        ->default_val(365);
    selfsign->add_option("--out", opts->out, "Where to write the certificate (PEM)")->required();
    selfsign->add_flag("--force", opts->force, "Replace an existing file");
    selfsign->callback([&action, opts] { action = [opts] { return run_selfsign(*opts); }; });
}

}  // namespace daneroll::cli
