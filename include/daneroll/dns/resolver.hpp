// Questions for the validating resolver: addresses, the zone's NS and SOA,
// and the validated view of a TLSA RRset (what a DANE sender will see).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daneroll/dns/types.hpp"
#include "daneroll/tlsa/record.hpp"

namespace daneroll::dns {

struct ValidatedTlsa {
    std::string owner;
    Security security = Security::Indeterminate;
    int rcode = -1;                   // -1: no answer
    std::string error;                // transport error, if any
    std::string cname_target;         // set when the owner is an alias
    std::vector<TlsaRecord> records;  // sorted
    std::uint32_t ttl = 0;
};

class Resolver {
  public:
    Resolver(Server server, QueryOptions options);

    // The resolver from /etc/resolv.conf's first nameserver line.
    static Server from_resolv_conf(const std::string& path = "/etc/resolv.conf");

    // A and AAAA addresses of `host`, IPv4 first; throws Error(Network) if the
    // name has none or the resolver fails.
    [[nodiscard]] std::vector<std::string> addresses(const std::string& host) const;
    // The NS names of `zone` (absolute, lower case).
    [[nodiscard]] std::vector<std::string> name_servers(const std::string& zone) const;
    // The SOA MNAME of `zone` (the primary, target of UPDATEs).
    [[nodiscard]] std::string primary_name(const std::string& zone) const;
    // The TLSA RRset at `owner` as a validating resolver sees it. A SERVFAIL
    // that turns into data with the CD bit is reported as Bogus.
    [[nodiscard]] ValidatedTlsa tlsa(const std::string& owner) const;
    // The zone's DNSKEY RRset in presentation form, and whether it is secure.
    [[nodiscard]] std::pair<std::vector<std::string>, Security> dnskeys(
        const std::string& zone) const;

    [[nodiscard]] const Server& server() const { return server_; }
    [[nodiscard]] const QueryOptions& options() const { return options_; }

  private:
    Server server_;
    QueryOptions options_;
};

// "example.com." for "Example.com" and "example.com.".
std::string absolute_name(const std::string& name);

}  // namespace daneroll::dns
