// The one exception type daneroll throws for conditions a person can act on.
#pragma once

#include <stdexcept>
#include <string>

namespace daneroll {

// What went wrong, coarsely: the CLI maps it to an exit code, and callers
// can tell bad input (fix the file) from a failing peer (retry later).
enum class ErrorKind {
    Input,     // a file, record or argument is malformed or inconsistent
    Config,    // the configuration is invalid
    Io,        // the file system refused (permissions, disk full, missing file)
    Crypto,    // OpenSSL refused an operation
    Network,   // a peer did not answer or answered with an error
    Safety,    // an action would break a safety rule; nothing was changed
    Internal,  // a bug in daneroll
};

class Error : public std::runtime_error {
  public:
    Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    [[nodiscard]] ErrorKind kind() const noexcept { return kind_; }

  private:
    ErrorKind kind_;
};

[[noreturn]] inline void fail(ErrorKind kind, const std::string& message) {
    throw Error(kind, message);
}

}  // namespace daneroll
