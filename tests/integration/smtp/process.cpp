#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>

#include "daneroll/common/files.hpp"

namespace daneroll::smtp_it {

namespace {

using Clock = std::chrono::steady_clock;

void make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe2 failed");
    }
    read_end = UniqueFd(fds[0]);
    write_end = UniqueFd(fds[1]);
}

}  // namespace

std::string ProcessResult::summary() const {
    const std::size_t keep = 3000;
    const std::string tail =
        output.size() > keep ? "..." + output.substr(output.size() - keep) : output;
    return (timed_out ? std::string("timed out") : "exit " + std::to_string(exit_code)) + ": " +
           tail;
}

ProcessResult run(const std::vector<std::string>& argv, const std::string& input,
                  std::chrono::milliseconds limit) {
    UniqueFd in_r;
    UniqueFd in_w;
    UniqueFd out_r;
    UniqueFd out_w;
    make_pipe(in_r, in_w);
    make_pipe(out_r, out_w);
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        // Own process group, so a time-out kills the tool's children too.
        ::setpgid(0, 0);
        ::dup2(in_r.get(), 0);
        ::dup2(out_w.get(), 1);
        ::dup2(out_w.get(), 2);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    in_r = UniqueFd();
    out_w = UniqueFd();
    // Inputs here are a few lines: one write fits in the pipe buffer.
    if (!input.empty()) {
        [[maybe_unused]] const ssize_t n = ::write(in_w.get(), input.data(), input.size());
    }
    in_w = UniqueFd();

    ProcessResult result;
    const auto deadline = Clock::now() + limit;
    std::array<char, 4096> buf{};
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            ::kill(-pid, SIGKILL);
            break;
        }
        pollfd p{out_r.get(), POLLIN, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc <= 0) {
            continue;  // time-out handled at the top
        }
        const ssize_t n = ::read(out_r.get(), buf.data(), buf.size());
        if (n <= 0) {
            break;  // EOF: the process (and whatever inherited the pipe) is done
        }
        result.output.append(buf.data(), static_cast<std::size_t>(n));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

}  // namespace daneroll::smtp_it
