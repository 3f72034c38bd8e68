// `daneroll dns show|publish|retire|verify`: the DNS half of daneroll for
// operators: what every authoritative server serves, signed or not, and
// TSIG-signed compare-and-swap updates of the TLSA RRset.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <optional>

#include "commands.hpp"
#include "daneroll/common/duration.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/dns/observe.hpp"
#include "daneroll/dns/servers.hpp"
#include "daneroll/dns/update.hpp"
#include "daneroll/rollover/engine.hpp"
#include "daneroll/rollover/safety.hpp"
#include "daneroll/rollover/state_store.hpp"
#include "dns_target.hpp"
#include "exit_codes.hpp"

namespace daneroll::cli {

namespace {

struct DnsOptions {
    DnsTargetOptions target;
    std::vector<std::string> records;
    std::int64_t ttl = 0;  // 0: the service's TTL
    bool json = false;
    bool force = false;  // retire: even records a managed unit relies on
};

std::vector<TlsaRecord> parse_records(const std::vector<std::string>& texts) {
    std::vector<TlsaRecord> out;
    for (const auto& t : texts) {
        out.push_back(TlsaRecord::parse(t));
    }
    return out;
}

// `keys` are the zone's DNSKEYs from the validating resolver; whether they
// were authenticated is for the caller to judge.
dns::ZoneView observe(const DnsTarget& t, const std::vector<std::string>& keys) {
    return dns::observe_zone(t.zone->name, t.servers, {t.owner}, keys,
                             std::chrono::system_clock::now(), t.resolver.options());
}

nlohmann::json view_json(const dns::ZoneView& view, const std::string& owner,
                         const dns::ValidatedTlsa& validated) {
    nlohmann::json servers = nlohmann::json::array();
    for (const auto& s : view.servers) {
        nlohmann::json j{{"server", s.server.label()},
                         {"address", s.server.address},
                         {"port", s.server.port},
                         {"error", s.error},
                         {"elapsed_us", s.elapsed.count()}};
        if (s.soa_serial) {
            j["serial"] = *s.soa_serial;
        }
        const auto it = s.owners.find(owner);
        if (it != s.owners.end()) {
            const auto& r = it->second;
            nlohmann::json recs = nlohmann::json::array();
            for (const auto& rec : r.records) {
                recs.push_back(rec.to_string());
            }
            j["rcode"] = r.rcode;
            j["records"] = recs;
            j["ttl"] = r.ttl;
            j["signed"] = r.signed_;
            j["signature_valid"] = r.signature_valid;
            j["signature_problem"] = r.signature_problem;
            j["cname_target"] = r.cname_target;
            j["query_error"] = r.error;
            if (r.signature_expiration) {
                j["signature_expiration"] = format_utc(*r.signature_expiration);
                j["signature_inception"] = format_utc(*r.signature_inception);
            }
        }
        servers.push_back(j);
    }
    nlohmann::json recs = nlohmann::json::array();
    for (const auto& rec : validated.records) {
        recs.push_back(rec.to_string());
    }
    return {{"zone", view.zone},
            {"owner", owner},
            {"servers", servers},
            {"resolver",
             {{"security", dns::to_string(validated.security)},
              {"records", recs},
              {"ttl", validated.ttl},
              {"error", validated.error}}}};
}

void print_view(const dns::ZoneView& view, const std::string& owner) {
    for (const auto& s : view.servers) {
        std::cout << "  " << s.server.label();
        if (!s.error.empty()) {
            std::cout << ": " << s.error << '\n';
            continue;
        }
        std::cout << "  serial " << s.soa_serial.value_or(0);
        const auto& r = s.owners.at(owner);
        if (!r.error.empty()) {
            std::cout << ": " << r.error << '\n';
            continue;
        }
        if (r.records.empty()) {
            std::cout << ": no TLSA records\n";
            continue;
        }
        std::cout << "  TTL " << r.ttl << "  ";
        if (r.signature_valid) {
            std::cout << "signed, valid until " << format_utc(*r.signature_expiration);
        } else {
            std::cout << (r.signed_ ? "signature NOT valid: " + r.signature_problem
                                    : std::string("NOT signed"));
        }
        std::cout << '\n';
        if (!r.cname_target.empty()) {
            std::cout << "      alias for " << r.cname_target << '\n';
        }
        for (const auto& rec : r.records) {
            std::cout << "      " << rec.to_string() << '\n';
        }
    }
}

void print_resolver_view(const dns::Resolver& resolver, const dns::ValidatedTlsa& v) {
    std::cout << "  validating resolver " << resolver.server().label() << ": ";
    if (!v.error.empty()) {
        std::cout << v.error << '\n';
        return;
    }
    std::cout << dns::to_string(v.security) << ", " << v.records.size() << " record(s)";
    if (v.security == dns::Security::Insecure) {
        std::cout << "\n  WARNING: the zone is not DNSSEC-signed (or the resolver does not "
                     "validate): DANE is NOT in effect for this host";
    } else if (v.security == dns::Security::Bogus) {
        std::cout << "\n  WARNING: the answer is BOGUS: DNSSEC validation fails, so DANE "
                     "senders will defer all mail to this host";
    }
    std::cout << '\n';
}

int run_show(const DnsOptions& o) {
    const DnsTarget t = resolve_dns_target(o.target);
    const dns::ZoneView view = observe(t, t.resolver.dnskeys(t.zone->name).first);
    const dns::ValidatedTlsa validated = t.resolver.tlsa(t.owner);
    if (o.json) {
        std::cout << view_json(view, t.owner, validated).dump(2) << '\n';
        return kExitOk;
    }
    std::cout << t.owner << " in zone " << view.zone << '\n';
    print_view(view, t.owner);
    print_resolver_view(t.resolver, validated);
    return kExitOk;
}

// For each record of `remove` that a managed unit at `owner` (rollover state
// under the config's state_dir) owns, or that a chain its MTA can present
// matches: "mx1/ecdsa-p256 relies on 3 1 1 ab12cd34ef56… (its current
// record)". The retire rule is the engine's to apply; by hand, such records
// are left alone.
std::vector<std::string> relied_on(const config::Config& config, const std::string& owner,
                                   const std::vector<TlsaRecord>& remove) {
    const rollover::Engine engine(config);
    const auto now = std::chrono::system_clock::now();
    std::vector<std::string> out;
    for (const auto& state : engine.states()) {
        const config::Service* svc = config.find_service(state.service);
        if (state.phase == rollover::Phase::Unmanaged || svc == nullptr ||
            dns::absolute_name(svc->tlsa_owner()) != dns::absolute_name(owner)) {
            continue;
        }
        // The chains daneroll deployed (or is deploying) for the unit.
        const auto chains = rollover::presentable_chains(state, rollover::Inputs{});
        for (const auto& r : remove) {
            std::string why;
            if (const rollover::OwnedRecord* o = state.find(r)) {
                why = "its " + std::string(rollover::to_string(o->role)) + " record";
            } else if (std::any_of(chains.begin(), chains.end(), [&](const std::string& c) {
                           return rollover::chain_matches(c, r, svc->host, now);
                       })) {
                why = "its deployed chain matches it";
            }
            if (!why.empty()) {
                out.push_back(state.service + "/" + state.algorithm + " relies on " +
                              r.short_string() + " (" + why + ")");
            }
        }
    }
    return out;
}

int run_change(const DnsOptions& o, bool publish) {
    const DnsTarget t = resolve_dns_target(o.target);
    const auto records = parse_records(o.records);
    // Retiring takes the state lock, like `run`, so that no tick acts on the
    // RRset meanwhile, and refuses to pull a record from under a managed unit.
    std::optional<rollover::StateLock> lock;
    if (!publish) {
        lock.emplace(rollover::StateLock::acquire(t.config.global.state_dir));
        const auto conflicts = relied_on(t.config, t.owner, records);
        std::string list;
        for (const auto& c : conflicts) {
            list += "\n  " + c;
        }
        if (!conflicts.empty() && !o.force) {
            fail(ErrorKind::Safety,
                 "refusing to retire at " + t.owner + ": a managed unit relies on it" + list +
                     "\nremoving it could leave a chain the MTA serves without a record (the "
                     "retire rule); let 'daneroll run' retire it, or give --force");
        }
        if (!conflicts.empty()) {
            std::cerr << "daneroll: WARNING: --force: retiring records a managed unit relies on:"
                      << list << '\n';
        }
    }
    const dns::Server primary = dns::update_server(*t.zone, t.resolver);
    dns::TlsaChange change;
    change.zone = t.zone->name;
    change.owner = t.owner;
    change.ttl = o.ttl > 0 ? static_cast<std::uint32_t>(o.ttl) : t.ttl;
    (publish ? change.add : change.remove) = records;
    const auto outcome = dns::update_tlsa(primary, dns::credentials_for(t.config, *t.zone), change,
                                          t.resolver.options());
    if (o.json) {
        nlohmann::json before = nlohmann::json::array();
        nlohmann::json after = nlohmann::json::array();
        for (const auto& r : outcome.before) {
            before.push_back(r.to_string());
        }
        for (const auto& r : outcome.after) {
            after.push_back(r.to_string());
        }
        std::cout << nlohmann::json{{"changed", outcome.changed}, {"owner", outcome.owner},
                                    {"server", primary.label()},  {"attempts", outcome.attempts},
                                    {"before", before},           {"after", after}}
                         .dump(2)
                  << '\n';
        return kExitOk;
    }
    std::cout << (outcome.changed ? (publish ? "published at " : "retired at ")
                                  : "nothing to change at ")
              << outcome.owner << " via " << primary.label() << "; the RRset is now:\n";
    for (const auto& r : outcome.after) {
        std::cout << "  " << r.to_string() << '\n';
    }
    if (outcome.after.empty()) {
        std::cout << "  (empty)\n";
    }
    return kExitOk;
}

int run_verify(const DnsOptions& o) {
    const DnsTarget t = resolve_dns_target(o.target);
    std::vector<TlsaRecord> records = parse_records(o.records);
    if (records.empty()) {
        fail(ErrorKind::Input, "give the records to verify with --record \"3 1 1 <hex>\"");
    }
    // Signatures only count under DNSKEYs the validating resolver
    // authenticated: a signed zone without a chain of trust is Insecure, and
    // its signatures prove nothing to a DANE sender.
    const auto [keys, security] = t.resolver.dnskeys(t.zone->name);
    const bool secure = security == dns::Security::Secure;
    const dns::ZoneView view = observe(t, keys);
    const std::string verdict = "the validating resolver " + t.resolver.server().label() +
                                " says the zone " + view.zone + " is " + dns::to_string(security) +
                                ": DANE is NOT in effect";
    if (!secure && !o.json) {
        std::cout << "NOT SECURE: " << verdict << '\n';
    }
    // A signature must at least outlive this moment; the rollover engine
    // asks for more (the whole wait ahead).
    const auto until = view.observed_at;
    bool ok = true;
    nlohmann::json results = nlohmann::json::array();
    for (const auto& r : records) {
        const auto gaps = view.gaps(t.owner, r, until);
        ok = ok && gaps.empty();
        results.push_back(
            {{"record", r.to_string()}, {"everywhere", gaps.empty()}, {"gaps", gaps}});
        if (!o.json) {
            if (gaps.empty()) {
                std::cout << (secure ? "ok: " : "unauthenticated: ") << r.short_string()
                          << " is served, signed, by all " << view.servers.size() << " servers\n";
            } else {
                std::cout << "NOT everywhere: " << r.short_string() << '\n';
                for (const auto& g : gaps) {
                    std::cout << "  " << g << '\n';
                }
            }
        }
    }
    if (o.json) {
        nlohmann::json j{
            {"owner", t.owner}, {"zone", view.zone}, {"security", dns::to_string(security)},
            {"secure", secure}, {"everywhere", ok},  {"results", results}};
        if (!secure) {
            j["error"] = verdict;
        }
        std::cout << j.dump(2) << '\n';
    }
    if (!secure) {
        return kExitNotSecure;
    }
    return ok ? kExitOk : kExitFailed;
}

}  // namespace

void add_dns_commands(CLI::App& app, Action& action) {
    auto* cmd = app.add_subcommand("dns", "Inspect and change TLSA records on the zone's servers");
    cmd->require_subcommand(1);

    auto show = std::make_shared<DnsOptions>();
    auto* s = cmd->add_subcommand("show",
                                  "What every authoritative server and the validating "
                                  "resolver serve at the TLSA owner name");
    add_dns_target_options(*s, show->target);
    s->add_flag("--json", show->json, "Print JSON");
    s->callback([&action, show] { action = [show] { return run_show(*show); }; });

    auto add_change = [&](const char* name, const char* help, bool publish) {
        auto opts = std::make_shared<DnsOptions>();
        auto* c = cmd->add_subcommand(name, help);
        add_dns_target_options(*c, opts->target);
        c->add_option("--record", opts->records, "A record, e.g. \"3 1 1 <hex>\" (repeatable)")
            ->required();
        if (publish) {
            c->add_option("--ttl", opts->ttl, "TTL of added records (default: the service's)")
                ->check(CLI::Range(static_cast<std::int64_t>(1),
                                   static_cast<std::int64_t>(2147483647)));
        }
        if (!publish) {
            c->add_flag("--force", opts->force,
                        "Also retire records a managed unit (rollover state) relies on");
        }
        c->add_flag("--json", opts->json, "Print JSON");
        c->callback([&action, opts, publish] {
            action = [opts, publish] { return run_change(*opts, publish); };
        });
    };
    add_change("publish", "Add records with one TSIG-signed compare-and-swap UPDATE", true);
    add_change("retire", "Remove exactly these records (never others) with one UPDATE", false);

    auto verify = std::make_shared<DnsOptions>();
    auto* v = cmd->add_subcommand(
        "verify",
        "Exit 0 only if every authoritative server serves the records, signed, and the "
        "validating resolver says the zone is secure (exit 6 if it does not)");
    add_dns_target_options(*v, verify->target);
    v->add_option("--record", verify->records, "A record (repeatable)")->required();
    v->add_flag("--json", verify->json, "Print JSON");
    v->callback([&action, verify] { action = [verify] { return run_verify(*verify); }; });
}

}  // namespace daneroll::cli
