// One TCP connection to an SMTP server, first in clear and then, after
// STARTTLS, through TLS. Every operation waits with poll(2) on a
// non-blocking socket, at most until the connection's deadline; failures
// become ProbeFailure with the step that failed in the reason.
#pragma once

#include <string>
#include <string_view>

#include "daneroll/common/files.hpp"
#include "daneroll/crypto/openssl_handles.hpp"
#include "daneroll/smtp/reply.hpp"
#include "deadline.hpp"
#include "probe_failure.hpp"
#include "socket_address.hpp"

namespace daneroll::smtp {

class Connection {
  public:
    // Connects to `address`:`port`. Throws ProbeFailure: ConnectFailed
    // (refused, unreachable) or Timeout.
    Connection(const SocketAddress& address, std::uint16_t port, Deadline deadline);

    void set_deadline(Deadline deadline) noexcept { deadline_ = deadline; }
    [[nodiscard]] Deadline deadline() const noexcept { return deadline_; }

    // Sends `command` and CRLF. `step` describes the wait for messages,
    // e.g. "sending EHLO".
    void send_command(std::string_view command, std::string_view step);
    // Reads one complete reply. Throws ProbeFailure: Timeout, or SmtpError
    // if the server closes the connection or breaks the reply syntax.
    SmtpReply read_reply(std::string_view step);
    // True if the server sent bytes beyond the last reply read.
    [[nodiscard]] bool has_unread_input() const noexcept { return !input_.empty(); }

    // Runs the TLS handshake on this connection with `ssl` (configured by
    // the caller); from then on commands and replies go through TLS. Throws
    // ProbeFailure: TlsHandshakeFailed or Timeout. The handshake completing
    // says nothing about verification: the caller reads the verdict.
    void start_tls(ossl::SslPtr ssl);
    [[nodiscard]] SSL* ssl() const noexcept { return ssl_.get(); }

    // Best effort: send a TLS close_notify without waiting for the peer's.
    void shutdown_tls() noexcept;

  private:
    void wait_for(short events, std::string_view step);
    std::size_t read_some(char* buf, std::size_t size, std::string_view step);
    void write_all(std::string_view data, std::string_view step);
    // After a failed SSL_* call: wait as asked, or throw describing the error.
    void handle_ssl_result(int rc, std::string_view step, ProbeStatus on_error);

    std::string peer_;  // "192.0.2.25:25", for messages
    Deadline deadline_;
    UniqueFd fd_;
    ossl::SslPtr ssl_;
    std::string input_;  // received, not yet parsed
};

}  // namespace daneroll::smtp
