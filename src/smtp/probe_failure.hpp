// How a probe step reports that the dialogue cannot go on: the status the
// address gets and a reason for a person. Thrown inside one address's probe
// and caught by it; it never leaves the smtp module.
#pragma once

#include <stdexcept>
#include <string>

#include "daneroll/smtp/probe.hpp"

namespace daneroll::smtp {

class ProbeFailure : public std::runtime_error {
  public:
    ProbeFailure(ProbeStatus status, const std::string& reason)
        : std::runtime_error(reason), status_(status) {}
    [[nodiscard]] ProbeStatus status() const noexcept { return status_; }

  private:
    ProbeStatus status_;
};

[[noreturn]] inline void fail_probe(ProbeStatus status, const std::string& reason) {
    throw ProbeFailure(status, reason);
}

}  // namespace daneroll::smtp
