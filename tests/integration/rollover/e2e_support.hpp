// Support for the end-to-end tests of the rollover engine: they drive the
// real `daneroll` binary against the real sandbox (tests/sandbox) and judge
// the outcome with checks that do not go through the engine:
//
//  - DNS: `dig +norecurse +dnssec` straight at every authoritative server
//    the sandbox started (BIND and NSD, from sandbox.json): another DNS
//    implementation (bind9-dnsutils) and another server list than the
//    engine's (which discovers the NS RRset with ldns). A server counts as
//    serving a record signed when an RRSIG covering TLSA comes with it (the
//    signature itself is not verified here; dane-check's AD bit from
//    Unbound covers validation at the end of each test).
//  - MTA: the chain Postfix presents, fetched with daneroll's SMTP probe
//    given NO records (it is only a STARTTLS transport here; it judges
//    nothing), one handshake per key algorithm; and the chain in Postfix's
//    files, whose mtime is the exact install time.
//  - Judgement: RFC 7672 matching of those chains against those records
//    with verify_chain_offline (OpenSSL's DANE engine), on the observer's
//    own timeline; nothing of the engine's state or safety code is used.
//
// The sandbox's own `dane-check` (openssl s_client) and `posttls`
// (posttls-finger) give the end verdicts.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daneroll/crypto/certificate.hpp"
#include "daneroll/tlsa/record.hpp"
#include "sandbox_env.hpp"

namespace daneroll::e2e {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;
using Ms = std::chrono::milliseconds;

// ---------------------------------------------------------------- processes

struct ProcResult {
    std::vector<std::string> argv;
    bool exited = false;
    int code = -1;  // exit status if exited
    bool signaled = false;
    int signal = 0;  // terminating signal if signaled
    bool timed_out = false;
    std::string output;  // stdout and stderr, interleaved
    Ms elapsed{0};

    [[nodiscard]] bool ok() const { return exited && code == 0; }
    // "`daneroll run --wait ...` exited 4 after 5.2 s" + the output.
    [[nodiscard]] std::string describe() const;
};

// Runs argv[0] (absolute path) without a shell; stdin /dev/null; own process
// group, SIGKILLed as a group after `timeout`. The environment is this
// process's, minus DANEROLL_CRASH_AT, plus `extra_env` ("NAME=value").
// Everything is prepared before fork(), so it is safe while other threads
// run.
ProcResult run_proc(const std::vector<std::string>& argv, Ms timeout,
                    const std::vector<std::string>& extra_env = {});

// --------------------------------------------------------------- the sandbox

struct Sandbox {
    test::SandboxEnv env;
    std::filesystem::path postfix_config_dir;
    std::map<std::string, std::filesystem::path> postfix_pem;  // "ecdsa-p256" -> file
    std::filesystem::path tools;                               // tests/sandbox
    std::string owner;                                         // _25._tcp.mx1.example.test.

    static Sandbox load();  // from DANEROLL_SANDBOX_DIR, fails clearly

    [[nodiscard]] ProcResult tool(const std::vector<std::string>& args,
                                  Ms timeout = Ms(60000)) const;
    [[nodiscard]] ProcResult local_ca(const std::vector<std::string>& args) const;
    [[nodiscard]] ProcResult dane_check(const std::string& alg) const;  // "ecdsa" | "rsa"
    [[nodiscard]] ProcResult posttls() const;
    [[nodiscard]] ProcResult postfix_reload() const;

    // The chain in Postfix's file for `algorithm` (PEM, leaf first).
    [[nodiscard]] std::vector<Certificate> installed_chain(const std::string& algorithm) const;

    // Every test starts from here: Postfix reloaded (serves its files), the
    // TLSA RRset replaced by exactly the 3 1 1 records of the chains in
    // Postfix's files (whatever earlier tests left), served signed by every
    // server, and Postfix serving those chains. Throws on failure.
    void reset_to_served_chains() const;

