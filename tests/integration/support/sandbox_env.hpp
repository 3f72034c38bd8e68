// What an integration test needs to know about the running sandbox
// (tests/sandbox), read from DIR/sandbox.json, plus small helpers to drive
// it. The sandbox directory comes from DANEROLL_SANDBOX_DIR.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "daneroll/dns/types.hpp"

namespace daneroll::test {

struct SandboxKey {
    std::string name;
    std::string algorithm;
    std::filesystem::path file;
};

struct SandboxEnv {
    std::filesystem::path dir;
    std::filesystem::path tool;
    std::string net;
    std::string zone;
    std::string unsigned_zone;  // "" unless the sandbox runs with --unsigned-zone
    std::uint32_t ttl = 0;
    std::uint32_t negative_ttl = 0;
    dns::Server primary;
    std::vector<dns::Server> secondaries;
    dns::Server resolver;
    SandboxKey update;
    SandboxKey update_sha512;
    SandboxKey forbidden;
    std::string mx_host;
    std::vector<std::string> mx_addrs;

    static SandboxEnv load();

    [[nodiscard]] std::vector<dns::Server> name_servers() const;  // primary + secondaries
    [[nodiscard]] dns::TsigCredentials credentials(const SandboxKey& key) const;
    // Runs `sandbox ARGS...` (execv, no shell); returns its exit status.
    int tool_run(const std::vector<std::string>& args) const;
};

// Runs a program with arguments (execv, no shell), returning its exit
// status and, if `output` is given, its stdout.
int run_program(const std::vector<std::string>& argv, std::string* output = nullptr);

// Polls `done` every 50 ms until it returns true or `limit` passes.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit);

}  // namespace daneroll::test
