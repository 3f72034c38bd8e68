#include "query_engine.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <random>
#include <unordered_map>

#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "tcp_pipeline.hpp"

namespace daneroll::dns {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kEdnsBufferSize = 1232;  // the DNS flag day 2020 value
constexpr std::size_t kMaxDatagram = 65535;

LdnsPkt build_query(const Question& q, const QueryFlags& flags, std::uint16_t id) {
    LdnsRdf name = make_dname(q.name);
    std::uint16_t bits = 0;
    if (flags.recursion_desired) {
        bits |= LDNS_RD;
    }
    if (flags.checking_disabled) {
        bits |= LDNS_CD;
    }
    // ldns_pkt_query_new takes ownership of the name.
    LdnsPkt pkt(ldns_pkt_query_new(name.release(), q.type, LDNS_RR_CLASS_IN, bits));
    if (!pkt) {
        fail(ErrorKind::Internal, "cannot build a DNS query for " + q.name);
    }
    ldns_pkt_set_id(pkt.get(), id);
    ldns_pkt_set_edns_udp_size(pkt.get(), kEdnsBufferSize);
    ldns_pkt_set_edns_do(pkt.get(), flags.dnssec_ok);
    if (flags.recursion_desired) {
        // RFC 6840 §5.7: ask the validator to report its verdict (AD).
        ldns_pkt_set_ad(pkt.get(), true);
    }
    return pkt;
}

std::vector<std::uint8_t> to_wire(const ldns_pkt* pkt) {
    std::uint8_t* wire = nullptr;
    std::size_t size = 0;
    if (ldns_pkt2wire(&wire, pkt, &size) != LDNS_STATUS_OK) {
        fail(ErrorKind::Internal, "cannot encode a DNS query");
    }
    LdnsWire owned(wire);
    return {wire, wire + size};
}

}  // namespace

bool answers_question(const ldns_pkt* reply, const Question& q) {
    const ldns_rr_list* question = ldns_pkt_question(reply);
    if (question == nullptr || ldns_rr_list_rr_count(question) != 1) {
        return false;
    }
    const ldns_rr* rr = ldns_rr_list_rr(question, 0);
    if (ldns_rr_get_type(rr) != q.type) {
        return false;
    }
    const LdnsRdf want = make_dname(q.name);
    return ldns_dname_compare(ldns_rr_owner(rr), want.get()) == 0;
}

struct sockaddr_storage server_sockaddr(const Server& server, socklen_t& length) {
    sockaddr_storage ss{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, server.address.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(server.port);
        length = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, server.address.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(server.port);
        length = sizeof(sockaddr_in6);
    } else {
        fail(ErrorKind::Input, "'" + server.address + "' is not an IP address");
    }
    return ss;
}

