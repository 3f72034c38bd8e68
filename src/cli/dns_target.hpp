// Resolves what a `daneroll dns ...` command talks about: the zone, its
// servers, the TLSA owner name and the TSIG key, from the configuration and
// the command line.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "daneroll/config/config.hpp"
#include "daneroll/dns/resolver.hpp"
#include "daneroll/dns/types.hpp"

namespace daneroll::cli {

struct DnsTargetOptions {
    std::string config = config::kDefaultConfigPath;
    std::string service;
    std::string host;
    int port = 25;
};

// Adds -c/--config, --service, --host, --port to a subcommand.
void add_dns_target_options(CLI::App& cmd, DnsTargetOptions& o);

struct DnsTarget {
    config::Config config;
    const config::Zone* zone = nullptr;
    std::string owner;  // absolute TLSA owner name
    std::uint32_t ttl = 3600;
    dns::Resolver resolver;
    std::vector<dns::Server> servers;
};

DnsTarget resolve_dns_target(const DnsTargetOptions& o);

}  // namespace daneroll::cli
