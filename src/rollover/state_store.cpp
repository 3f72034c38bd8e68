#include "daneroll/rollover/state_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daneroll/common/error.hpp"

namespace daneroll::rollover {

namespace fs = std::filesystem;

StateStore::StateStore(fs::path state_dir) : root_(std::move(state_dir)) {}

fs::path StateStore::file(const std::string& service, const std::string& algorithm) const {
    return root_ / "units" / (service + "." + algorithm + ".json");
}

fs::path StateStore::key_dir(const std::string& service, const std::string& algorithm) const {
    return root_ / "keys" / service / algorithm;
}

fs::path StateStore::work_dir(const std::string& service, const std::string& algorithm) const {
    return root_ / "work" / service / algorithm;
}

fs::path StateStore::inbox_dir(const std::string& service, const std::string& algorithm) const {
    return root_ / "inbox" / service / algorithm;
}

bool StateStore::exists(const std::string& service, const std::string& algorithm) const {
    std::error_code ec;
    return fs::exists(file(service, algorithm), ec);
}

UnitState StateStore::load(const std::string& service, const std::string& algorithm) const {
    const fs::path f = file(service, algorithm);
    if (!exists(service, algorithm)) {
        UnitState s;
        s.service = service;
        s.algorithm = algorithm;
        return s;
    }
    UnitState s = parse_state(read_file(f), f.string());
    if (s.service != service || s.algorithm != algorithm) {
        fail(ErrorKind::Input, f.string() + " belongs to " + s.service + "/" + s.algorithm +
                                   ", not " + service + "/" + algorithm);
    }
    return s;
}

void StateStore::save(const UnitState& state) const {
    ensure_private_directory(root_ / "units");
    write_file_atomic(file(state.service, state.algorithm), serialize_state(state), 0600,
                      Overwrite::Yes);
}

StateLock StateLock::acquire(const fs::path& state_dir) {
    ensure_private_directory(state_dir);
    const fs::path path = state_dir / "lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd.valid()) {
        fail(ErrorKind::Io, "cannot open " + path.string() + ": " + std::strerror(errno));
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        std::string holder;
        try {
            holder = read_file(path, 64);
        } catch (const Error&) {
        }
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) {
            holder.pop_back();
        }
        throw LockedError("another daneroll is running" +
                          (holder.empty() ? std::string() : " (pid " + holder + ")") +
                          " and holds " + path.string() + "; try again when it has finished");
    }
    // The pid is only for the message above; the flock is the lock.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) == 0) {
        (void)!::pwrite(fd.get(), pid.data(), pid.size(), 0);
    }
    return StateLock(std::move(fd));
}

}  // namespace daneroll::rollover
