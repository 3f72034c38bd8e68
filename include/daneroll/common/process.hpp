// Runs external programs (MTA reloads, certificate commands, hooks) with an
// argument vector through execve: never a shell, so no word splitting,
// globbing or injection through file names.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace daneroll {

struct ProcessResult {
    int exit_code = -1;  // -1 if killed by a signal or timed out
    bool timed_out = false;
    std::string output;  // stdout and stderr, interleaved, at most 64 KiB kept

    [[nodiscard]] bool ok() const { return exit_code == 0 && !timed_out; }
    // "exit status 1: <last line of output>" for messages.
    [[nodiscard]] std::string summary() const;
};

// Runs argv[0] (an absolute path) with the current environment plus
// `extra_env` ("NAME=value"). Stdin is /dev/null. After `timeout` the whole
// process group gets SIGTERM, then SIGKILL two seconds later. Throws
// Error(Io) only if the program cannot be started at all.
ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::vector<std::string>& extra_env = {});

// "/usr/sbin/postfix reload" for messages (arguments with spaces quoted).
std::string describe_command(const std::vector<std::string>& argv);

}  // namespace daneroll
