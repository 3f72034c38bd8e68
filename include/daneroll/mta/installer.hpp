// Installs a key and chain where the MTA reads them, atomically, keeping
// the previous files as a backup for rollback; reloads the MTA with an
// argument vector (never a shell). One installer serves Postfix, Exim and
// the generic command MTA: they differ only in file layout and commands,
// which come from the configuration.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "daneroll/config/config.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "daneroll/crypto/key.hpp"

namespace daneroll::mta {

struct Installed {
    std::string chain_pem;  // normalised PEM of the chain, leaf first
    std::optional<PrivateKey> key;
};

class Installer {
  public:
    Installer(const config::Service& service, KeyAlgorithm algorithm);

    // What the MTA's files hold now; nullopt if they do not exist. Throws
    // Error(Input) naming the file if it exists but cannot be parsed.
    [[nodiscard]] std::optional<Installed> read_installed() const;

    // Writes key and chain into place. The files being replaced are first
    // copied to "<file><backup_suffix>" (unless the live files already hold
    // exactly this key and chain: then nothing changes, so a retried deploy
    // never overwrites the backup with the new chain). For the command MTA,
    // runs the install command afterwards.
    void install(const PrivateKey& key, const std::vector<Certificate>& chain) const;

    // Puts the backup back in place (and, for the command MTA, runs the
    // install command again); false if there is no backup.
    bool restore_backup() const;

    // Runs the reload command, if any; throws Error(Io) with its output.
    void reload() const;

    [[nodiscard]] std::vector<std::string> live_files() const;

  private:
    void run_install_command() const;

    std::string service_id_;
    KeyAlgorithm algorithm_;
    config::Mta mta_;
    std::string combined_;
    std::string key_file_;
    std::string chain_file_;
};

// PEM of a chain exactly as daneroll stores and compares it.
std::string normalized_chain_pem(const std::string& pem, const std::string& source);

}  // namespace daneroll::mta
