#include "daneroll/rollover/engine.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include "daneroll/common/bytes.hpp"
#include "daneroll/common/duration.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "daneroll/crypto/digest.hpp"
#include "daneroll/dns/servers.hpp"
#include "daneroll/dns/update.hpp"
#include "daneroll/mta/installer.hpp"
#include "daneroll/rollover/safety.hpp"
#include "daneroll/smtp/probe.hpp"
#include "daneroll/source/certificate_source.hpp"
#include "daneroll/tlsa/compute.hpp"

namespace daneroll::rollover {

namespace {

constexpr int kMaxActionsPerTick = 16;
constexpr std::chrono::seconds kSignatureMargin{60};

// Hex SHA-256 of the leaf's DER ("" if the chain cannot be parsed): which
// certificate a renewal advice is about.
std::string leaf_fingerprint(const std::string& chain_pem) {
    try {
        return to_hex(sha256(parse_certificates(chain_pem, "chain").front().der()));
    } catch (const Error&) {
        return "";
    }
}

// A uniformly random moment in [start, end] (RFC 9773 4.2: clients spread
// their renewals over the window).
TimePoint draw_in_window(TimePoint start, TimePoint end) {
    if (end <= start) {
        return start;
    }
    std::random_device rd;
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const auto span = std::chrono::duration<double>(end - start);
    return start + std::chrono::duration_cast<TimePoint::duration>(span * u(rd));
}

std::string key_id(const Bytes& spki) {
    return to_hex(sha256(spki)).substr(0, 16);
}

KeyInfo key_info(const PrivateKey& key, const std::string& file, TimePoint created) {
    const Bytes spki = key.spki_der();
    return KeyInfo{key_id(spki), file, created, to_hex(sha256(spki))};
}

std::string record_list(const std::vector<TlsaRecord>& records) {
    std::string out;
    for (const auto& r : records) {
        out += (out.empty() ? "" : ", ") + r.short_string();
    }
    return out;
}

// After a failed install: did it change the MTA's files (so they must be
// restored)? A chain other than before, a key that does not belong to the
// chain (separate files: the key renamed into place, the chain not), or
// files that cannot be read all count as changed.
bool install_touched_files(const mta::Installer& installer, const std::string& chain_before) {
    try {
        const auto now = installer.read_installed();
        if (!now || now->chain_pem != chain_before) {
            return true;
        }
        if (now->key) {
            const auto chain = parse_certificates(now->chain_pem, "the MTA's chain");
            return chain.front().spki_der() != now->key->spki_der();
        }
        return false;
    } catch (const Error&) {
        return true;
    }
}

bool removes_records(const Plan& plan) {
    return !plan.actions.empty() && plan.actions.front().type == ActionType::Publish &&
           !plan.actions.front().remove.empty();
}

std::string normalized_inbox_chain(const std::filesystem::path& inbox) {
    try {
        return chain_to_pem(load_certificates(inbox / "chain.pem"));
    } catch (const Error&) {
        return "";
    }
}

}  // namespace

void crash_point(const char* point) {
    const char* want = std::getenv("DANEROLL_CRASH_AT");
    if (want != nullptr && std::strcmp(want, point) == 0) {
        ::kill(::getpid(), SIGKILL);
    }
}

struct Engine::ZoneContext {
    dns::Resolver resolver;
    std::vector<dns::Server> servers;
    dns::Server primary;
    std::vector<std::string> dnskeys;
    dns::Security security = dns::Security::Indeterminate;
};

bool TickReport::changed() const {
    return std::any_of(units.begin(), units.end(),
                       [](const UnitReport& u) { return !u.done.empty(); });
}

bool TickReport::all_stable() const {
    return std::all_of(units.begin(), units.end(), [](const UnitReport& u) { return u.idle(); });
}

bool TickReport::all_settled() const {
    return std::all_of(units.begin(), units.end(), [](const UnitReport& u) { return u.settled(); });
}

bool TickReport::any_unmanaged() const {
    return std::any_of(units.begin(), units.end(),
                       [](const UnitReport& u) { return u.phase == Phase::Unmanaged; });
}

bool TickReport::any_awaiting_delivery() const {
    return std::any_of(units.begin(), units.end(),
                       [](const UnitReport& u) { return u.rollover_due; });
}

bool TickReport::any_failed() const {
    return std::any_of(units.begin(), units.end(),
                       [](const UnitReport& u) { return u.phase == Phase::Failed; });
}

std::optional<TimePoint> TickReport::next_wake() const {
    std::optional<TimePoint> out;
    for (const auto& u : units) {
        if (u.wake_at && (!out || *u.wake_at < *out)) {
            out = u.wake_at;
        }
    }
    return out;
}

Engine::Engine(config::Config config)
    : config_(std::move(config)), store_(config_.global.state_dir) {}

Engine::~Engine() = default;

std::vector<Engine::Unit> Engine::units(const std::string& only) const {
    std::vector<Unit> out;
    for (const auto& s : config_.services) {
        if (!only.empty() && s.id != only) {
            continue;
        }
        for (const auto alg : s.algorithms) {
            out.push_back({&s, alg});
        }
    }
    if (!only.empty() && out.empty()) {
        fail(ErrorKind::Input, "no service '" + only + "' in " + config_.file.string());
    }
    return out;
}

Engine::ZoneContext& Engine::zone_context(const config::Zone& zone) {
    auto it = zones_.find(zone.name);
    if (it != zones_.end()) {
        return *it->second;
    }
    dns::Resolver resolver = dns::make_resolver(config_.global);
    auto servers = dns::authoritative_servers(zone, resolver);
    dns::Server primary = dns::update_server(zone, resolver);
    // The primary's RRset is what UPDATE prerequisites are checked
    // against, and it serves the zone too: it is always observed.
    if (std::none_of(servers.begin(), servers.end(), [&](const dns::Server& s) {
            return s.address == primary.address && s.port == primary.port;
        })) {
        servers.insert(servers.begin(), primary);
    }
    auto [keys, security] = resolver.dnskeys(zone.name);
    auto ctx = std::make_unique<ZoneContext>(
        ZoneContext{std::move(resolver), std::move(servers), primary, std::move(keys), security});
    return *zones_.emplace(zone.name, std::move(ctx)).first->second;
}

Policy Engine::policy_for(const Unit& unit) const {
    const auto& s = *unit.service;
    Policy p;
    p.scheme = s.scheme;
    p.host = s.host;
    p.ttl = s.ttl;
    p.rotation_period = s.rotation_period;
    p.renew_before = s.renew_before;
    if (auto it = s.issuers.find(unit.algorithm); it != s.issuers.end()) {
        p.issuers = it->second;
    }
    p.max_records = config_.global.max_tlsa_records;
    p.source_can_issue = s.source.type != config::SourceType::Certbot;
    return p;
}

Inputs Engine::observe(const Unit& unit, const UnitState& state) {
    Inputs in;
    in.policy = policy_for(unit);
    const auto& svc = *unit.service;
    const std::string owner = svc.tlsa_owner();
    ZoneContext& z = zone_context(config_.zone_of(svc));
    const auto view = dns::observe_zone(svc.zone, z.servers, {owner}, z.dnskeys,
                                        std::chrono::system_clock::now(), z.resolver.options());
    // The observation's time is when its last answer was in: a record seen
    // on every server is "everywhere" from then on, not from the first query.
    in.now = std::chrono::system_clock::now();

    DnsObservation& d = in.dns;
    d.max_ttl = view.max_ttl(owner);
    d.negative_ttl = view.max_negative_ttl();
    // Signatures must outlive the longest wait ahead of us.
    const std::uint32_t longest = std::max({in.policy.ttl, d.max_ttl, d.negative_ttl});
    const TimePoint horizon = in.now + std::chrono::seconds(2LL * longest) + kSignatureMargin;
    // Signatures checked under DNSKEYs the resolver did not authenticate
    // (an insecure zone) prove nothing: no record counts as served then.
    d.complete = view.dnskeys_available && z.security == dns::Security::Secure;
    if (z.security != dns::Security::Secure) {
        d.problems.push_back("the validating resolver " + z.resolver.server().label() +
                             " says the zone " + svc.zone + " is " + dns::to_string(z.security) +
                             ": DANE is not in effect");
    }
    d.owner_empty_somewhere = false;
    std::vector<TlsaRecord> seen;
    for (const auto& sv : view.servers) {
        const auto it = sv.owners.find(owner);
        if (!sv.error.empty() || it == sv.owners.end() || !it->second.answered()) {
            d.complete = false;
            d.problems.push_back(
                sv.server.label() + ": " +
                (sv.error.empty()
                     ? (it == sv.owners.end() ? std::string("no answer") : it->second.error)
                     : sv.error));
            continue;
        }
        const auto& r = it->second;
        if (r.records.empty()) {
            d.owner_empty_somewhere = true;
        }
        seen.insert(seen.end(), r.records.begin(), r.records.end());
        if (sv.server.address == z.primary.address && sv.server.port == z.primary.port) {
            d.rrset_at_primary = r.records;
            d.primary_answered = true;
        }
    }
    for (const auto& o : state.records) {
        seen.push_back(o.record);
    }
    for (const auto& r : seen) {
        if (view.served_everywhere(owner, r, horizon)) {
            d.everywhere.insert(r);
        } else {
            d.gaps[r] = view.gaps(owner, r, horizon);
        }
    }
    try {
        if (auto installed = mta::Installer(svc, unit.algorithm).read_installed()) {
            in.installed_chain_pem = installed->chain_pem;
        }
    } catch (const Error& e) {
        d.problems.push_back(std::string("cannot read the MTA's files: ") + e.what());
    }
    in.peers = peers_of(unit, in.now);
    read_inbox(unit, state, in);
    in.ca_renewal = state.renewal_advice;  // run_unit keeps it about the deployed leaf
    return in;
}

smtp::ProbeRequest Engine::probe_request(const Unit& unit, std::vector<TlsaRecord> records) {
    const auto& svc = *unit.service;
    smtp::ProbeRequest req;
    req.host = svc.host;
    req.port = svc.port;
    req.addresses = svc.probe.addresses.empty()
                        ? zone_context(config_.zone_of(svc)).resolver.addresses(svc.host)
                        : svc.probe.addresses;
    req.ehlo_name = svc.probe.ehlo_name;
    req.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(svc.probe.timeout);
    req.records = std::move(records);
    req.key_preference =
        is_rsa(unit.algorithm) ? smtp::KeyPreference::Rsa : smtp::KeyPreference::Ecdsa;
    return req;
}

void Engine::observe_served(const Unit& unit, Inputs& in) {
    ServedObservation& out = in.served;
    out = {};
    out.probed = true;
    try {
        const auto report = smtp::probe(probe_request(unit, in.dns.rrset_at_primary));
        for (const auto& a : report.results) {
            if (a.chain.empty()) {
                out.unseen.push_back(a.address + ": " + a.reason);
            } else {
                out.chains.push_back({a.address, chain_to_pem(a.chain)});
            }
        }
    } catch (const Error& e) {
        // e.g. the MX host name does not resolve
        out.unseen.push_back(unit.service->host + ": " + e.what());
    }
}

std::vector<PeerUnit> Engine::peers_of(const Unit& unit, TimePoint now) const {
    std::vector<PeerUnit> out;
    const std::string owner = unit.service->tlsa_owner();
    for (const auto& other : units("")) {
        if ((other.service == unit.service && other.algorithm == unit.algorithm) ||
            other.service->tlsa_owner() != owner) {
            continue;
        }
        const std::string alg(key_algorithm_name(other.algorithm));
        const UnitState st = store_.load(other.service->id, alg);
        PeerUnit peer;
        peer.name = other.service->id + "/" + alg;
        const Policy policy = policy_for(other);
        for (const auto& o : st.records) {
            // What the peer wants: its current/next/staged records (their
            // roles are kept up to date by its own decide) and its issuers.
            if (o.role != RecordRole::Issuer) {
                peer.wanted.push_back(o.record);
            }
            if (o.created) {
                peer.created.push_back(o.record);
            }
            const auto ready = ready_at(o, st, policy);
            if (ready && *ready <= now) {
                peer.established.push_back(o.record);
            }
        }
        if (st.phase != Phase::Unmanaged && policy.scheme == config::Scheme::CurrentIssuer) {
            peer.wanted.insert(peer.wanted.end(), policy.issuers.begin(), policy.issuers.end());
        }
        auto add_chain = [&](const std::string& pem) {
            if (!pem.empty() &&
                std::find(peer.chains.begin(), peer.chains.end(), pem) == peer.chains.end()) {
                peer.chains.push_back(pem);
            }
        };
        add_chain(st.deployed_chain_pem);
        if (st.phase == Phase::Deploying) {
            add_chain(st.staged_chain_pem);
        }
        try {
            if (auto installed = mta::Installer(*other.service, other.algorithm).read_installed()) {
                add_chain(installed->chain_pem);
            }
        } catch (const Error&) {
            // Its own tick reports unreadable files.
        }
        out.push_back(std::move(peer));
    }
    return out;
}

void Engine::generate_next_key(const Unit& unit, UnitState& state, const Inputs& in) {
    const PrivateKey key = PrivateKey::generate(unit.algorithm);
    const auto dir = store_.key_dir(state.service, state.algorithm);
    ensure_private_directory(dir);
    const std::string id = key_id(key.spki_der());
    const auto file = dir / (id + ".key");
    save_private_key(key, file, Overwrite::No);
    crash_point("after-keygen");
    state.next_key = key_info(key, file.string(), in.now);
    state.note(in.now, "generated next key " + id + " (" + key.description() + ")");
    store_.save(state);
}

void Engine::publish(const Unit& unit, UnitState& state, const Inputs& in, const Action& a) {
    const auto& svc = *unit.service;
    if (!in.dns.primary_answered) {
        fail(ErrorKind::Network, "the primary did not answer; not publishing");
    }
    // The retire rule, asked again right before acting.
    std::string why;
    if (!a.remove.empty() && !retire_allowed(a.remove, state, in, why)) {
        fail(ErrorKind::Safety, "refusing to retire " + record_list(a.remove) + ": " + why);
    }
    // Record the intent first: after a crash between the UPDATE and the
    // next save, the record is known to be ours.
    for (std::size_t i = 0; i < a.add.size(); ++i) {
        if (state.find(a.add[i]) != nullptr) {
            continue;
        }
        OwnedRecord o;
        o.record = a.add[i];
        o.role = a.add_roles[i];
        const auto& rr = in.dns.rrset_at_primary;
        o.created = std::find(rr.begin(), rr.end(), a.add[i]) == rr.end();
        o.new_owner = rr.empty() || in.dns.owner_empty_somewhere;
        o.max_ttl_seen = std::max(svc.ttl, in.dns.max_ttl);
        o.negative_ttl_seen = in.dns.negative_ttl;
        state.records.push_back(std::move(o));
    }
    store_.save(state);
    crash_point("before-update");

    ZoneContext& z = zone_context(config_.zone_of(svc));
    dns::TlsaChange change{svc.zone, svc.tlsa_owner(), svc.ttl, a.add, a.remove};
    const auto outcome =
        dns::update_tlsa(z.primary, dns::credentials_for(config_, config_.zone_of(svc)), change,
                         z.resolver.options());
    crash_point("after-update");
    for (const auto& r : a.add) {
        if (OwnedRecord* o = state.find(r)) {
            o->published_at = in.now;
        }
    }
    for (const auto& r : a.remove) {
        state.records.erase(std::remove_if(state.records.begin(), state.records.end(),
                                           [&](const OwnedRecord& o) { return o.record == r; }),
                            state.records.end());
    }
    std::string what;
    if (!a.add.empty()) {
        what += "published " + record_list(a.add);
    }
    if (!a.remove.empty()) {
        what += std::string(what.empty() ? "" : "; ") + "retired " + record_list(a.remove);
    }
    state.note(in.now, what + (outcome.changed ? "" : " (no change needed)"));
    store_.save(state);
}

std::vector<std::string> Engine::issue(const Unit& unit, UnitState& state, const Inputs& in) {
    const auto& svc = *unit.service;
    if (!state.next_key) {
        fail(ErrorKind::Internal, "issue without a next key");
    }
    const PrivateKey key = PrivateKey::load_file(state.next_key->file);
    auto source = source::make_source(config_, svc);
    source::IssueRequest req;
    req.service = svc.id;
    req.algorithm = unit.algorithm;
    req.names = svc.names;
    req.key = &key;
    req.work_dir = store_.work_dir(state.service, state.algorithm);
    auto issued = source->issue(req);
    const auto& chain = issued.chain;
    source::validate_issued_chain(
        chain, key, svc.host, std::chrono::system_clock::now(),
        "the " + std::string(config::to_string(svc.source.type)) + " certificate source");
    crash_point("after-issue");
    state.staged_chain_pem = chain_to_pem(chain);
    state.staged_key_id = state.next_key->id;
    state.staged_at = in.now;
    state.note(in.now, "staged a chain for key " + state.staged_key_id + " (" +
                           chain.front().subject() + ", issued by " + chain.front().issuer() + ")");
    state.phase = Phase::AwaitingPropagation;
    store_.save(state);
    return std::move(issued.warnings);
}

std::string Engine::probe_new_chain(const Unit& unit, const Certificate& leaf, const Inputs& in,
                                    UnitReport& report) {
    try {
        const smtp::ProbeRequest req = probe_request(unit, in.dns.rrset_at_primary);
        const std::string want = to_hex(sha256(leaf.spki_der()));
        std::string last;
        // The reload takes effect as the MTA's processes restart: give it
        // a few seconds (bounded) to present the new chain everywhere.
        for (int attempt = 0; attempt < 20; ++attempt) {
            const auto r = smtp::probe(req);
            last.clear();
            for (const auto& a : r.results) {
                if (!a.verified()) {
                    last += (last.empty() ? "" : "; ") + a.address + ": " + a.reason;
                } else if (a.leaf_spki_sha256 != want) {
                    last += (last.empty() ? "" : "; ") + a.address +
                            ": still presents the previous certificate";
                }
            }
            if (last.empty() && !r.results.empty()) {
                report.done.push_back("probe: " + std::to_string(r.results.size()) +
                                      " address(es) present the new chain, DANE-verified");
                return "";
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
        return "the probe after the reload failed: " + last;
    } catch (const Error& e) {
        // e.g. the MX host's addresses could not be looked up: unverified
        // is not verified.
        return std::string("the probe after the reload could not run: ") + e.what();
    }
}

// Puts the previous files back and reloads: the previous chain still
// matches its records, which the retire rule kept published. Says how it
// went, for the failure message.
std::string Engine::roll_back(const mta::Installer& installer) {
    bool restored = false;
    try {
        restored = installer.restore_backup();
        installer.reload();
        return restored ? "rolled back to the previous certificate" : "NO BACKUP to roll back to";
    } catch (const Error& e) {
        return restored ? std::string("the previous files are restored but the reload failed: ") +
                              e.what()
                        : std::string("ROLLBACK FAILED: ") + e.what();
    }
}

void Engine::deploy(const Unit& unit, UnitState& state, const Inputs& in, UnitReport& report) {
    const auto& svc = *unit.service;
    const bool already_installed = in.installed_chain_pem == state.staged_chain_pem;
    // The deploy rule, asked again right before acting.
    if (!already_installed) {
        const auto verdict = deploy_allowed(state.staged_chain_pem, state, in);
        if (!verdict.allowed) {
            fail(ErrorKind::Safety, "refusing to deploy: " + verdict.reason);
        }
    }
    KeyInfo staged_key;
    if (state.next_key && state.next_key->id == state.staged_key_id) {
        staged_key = *state.next_key;
    } else if (state.current_key && state.current_key->id == state.staged_key_id) {
        staged_key = *state.current_key;
    } else {
        // A key handed over with its chain (certbot), imported by id.
        const auto file =
            store_.key_dir(state.service, state.algorithm) / (state.staged_key_id + ".key");
        std::error_code ec;
        if (!std::filesystem::exists(file, ec)) {
            fail(ErrorKind::Internal,
                 "the key " + state.staged_key_id + " of the staged chain is gone");
        }
        staged_key = key_info(PrivateKey::load_file(file), file.string(), in.now);
    }
    const PrivateKey key = PrivateKey::load_file(staged_key.file);
    const auto chain = parse_certificates(state.staged_chain_pem, "staged chain");
    mta::Installer installer(svc, unit.algorithm);
    state.phase = Phase::Deploying;
    store_.save(state);
    crash_point("before-install");
    std::string failure;
    bool files_written = true;
    try {
        installer.install(key, chain);
    } catch (const Error& e) {
        failure = std::string("installing the new files failed: ") + e.what();
        files_written = install_touched_files(installer, in.installed_chain_pem);
    }
    if (failure.empty()) {
        crash_point("after-install");
        try {
            installer.reload();
        } catch (const Error& e) {
            failure = e.what();
        }
        crash_point("after-reload");
    }
    if (failure.empty()) {
        failure = probe_new_chain(unit, chain.front(), in, report);
    }
    if (!failure.empty()) {
        const std::string rollback =
            files_written ? roll_back(installer) : "the MTA's files were left as they were";
        state.phase = Phase::Failed;
        // A failed deploy waits for the operator: a rotation they asked for
        // must not start over by itself at the next tick.
        state.rotate_requested = false;
        state.failure = failure + "; " + rollback;
        state.staged_chain_pem.clear();
        state.staged_key_id.clear();
        state.note(in.now, "deploy failed: " + state.failure);
        store_.save(state);
        fail(ErrorKind::Io,
             "deploy of " + svc.id + "/" + state.algorithm + " failed: " + state.failure);
    }
    crash_point("after-probe");
    state.deployed_chain_pem = state.staged_chain_pem;
    state.deployed_at = in.now;
    state.current_key = staged_key;
    if (state.next_key && state.next_key->id == staged_key.id) {
        state.next_key.reset();
    }
    state.staged_chain_pem.clear();
    state.staged_key_id.clear();
    state.rotate_requested = false;
    state.phase = Phase::Retiring;
    state.note(in.now, "deployed the chain for key " + staged_key.id + " and verified it");
    store_.save(state);
    // A handed-over chain is done with once it is deployed.
    const auto inbox = store_.inbox_dir(state.service, state.algorithm);
    std::error_code ec;
    if (std::filesystem::exists(inbox / "chain.pem", ec) &&
        normalized_inbox_chain(inbox) == state.deployed_chain_pem) {
        std::filesystem::remove(inbox / "chain.pem", ec);
        std::filesystem::remove(inbox / "key.pem", ec);
    }
}

void Engine::execute(const Unit& unit, UnitState& state, const Inputs& in, const Action& a,
                     UnitReport& report) {
    switch (a.type) {
        case ActionType::GenerateNextKey:
            generate_next_key(unit, state, in);
            report.done.push_back("generated the next key " + state.next_key->id);
            return;
        case ActionType::Publish:
            publish(unit, state, in, a);
            report.done.push_back(
                (a.add.empty() ? std::string() : "published " + record_list(a.add)) +
                (a.add.empty() || a.remove.empty() ? "" : "; ") +
                (a.remove.empty() ? std::string() : "retired " + record_list(a.remove)));
            return;
        case ActionType::Issue:
            for (auto& w : issue(unit, state, in)) {
                report.warnings.push_back(std::move(w));
            }
            report.done.push_back("obtained a certificate for key " + state.staged_key_id);
            return;
        case ActionType::Deploy:
            deploy(unit, state, in, report);
            report.done.push_back("deployed the new certificate");
            return;
    }
}

void Engine::prune_keys(const UnitState& state) const {
    // Private keys that no longer serve (a retired current key, a next key
    // generated before a crash) should not linger on disk.
    const auto dir = store_.key_dir(state.service, state.algorithm);
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
        return;
    }
    std::vector<std::string> keep;
    for (const auto* k : {&state.current_key, &state.next_key}) {
        if (*k) {
            keep.push_back((*k)->file);
        }
    }
    if (!state.staged_key_id.empty()) {
        keep.push_back((dir / (state.staged_key_id + ".key")).string());
    }
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const std::string path = entry.path().string();
        if (entry.path().extension() == ".key" &&
            std::find(keep.begin(), keep.end(), path) == keep.end()) {
            std::filesystem::remove(entry.path(), ec);
        }
    }
}

// RFC 9773: when the service's source is a CA that offers renewal
// information, ask it about the deployed leaf, at most once per its
// Retry-After (6 h if it gives none), and keep the answer in the state.
// Only a stable unit asks: mid-rollover the answer would be for a leaf about
// to go. A CA that cannot be reached is a warning; the last advice for this
// leaf (or renew_before) still holds.
void Engine::refresh_renewal_advice(const Unit& unit, UnitState& state, UnitReport& report) const {
    const auto& svc = *unit.service;
    if (svc.source.type != config::SourceType::Acme || state.phase != Phase::Stable ||
        state.deployed_chain_pem.empty()) {
        return;
    }
    const std::string id = leaf_fingerprint(state.deployed_chain_pem);
    const auto now = std::chrono::system_clock::now();
    const auto& old = state.renewal_advice;
    const bool same_leaf = old && old->leaf_sha256 == id;
    if (id.empty() || (same_leaf && now < old->check_after)) {
        return;
    }
    // After a failure or a CA without ARI, a `run --wait` loop (one Engine,
    // many ticks) does not ask again at every tick. Separate processes
    // (the hourly timer) ask again each time, which is rare enough.
    const std::string unit_key = state.service + "/" + state.algorithm + "/" + id;
    if (const auto q = renewal_quiet_until_.find(unit_key);
        q != renewal_quiet_until_.end() && now < q->second) {
        return;
    }
    std::optional<RenewalAdvice> previous;
    if (same_leaf) {
        previous = old;
    }
    state.renewal_advice.reset();  // advice about a leaf gone is no advice
    std::optional<source::RenewalWindow> window;
    try {
        const Certificate leaf = parse_certificates(state.deployed_chain_pem, "chain").front();
        window = source::make_source(config_, svc)->renewal_window(leaf);
    } catch (const Error& e) {
        report.warnings.push_back(std::string("cannot fetch the CA's renewal information: ") +
                                  e.what());
        state.renewal_advice = previous;  // still the best advice for this leaf
        renewal_quiet_until_[unit_key] = now + std::chrono::minutes(15);
        return;
    }
    if (!window) {
        renewal_quiet_until_[unit_key] = now + std::chrono::hours(6);
        return;
    }
    RenewalAdvice a;
    a.leaf_sha256 = id;
    a.window_start = window->start;
    a.window_end = window->end;
    a.explanation_url = window->explanation_url;
    // The CA's Retry-After, within reason: not more than once a minute, at
    // least once a day.
    a.check_after =
        now + std::clamp(window->retry_after.value_or(std::chrono::hours(6)),
                         std::chrono::seconds(60), std::chrono::seconds(std::chrono::hours(24)));
    if (previous && previous->window_start == a.window_start &&
        previous->window_end == a.window_end) {
        a.renew_at = previous->renew_at;
    } else {
        a.renew_at = draw_in_window(a.window_start, a.window_end);
        state.note(now, "the CA suggests renewing between " + format_utc(a.window_start) + " and " +
                            format_utc(a.window_end) + "; chose " + format_utc(a.renew_at));
    }
    state.renewal_advice = std::move(a);
}

UnitReport Engine::run_unit(const Unit& unit, bool dry_run) {
    UnitReport report;
    report.service = unit.service->id;
    report.algorithm = std::string(key_algorithm_name(unit.algorithm));
    report.host = unit.service->host;
    UnitState state = store_.load(report.service, report.algorithm);
    refresh_renewal_advice(unit, state, report);
    // Warnings that outlive one decide(): the renewal advice's, and those an
    // action reported (decide()'s own are recomputed every step).
    std::vector<std::string> tick_warnings = report.warnings;
    for (int i = 0; i < kMaxActionsPerTick; ++i) {
        // The last action may have deployed another leaf: advice about the
        // one before is no advice.
        if (state.renewal_advice &&
            state.renewal_advice->leaf_sha256 != leaf_fingerprint(state.deployed_chain_pem)) {
            state.renewal_advice.reset();
        }
        Inputs in = observe(unit, state);
        Plan plan = decide(state, in);
        if (removes_records(plan)) {
            // See what every address presents before anything is retired,
            // and decide again with that in view.
            observe_served(unit, in);
            plan = decide(state, in);
        }
        report.warnings = tick_warnings;
        report.warnings.insert(report.warnings.end(), plan.warnings.begin(), plan.warnings.end());
        report.waiting_for = plan.waiting_for;
        report.wake_at = plan.wake_at;
        report.rollover_due = plan.rollover_due;
        report.retire_blocked = plan.retire_blocked;
        report.progress.insert(report.progress.end(), plan.progress.begin(), plan.progress.end());
        if (dry_run) {
            for (const auto& a : plan.actions) {
                report.planned.push_back(
                    std::string(to_string(a.type)) + ": " + a.reason +
                    (a.add.empty() ? "" : " (+" + record_list(a.add) + ")") +
                    (a.remove.empty() ? "" : " (-" + record_list(a.remove) + ")"));
            }
            report.phase = plan.state.phase;
            return report;
        }
        state = std::move(plan.state);
        state.next_wake = plan.wake_at;
        state.waiting_for = plan.waiting_for;
        store_.save(state);
        report.phase = state.phase;
        if (plan.actions.empty()) {
            if (state.phase == Phase::Stable && state.staged_chain_pem.empty()) {
                prune_keys(state);
            }
            // Stable, but a record just published is not yet on every
            // server: say so, and look again soon rather than at the next
            // rollover (run --wait keeps ticking until it is there).
            const auto pending = static_cast<std::size_t>(
                std::count_if(state.records.begin(), state.records.end(),
                              [](const OwnedRecord& o) { return !o.everywhere_since; }));
            report.records_everywhere = pending == 0;
            if (state.phase == Phase::Stable && pending > 0) {
                report.waiting_for = std::to_string(pending) +
                                     " record(s) not yet served, signed, by every server; " +
                                     report.waiting_for;
                report.wake_at =
                    in.now + std::clamp(std::chrono::seconds(unit.service->ttl / 4),
                                        std::chrono::seconds(1), std::chrono::seconds(30));
            }
            if (state.phase != Phase::Failed) {
                state.last_success = in.now;
                store_.save(state);
            }
            return report;
        }
        const auto warnings_before = report.warnings.size();
        try {
            execute(unit, state, in, plan.actions.front(), report);
            tick_warnings.insert(tick_warnings.end(),
                                 report.warnings.begin() + static_cast<long>(warnings_before),
                                 report.warnings.end());
        } catch (const Error& e) {
            report.error = e.what();
            report.phase = state.phase;
            // A failed issuance or UPDATE is retried at the next tick; try
            // again in a little while rather than at once.
            state.next_wake =
                in.now + std::chrono::seconds(std::clamp<long>(unit.service->ttl, 5, 300));
            state.waiting_for = std::string("retrying after: ") + e.what();
            store_.save(state);
            report.wake_at = state.next_wake;
            report.waiting_for = state.waiting_for;
            return report;
        }
        report.phase = state.phase;
    }
    report.warnings.emplace_back("stopped after " + std::to_string(kMaxActionsPerTick) +
                                 " actions in one tick; continuing at the next");
    return report;
}

TickReport Engine::tick(bool dry_run, const std::string& service) {
    zones_.clear();
    dry_run_ = dry_run;
    TickReport report;
    for (const auto& unit : units(service)) {
        try {
            report.units.push_back(run_unit(unit, dry_run));
        } catch (const Error& e) {
            UnitReport r;
            r.service = unit.service->id;
            r.algorithm = std::string(key_algorithm_name(unit.algorithm));
            r.host = unit.service->host;
            r.phase = store_.load(r.service, r.algorithm).phase;
            r.error = e.what();
            report.units.push_back(std::move(r));
        }
    }
    return report;
}

std::vector<UnitReport> Engine::init(const std::string& service, bool take_over) {
    std::vector<UnitReport> out;
    const auto now = std::chrono::system_clock::now();
    for (const auto& unit : units(service)) {
        UnitReport r;
        r.service = unit.service->id;
        r.algorithm = std::string(key_algorithm_name(unit.algorithm));
        r.host = unit.service->host;
        UnitState state = store_.load(r.service, r.algorithm);
        if (state.phase != Phase::Unmanaged) {
            r.phase = state.phase;
            r.done.push_back("already managed (" + std::string(to_string(state.phase)) + ")");
            out.push_back(std::move(r));
            continue;
        }
        mta::Installer installer(*unit.service, unit.algorithm);
        const auto installed = installer.read_installed();
        if (!installed || !installed->key) {
            std::string files;
            for (const auto& f : installer.live_files()) {
                files += (files.empty() ? "" : " and ") + f;
            }
            fail(ErrorKind::Input, "service " + r.service + " (" + r.algorithm + "): " + files +
                                       " hold no key and certificate to adopt; install the "
                                       "certificate the MTA serves today there first");
        }
        const auto chain = parse_certificates(installed->chain_pem, installer.live_files().back());
        if (chain.front().spki_der() != installed->key->spki_der()) {
            fail(ErrorKind::Input, "service " + r.service + " (" + r.algorithm +
                                       "): the key and "
                                       "the certificate the MTA reads do not belong together");
        }
        if (installed->key->algorithm() != unit.algorithm) {
            fail(ErrorKind::Input, "service " + r.service + ": the MTA's " + r.algorithm +
                                       " files hold a " + installed->key->description() + " key");
        }
        const auto dir = store_.key_dir(r.service, r.algorithm);
        ensure_private_directory(dir);
        const std::string id = key_id(installed->key->spki_der());
        const auto file = dir / (id + ".key");
        std::error_code ec;
        if (!std::filesystem::exists(file, ec)) {
            save_private_key(*installed->key, file, Overwrite::No);
        }
        state.current_key = key_info(*installed->key, file.string(), now);
        state.deployed_chain_pem = installed->chain_pem;
        state.deployed_at = now;
        // init hands the service to daneroll: by default the record of the
        // key served today becomes ours to retire later, even if someone
        // published it by hand. With take_over false it stays someone
        // else's (another machine serving the same key under the same MX
        // name) and daneroll never removes it; the next tick publishes it
        // only if it is missing.
        if (take_over) {
            OwnedRecord current;
            current.record =
                tlsa_from_spki(tlsa::kDaneEe, installed->key->spki_der(), tlsa::kMatchSha256);
            current.role = RecordRole::Current;
            current.created = true;
            current.max_ttl_seen = unit.service->ttl;
            state.records.push_back(current);
        } else {
            r.warnings.emplace_back(
                "the record of the current key stays with whoever published "
                "it: daneroll will not retire it after the next rollover");
        }
        state.phase = Phase::Stable;
        state.note(now, "adopted key " + id + " and the chain of " + chain.front().subject() +
                            " from " + installer.live_files().back());
        store_.save(state);
        r.phase = state.phase;
        r.done.push_back("adopted key " + id + " (" + installed->key->description() + ") and " +
                         chain.front().subject());
        out.push_back(std::move(r));
    }
    return out;
}

void Engine::request_rotation(const std::string& service) {
    for (const auto& unit : units(service)) {
        UnitState state =
            store_.load(unit.service->id, std::string(key_algorithm_name(unit.algorithm)));
        if (state.phase == Phase::Unmanaged) {
            fail(ErrorKind::Input, "service " + service + " is not managed yet; run daneroll init");
        }
        state.rotate_requested = true;
        state.note(std::chrono::system_clock::now(), "the operator asked for a rotation");
        store_.save(state);
    }
}

std::vector<UnitState> Engine::states() const {
    std::vector<UnitState> out;
    for (const auto& unit : units("")) {
        out.push_back(
            store_.load(unit.service->id, std::string(key_algorithm_name(unit.algorithm))));
    }
    return out;
}

}  // namespace daneroll::rollover
