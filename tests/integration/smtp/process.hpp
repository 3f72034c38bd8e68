// Running the sandbox tool, nsupdate and posttls-finger from the tests: an
// argument vector (never a shell), optional standard input, output
// captured, and a time limit after which the process group is killed.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace daneroll::smtp_it {

struct ProcessResult {
    int exit_code = -1;  // 128 + signal if killed
    bool timed_out = false;
    std::string output;  // stdout and stderr, interleaved

    // "exit 1: <output tail>", for assertion messages.
    [[nodiscard]] std::string summary() const;
};

ProcessResult run(const std::vector<std::string>& argv, const std::string& input = "",
                  std::chrono::milliseconds limit = std::chrono::seconds(60));

}  // namespace daneroll::smtp_it
