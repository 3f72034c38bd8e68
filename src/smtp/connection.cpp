#include "connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

#include "daneroll/common/error.hpp"

namespace daneroll::smtp {

namespace {

// Thread-safe, unlike strerror: probes of several addresses run at once.
std::string errno_text(int err) {
    return std::system_category().message(err);
}

}  // namespace

Connection::Connection(const SocketAddress& address, std::uint16_t port, Deadline deadline)
    : peer_(address.endpoint(port)), deadline_(deadline) {
    fd_ = UniqueFd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd_.valid()) {
        fail_probe(ProbeStatus::ConnectFailed,
                   "cannot create a socket for " + peer_ + ": " + errno_text(errno));
    }
    // Commands are small and each waits for its reply, but the TLS
    // handshake's last flight and the first command are back-to-back small
    // writes: without TCP_NODELAY, Nagle plus delayed ACKs add ~40 ms.
    const int one = 1;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_.get(), address.get(), address.length) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            fail_probe(ProbeStatus::ConnectFailed,
                       "cannot connect to " + peer_ + ": " + errno_text(errno));
        }
        wait_for(POLLOUT, "connecting");  // "timed out connecting"
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
            err = errno;
        }
        if (err != 0) {
            fail_probe(ProbeStatus::ConnectFailed,
                       "cannot connect to " + peer_ + ": " + errno_text(err));
        }
    }
}

void Connection::wait_for(short events, std::string_view step) {
    if ((events & POLLIN) != 0) {
        // ACK what arrives at once. A TLS 1.3 server sends its session
        // tickets in several small writes after the handshake; with Nagle
        // on its side and a delayed ACK on ours, the reply to the first
        // command inside TLS would wait ~40 ms for nothing.
        const int one = 1;
        ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
    for (;;) {
        pollfd p{fd_.get(), events, 0};
        const int rc = ::poll(&p, 1, deadline_.poll_timeout_ms());
        if (rc > 0) {
            // Readable, writable, or an error/hang-up that the next call on
            // the socket will report precisely.
            return;
        }
        if (rc == 0) {
            fail_probe(ProbeStatus::Timeout, "timed out " + std::string(step) + " (" + peer_ + ")");
        }
        if (errno != EINTR) {
            fail_probe(ProbeStatus::SmtpError,
                       "poll failed " + std::string(step) + ": " + errno_text(errno));
        }
    }
}

void Connection::handle_ssl_result(int rc, std::string_view step, ProbeStatus on_error) {
    const int saved_errno = errno;
    const int err = SSL_get_error(ssl_.get(), rc);
    switch (err) {
        case SSL_ERROR_WANT_READ:
            wait_for(POLLIN, step);
            return;
        case SSL_ERROR_WANT_WRITE:
            wait_for(POLLOUT, step);
            return;
        case SSL_ERROR_ZERO_RETURN:
            fail_probe(on_error, "the server closed the TLS session " + std::string(step));
        case SSL_ERROR_SYSCALL: {
            std::string why = ossl::drain_errors();
            if (why.empty()) {
                why =
                    saved_errno == 0 ? "the server closed the connection" : errno_text(saved_errno);
            }
            fail_probe(on_error, "TLS error " + std::string(step) + " (" + peer_ + "): " + why);
        }
        default: {
            std::string why = ossl::drain_errors();
            fail_probe(on_error, "TLS error " + std::string(step) + " (" + peer_ + "): " +
                                     (why.empty() ? "SSL_get_error " + std::to_string(err) : why));
        }
    }
}

std::size_t Connection::read_some(char* buf, std::size_t size, std::string_view step) {
    for (;;) {
        if (ssl_) {
            std::size_t got = 0;
            ERR_clear_error();
            const int rc = SSL_read_ex(ssl_.get(), buf, size, &got);
            if (rc == 1) {
                return got;
            }
            handle_ssl_result(rc, step, ProbeStatus::SmtpError);
            continue;
        }
        const ssize_t n = ::recv(fd_.get(), buf, size, 0);
        if (n > 0) {
            return static_cast<std::size_t>(n);
        }
        if (n == 0) {
            fail_probe(ProbeStatus::SmtpError,
                       "the server closed the connection " + std::string(step));
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            wait_for(POLLIN, step);
        } else if (errno != EINTR) {
            fail_probe(ProbeStatus::SmtpError,
                       "connection lost " + std::string(step) + ": " + errno_text(errno));
        }
    }
}

void Connection::write_all(std::string_view data, std::string_view step) {
    while (!data.empty()) {
        if (ssl_) {
            std::size_t put = 0;
            ERR_clear_error();
            const int rc = SSL_write_ex(ssl_.get(), data.data(), data.size(), &put);
            if (rc == 1) {
                data.remove_prefix(put);
            } else {
                handle_ssl_result(rc, step, ProbeStatus::SmtpError);
            }
            continue;
        }
        // MSG_NOSIGNAL: a peer that hung up must not kill the agent with SIGPIPE.
        const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n >= 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            wait_for(POLLOUT, step);
        } else if (errno != EINTR) {
            fail_probe(ProbeStatus::SmtpError,
                       "connection lost " + std::string(step) + ": " + errno_text(errno));
        }
    }
}

void Connection::send_command(std::string_view command, std::string_view step) {
    std::string line(command);
    line += "\r\n";
    write_all(line, step);
}

SmtpReply Connection::read_reply(std::string_view step) {
    ReplyParser parser;
    std::array<char, 4096> buf{};
    for (;;) {
        // The parser takes bytes only up to the end of one reply; the rest
        // stays in input_ for the next read (or betrays a server that
        // pipelines where it must not, see has_unread_input).
        const std::size_t used = parser.feed(input_);
        input_.erase(0, used);
        if (parser.state() == ReplyParser::State::Complete) {
            return parser.reply();
        }
        if (parser.state() == ReplyParser::State::Malformed) {
            fail_probe(ProbeStatus::SmtpError, "malformed reply " + std::string(step) + " from " +
                                                   peer_ + ": " + parser.error());
        }
        const std::size_t n = read_some(buf.data(), buf.size(), step);
        input_.append(buf.data(), n);
    }
}

void Connection::start_tls(ossl::SslPtr ssl) {
    ssl_ = std::move(ssl);
    ERR_clear_error();
    if (SSL_set_fd(ssl_.get(), fd_.get()) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot attach TLS to the socket"));
    }
    for (;;) {
        ERR_clear_error();
        // The handshake's own result first: when it fails before the chain
        // is verified, SSL_get_verify_result still says OK.
        const int rc = SSL_connect(ssl_.get());
        if (rc == 1) {
            return;
        }
        handle_ssl_result(rc, "during the handshake", ProbeStatus::TlsHandshakeFailed);
    }
}

void Connection::shutdown_tls() noexcept {
    if (ssl_) {
        SSL_shutdown(ssl_.get());
        ERR_clear_error();
    }
}

}  // namespace daneroll::smtp
