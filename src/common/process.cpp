#include "daneroll/common/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"

extern char** environ;

namespace daneroll {

namespace {

constexpr std::size_t kMaxOutput = 64U << 10U;

using Clock = std::chrono::steady_clock;

int wait_child(pid_t pid, Clock::time_point deadline, bool& exited) {
    int status = 0;
    while (Clock::now() < deadline) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            exited = true;
            return status;
        }
        if (r < 0 && errno != EINTR) {
            exited = true;
            return 0;
        }
        ::usleep(10000);
    }
    exited = false;
    return 0;
}

}  // namespace

std::string ProcessResult::summary() const {
    std::string last = output;
    while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) {
        last.pop_back();
    }
    const auto nl = last.rfind('\n');
    if (nl != std::string::npos) {
        last = last.substr(nl + 1);
    }
    std::string head = timed_out       ? "timed out"
                       : exit_code < 0 ? "killed by a signal"
                                       : "exit status " + std::to_string(exit_code);
    return last.empty() ? head : head + ": " + last;
}

std::string describe_command(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        if (!out.empty()) {
            out += ' ';
        }
        out += a.find_first_of(" \t'\"") == std::string::npos ? a : "'" + a + "'";
    }
    return out;
}

ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::vector<std::string>& extra_env) {
    if (argv.empty() || argv.front().empty() || argv.front().front() != '/') {
        fail(ErrorKind::Input,
             "a command must start with an absolute program path: " + describe_command(argv));
    }
    // Build everything the child needs before fork: after fork only
    // async-signal-safe calls are allowed.
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    std::vector<char*> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        env.push_back(*e);
    }
    for (const auto& e : extra_env) {
        env.push_back(const_cast<char*>(e.c_str()));
    }
    env.push_back(nullptr);

    int pipefd[2] = {-1, -1};
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
        fail(ErrorKind::Io, std::string("cannot create a pipe: ") + std::strerror(errno));
    }
    UniqueFd read_end(pipefd[0]);
    UniqueFd write_end(pipefd[1]);
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const pid_t pid = ::fork();
    if (pid < 0) {
        fail(ErrorKind::Io, std::string("cannot fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        ::setpgid(0, 0);  // its own group, so a timeout kills its children too
        ::dup2(devnull, STDIN_FILENO);
        ::dup2(write_end.get(), STDOUT_FILENO);
        ::dup2(write_end.get(), STDERR_FILENO);
        ::execve(args[0], args.data(), env.data());
        const char msg[] = "execve failed\n";
        (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
        ::_exit(127);
    }
    if (devnull >= 0) {
        ::close(devnull);
    }
    ::setpgid(pid, pid);
    write_end = UniqueFd();

    ProcessResult result;
    const auto deadline = Clock::now() + timeout;
    std::array<char, 4096> buf{};
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            result.timed_out = true;
            break;
        }
        pollfd pfd{read_end.get(), POLLIN, 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>(left));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            continue;  // the deadline check above ends the loop
        }
        const ssize_t n = ::read(read_end.get(), buf.data(), buf.size());
        if (n <= 0) {
            break;  // EOF: every writer (the child and its children) is gone
        }
        if (result.output.size() < kMaxOutput) {
            result.output.append(buf.data(), static_cast<std::size_t>(n));
        }
    }
    bool exited = false;
    int status = 0;
    if (!result.timed_out) {
        status = wait_child(pid, deadline + std::chrono::seconds(2), exited);
        result.timed_out = !exited;
    }
    if (!exited) {
        ::kill(-pid, SIGTERM);
        status = wait_child(pid, Clock::now() + std::chrono::seconds(2), exited);
        if (!exited) {
            ::kill(-pid, SIGKILL);
            status = wait_child(pid, Clock::now() + std::chrono::seconds(2), exited);
        }
        result.exit_code = -1;
        return result;
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

}  // namespace daneroll