    // What the test must wait so a record everywhere now is established.
    [[nodiscard]] Ms two_ttl() const;
};

// 3 1 1 of a certificate's key; 2 1 1 of a CA certificate's key.
TlsaRecord ee_record(const Certificate& cert);
TlsaRecord ta_record(const Certificate& cert);
std::string spki_hex(const Certificate& cert);  // the 3 1 1 data

// ---------------------------------------------------- independent DNS view

struct ServerRrset {
    std::string server;  // "ns2.example.test. (127.53.13.12)"
    bool answered = false;
    std::string status;  // NOERROR, NXDOMAIN, ... or the dig failure
    std::set<TlsaRecord> records;
    bool signed_ = false;  // an RRSIG covering TLSA came with the answer
    std::uint32_t ttl = 0;
};

struct DnsSnapshot {
    TimePoint begin;
    TimePoint end;
    std::vector<ServerRrset> servers;
    // Every server answered: the sample can be judged.
    bool complete = false;
    // Records served, signed, by every server (only if complete).
    std::set<TlsaRecord> everywhere;
    std::uint32_t max_ttl = 0;

    [[nodiscard]] bool has_everywhere(const TlsaRecord& r) const { return everywhere.count(r); }
    [[nodiscard]] bool absent_everywhere(const TlsaRecord& r) const;
    [[nodiscard]] std::string describe() const;
};

// One dig per authoritative server of the sandbox.
DnsSnapshot dig_snapshot(const Sandbox& sb);
// One dig at one server.
ServerRrset dig_server(const dns::Server& server, const std::string& owner);

// A file's modification time (nanoseconds, from stat()).
TimePoint mtime_of(const std::filesystem::path& file);

// -------------------------------------------------------- independent MTA view

struct ServedChain {
    std::string id;  // sha256 of every certificate's DER, joined; "" if no handshake
    std::vector<Certificate> chain;
    std::string leaf_spki;  // hex
    std::string error;      // why no chain
};

// A chain with its id and leaf key filled in.
ServedChain identify(std::vector<Certificate> chain);

// The chain Postfix presents on `address` when the client offers only
// `algorithm`'s signature schemes ("ecdsa-p256" or "rsa2048").
ServedChain served_chain(const Sandbox& sb, const std::string& address,
                         const std::string& algorithm);

// ------------------------------------------------------------------ observer

// Polls DNS (every server) and the MTA (every address x algorithm) every
// ~150 ms in its own thread and keeps the timeline; judge() then checks the
// two safety rules on it.
//
// The timeline gives only bounds on when things happened: a record became
// everywhere after the begin of the last sample that lacked it, a chain
// appeared before the end of the first sample that saw it. A deploy is a
// violation when even the most favourable reading of those bounds leaves
// less than 2 x TTL between the two; so sampling can hide a shortfall of
// up to about two sample periods (~0.4 s), never invent one.
class Observer {
  public:
    Observer(const Sandbox& sb, std::vector<std::string> algorithms);
    ~Observer();
    Observer(const Observer&) = delete;
    Observer& operator=(const Observer&) = delete;

    void start();  // takes a first sample before returning
    void stop();   // takes a last sample; idempotent

    struct Appearance {
        std::string where;  // "127.53.13.25/ecdsa-p256"
        std::string chain_id;
        std::string leaf_spki;
        std::size_t sample = 0;
        bool initial = false;  // served when the observer started
        // For the best matching record: the least and the most time that
        // can have passed between "everywhere" and the chain's appearance
        // (infinite if the record was established before the observer).
        double margin_low_s = 0;
        double margin_high_s = 0;
        std::string record;  // the matching record used, short form
    };

    // A change of the chain in one of Postfix's files (its mtime is the
    // install time, exact), with the same margins against the records.
    struct Install {
        std::string algorithm;
        std::string leaf_spki;
        TimePoint at;
        bool initial = false;
        double margin_low_s = 0;
        double margin_high_s = 0;
        std::string record;
    };

    struct Verdict {
        std::vector<std::string> violations;
        std::vector<Appearance> appearances;
        // Reported, not judged: see the DeployWaits... test.
        std::vector<Install> installs;
        std::size_t samples = 0;
        std::size_t dns_incomplete = 0;
        std::size_t chain_failures = 0;
        double wait_s = 0;     // 2 x max(TTL, negative TTL) used
        std::string timeline;  // changes only, for failure messages
    };
    [[nodiscard]] Verdict judge() const;

    // The first sample time (end) at which a chain with this leaf key was
    // seen, if ever.
    [[nodiscard]] std::optional<TimePoint> first_seen_leaf(const std::string& spki_hex) const;
    // True if any sample saw a chain with this leaf key.
    [[nodiscard]] bool ever_served_leaf(const std::string& spki_hex) const;
    [[nodiscard]] std::size_t samples() const;

