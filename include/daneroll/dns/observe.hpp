// What each authoritative server serves, asked directly (no recursion, DO
// bit): the zone's SOA and, per owner name, the TLSA RRset with its RRSIGs
// checked against the zone's DNSKEYs. The deploy rule is decided on this,
// never on SOA serials alone: a server may keep its serial across an update,
// and a secondary may share the serial yet hold stale signatures.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daneroll/dns/types.hpp"
#include "daneroll/tlsa/record.hpp"

namespace daneroll::dns {

using TimePoint = std::chrono::system_clock::time_point;

struct RrsetAtServer {
    int rcode = -1;                   // -1: no answer (see error)
    std::string error;                // transport failure or a lame answer
    std::string cname_target;         // the owner is an alias for this name
    std::vector<TlsaRecord> records;  // sorted
    std::uint32_t ttl = 0;
    bool signed_ = false;          // RRSIGs present
    bool signature_valid = false;  // an RRSIG verifies under the zone's DNSKEYs now
    std::string signature_problem;
    // Of the valid RRSIG that expires last.
    std::optional<TimePoint> signature_inception;
    std::optional<TimePoint> signature_expiration;

    [[nodiscard]] bool answered() const { return rcode >= 0 && error.empty(); }
    [[nodiscard]] bool has(const TlsaRecord& r) const;
};

struct ServerView {
    Server server;
    std::string error;  // set when the server gave no usable SOA answer
    std::optional<std::uint32_t> soa_serial;
    std::uint32_t negative_ttl = 0;               // min(SOA TTL, SOA MINIMUM), RFC 2308
    std::map<std::string, RrsetAtServer> owners;  // by absolute owner name
    std::chrono::microseconds elapsed{0};
};

struct ZoneView {
    std::string zone;  // absolute
    TimePoint observed_at;
    std::vector<ServerView> servers;
    bool dnskeys_available = false;  // signatures could be checked

    // True if every server answered for `owner` with `record` in the RRset
    // under a valid RRSIG that stays valid until at least `valid_until`.
    [[nodiscard]] bool served_everywhere(const std::string& owner, const TlsaRecord& record,
                                         TimePoint valid_until) const;
    // One line per server that does not serve `record` at `owner` signed, e.g.
    // "ns2.example.test (127.0.0.12) at serial 41 lacks 3 1 1 ab12cd34ef56…".
    [[nodiscard]] std::vector<std::string> gaps(const std::string& owner, const TlsaRecord& record,
                                                TimePoint valid_until) const;
    // The largest TTL any server gives the RRset at `owner`.
    [[nodiscard]] std::uint32_t max_ttl(const std::string& owner) const;
    // The largest negative TTL among the servers.
    [[nodiscard]] std::uint32_t max_negative_ttl() const;
};

// Asks every server for the zone's SOA and each owner's TLSA RRset, all
// servers in parallel and all names of one server in one pipelined batch.
// `dnskeys` (presentation form, from the validating resolver) verify the
// RRSIGs; if empty, signatures are only reported as present or absent.
// `now` is the time the signature windows are judged at.
ZoneView observe_zone(const std::string& zone, const std::vector<Server>& servers,
                      const std::vector<std::string>& owners,
                      const std::vector<std::string>& dnskeys, TimePoint now,
                      const QueryOptions& options);

}  // namespace daneroll::dns
