// Running external programs from tests: an argument vector (never a shell),
// optional standard input, captured output, and a time limit.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace daneroll::interop {

struct ProcessResult {
    int exit_code = -1;  // 128 + signal number if the process was killed
    bool timed_out = false;
    std::string out;
    std::string err;

    // "exit 1; stderr: ..." for assertion messages.
    [[nodiscard]] std::string summary() const;
};

// Runs argv[0] (searched in PATH) with `input` on its standard input. A
// process still running after `limit` is killed, so a tool waiting for an
// answer it never gets fails the test instead of hanging it.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = "",
                          std::chrono::seconds limit = std::chrono::seconds(60));

// The full path of `name` in PATH, or "" if it is not there.
std::string find_in_path(const std::string& name);

}  // namespace daneroll::interop
