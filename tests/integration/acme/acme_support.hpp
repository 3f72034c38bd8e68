// Support for the ACME tests: a real Pebble per test (tests/sandbox/
// pebble-up, on its own loopback address), background helpers (a static
// web server for webroot tests), daneroll configs, and independent checks
// with the openssl command line.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "e2e_support.hpp"

namespace daneroll::acme_test {

using e2e::Ms;
using e2e::ProcResult;

struct PebbleOptions {
    std::string addr;                     // 127.53.30.N
    std::optional<std::string> fake_dns;  // every name resolves to this address
    std::optional<std::string> dns;       // or: this resolver (HOST:PORT)
    std::vector<std::string> env;         // NAME=VALUE for Pebble
    std::optional<std::string> eab;       // KID:KEY
    std::uint16_t http_port = 5002;
};

// A Pebble of one test, stopped (pebble-up --down) on destruction.
class Pebble {
  public:
    Pebble(const std::filesystem::path& dir, PebbleOptions options);
    ~Pebble();
    Pebble(const Pebble&) = delete;
    Pebble& operator=(const Pebble&) = delete;

    [[nodiscard]] std::string directory() const;
    [[nodiscard]] std::filesystem::path ca() const { return dir_ / "ca.pem"; }
    [[nodiscard]] const PebbleOptions& options() const { return options_; }
    // The common name of root `index` (PEBBLE_ALTERNATE_ROOTS), fetched from
    // the management interface.
    [[nodiscard]] std::string root_cn(int index) const;
    // The PEM of root `index`.
    [[nodiscard]] std::string root_pem(int index) const;
    // The PEM of the intermediate that signs the leaves under root `index`
    // (with PEBBLE_CHAIN_LENGTH=N > 1, N - 1 more sit between it and the
    // root, and Pebble publishes none of those).
    [[nodiscard]] std::string intermediate_pem(int index) const;
    [[nodiscard]] std::string log() const;

  private:
    std::filesystem::path dir_;
    PebbleOptions options_;
};

// A program running in the background in its own process group, killed
// (SIGTERM, then SIGKILL) and reaped on destruction.
class Background {
  public:
    Background(const std::vector<std::string>& argv, const std::filesystem::path& log);
    ~Background();
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;
    // Polls until a TCP connection to addr:port succeeds (bounded).
    [[nodiscard]] bool wait_port(const std::string& addr, std::uint16_t port, Ms limit) const;

  private:
    pid_t pid_ = -1;
};

// A fresh directory for the running test (0755, so daemons can enter).
std::filesystem::path fresh_work_dir(const std::string& name);
std::string current_test_name();

// What a daneroll config of these tests holds.
struct ConfigSpec {
    std::filesystem::path state_dir;
    std::string directory;
    std::filesystem::path ca_bundle;
    std::string host = "mx1.example.test";
    std::vector<std::string> names{"mx1.example.test", "mail.example.test"};
    std::string zone = "example.test";
    std::filesystem::path tsig_file;  // empty: a throwaway key is written
    std::string resolver;             // [daneroll] resolver, "" for none
    std::string source;               // lines of [service.mx1.source] after type
    std::optional<std::string> eab_kid;
    std::optional<std::filesystem::path> eab_key_file;
    std::optional<std::string> preferred_chain;
    std::string mta;            // lines of [service.mx1.mta]; default postfix into the work dir
    std::string service_extra;  // more lines of [service.mx1]
    std::string log_level = "info";
};

// Writes the config (0644) into `dir`/daneroll.toml and returns its path.
std::filesystem::path write_config(const std::filesystem::path& dir, const ConfigSpec& spec);

// `daneroll ARGS... -c CONFIG`.
ProcResult daneroll(const std::filesystem::path& config, std::vector<std::string> args,
                    Ms timeout = Ms(120000));

// The public key (PEM) as the openssl command line reads it: from a
// certificate file's first certificate, and from a private key file.
std::string openssl_cert_pubkey(const std::filesystem::path& cert);
std::string openssl_key_pubkey(const std::filesystem::path& key);
// `openssl verify -CAfile root -untrusted chain chain`'s verdict (true: OK).
bool openssl_verifies(const std::filesystem::path& chain, const std::string& root_pem,
                      const std::filesystem::path& scratch);

// HOST:PORT of the sandbox's non-caching resolver that Pebble asks for
// dns-01 (its sandbox.json "acme_resolver").
std::string acme_resolver(const e2e::Sandbox& sb);

// Files (not directories) below `dir`.
std::vector<std::filesystem::path> files_below(const std::filesystem::path& dir);

// True if nothing accepts TCP on addr:port.
bool port_closed(const std::string& addr, std::uint16_t port);

}  // namespace daneroll::acme_test