    // Each DNS sample's view of one server, for assertions about a lagging
    // secondary: the first time (end of sample) `server_addr` served `r`.
    [[nodiscard]] std::optional<TimePoint> first_served_by(const std::string& server_addr,
                                                           const TlsaRecord& r) const;

  private:
    struct Sample {
        DnsSnapshot dns;
        TimePoint probe_begin;
        TimePoint probe_end;
        std::map<std::string, std::string> chains;  // where -> chain id ("" none)
        // Postfix's files: algorithm -> (chain id, mtime).
        std::map<std::string, std::pair<std::string, TimePoint>> files;
    };
    void sample_once();
    void loop();

    const Sandbox& sb_;
    std::vector<std::string> algorithms_;
    mutable std::mutex mu_;
    std::vector<Sample> samples_;
    std::map<std::string, ServedChain> chains_;  // by id
    std::atomic<bool> stop_{false};
    bool started_ = false;
    bool stopped_ = false;
    std::thread thread_;
};

// Stops `observer` and asserts (gtest EXPECTs, so the test goes on) that the
// safety rules held at every sample and that there were enough samples to
// judge; prints the appearances and installs. `context` starts the failure
// message (e.g. "around the crash at after-update").
Observer::Verdict judge_safe(Observer& observer, const std::string& context = "");
// The appearance of the chain with this leaf key (not the initial one), or
// nullptr if it never appeared.
const Observer::Appearance* appearance_of(const Observer::Verdict& v, const std::string& leaf_spki);

// --------------------------------------------------------- daneroll itself

struct ConfigSpec {
    std::vector<std::string> algorithms{"ecdsa-p256"};
    bool issuer_scheme = false;
    std::vector<std::filesystem::path> issuer_files;  // current+issuer
    std::vector<std::string> reload;                  // empty: postfix -c CONF reload
    std::string combined_file;                        // empty: Postfix's own files
    std::string certbot_lineage;       // set: source type "certbot" with this lineage
    std::vector<std::string> command;  // set: source type "command" with this argv
    std::string log_level;             // set: [daneroll] log_level
    // set: MTA type "command" with these staged files ({algorithm} allowed)
    // and this install command (the reload stays Postfix's)
    std::vector<std::string> install;
    std::string key_file;
    std::string chain_file;
};

// One daneroll installation of a test: its own directory with the config
// (0644), the state directory and a local CA.
class Daneroll {
  public:
    Daneroll(const Sandbox& sb, const std::string& test_name);

    void write_config(const ConfigSpec& spec);  // (re)writes the config file
    [[nodiscard]] ProcResult cmd(std::vector<std::string> args, Ms timeout = Ms(90000),
                                 const std::vector<std::string>& extra_env = {}) const;
    [[nodiscard]] ProcResult init() const { return cmd({"init"}); }
    [[nodiscard]] ProcResult rotate() const { return cmd({"rotate", "mx1"}); }
    // run --wait with a --timeout of `limit`; the process is killed if it
    // outlives that by 30 s.
    [[nodiscard]] ProcResult run_wait(std::chrono::seconds limit = std::chrono::seconds(60),
                                      const std::vector<std::string>& extra_env = {}) const;
    // status --json, parsed; throws with the output if it is not JSON.
    [[nodiscard]] nlohmann::json status() const;
    // The unit of `algorithm` in status --json.
    [[nodiscard]] nlohmann::json unit(const std::string& algorithm) const;
    // The state file as saved (for diagnostics).
    [[nodiscard]] std::string state_file(const std::string& algorithm) const;

    [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
    [[nodiscard]] const std::filesystem::path& ca() const { return ca_; }
    [[nodiscard]] const std::filesystem::path& config() const { return config_; }
    [[nodiscard]] const std::filesystem::path& state() const { return state_; }

  private:
    const Sandbox& sb_;
    std::filesystem::path dir_;
    std::filesystem::path config_;
    std::filesystem::path state_;
    std::filesystem::path ca_;
};

// Records of `role` in a status --json unit.
std::vector<TlsaRecord> records_with_role(const nlohmann::json& unit, const std::string& role);

// Everything a failing test should show: the status, the state files, the
// observer's timeline.
std::string diagnostics(const Daneroll& d, const std::vector<std::string>& algorithms);

}  // namespace daneroll::e2e
