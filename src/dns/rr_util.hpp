// Small helpers to pick records out of ldns packets.
#pragma once

#include <string>
#include <vector>

#include "daneroll/tlsa/record.hpp"
#include "ldns.hpp"

namespace daneroll::dns {

// RRs of `type` in `section` whose owner equals `owner` (case-insensitive).
std::vector<const ldns_rr*> rrs_at(const ldns_pkt* pkt, ldns_pkt_section section,
                                   const std::string& owner, ldns_rr_type type);

// Follows CNAMEs from `owner` inside the answer section (at most 8 hops);
// returns the final name ("" if `owner` is not an alias).
std::string follow_cnames(const ldns_pkt* pkt, const std::string& owner);

// The TLSA records of the given RRs, sorted, and their (smallest) TTL.
std::vector<TlsaRecord> tlsa_records(const std::vector<const ldns_rr*>& rrs, std::uint32_t& ttl);

// A TLSA RR for an UPDATE message.
LdnsRr make_tlsa_rr(const std::string& owner, std::uint32_t ttl, ldns_rr_class klass,
                    const TlsaRecord& record);

}  // namespace daneroll::dns
