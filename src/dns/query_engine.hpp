// Sends many DNS queries to one server at once: UDP with a bounded window
// of queries in flight, retransmission on timeout, and one pipelined TCP
// connection for the answers that arrive truncated. Verifying 1,000 names then costs about one
// round trip per window instead of one per name.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "daneroll/dns/types.hpp"
#include "ldns.hpp"

namespace daneroll::dns {

struct Question {
    std::string name;  // absolute, with trailing dot
    ldns_rr_type type = LDNS_RR_TYPE_A;
};

struct Answer {
    LdnsPkt packet;     // null on failure
    std::string error;  // why there is no packet ("timeout after 3 tries", ...)
    bool via_tcp = false;
};

struct QueryFlags {
    bool recursion_desired = false;  // RD: only for the resolver
    bool dnssec_ok = true;           // DO: ask for RRSIGs
    bool checking_disabled = false;  // CD: ask a validator for bogus data too
};

// Answers in the order of `questions`. Never throws for a network failure:
// each answer carries its own error. The whole batch is bounded by
// (retries + 1) x timeout of UDP; the first truncated answer moves every
// question still unanswered to one pipelined TCP connection
// (tcp_pipeline.hpp), bounded there.
std::vector<Answer> query_batch(const Server& server, const std::vector<Question>& questions,
                                const QueryFlags& flags, const QueryOptions& options);

// One question, for convenience.
Answer query_one(const Server& server, const Question& question, const QueryFlags& flags,
                 const QueryOptions& options);

// True if `reply` is about exactly `question` (one question, same name and
// type): an answer's ID alone is 16 bits of trust.
bool answers_question(const ldns_pkt* reply, const Question& question);

// A socket address for `server`; throws Error(Input) on a bad literal.
struct sockaddr_storage server_sockaddr(const Server& server, socklen_t& length);

}  // namespace daneroll::dns
