#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX leaves it undeclared

namespace daneroll::interop {

namespace {

// Both ends of a pipe, closed on destruction unless released.
class Pipe {
  public:
    Pipe() {
        if (pipe2(fds_.data(), O_CLOEXEC) != 0) {
            throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
        }
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    ~Pipe() {
        close_read();
        close_write();
    }
    [[nodiscard]] int read_end() const { return fds_[0]; }
    [[nodiscard]] int write_end() const { return fds_[1]; }
    void close_read() { close_fd(fds_[0]); }
    void close_write() { close_fd(fds_[1]); }

  private:
    static void close_fd(int& fd) {
        if (fd >= 0) {
            ::close(fd);
            fd = -1;
        }
    }
    std::array<int, 2> fds_{-1, -1};
};

class SpawnActions {
  public:
    SpawnActions() { posix_spawn_file_actions_init(&actions_); }
    SpawnActions(const SpawnActions&) = delete;
    SpawnActions& operator=(const SpawnActions&) = delete;
    ~SpawnActions() { posix_spawn_file_actions_destroy(&actions_); }
    void dup2(int from, int to) { posix_spawn_file_actions_adddup2(&actions_, from, to); }
    [[nodiscard]] const posix_spawn_file_actions_t* get() const { return &actions_; }

  private:
    posix_spawn_file_actions_t actions_{};
};

int decode_status(int status) {
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

}  // namespace

std::string ProcessResult::summary() const {
    std::string s = timed_out ? "timed out" : "exit " + std::to_string(exit_code);
    if (!err.empty()) {
        s += "; stderr: " + err;
    }
    if (!out.empty()) {
        s += "; stdout: " + out;
    }
    return s;
}

std::string find_in_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        const std::size_t end = dirs.find(':', start);
        const std::string dir =
            dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
        const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
        if (access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
        if (end == std::string::npos) {
            break;
        }
        start = end + 1;
    }
    return "";
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input,
                          std::chrono::seconds limit) {
    if (argv.empty()) {
        throw std::invalid_argument("run_process: empty argv");
    }
    Pipe in;
    Pipe out;
    Pipe err;
    SpawnActions actions;
    actions.dup2(in.read_end(), STDIN_FILENO);
    actions.dup2(out.write_end(), STDOUT_FILENO);
    actions.dup2(err.write_end(), STDERR_FILENO);

    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);

    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, args[0], actions.get(), nullptr, args.data(), environ);
    if (rc != 0) {
        throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
    }
    in.close_read();
    out.close_write();
    err.close_write();

    ProcessResult result;
    std::size_t written = 0;
    if (input.empty()) {
        in.close_write();
    }
    const auto deadline = std::chrono::steady_clock::now() + limit;
    bool out_open = true;
    bool err_open = true;
    std::array<char, 4096> buf{};
    while (out_open || err_open) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            // Only the child this call started is signalled, by its pid.
            kill(pid, SIGKILL);
            result.timed_out = true;
            break;
        }
        std::array<pollfd, 3> fds{{{out_open ? out.read_end() : -1, POLLIN, 0},
                                   {err_open ? err.read_end() : -1, POLLIN, 0},
                                   {in.write_end(), POLLOUT, 0}}};
        const int n = poll(fds.data(), fds.size(), static_cast<int>(left.count()));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            kill(pid, SIGKILL);
            throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        }
        if ((fds[2].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
            const ssize_t w = write(in.write_end(), input.data() + written, input.size() - written);
            if (w > 0) {
                written += static_cast<std::size_t>(w);
            }
            // A child that exits without reading its input is not an error
            // here (SIGPIPE is ignored by the test main); the output decides.
            if (w < 0 || written == input.size()) {
                in.close_write();
            }
        }
        for (std::size_t i = 0; i < 2; ++i) {
            if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
                continue;
            }
            const ssize_t r = read(fds[i].fd, buf.data(), buf.size());
            if (r > 0) {
                (i == 0 ? result.out : result.err).append(buf.data(), static_cast<std::size_t>(r));
            } else if (r == 0 || errno != EINTR) {
                (i == 0 ? out_open : err_open) = false;
            }
        }
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = decode_status(status);
    return result;
}

}  // namespace daneroll::interop
