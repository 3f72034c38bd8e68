#include "daneroll/dns/servers.hpp"

#include <algorithm>

namespace daneroll::dns {

namespace {

std::vector<Server> resolve_endpoint(const config::Endpoint& ep, const Resolver& resolver) {
    if (ep.is_ip_literal()) {
        return {Server{"", ep.host, ep.port}};
    }
    std::vector<Server> out;
    for (const auto& addr : resolver.addresses(ep.host)) {
        out.push_back(Server{absolute_name(ep.host), addr, ep.port});
    }
    return out;
}

void add_unique(std::vector<Server>& to, const std::vector<Server>& from) {
    for (const auto& s : from) {
        const bool seen = std::any_of(to.begin(), to.end(), [&](const Server& t) {
            return t.address == s.address && t.port == s.port;
        });
        if (!seen) {
            to.push_back(s);
        }
    }
}

}  // namespace

std::vector<Server> authoritative_servers(const config::Zone& zone, const Resolver& resolver) {
    std::vector<Server> out;
    if (zone.primary) {
        add_unique(out, resolve_endpoint(*zone.primary, resolver));
    }
    if (!zone.servers.empty()) {
        for (const auto& ep : zone.servers) {
            add_unique(out, resolve_endpoint(ep, resolver));
        }
        return out;
    }
    for (const auto& ns : resolver.name_servers(zone.name)) {
        add_unique(out, resolve_endpoint(config::Endpoint{ns, 53}, resolver));
    }
    return out;
}

Server update_server(const config::Zone& zone, const Resolver& resolver) {
    if (zone.primary) {
        return resolve_endpoint(*zone.primary, resolver).front();
    }
    const std::string mname = resolver.primary_name(zone.name);
    return resolve_endpoint(config::Endpoint{mname, 53}, resolver).front();
}

Resolver make_resolver(const config::Global& global) {
    Server server = global.resolver ? Server{"", global.resolver->host, global.resolver->port}
                                    : Resolver::from_resolv_conf();
    QueryOptions options;
    options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(global.dns_timeout);
    options.retries = global.dns_retries;
    return Resolver(std::move(server), options);
}

TsigCredentials credentials_for(const config::Config& config, const config::Zone& zone) {
    const auto& key = config.key_of(zone);
    return TsigCredentials{key.name, key.algorithm, key.secret};
}

}  // namespace daneroll::dns
