// http-01: the webroot solver and the built-in listener.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "daneroll/acme/challenge.hpp"
#include "daneroll/common/error.hpp"

namespace daneroll::acme {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kChallengePath = "/.well-known/acme-challenge/";
constexpr std::size_t kMaxRequest = 8192;
constexpr std::chrono::milliseconds kConnectionDeadline{5000};

// Tokens are base64url (RFC 8555 8.1); anything else could walk out of the
// challenge directory, so it is refused before it touches a path.
void require_token(const std::string& token) {
    const bool ok = !token.empty() && token.size() <= 256 &&
                    std::all_of(token.begin(), token.end(), [](unsigned char c) {
                        return std::isalnum(c) != 0 || c == '-' || c == '_';
                    });
    if (!ok) {
        fail(ErrorKind::Network, "the CA sent a challenge token that is not base64url; refused");
    }
}

std::string errno_text() {
    return std::strerror(errno);
}

void write_all(int fd, std::string_view data, std::chrono::steady_clock::time_point deadline) {
    while (!data.empty()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return;
        }
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
            return;
        }
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0) {
            return;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

// ------------------------------------------------------------------ webroot

WebrootSolver::WebrootSolver(fs::path webroot) : webroot_(std::move(webroot)) {
    std::error_code ec;
    if (!fs::is_directory(webroot_, ec)) {
        fail(ErrorKind::Config, "the http-01 webroot " + webroot_.string() +
                                    " is not a directory; it must be the document root your web "
                                    "server serves for the names");
    }
}

WebrootSolver::~WebrootSolver() {
    static_cast<void>(cleanup());
}

void WebrootSolver::present(const std::string& identifier, const std::string& token,
                            const std::string& key_authorization) {
    static_cast<void>(identifier);
    require_token(token);
    fs::path dir = webroot_;
    for (const char* part : {".well-known", "acme-challenge"}) {
        dir /= part;
        if (::mkdir(dir.c_str(), 0755) == 0) {
            // mkdir's mode is narrowed by the umask; the web server (another
            // user) must be able to enter the directory.
            if (::chmod(dir.c_str(), 0755) != 0) {
                fail(ErrorKind::Io, "cannot chmod 0755 " + dir.string() + ": " + errno_text());
            }
            created_dirs_.push_back(dir);
        } else if (errno != EEXIST) {
            fail(ErrorKind::Io, "cannot create " + dir.string() + ": " + errno_text());
        }
    }
    const fs::path file = dir / token;
    // Recorded before writing, so a failure halfway still gets cleaned up.
    files_.push_back(file);
    write_file_atomic(file, key_authorization, 0644, Overwrite::Yes);
}

std::vector<std::string> WebrootSolver::cleanup() noexcept {
    std::vector<std::string> problems;
    for (const auto& f : files_) {
        std::error_code ec;
        fs::remove(f, ec);
        if (ec) {
            problems.push_back("cannot remove " + f.string() + ": " + ec.message());
        }
    }
    files_.clear();
    // Only directories this solver made, deepest first, and only if empty:
    // a web server's own files in .well-known stay.
    for (auto it = created_dirs_.rbegin(); it != created_dirs_.rend(); ++it) {
        ::rmdir(it->c_str());
    }
    created_dirs_.clear();
    return problems;
}

// ----------------------------------------------------------------- listener

HttpChallengeListener::HttpChallengeListener(const config::Endpoint& listen,
                                             std::chrono::seconds max_lifetime) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(listen.port);
    if (::getaddrinfo(listen.host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
        fail(ErrorKind::Config, "the http-01 listener address '" + listen.host +
                                    "' must be an IP address (e.g. 0.0.0.0 or 192.0.2.25)");
    }
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, &::freeaddrinfo);
    listen_fd_ = UniqueFd(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listen_fd_.valid()) {
        fail(ErrorKind::Io, "cannot create a socket for the http-01 listener: " + errno_text());
    }
    const int one = 1;
    ::setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(listen_fd_.get(), res->ai_addr, res->ai_addrlen) != 0) {
        const std::string why = errno_text();
        fail(ErrorKind::Io,
             "the http-01 listener cannot listen on " + listen.to_string() + ": " + why +
                 (errno == EADDRINUSE
                      ? " (a web server runs there? use webroot = its document root instead)"
                      : ""));
    }
    if (::listen(listen_fd_.get(), 16) != 0) {
        fail(ErrorKind::Io, "cannot listen on " + listen.to_string() + ": " + errno_text());
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof(bound);
    if (::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
        port_ = bound.ss_family == AF_INET6
                    ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                    : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    }
    int pipe_fds[2] = {-1, -1};
    if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        fail(ErrorKind::Io, "cannot create a pipe: " + errno_text());
    }
    wake_read_ = UniqueFd(pipe_fds[0]);
    wake_write_ = UniqueFd(pipe_fds[1]);
    const auto until = std::chrono::steady_clock::now() + max_lifetime;
    thread_ = std::thread([this, until] { run(until); });
}

