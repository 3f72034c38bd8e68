#include "dns_target.hpp"

#include "daneroll/common/error.hpp"
#include "daneroll/dns/servers.hpp"
#include "daneroll/tlsa/record.hpp"

namespace daneroll::cli {

void add_dns_target_options(CLI::App& cmd, DnsTargetOptions& o) {
    cmd.add_option("-c,--config", o.config, "The configuration file")
        ->default_val(config::kDefaultConfigPath);
    cmd.add_option("--service", o.service, "A service of the configuration");
    cmd.add_option("--host", o.host, "An MX host name inside a configured zone");
    cmd.add_option("--port", o.port, "The SMTP port (with --host)")
        ->check(CLI::Range(1, 65535))
        ->default_val(25);
}

DnsTarget resolve_dns_target(const DnsTargetOptions& o) {
    config::Config c = config::load_config(o.config);
    if (o.service.empty() == o.host.empty()) {
        fail(ErrorKind::Input, "give --service NAME or --host MX-HOST");
    }
    const config::Zone* zone = nullptr;
    std::string owner;
    std::uint32_t ttl = c.global.default_ttl;
    if (!o.service.empty()) {
        const config::Service* s = c.find_service(o.service);
        if (s == nullptr) {
            std::string known;
            for (const auto& svc : c.services) {
                known += (known.empty() ? "" : ", ") + svc.id;
            }
            fail(ErrorKind::Input,
                 "no service '" + o.service + "' in " + o.config + " (services: " + known + ")");
        }
        zone = &c.zone_of(*s);
        owner = s->tlsa_owner();
        ttl = s->ttl;
    } else {
        const std::string host = normalize_host_name(o.host, "--host");
        for (const auto& z : c.zones) {
            const bool inside =
                host == z.name ||
                (host.size() > z.name.size() && host.compare(host.size() - z.name.size() - 1,
                                                             z.name.size() + 1, "." + z.name) == 0);
            if (inside && (zone == nullptr || z.name.size() > zone->name.size())) {
                zone = &z;
            }
        }
        if (zone == nullptr) {
            fail(ErrorKind::Input, host + " is in no zone of " + o.config);
        }
        owner = tlsa_owner_name(host, static_cast<std::uint16_t>(o.port));
    }
    dns::Resolver resolver = dns::make_resolver(c.global);
    auto servers = dns::authoritative_servers(*zone, resolver);
    // `zone` points into `c`, which moves into the result: re-find it there.
    const std::string zone_name = zone->name;
    DnsTarget t{std::move(c), nullptr, owner, ttl, std::move(resolver), std::move(servers)};
    for (const auto& z : t.config.zones) {
        if (z.name == zone_name) {
            t.zone = &z;
        }
    }
    return t;
}

}  // namespace daneroll::cli
