// Which servers to verify and which one takes UPDATEs, from the config or
// discovered through the validating resolver.
#pragma once

#include <vector>

#include "daneroll/config/config.hpp"
#include "daneroll/dns/resolver.hpp"
#include "daneroll/dns/types.hpp"

namespace daneroll::dns {

// Every address of every authoritative server of `zone`: the configured
// list (names resolved), or the NS RRset's names and each one's A and AAAA
// records; plus the hidden primary if one is configured.
std::vector<Server> authoritative_servers(const config::Zone& zone, const Resolver& resolver);

// Where UPDATEs go: the configured primary, else the SOA MNAME's first
// address.
Server update_server(const config::Zone& zone, const Resolver& resolver);

// A Resolver for the configured (or /etc/resolv.conf) validating resolver.
Resolver make_resolver(const config::Global& global);

// The TSIG credentials of a zone.
TsigCredentials credentials_for(const config::Config& config, const config::Zone& zone);

}  // namespace daneroll::dns
