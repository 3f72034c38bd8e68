// `daneroll keygen`: a new private key, 0600, written atomically.
#include <iostream>

#include "commands.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/crypto/key.hpp"
#include "daneroll/tlsa/compute.hpp"
#include "exit_codes.hpp"

namespace daneroll::cli {

namespace {

struct KeygenOptions {
    std::string algorithm;
    std::string out;
    bool force = false;
};

int run_keygen(const KeygenOptions& o) {
    const auto alg = parse_key_algorithm(o.algorithm);
    if (!alg) {
        fail(ErrorKind::Input, "unknown algorithm '" + o.algorithm +
                                   "'; use rsa2048, rsa3072, rsa4096, ecdsa-p256 or ecdsa-p384");
    }
    const std::filesystem::path out(o.out);
    const auto dir = out.has_parent_path() ? out.parent_path() : std::filesystem::path(".");
    ensure_private_directory(dir);
    if (accessible_by_others(dir)) {
        std::cerr << "daneroll: warning: " << dir.string()
                  << " is accessible by group or others; keep private keys in a 0700 directory\n";
    }
    const PrivateKey key = PrivateKey::generate(*alg);
    save_private_key(key, out, o.force ? Overwrite::Yes : Overwrite::No);
    const TlsaRecord r = tlsa_from_spki(tlsa::kDaneEe, key.spki_der(), tlsa::kMatchSha256);
    std::cout << "wrote " << key.description() << " key to " << out.string() << " (mode 0600)\n"
              << "its DANE-EE record: " << r.to_string() << '\n';
    return kExitOk;
}

}  // namespace

void add_keygen_command(CLI::App& app, Action& action) {
    auto opts = std::make_shared<KeygenOptions>();
    auto* cmd = app.add_subcommand("keygen", "Generate a private key (PEM, mode 0600, atomic)");
    cmd->add_option("--algorithm", opts->algorithm,
                    "rsa2048, rsa3072, rsa4096, ecdsa-p256 or ecdsa-p384")
        ->required();
    cmd->add_option("--out", opts->out, "Where to write the key")->required();
    cmd->add_flag("--force", opts->force, "Replace an existing file");
    cmd->callback([&action, opts] { action = [opts] { return run_keygen(*opts); }; });
}

}  // namespace daneroll::cli