HttpChallengeListener::~HttpChallengeListener() {
    stop();
}

void HttpChallengeListener::add(const std::string& token, const std::string& key_authorization) {
    require_token(token);
    const std::lock_guard lock(mu_);
    tokens_[token] = key_authorization;
}

void HttpChallengeListener::remove(const std::string& token) {
    const std::lock_guard lock(mu_);
    tokens_.erase(token);
}

void HttpChallengeListener::stop() noexcept {
    stop_ = true;
    if (wake_write_.valid()) {
        const char c = 'x';
        static_cast<void>(::write(wake_write_.get(), &c, 1));
    }
    if (thread_.joinable()) {
        thread_.join();
    }
    listen_fd_ = UniqueFd();
}

void HttpChallengeListener::run(std::chrono::steady_clock::time_point until) {
    // Bounded: the loop ends at stop() or when the lifetime is over, so a
    // forgotten listener never outlives its issuance by long.
    while (!stop_) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            break;
        }
        pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
        const int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1000)));
        if (n <= 0 || (fds[1].revents & POLLIN) != 0) {
            continue;
        }
        if ((fds[0].revents & POLLIN) == 0) {
            continue;
        }
        UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (client.valid()) {
            serve(client.get());
        }
    }
    // Closed here, not only in stop(): once its lifetime is over the port
    // refuses connections instead of queueing them unanswered.
    listen_fd_ = UniqueFd();
}

void HttpChallengeListener::serve(int fd) {
    const auto deadline = std::chrono::steady_clock::now() + kConnectionDeadline;
    std::string request;
    char buf[2048];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequest) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || stop_) {
            return;
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 200))) <= 0) {
            continue;
        }
        const ssize_t got = ::recv(fd, buf, sizeof(buf), 0);
        if (got <= 0) {
            return;
        }
        request.append(buf, static_cast<std::size_t>(got));
    }
    // "GET /.well-known/acme-challenge/TOKEN HTTP/1.1"
    const auto line_end = request.find("\r\n");
    const std::string line = request.substr(0, line_end);
    const auto sp1 = line.find(' ');
    const auto sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
    std::string status = "404 Not Found";
    std::string body = "not found\n";
    bool head = false;
    if (sp1 != std::string::npos && sp2 != std::string::npos) {
        const std::string method = line.substr(0, sp1);
        std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        head = method == "HEAD";
        if (method != "GET" && !head) {
            status = "405 Method Not Allowed";
            body = "method not allowed\n";
        } else if (target.rfind(kChallengePath, 0) == 0) {
            const std::string token = target.substr(kChallengePath.size());
            const std::lock_guard lock(mu_);
            if (const auto it = tokens_.find(token); it != tokens_.end()) {
                status = "200 OK";
                body = it->second;
                ++served_;
            }
        }
    } else {
        status = "400 Bad Request";
        body = "bad request\n";
    }
    std::string response =
        "HTTP/1.1 " + status +
        "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n";
    if (!head) {
        response += body;
    }
    write_all(fd, response, deadline);
    ++answered_;
}

ListenerSolver::ListenerSolver(const config::Endpoint& listen, std::chrono::seconds max_lifetime)
    : listener_(listen, max_lifetime) {}

void ListenerSolver::present(const std::string& identifier, const std::string& token,
                             const std::string& key_authorization) {
    static_cast<void>(identifier);
    listener_.add(token, key_authorization);
    tokens_.push_back(token);
}

std::vector<std::string> ListenerSolver::cleanup() noexcept {
    try {
        for (const auto& t : tokens_) {
            listener_.remove(t);
        }
    } catch (...) {  // NOLINT(bugprone-empty-catch): stop() below ends serving anyway
    }
    tokens_.clear();
    listener_.stop();
    return {};
}

}  // namespace daneroll::acme