std::vector<Answer> query_batch(const Server& server, const std::vector<Question>& questions,
                                const QueryFlags& flags, const QueryOptions& options) {
    const std::size_t n = questions.size();
    std::vector<Answer> answers(n);
    if (n == 0) {
        return answers;
    }
    auto fail_all = [&](const std::string& why) {
        for (auto& a : answers) {
            if (!a.packet && a.error.empty()) {
                a.error = why;
            }
        }
        return std::move(answers);
    };

    socklen_t len = 0;
    const auto sa = server_sockaddr(server, len);
    UniqueFd fd(::socket(sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid() || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
        return fail_all(std::string("cannot open a UDP socket to ") + server.label() + ": " +
                        std::strerror(errno));
    }

    struct Slot {
        int tries = 0;
        bool done = false;
        bool truncated = false;
        std::uint16_t id = 0;
        Clock::time_point sent;
    };
    std::vector<Slot> slots(n);
    std::unordered_map<std::uint16_t, std::size_t> in_flight;  // id -> question
    std::deque<std::size_t> to_send;
    for (std::size_t i = 0; i < n; ++i) {
        to_send.push_back(i);
    }
    std::mt19937 rng(std::random_device{}());
    std::size_t remaining = n;
    const std::size_t window = std::max<std::size_t>(1, options.window);
    const int max_tries = options.retries + 1;
    // Every query gets at most max_tries sends, each waiting at most one
    // timeout, and at least one query of each window progresses per timeout.
    const auto deadline = Clock::now() + options.timeout * max_tries *
                                             static_cast<long>((n + window - 1) / window + 1);
    std::vector<std::uint8_t> buf(kMaxDatagram);

    auto send = [&](std::size_t i) {
        Slot& s = slots[i];
        do {
            s.id = static_cast<std::uint16_t>(rng());
        } while (in_flight.count(s.id) != 0);
        const auto wire = to_wire(build_query(questions[i], flags, s.id).get());
        ++s.tries;
        s.sent = Clock::now();
        in_flight[s.id] = i;
        // A send error is handled like a lost datagram: the timeout retries it.
        (void)::send(fd.get(), wire.data(), wire.size(), 0);
    };
    auto finish = [&](std::size_t i) {
        slots[i].done = true;
        --remaining;
    };

    bool switch_to_tcp = false;
    while (remaining > 0) {
        while (in_flight.size() < window && !to_send.empty()) {
            const std::size_t i = to_send.front();
            to_send.pop_front();
            send(i);
        }
        const auto now = Clock::now();
        if (now >= deadline) {
            return fail_all("no answer from " + server.label() + " in time");
        }
        auto wake = deadline;
        for (const auto& [id, i] : in_flight) {
            wake = std::min(wake, slots[i].sent + options.timeout);
        }
        const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now);
        pollfd pfd{fd.get(), POLLIN, 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>(std::max<long>(wait_ms.count(), 0) + 1));
        if (ready < 0 && errno != EINTR) {
            return fail_all(std::string("poll failed: ") + std::strerror(errno));
        }
        for (;;) {
            const ssize_t got = ::recv(fd.get(), buf.data(), buf.size(), 0);
            if (got < 0) {
                if (errno == ECONNREFUSED) {
                    return fail_all("connection refused: nothing answers DNS on " + server.label());
                }
                break;  // EAGAIN: drained
            }
            ldns_pkt* raw = nullptr;
            if (ldns_wire2pkt(&raw, buf.data(), static_cast<std::size_t>(got)) != LDNS_STATUS_OK) {
                continue;  // not DNS; ignore
            }
            LdnsPkt reply(raw);
            const auto it = in_flight.find(ldns_pkt_id(reply.get()));
            if (it == in_flight.end()) {
                continue;  // stale or spoofed
            }
            const std::size_t i = it->second;
            if (!answers_question(reply.get(), questions[i])) {
                continue;
            }
            in_flight.erase(it);
            if (ldns_pkt_tc(reply.get())) {
                slots[i].truncated = true;
                switch_to_tcp = true;
            } else {
                answers[i].packet = std::move(reply);
            }
            finish(i);
        }
        if (switch_to_tcp) {
            // A server that truncates, be it for size or because its
            // response rate limiting answers a burst with TC (NSD's slip),
            // gets everything still unanswered over TCP at once: under RRL
            // the queries in flight are more likely dropped than late, and
            // waiting out their UDP timeouts would cost seconds.
            for (std::size_t i = 0; i < n; ++i) {
                if (!slots[i].done) {
                    slots[i].truncated = true;
                    finish(i);
                }
            }
            break;
        }
        const auto after = Clock::now();
        for (auto it = in_flight.begin(); it != in_flight.end();) {
            const std::size_t i = it->second;
            if (after - slots[i].sent < options.timeout) {
                ++it;
                continue;
            }
            it = in_flight.erase(it);
            if (slots[i].tries < max_tries) {
                to_send.push_back(i);
            } else {
                answers[i].error = "no answer from " + server.label() + " after " +
                                   std::to_string(max_tries) + " tries of " +
                                   std::to_string(options.timeout.count()) + " ms";
                finish(i);
            }
        }
    }
    // The truncated ones, all on one TCP connection.
    std::vector<std::size_t> truncated;
    std::vector<Question> again;
    for (std::size_t i = 0; i < n; ++i) {
        if (slots[i].truncated) {
            truncated.push_back(i);
            again.push_back(questions[i]);
        }
    }
    if (!again.empty()) {
        auto tcp = query_tcp_pipelined(
            server, again,
            [&](std::size_t j, std::uint16_t id) {
                return to_wire(build_query(again[j], flags, id).get());
            },
            options);
        for (std::size_t j = 0; j < truncated.size(); ++j) {
            answers[truncated[j]] = std::move(tcp[j]);
        }
    }
    return answers;
}

Answer query_one(const Server& server, const Question& question, const QueryFlags& flags,
                 const QueryOptions& options) {
    auto answers = query_batch(server, {question}, flags, options);
    return std::move(answers.front());
}

}  // namespace daneroll::dns
