#include "tcp_pipeline.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <unordered_map>

#include "daneroll/common/files.hpp"

namespace daneroll::dns {

namespace {

using Clock = std::chrono::steady_clock;

// One connection: sends every pending question (length-prefixed, RFC 1035
// §4.2.2) while reading answers as they come, so that neither side's
// buffers fill up and stall the other. Fills `answers` for the questions
// answered; returns why the connection ended early, or "" if every
// question got its answer.
std::string one_connection(const Server& server, const std::vector<Question>& questions,
                           const std::vector<std::size_t>& pending, const QueryEncoder& encode,
                           const QueryOptions& options, std::vector<Answer>& answers,
                           std::mt19937& rng) {
    socklen_t len = 0;
    const auto sa = server_sockaddr(server, len);
    UniqueFd fd(::socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
        return std::string("cannot open a TCP socket: ") + std::strerror(errno);
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), len) != 0 &&
        errno != EINPROGRESS) {
        return std::string("cannot connect: ") + std::strerror(errno);
    }
    pollfd connecting{fd.get(), POLLOUT, 0};
    const int ready = ::poll(&connecting, 1, static_cast<int>(options.timeout.count()));
    if (ready <= 0) {
        return "connect timed out after " + std::to_string(options.timeout.count()) + " ms";
    }
    int so_error = 0;
    socklen_t so_len = sizeof so_error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &so_len);
    if (so_error != 0) {
        return std::string("cannot connect: ") + std::strerror(so_error);
    }

    std::unordered_map<std::uint16_t, std::size_t> by_id;
    std::vector<std::uint8_t> out;
    for (const std::size_t i : pending) {
        std::uint16_t id = 0;
        do {
            id = static_cast<std::uint16_t>(rng());
        } while (by_id.count(id) != 0);
        by_id[id] = i;
        const auto wire = encode(i, id);
        out.push_back(static_cast<std::uint8_t>(wire.size() >> 8));
        out.push_back(static_cast<std::uint8_t>(wire.size() & 0xff));
        out.insert(out.end(), wire.begin(), wire.end());
    }

    // Bounded twice: one timeout without any progress ends the connection,
    // and the whole of it may take a timeout per 64 questions, plus two.
    const auto deadline =
        Clock::now() + options.timeout * static_cast<long>(2 + pending.size() / 64);
    auto last_progress = Clock::now();
    std::size_t sent = 0;
    std::vector<std::uint8_t> in;
    std::vector<std::uint8_t> chunk(65536);
    bool eof = false;
    while (!by_id.empty()) {
        const auto now = Clock::now();
        const auto idle_until = std::min(last_progress + options.timeout, deadline);
        if (now >= idle_until) {
            return now >= deadline
                       ? "the answers did not all come in time"
                       : "no progress for " + std::to_string(options.timeout.count()) + " ms";
        }
        if (eof) {
            return "the server closed the connection after " +
                   std::to_string(pending.size() - by_id.size()) + " of " +
                   std::to_string(pending.size()) + " answers";
        }
        pollfd pfd{fd.get(), static_cast<short>(POLLIN | (sent < out.size() ? POLLOUT : 0)), 0};
        const auto wait =
            std::chrono::duration_cast<std::chrono::milliseconds>(idle_until - now).count() + 1;
        if (::poll(&pfd, 1, static_cast<int>(wait)) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return std::string("poll failed: ") + std::strerror(errno);
        }
        if ((pfd.revents & POLLOUT) != 0 && sent < out.size()) {
            const ssize_t w = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
            if (w > 0) {
                sent += static_cast<std::size_t>(w);
                last_progress = Clock::now();
            } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return std::string("send failed: ") + std::strerror(errno);
            }
        }
        if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            const ssize_t r = ::recv(fd.get(), chunk.data(), chunk.size(), 0);
            if (r > 0) {
                in.insert(in.end(), chunk.begin(), chunk.begin() + r);
                last_progress = Clock::now();
            } else if (r == 0) {
                eof = true;  // parse what came, then stop
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return std::string("receive failed: ") + std::strerror(errno);
            }
        }
        // Every complete message in the buffer.
        std::size_t pos = 0;
        while (in.size() - pos >= 2) {
            const std::size_t size = (std::size_t{in[pos]} << 8) | in[pos + 1];
            if (in.size() - pos - 2 < size) {
                break;
            }
            ldns_pkt* raw = nullptr;
            if (ldns_wire2pkt(&raw, in.data() + pos + 2, size) == LDNS_STATUS_OK) {
                LdnsPkt reply(raw);
                const auto it = by_id.find(ldns_pkt_id(reply.get()));
                if (it != by_id.end() && answers_question(reply.get(), questions[it->second])) {
                    answers[it->second].packet = std::move(reply);
                    answers[it->second].error.clear();
                    by_id.erase(it);
                }
            }
            pos += 2 + size;
        }
        in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(pos));
    }
    return "";
}

}  // namespace

std::vector<Answer> query_tcp_pipelined(const Server& server,
                                        const std::vector<Question>& questions,
                                        const QueryEncoder& encode, const QueryOptions& options) {
    std::vector<Answer> answers(questions.size());
    for (auto& a : answers) {
        a.via_tcp = true;
    }
    std::vector<std::size_t> pending(questions.size());
    for (std::size_t i = 0; i < pending.size(); ++i) {
        pending[i] = i;
    }
    std::mt19937 rng(std::random_device{}());
    // A connection that brought at least one answer is progress; only
    // fruitless ones count against retries + 1. Each round either answers
    // something or counts, so the loop ends.
    std::string why;
    int fruitless = 0;
    while (!pending.empty() && fruitless <= options.retries) {
        const std::size_t before = pending.size();
        why = one_connection(server, questions, pending, encode, options, answers, rng);
        pending.erase(std::remove_if(pending.begin(), pending.end(),
                                     [&](std::size_t i) { return answers[i].packet != nullptr; }),
                      pending.end());
        if (pending.size() == before) {
            ++fruitless;
        }
    }
    for (const std::size_t i : pending) {
        answers[i].error = "no answer over TCP from " + server.label() + ": " + why;
    }
    return answers;
}

}  // namespace daneroll::dns
