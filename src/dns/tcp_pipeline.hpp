// DNS over one TCP connection for many questions (RFC 7766 §6.2.1.1:
// pipelining, answers in any order, matched by message ID). Used for the
// answers that came back truncated over UDP: a server whose response rate
// limiting makes it answer "TC" to a burst (NSD's RRL slips every other
// answer to a fast client) would otherwise cost one TCP connection, with
// its handshake, per name.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "daneroll/dns/types.hpp"
#include "query_engine.hpp"

namespace daneroll::dns {

// Encodes a query for question `i` with message ID `id` (the engine's own
// encoder, so that UDP and TCP ask exactly the same).
using QueryEncoder = std::function<std::vector<std::uint8_t>(std::size_t i, std::uint16_t id)>;

// Asks `questions` over TCP, pipelined on as few connections as the server
// allows (a server may close after some queries: the rest go on a new
// connection; retries + 1 connections that bring no answer end it).
// Answers in the order of `questions`, each with via_tcp set, or with an
// error. Bounded: a connection gives up after one timeout without progress
// and after a timeout per 64 questions (plus two) in all.
std::vector<Answer> query_tcp_pipelined(const Server& server,
                                        const std::vector<Question>& questions,
                                        const QueryEncoder& encode, const QueryOptions& options);

}  // namespace daneroll::dns
