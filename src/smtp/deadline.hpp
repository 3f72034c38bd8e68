// A point in time after which a probe step gives up. Every wait in the
// probe is bounded by one, so a silent or slow server can never hang the
// agent.
#pragma once

#include <algorithm>
#include <chrono>

namespace daneroll::smtp {

class Deadline {
  public:
    using Clock = std::chrono::steady_clock;

    explicit Deadline(Clock::time_point at) noexcept : at_(at) {}
    static Deadline after(Clock::duration d) { return Deadline(Clock::now() + d); }

    [[nodiscard]] Clock::time_point at() const noexcept { return at_; }
    [[nodiscard]] bool expired() const { return Clock::now() >= at_; }

    // What is left, for poll(2): 0 once expired, else rounded up to a whole
    // millisecond so a wait never ends a hair early and spins.
    [[nodiscard]] int poll_timeout_ms() const {
        const auto left = at_ - Clock::now();
        if (left <= Clock::duration::zero()) {
            return 0;
        }
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
        return static_cast<int>(std::min<decltype(ms)>(ms, 24 * 3600 * 1000));
    }

    // This deadline or `d` from now, whichever comes first.
    [[nodiscard]] Deadline at_most(Clock::duration d) const {
        return Deadline(std::min(at_, Clock::now() + d));
    }

  private:
    Clock::time_point at_;
};

}  // namespace daneroll::smtp
