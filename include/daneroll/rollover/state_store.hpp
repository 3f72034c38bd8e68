// Where the rollover's state lives and how it is written: one JSON document
// per unit under <state_dir>/units/, written atomically and durably after
// every action, and a lock so that only one daneroll acts at a time.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "daneroll/common/files.hpp"
#include "daneroll/rollover/state.hpp"

namespace daneroll::rollover {

class StateStore {
  public:
    explicit StateStore(std::filesystem::path state_dir);

    // The unit's state, or a fresh Unmanaged one if none was saved.
    [[nodiscard]] UnitState load(const std::string& service, const std::string& algorithm) const;
    void save(const UnitState& state) const;
    [[nodiscard]] bool exists(const std::string& service, const std::string& algorithm) const;

    // <state_dir>/keys/<service>/<algorithm>: private keys, 0700.
    [[nodiscard]] std::filesystem::path key_dir(const std::string& service,
                                                const std::string& algorithm) const;
    // <state_dir>/work/<service>/<algorithm>: scratch files (CSRs), 0700.
    [[nodiscard]] std::filesystem::path work_dir(const std::string& service,
                                                 const std::string& algorithm) const;
    // <state_dir>/inbox/<service>/<algorithm>: a key and chain handed over
    // by a certificate source (certbot's deploy hook), 0700, until deployed.
    [[nodiscard]] std::filesystem::path inbox_dir(const std::string& service,
                                                  const std::string& algorithm) const;
    [[nodiscard]] const std::filesystem::path& root() const { return root_; }

  private:
    [[nodiscard]] std::filesystem::path file(const std::string& service,
                                             const std::string& algorithm) const;
    std::filesystem::path root_;
};

// An exclusive flock on <state_dir>/lock, held for the object's lifetime.
// Acquire fails at once (no waiting) with Error naming the holder's pid.
class StateLock {
  public:
    static StateLock acquire(const std::filesystem::path& state_dir);
    StateLock(StateLock&&) noexcept = default;
    StateLock& operator=(StateLock&&) noexcept = default;
    StateLock(const StateLock&) = delete;
    StateLock& operator=(const StateLock&) = delete;
    ~StateLock() = default;

  private:
    explicit StateLock(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

// Thrown when another daneroll holds the lock (the CLI exits 5).
class LockedError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

}  // namespace daneroll::rollover
