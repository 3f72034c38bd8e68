#include "sigpipe_guard.hpp"

#include <pthread.h>

#include <ctime>

namespace daneroll::smtp {

namespace {

bool sigpipe_pending() {
    sigset_t pending;
    sigemptyset(&pending);
    return sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
}

}  // namespace

SigpipeGuard::SigpipeGuard() noexcept {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    was_pending_ = sigpipe_pending();
    active_ = pthread_sigmask(SIG_BLOCK, &block, &old_mask_) == 0;
}

SigpipeGuard::~SigpipeGuard() {
    if (!active_) {
        return;
    }
    // A SIGPIPE raised by our writes is directed at this thread: take it
    // before unblocking, unless one was already pending before (not ours).
    if (!was_pending_ && sigpipe_pending()) {
        sigset_t pipe_only;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        const timespec zero{0, 0};
        sigtimedwait(&pipe_only, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

}  // namespace daneroll::smtp
