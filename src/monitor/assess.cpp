// The observing part of monitoring: DNS on every server and through the
// validating resolver, a STARTTLS probe of every address per key type, and
// the persisted state.
#include <algorithm>

#include "daneroll/common/error.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "daneroll/dns/observe.hpp"
#include "daneroll/dns/servers.hpp"
#include "daneroll/monitor/health.hpp"
#include "daneroll/rollover/state_store.hpp"
#include "daneroll/smtp/probe.hpp"

namespace daneroll::monitor {

namespace {

DnsHealth observe_dns(const config::Config& c, const config::Service& s, const dns::Resolver& r,
                      std::vector<TlsaRecord>& validated, TimePoint now) {
    DnsHealth d;
    d.service = s.id;
    d.owner = s.tlsa_owner();
    try {
        const auto v = r.tlsa(d.owner);
        d.security = dns::to_string(v.security);
        if (!v.error.empty()) {
            d.server_errors.push_back("validating resolver: " + v.error);
        }
        validated = v.records;
        d.records = v.records.size();
        const auto& zone = c.zone_of(s);
        const auto servers = dns::authoritative_servers(zone, r);
        d.servers = servers.size();
        const auto keys = r.dnskeys(zone.name).first;
        const auto view = dns::observe_zone(zone.name, servers, {d.owner}, keys, now, r.options());
        std::optional<std::vector<TlsaRecord>> first;
        d.servers_agree = true;
        for (const auto& sv : view.servers) {
            const auto it = sv.owners.find(dns::absolute_name(d.owner));
            if (!sv.error.empty() || it == sv.owners.end() || !it->second.answered()) {
                d.server_errors.push_back(
                    sv.server.label() + ": " +
                    (sv.error.empty()
                         ? (it == sv.owners.end() ? std::string("no answer") : it->second.error)
                         : sv.error));
                d.servers_agree = false;
                continue;
            }
            const auto& rr = it->second;
            if (!first) {
                first = rr.records;
            } else if (*first != rr.records) {
                d.servers_agree = false;
            }
            if (rr.signature_expiration &&
                (!d.earliest_signature_expiry ||
                 *rr.signature_expiration < *d.earliest_signature_expiry)) {
                d.earliest_signature_expiry = rr.signature_expiration;
            }
        }
    } catch (const Error& e) {
        d.security = d.security.empty() ? "indeterminate" : d.security;
        d.server_errors.push_back(e.what());
    }
    return d;
}

}  // namespace

HealthReport assess(const config::Config& c, const Thresholds& t, const std::string& only) {
    HealthReport report;
    report.at = std::chrono::system_clock::now();
    const rollover::StateStore store(c.global.state_dir);
    const dns::Resolver resolver = dns::make_resolver(c.global);
    for (const auto& s : c.services) {
        if (!only.empty() && s.id != only) {
            continue;
        }
        std::vector<TlsaRecord> records;
        report.dns.push_back(observe_dns(c, s, resolver, records, report.at));
        std::vector<std::string> addresses = s.probe.addresses;
        std::string address_error;
        if (addresses.empty()) {
            try {
                addresses = resolver.addresses(s.host);
            } catch (const Error& e) {
                address_error = e.what();
            }
        }
        for (const auto alg : s.algorithms) {
            UnitHealth u;
            u.service = s.id;
            u.algorithm = std::string(key_algorithm_name(alg));
            const auto st = store.load(s.id, u.algorithm);
            u.phase = std::string(rollover::to_string(st.phase));
            u.failure = st.failure;
            u.last_success = st.last_success;
            u.records_owned = st.records.size();
            u.source_warnings = st.source_warnings;
            if (!st.deployed_chain_pem.empty()) {
                try {
                    u.cert_not_after =
                        parse_certificates(st.deployed_chain_pem, "state").front().not_after();
                } catch (const Error&) {
                }
            }
            if (!address_error.empty()) {
                u.addresses.push_back({s.host, false, "no-address", address_error});
            } else if (!addresses.empty()) {
                smtp::ProbeRequest req;
                req.host = s.host;
                req.port = s.port;
                req.addresses = addresses;
                req.ehlo_name = s.probe.ehlo_name;
                req.timeout =
                    std::chrono::duration_cast<std::chrono::milliseconds>(s.probe.timeout);
                req.records = records;
                req.key_preference =
                    is_rsa(alg) ? smtp::KeyPreference::Rsa : smtp::KeyPreference::Ecdsa;
                for (const auto& a : smtp::probe(req).results) {
                    u.addresses.push_back({a.address, a.verified(),
                                           std::string(smtp::status_name(a.status)), a.reason});
                }
            }
            report.units.push_back(std::move(u));
        }
    }
    if (!only.empty() && report.units.empty()) {
        fail(ErrorKind::Input, "no service '" + only + "' in " + c.file.string());
    }
    judge(report, t);
    return report;
}

}  // namespace daneroll::monitor
