// Publishing and retiring TLSA records with RFC 2136 UPDATEs signed with
// TSIG (RFC 8945). Each change is one message whose prerequisite is the
// exact RRset the agent just read (compare-and-swap): if another agent
// changed the RRset in between, the server refuses, the agent re-reads and
// tries again. Only the records named in `remove` are ever deleted, so
// records of other hosts or algorithms at the same owner are never lost.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daneroll/dns/types.hpp"
#include "daneroll/tlsa/record.hpp"

namespace daneroll::dns {

struct TlsaChange {
    std::string zone;
    std::string owner;  // may be an alias; the change then applies at its target
    std::uint32_t ttl = 3600;
    std::vector<TlsaRecord> add;
    std::vector<TlsaRecord> remove;
};

struct UpdateOutcome {
    bool changed = false;            // false: the RRset already had the wanted shape
    std::vector<TlsaRecord> before;  // the RRset the applied UPDATE replaced
    std::vector<TlsaRecord> after;
    std::string owner;  // where the change applied (after aliases)
    int attempts = 0;
};

// Applies `change` at `primary`, retrying compare-and-swap conflicts up to
// `max_attempts` times. Every record to add must pass
// validate_for_publication. Throws Error(Network) with the server's own
// answer (REFUSED, NOTAUTH with BADSIG/BADKEY/BADTIME, NOTZONE, ...) and what
// to check; the zone is unchanged then.
UpdateOutcome update_tlsa(const Server& primary, const TsigCredentials& key,
                          const TlsaChange& change, const QueryOptions& options,
                          int max_attempts = 8);

// The same, but the first UPDATE's prerequisite is `observed`, the RRset at
// the owner as the caller last saw it, instead of a fresh read: if the RRset
// changed since, the server refuses it (NXRRSET/YXRRSET) and the change is
// retried from a fresh read, within `max_attempts` (the outcome's
// `attempts` counts them). With max_attempts 1 a stale `observed` fails
// with Error(Network) and changes nothing.
UpdateOutcome update_tlsa_from(const Server& primary, const TsigCredentials& key,
                               const TlsaChange& change, const std::vector<TlsaRecord>& observed,
                               const QueryOptions& options, int max_attempts = 8);

// ACME dns-01 (RFC 8555 8.4): TXT records at "_acme-challenge.NAME".
struct TxtChange {
    std::string zone;
    std::string owner;
    std::uint32_t ttl = 60;
    std::vector<std::string> add;  // each one character-string, at most 255 bytes
    std::vector<std::string> remove;
};

// Adds and deletes exactly the TXT records named, in one TSIG-signed
// UPDATE to `primary`; other records at the owner are left alone. Refusals
// are explained as for update_tlsa (REFUSED names the TXT update-policy).
void update_txt(const Server& primary, const TsigCredentials& key, const TxtChange& change,
                const QueryOptions& options);

struct TxtAtServer {
    int rcode = -1;                   // -1: no answer (see error)
    std::string error;                // transport failure
    std::vector<std::string> values;  // each record's strings concatenated
};

// The TXT RRset `server` serves at `owner`, asked without recursion.
TxtAtServer txt_at(const Server& server, const std::string& owner, const QueryOptions& options);

// Rejects TSIG algorithms ldns cannot sign with (see tsig_key_file.hpp).
void require_signing_algorithm(const std::string& algorithm);

}  // namespace daneroll::dns
