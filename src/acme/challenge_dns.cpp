// dns-01 through the DNS module's TSIG UPDATE, and the solver factory.
#include <algorithm>
#include <thread>

#include "daneroll/acme/challenge.hpp"
#include "daneroll/common/base64.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/crypto/digest.hpp"
#include "daneroll/dns/resolver.hpp"
#include "daneroll/dns/servers.hpp"
#include "daneroll/dns/update.hpp"

namespace daneroll::acme {

namespace {

// Short: the record lives for one validation, and a resolver that cached
// it would hand a stale value to the next order.
constexpr std::uint32_t kTxtTtl = 60;

bool inside(const std::string& name, const std::string& zone) {
    return name == zone || (name.size() > zone.size() &&
                            name.compare(name.size() - zone.size(), zone.size(), zone) == 0 &&
                            name[name.size() - zone.size() - 1] == '.');
}

dns::QueryOptions query_options(const config::Global& g) {
    dns::QueryOptions o;
    o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(g.dns_timeout);
    o.retries = g.dns_retries;
    return o;
}

}  // namespace

std::string dns01_txt_value(const std::string& key_authorization) {
    return base64url_encode(sha256(as_bytes(key_authorization)));
}

Dns01Solver::Dns01Solver(const config::Config& config, std::chrono::milliseconds poll_interval)
    : config_(config), poll_interval_(poll_interval) {}

Dns01Solver::~Dns01Solver() {
    static_cast<void>(cleanup());
}

const config::Zone& Dns01Solver::zone_for(const std::string& owner) const {
    const std::string name = dns::absolute_name(owner);
    const config::Zone* best = nullptr;
    for (const auto& z : config_.zones) {
        const std::string zone = dns::absolute_name(z.name);
        if (inside(name, zone) && (best == nullptr || z.name.size() > best->name.size())) {
            best = &z;
        }
    }
    if (best == nullptr) {
        fail(ErrorKind::Config, "dns-01 for " + name +
                                    ": no [zone] of the configuration contains it; add the zone "
                                    "(with a TSIG key allowed to update TXT at that name)");
    }
    return *best;
}

Dns01Solver::ZoneServers& Dns01Solver::servers_of(const config::Zone& zone) {
    if (auto it = zone_servers_.find(zone.name); it != zone_servers_.end()) {
        return it->second;
    }
    const dns::Resolver resolver = dns::make_resolver(config_.global);
    ZoneServers zs{dns::update_server(zone, resolver), dns::authoritative_servers(zone, resolver)};
    // The primary takes the UPDATE and serves the zone: it is checked too.
    if (std::none_of(zs.servers.begin(), zs.servers.end(), [&](const dns::Server& s) {
            return s.address == zs.primary.address && s.port == zs.primary.port;
        })) {
        zs.servers.insert(zs.servers.begin(), zs.primary);
    }
    return zone_servers_.emplace(zone.name, std::move(zs)).first->second;
}

void Dns01Solver::present(const std::string& identifier, const std::string& token,
                          const std::string& key_authorization) {
    static_cast<void>(token);
    const std::string owner = dns::absolute_name("_acme-challenge." + identifier);
    const config::Zone& zone = zone_for(owner);
    const ZoneServers& zs = servers_of(zone);
    const std::string value = dns01_txt_value(key_authorization);
    // Recorded first: an UPDATE whose answer is lost may still have applied.
    published_.push_back(Published{zone.name, owner, value});
    dns::TxtChange change;
    change.zone = zone.name;
    change.owner = owner;
    change.ttl = kTxtTtl;
    change.add = {value};
    try {
        dns::update_txt(zs.primary, dns::credentials_for(config_, zone), change,
                        query_options(config_.global));
    } catch (const Error&) {
        // A refused UPDATE changed nothing: forget the record, so cleanup
        // does not report a second refusal. Only when the primary says it
        // lacks the value, because an unanswered UPDATE may have applied.
        const auto txt = dns::txt_at(zs.primary, owner, query_options(config_.global));
        if (txt.error.empty() &&
            std::find(txt.values.begin(), txt.values.end(), value) == txt.values.end()) {
            published_.pop_back();
        }
        throw;
    }
}

void Dns01Solver::wait_ready(std::chrono::system_clock::time_point deadline) {
    const auto options = query_options(config_.global);
    // Bounded by the deadline and, independently, by a count of rounds.
    for (int round = 0; round < 100000; ++round) {
        std::vector<std::string> missing;
        for (const auto& p : published_) {
            for (const auto& server : servers_of(zone_for(p.owner)).servers) {
                const auto txt = dns::txt_at(server, p.owner, options);
                if (std::find(txt.values.begin(), txt.values.end(), p.value) == txt.values.end()) {
                    missing.push_back(server.label() + " does not serve the TXT at " + p.owner +
                                      (txt.error.empty() ? std::string() : " (" + txt.error + ")"));
                }
            }
        }
        if (missing.empty()) {
            return;
        }
        if (std::chrono::system_clock::now() + poll_interval_ > deadline) {
            std::string all;
            for (const auto& m : missing) {
                all += "; " + m;
            }
            fail(ErrorKind::Network,
                 "the dns-01 records did not reach every authoritative server in time" + all);
        }
        std::this_thread::sleep_for(poll_interval_);
    }
    fail(ErrorKind::Network, "the dns-01 records did not reach every authoritative server");
}

std::vector<std::string> Dns01Solver::cleanup() noexcept {
    std::vector<std::string> problems;
    for (const auto& p : published_) {
        try {
            const config::Zone& zone = zone_for(p.owner);
            dns::TxtChange change;
            change.zone = zone.name;
            change.owner = p.owner;
            change.remove = {p.value};
            dns::update_txt(servers_of(zone).primary, dns::credentials_for(config_, zone), change,
                            query_options(config_.global));
        } catch (const std::exception& e) {
            problems.push_back("could not remove the TXT record at " + p.owner + ": " + e.what());
        }
    }
    published_.clear();
    return problems;
}

std::unique_ptr<ChallengeSolver> make_solver(const config::Config& config,
                                             const config::CertificateSource& source,
                                             std::chrono::seconds lifetime) {
    if (source.challenge == config::Challenge::Dns01) {
        return std::make_unique<Dns01Solver>(config);
    }
    if (source.webroot) {
        return std::make_unique<WebrootSolver>(*source.webroot);
    }
    if (source.http_listen) {
        return std::make_unique<ListenerSolver>(*source.http_listen, lifetime);
    }
    fail(ErrorKind::Config, "http-01 needs 'webroot' or 'listen' in the service's [source]");
}

}  // namespace daneroll::acme
