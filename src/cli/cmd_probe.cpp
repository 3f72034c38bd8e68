// `daneroll probe HOST`: STARTTLS to every address of an MX host and DANE
// verification of what each one serves, as a DANE-validating sender would
// see it. Addresses and TLSA records come from the validating resolver
// (the answer must be secure), or from the command line.
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "daneroll/common/duration.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/config/config.hpp"
#include "daneroll/dns/resolver.hpp"
#include "daneroll/dns/servers.hpp"
#include "daneroll/smtp/probe.hpp"
#include "daneroll/tlsa/record.hpp"
#include "exit_codes.hpp"

namespace daneroll::cli {

namespace {

using smtp::AddressResult;
using smtp::ProbeReport;

struct ProbeOptions {
    std::string host;
    int port = 25;
    std::vector<std::string> addresses;
    std::vector<std::string> records;
    std::string ehlo;
    std::string timeout = "10s";
    std::string alg = "any";
    std::string resolver;
    std::string config;
    bool json = false;
};

double to_ms(std::chrono::microseconds us) {
    return static_cast<double>(us.count()) / 1000.0;
}

std::string ms_text(std::chrono::microseconds us) {
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%.1f ms", to_ms(us));
    return buf.data();
}

// A string, or null when empty (a step or handshake that never happened).
nlohmann::json text_or_null(const std::string& s) {
    return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

nlohmann::json optional_ms(const std::optional<std::chrono::microseconds>& us) {
    return us ? nlohmann::json(to_ms(*us)) : nlohmann::json(nullptr);
}

nlohmann::json result_json(const AddressResult& r, const std::vector<TlsaRecord>& records) {
    nlohmann::json chain = nlohmann::json::array();
    for (const auto& c : r.chain) {
        chain.push_back({{"subject", c.subject()},
                         {"issuer", c.issuer()},
                         {"key", c.key_description()},
                         {"not_after", format_utc(c.not_after())}});
    }
    nlohmann::json j{
        {"address", r.address},
        {"status", std::string(smtp::status_name(r.status))},
        {"verified", r.verified()},
        {"reason", r.reason},
        {"downgrade", r.downgrade},
        {"matched_record", r.matched_record ? nlohmann::json(*r.matched_record) : nullptr},
        {"matched_rdata",
         r.matched_record ? nlohmann::json(records[*r.matched_record].to_string()) : nullptr},
        {"match_depth", r.match_depth >= 0 ? nlohmann::json(r.match_depth) : nullptr},
        {"verify_error", r.verify_error},
        {"notes", r.notes},
        {"banner", r.banner},
        {"tls_version", text_or_null(r.tls_version)},
        {"cipher", text_or_null(r.cipher)},
        {"chain", chain},
        {"leaf_spki_sha256", text_or_null(r.leaf_spki_sha256)},
        {"leaf_not_after",
         r.leaf_not_after ? nlohmann::json(format_utc(*r.leaf_not_after)) : nullptr},
        {"timings_ms",
         {{"connect", optional_ms(r.timings.connect)},
          {"banner", optional_ms(r.timings.banner)},
          {"ehlo", optional_ms(r.timings.ehlo)},
          {"starttls", optional_ms(r.timings.starttls)},
          {"handshake", optional_ms(r.timings.handshake)},
          {"tls_ehlo", optional_ms(r.timings.tls_ehlo)},
          {"total", to_ms(r.timings.total)}}},
    };
    return j;
}

nlohmann::json report_json(const ProbeReport& report) {
    nlohmann::json records = nlohmann::json::array();
    for (const auto& r : report.records) {
        records.push_back(r.to_string());
    }
    nlohmann::json results = nlohmann::json::array();
    for (const auto& r : report.results) {
        results.push_back(result_json(r, report.records));
    }
    nlohmann::json failures = nlohmann::json::array();
    for (const auto* f : report.failures()) {
        failures.push_back({{"address", f->address}, {"status", smtp::status_name(f->status)}});
    }
    return {{"host", report.host},
            {"port", report.port},
            {"ehlo_name", report.ehlo_name},
            {"key_preference", smtp::key_preference_name(report.key_preference)},
            {"records", records},
            {"all_verified", report.all_verified()},
            {"failures", failures},
            {"elapsed_ms", to_ms(report.elapsed)},
            {"results", results}};
}

void print_timings(std::ostream& out, const smtp::ProbeTimings& t) {
    const std::pair<const char*, const std::optional<std::chrono::microseconds>*> steps[] = {
        {"connect", &t.connect},   {"banner", &t.banner},       {"ehlo", &t.ehlo},
        {"starttls", &t.starttls}, {"handshake", &t.handshake}, {"tls ehlo", &t.tls_ehlo},
    };
    out << "  timings    ";
    for (const auto& [name, value] : steps) {
        if (*value) {
            out << name << ' ' << ms_text(**value) << ", ";
        }
    }
    out << "total " << ms_text(t.total) << '\n';
}

void print_result(std::ostream& out, const AddressResult& r) {
    if (r.verified()) {
        out << r.address << ": verified: " << r.reason << '\n';
    } else {
        out << r.address << ": NOT VERIFIED (" << smtp::status_name(r.status) << "): " << r.reason
            << '\n';
    }
    for (const auto& n : r.notes) {
        out << "  note       " << n << '\n';
    }
    if (!r.tls_version.empty()) {
        out << "  tls        " << r.tls_version << ' ' << r.cipher << '\n';
    }
    for (std::size_t i = 0; i < r.chain.size(); ++i) {
        const auto& c = r.chain[i];
        out << (i == 0 ? "  chain      " : "             ") << i << ": " << c.subject()
            << " (issuer " << c.issuer() << "; " << c.key_description() << "; until "
            << format_utc(c.not_after()) << ")\n";
    }
    if (!r.leaf_spki_sha256.empty()) {
        out << "  leaf spki  sha256 " << r.leaf_spki_sha256 << '\n';
    }
    print_timings(out, r.timings);
}

void print_report(std::ostream& out, const ProbeReport& report) {
    out << "probe of " << report.host << " port " << report.port << " (EHLO " << report.ehlo_name
        << ", " << report.results.size() << " address" << (report.results.size() == 1 ? "" : "es")
        << ")\n";
    if (report.records.empty()) {
        out << "  no TLSA records: nothing can verify (no DANE)\n";
    }
    for (std::size_t i = 0; i < report.records.size(); ++i) {
        out << "  record " << (i + 1) << ": " << report.records[i].to_string() << '\n';
    }
    for (const auto& r : report.results) {
        print_result(out, r);
    }
    const auto failures = report.failures();
    if (failures.empty()) {
        out << "result: all " << report.results.size() << " verified in " << ms_text(report.elapsed)
            << '\n';
        return;
    }
    out << "result: " << failures.size() << " of " << report.results.size() << " not verified:";
    for (const auto* f : failures) {
        out << ' ' << f->address << " (" << smtp::status_name(f->status) << ')';
    }
    out << '\n';
}

smtp::KeyPreference parse_alg(const std::string& alg) {
    if (alg == "any") {
        return smtp::KeyPreference::Any;
    }
    if (alg == "ecdsa") {
        return smtp::KeyPreference::Ecdsa;
    }
    if (alg == "rsa") {
        return smtp::KeyPreference::Rsa;
    }
    fail(ErrorKind::Input, "--alg '" + alg + "': use any, ecdsa or rsa");
}

// The resolver to ask: --resolver, else the configuration's, else the
// first nameserver of /etc/resolv.conf.
dns::Resolver probe_resolver(const ProbeOptions& o) {
    dns::QueryOptions options;
    if (!o.resolver.empty()) {
        std::string why;
        const auto ep = config::parse_endpoint(o.resolver, 53, why);
        if (!ep || !ep->is_ip_literal()) {
            fail(ErrorKind::Input, "--resolver '" + o.resolver +
                                       "': " + (why.empty() ? "give an IP address[:port]" : why));
        }
        return dns::Resolver(dns::Server{"", ep->host, ep->port}, options);
    }
    std::error_code ec;
    if (!o.config.empty() || std::filesystem::exists(config::kDefaultConfigPath, ec)) {
        const auto c =
            config::load_config(o.config.empty() ? config::kDefaultConfigPath : o.config);
        return dns::make_resolver(c.global);
    }
    return dns::Resolver(dns::Resolver::from_resolv_conf(), options);
}

// The TLSA RRset as a DANE sender gets it: only a secure answer counts.
std::vector<TlsaRecord> records_from_dns(const dns::Resolver& resolver, const std::string& owner) {
    const auto v = resolver.tlsa(owner);
    if (!v.error.empty()) {
        fail(ErrorKind::Network, "cannot get the TLSA records of " + owner + ": " + v.error);
    }
    if (v.security == dns::Security::Bogus) {
        fail(ErrorKind::Network, "the TLSA answer for " + owner +
                                     " is BOGUS (DNSSEC validation "
                                     "fails): DANE senders will defer mail to this host");
    }
    if (v.security != dns::Security::Secure) {
        fail(ErrorKind::Network, "the TLSA answer for " + owner +
                                     " is not DNSSEC-secure (no AD "
                                     "bit from " +
                                     resolver.server().label() +
                                     "): DANE is not in effect; give --record to probe anyway");
    }
    if (v.records.empty()) {
        fail(ErrorKind::Network, owner +
                                     " has no TLSA records (a secure denial): DANE is not "
                                     "in effect for this host");
    }
    return v.records;
}

int run_probe(const smtp::ProbeRequest& request, bool json) {
    const ProbeReport report = smtp::probe(request);
    if (json) {
        std::cout << report_json(report).dump(2) << '\n';
    } else {
        print_report(std::cout, report);
    }
    return report.all_verified() ? kExitOk : kExitFailed;
}

int run_probe_command(const ProbeOptions& o) {
    smtp::ProbeRequest request;
    request.host = o.host;
    request.port = static_cast<std::uint16_t>(o.port);
    request.addresses = o.addresses;
    for (const auto& text : o.records) {
        request.records.push_back(TlsaRecord::parse(text));
    }
    if (request.addresses.empty() || request.records.empty()) {
        const dns::Resolver resolver = probe_resolver(o);
        if (request.addresses.empty()) {
            request.addresses = resolver.addresses(o.host);
        }
        if (request.records.empty()) {
            request.records = records_from_dns(resolver, tlsa_owner_name(o.host, request.port));
        }
    }
    request.ehlo_name = o.ehlo;
    const auto timeout = parse_duration(o.timeout);
    if (!timeout || *timeout <= std::chrono::seconds::zero() || *timeout > std::chrono::hours(1)) {
        fail(ErrorKind::Input,
             "--timeout '" + o.timeout + "': give a duration from 1s to 1h, e.g. 10s");
    }
    request.timeout = *timeout;
    request.key_preference = parse_alg(o.alg);
    return run_probe(request, o.json);
}

}  // namespace

void add_probe_command(CLI::App& app, Action& action) {
    auto opts = std::make_shared<ProbeOptions>();
    auto* cmd = app.add_subcommand(
        "probe",
        "STARTTLS to every address of an MX host and check the served chain against TLSA "
        "records, as a DANE-validating sender would (exit 0 only if every address verifies)");
    cmd->add_option("host", opts->host, "The MX host name (SNI and DANE reference name)")
        ->required();
    cmd->add_option("--port", opts->port, "The SMTP port")
        ->check(CLI::Range(1, 65535))
        ->default_val(25);
    cmd->add_option("--address", opts->addresses,
                    "An IPv4 or IPv6 address of the MX host (repeatable; all are probed at "
                    "once). Default: its A and AAAA records");
    cmd->add_option("--record", opts->records,
                    "A TLSA record of the host, e.g. \"3 1 1 <hex>\" (repeatable). Default: the "
                    "RRset from the validating resolver, which must answer securely");
    cmd->add_option("--resolver", opts->resolver,
                    "The validating resolver, IP[:port] (default: the configuration's, else "
                    "/etc/resolv.conf)");
    cmd->add_option("-c,--config", opts->config, "Take the resolver from this configuration");
    cmd->add_option("--ehlo", opts->ehlo, "The EHLO name (default: this host's name)");
    cmd->add_option("--timeout", opts->timeout,
                    "Bound on each address's whole dialogue, connect to QUIT, e.g. 10s")
        ->default_val("10s");
    cmd->add_option("--alg", opts->alg, "Which of the server's chains to ask for")
        ->check(CLI::IsMember({"any", "ecdsa", "rsa"}))
        ->default_val("any");
    cmd->add_flag("--json", opts->json, "Print JSON");
    cmd->callback([&action, opts] { action = [opts] { return run_probe_command(*opts); }; });
}

}  // namespace daneroll::cli
