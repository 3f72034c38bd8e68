// The validated configuration: everything daneroll needs to know about the
// zones it updates, the keys it signs with and the services it rolls.
// docs/configuration.md documents every key; examples/ holds tested configs.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daneroll/crypto/key.hpp"
#include "daneroll/tlsa/record.hpp"

namespace daneroll::config {

inline constexpr const char* kDefaultConfigPath = "/etc/daneroll/daneroll.toml";

enum class LogLevel { Error, Warn, Info, Debug };
enum class Scheme { CurrentNext, CurrentIssuer };
enum class SourceType { Acme, Certbot, Command };
enum class MtaType { Postfix, Exim, Command };
enum class Challenge { Http01, Dns01 };

std::string_view to_string(LogLevel v);
std::string_view to_string(Scheme v);
std::string_view to_string(SourceType v);
std::string_view to_string(MtaType v);
std::string_view to_string(Challenge v);

// "host", "host:port", "[v6]:port" or a bare IPv6 address.
struct Endpoint {
    std::string host;  // a DNS name or an IP address literal
    std::uint16_t port = 53;
    [[nodiscard]] std::string to_string() const;
    [[nodiscard]] bool is_ip_literal() const;
    friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// Parses "host", "host:port", "[v6]:port" or a bare IPv6 literal; nullopt
// with `why` set when malformed.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::uint16_t default_port,
                                       std::string& why);

struct Global {
    std::filesystem::path state_dir = "/var/lib/daneroll";
    LogLevel log_level = LogLevel::Info;
    // The validating resolver (AD bit) for discovery and the validation
    // view; unset: the first nameserver of /etc/resolv.conf.
    std::optional<Endpoint> resolver;
    std::uint32_t default_ttl = 3600;
    std::size_t max_tlsa_records = 12;  // warn above this many records per owner
    std::chrono::seconds dns_timeout{3};
    int dns_retries = 2;
};

struct Acme {
    std::string directory = "https://acme-v02.api.letsencrypt.org/directory";
    std::filesystem::path account_key;  // default: <state_dir>/acme/account.key
    std::vector<std::string> contact;   // "mailto:..."
    bool agree_tos = false;
    std::optional<std::filesystem::path> ca_bundle;
    std::optional<std::string> eab_kid;
    std::optional<std::filesystem::path> eab_hmac_key_file;  // secret
    std::optional<std::string> preferred_chain;              // issuer CN of the top certificate
};

struct TsigKey {
    std::string id;  // the [tsig.<id>] table name
    std::filesystem::path file;
    std::string name;       // DNS key name, from the file (or `name` to pick one of several)
    std::string algorithm;  // "hmac-sha256" | "hmac-sha512"
    std::string secret;     // base64. Secret: never log or print.
};

struct Zone {
    std::string name;      // normalised, no trailing dot
    std::string tsig_key;  // id of a TsigKey
    // Authoritative servers to verify; empty: discover from the NS RRset.
    std::vector<Endpoint> servers;
    // A hidden primary: receives UPDATEs and counts as a server. Unset: the
    // UPDATE goes to the SOA MNAME.
    std::optional<Endpoint> primary;
    int line = 0;
};

struct CertificateSource {
    SourceType type = SourceType::Acme;
    // acme
    Challenge challenge = Challenge::Http01;
    std::optional<std::filesystem::path> webroot;  // http-01: write tokens here
    std::optional<Endpoint> http_listen;           // http-01: built-in listener
    // certbot
    std::optional<std::filesystem::path> lineage;  // /etc/letsencrypt/live/<name>
    // command: argv; {csr}, {chain}, {names}, {algorithm}, {service} are replaced
    std::vector<std::string> command;
};

struct Mta {
    MtaType type = MtaType::Postfix;
    // Path templates; "{algorithm}" becomes e.g. "ecdsa-p256".
    std::string combined_file;  // key then chain in one file (Postfix smtpd_tls_chain_files)
    std::string key_file;
    std::string chain_file;
    std::vector<std::string> install;  // command MTA: argv run after the files are staged
    std::vector<std::string> reload;   // argv; default per MTA type
    // Files of the previous deployment are kept beside the live ones with
    // this suffix, for rollback.
    std::string backup_suffix = ".daneroll-previous";
    // A group that may read the key (mode 0640), for an MTA that reads its
    // key as an unprivileged user (Debian's Exim: "Debian-exim"). Empty:
    // root only (0600).
    std::string key_group;
};

struct Probe {
    std::vector<std::string> addresses;  // empty: the host's A and AAAA records
    std::string ehlo_name;               // default: this machine's host name
    std::chrono::seconds timeout{10};
};

struct Service {
    std::string id;  // the [service.<id>] table name
    std::string host;
    std::uint16_t port = 25;
    std::string zone;
    std::vector<KeyAlgorithm> algorithms;
    Scheme scheme = Scheme::CurrentNext;
    std::uint32_t ttl = 0;
    std::chrono::seconds rotation_period{std::chrono::hours(24 * 90)};
    std::chrono::seconds renew_before{std::chrono::hours(24 * 30)};
    std::vector<std::string> names;  // certificate DNS names; default {host}
    // current+issuer: the issuer keys to keep published, per algorithm, as
    // "2 1 1" records (from issuer certificate files or given literally).
    std::map<KeyAlgorithm, std::vector<TlsaRecord>> issuers;
    CertificateSource source;
    Mta mta;
    Probe probe;
    int line = 0;

    [[nodiscard]] std::string tlsa_owner() const;  // "_25._tcp.mx1.example.com."
    // A template path with {algorithm} filled in.
    [[nodiscard]] static std::string expand(const std::string& tmpl, KeyAlgorithm alg);
};

struct Config {
    std::filesystem::path file;
    Global global;
    Acme acme;
    std::vector<TsigKey> tsig_keys;
    std::vector<Zone> zones;
    std::vector<Service> services;

    [[nodiscard]] const Zone& zone_of(const Service& s) const;
    [[nodiscard]] const TsigKey& key_of(const Zone& z) const;
    [[nodiscard]] const Service* find_service(std::string_view id) const;
};

// Loads and validates a config file. Every error is Error(Config) and reads
// "<file>:<line>:<column>: <key path>: <problem>". Refuses a config file
// that group or others can write (it names commands run as root) and
// secret files that group or others can access.
Config load_config(const std::filesystem::path& path);

// Parses text; relative paths resolve against `base_dir`. With
// check_files false, referenced files (keys, issuers) are not opened:
// for fuzzing and for validating a config destined for another host.
Config parse_config(std::string_view text, const std::string& source_name,
                    const std::filesystem::path& base_dir, bool check_files = true);

}  // namespace daneroll::config
