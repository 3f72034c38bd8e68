// The only way daneroll includes ldns. ldns/common.h defines bool, true and
// false as macros unless <stdbool.h> came first, which breaks libstdc++
// headers included later; ldns/util.h also shadows POSIX dprintf.
#pragma once

// clang-format off
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers): must precede ldns
#include <ldns/ldns.h>
// clang-format on
#undef dprintf

#include <string>

#include "daneroll/common/c_handle.hpp"

namespace daneroll::dns {

using LdnsPkt = CHandle<ldns_pkt, ldns_pkt_free>;
using LdnsRr = CHandle<ldns_rr, ldns_rr_free>;
using LdnsRrList = CHandle<ldns_rr_list, ldns_rr_list_deep_free>;
using LdnsRdf = CHandle<ldns_rdf, ldns_rdf_deep_free>;
using LdnsBuffer = CHandle<ldns_buffer, ldns_buffer_free>;
using LdnsResolver = CHandle<ldns_resolver, ldns_resolver_deep_free>;

inline void free_wire(uint8_t* p) noexcept {
    LDNS_FREE(p);
}
using LdnsWire = CHandle<uint8_t, free_wire>;

// "NOERROR", "REFUSED", ... for an rcode.
std::string rcode_name(int rcode);
// "BADSIG", "BADKEY", "BADTIME" ... for a TSIG error field.
std::string tsig_error_name(int error);
// ldns_get_errorstr_by_id as a string.
std::string status_text(ldns_status status);
// A domain-name rdf from text; throws Error(Input) on a malformed name.
LdnsRdf make_dname(const std::string& name);
// The textual form of a domain-name rdf, lower case, with trailing dot.
std::string dname_text(const ldns_rdf* dname);

}  // namespace daneroll::dns
