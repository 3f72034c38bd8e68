// Keeps SIGPIPE from killing the process while a probe writes to a peer
// that may have hung up. Plain sends use MSG_NOSIGNAL, but OpenSSL writes
// with write(2), which raises SIGPIPE on a closed connection; the signal is
// blocked for the calling thread and any SIGPIPE this raised is discarded.
#pragma once

#include <signal.h>

namespace daneroll::smtp {

class SigpipeGuard {
  public:
    SigpipeGuard() noexcept;
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;
    ~SigpipeGuard();

  private:
    sigset_t old_mask_{};
    bool was_pending_ = false;
    bool active_ = false;
};

}  // namespace daneroll::smtp
