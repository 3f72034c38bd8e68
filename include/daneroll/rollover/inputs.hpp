// Everything decide() reads besides the persisted state: the service's
// policy from the configuration and what this tick observed. Built by the
// engine from real servers, or by tests from fake observations.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daneroll/config/config.hpp"
#include "daneroll/rollover/state.hpp"
#include "daneroll/tlsa/record.hpp"

namespace daneroll::rollover {

struct Policy {
    config::Scheme scheme = config::Scheme::CurrentNext;
    std::string host;  // the MX host: the DANE-TA reference name
    std::uint32_t ttl = 3600;
    std::chrono::seconds rotation_period{std::chrono::hours(24 * 90)};
    std::chrono::seconds renew_before{std::chrono::hours(24 * 30)};
    std::vector<TlsaRecord> issuers;  // current+issuer: 2 x x records to keep published
    std::size_t max_records = 12;
    // False for a source that only hands chains over (certbot): the engine
    // then waits for a delivery instead of asking.
    bool source_can_issue = true;
};

struct DnsObservation {
    // Every authoritative server answered for the owner and the zone's
    // DNSKEYs were available from the validating resolver.
    bool complete = false;
    std::vector<std::string> problems;  // why not complete, for people
    // Records served, signed, by every server (with signatures valid past
    // the longest wait ahead).
    std::set<TlsaRecord> everywhere;
    // The RRset at the primary: what the next UPDATE's prerequisite sees.
    std::vector<TlsaRecord> rrset_at_primary;
    bool primary_answered = false;  // rrset_at_primary is an actual answer
    // Some server has no TLSA RRset at the owner (NXDOMAIN or NODATA).
    bool owner_empty_somewhere = true;
    std::uint32_t max_ttl = 0;       // largest TLSA TTL any server gives
    std::uint32_t negative_ttl = 0;  // largest SOA negative TTL
    // Per record not everywhere: which server lacks what.
    std::map<TlsaRecord, std::vector<std::string>> gaps;
};

// Another rollover unit publishing at the same TLSA owner name (the other
// key algorithm of the service, or another service with the same MX name).
// Removing a record must leave every chain *any* unit's MTA can present
// matched, and a record another unit relies on is not ours to judge alone.
struct PeerUnit {
    std::string name;                     // "mx1/rsa2048", for messages
    std::vector<std::string> chains;      // chains its MTA can present (PEM)
    std::vector<TlsaRecord> established;  // its records ready under the deploy rule
    std::vector<TlsaRecord> wanted;       // records it wants published now
    std::vector<TlsaRecord> created;      // records its UPDATEs added
};

// What the MTA presents at each address of the MX host, probed right
// before a tick would retire a record: the retire rule covers what is
// served, not only what the state and the MTA's files say (a reload that
// did not take, a second machine with a copy of the old key). Not probed
// otherwise: it costs a handshake per address.
struct ServedObservation {
    struct Address {
        std::string address;
        std::string chain_pem;  // as presented, leaf first
    };
    bool probed = false;
    std::vector<Address> chains;
    // "ADDRESS: why" for each address that presented no chain (down, no
    // STARTTLS, handshake failed) or a name that did not resolve: what it
    // would present after it recovers is unknown.
    std::vector<std::string> unseen;
};

struct Inputs {
    TimePoint now;
    Policy policy;
    DnsObservation dns;
    // The chain the MTA's files hold now (PEM, leaf first); empty if the
    // files are missing or unreadable.
    std::string installed_chain_pem;
    // A chain a certificate source handed over (certbot's deploy hook) and
    // the id of the key it belongs to; empty if none.
    std::string delivered_chain_pem;
    std::string delivered_key_id;
    // What the reading of the source's deliveries (the inbox, certbot's
    // lineage) found worth a warning; decide() reports them every tick.
    std::vector<std::string> warnings;
    std::vector<PeerUnit> peers;
    // The CA's renewal advice (RFC 9773) for the deployed leaf, when the
    // source offers it: the rollover starts at the earlier of its renew_at
    // and notAfter - renew_before (it can bring a renewal forward, e.g.
    // ahead of a mass revocation, never push it past the operator's margin).
    std::optional<RenewalAdvice> ca_renewal;
    ServedObservation served;
};

}  // namespace daneroll::rollover
