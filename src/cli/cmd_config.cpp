// `daneroll config check`: validate a configuration and show what daneroll
// will do with it, service by service. Secrets are never printed.
#include <nlohmann/json.hpp>

#include <iostream>

#include "commands.hpp"
#include "daneroll/common/duration.hpp"
#include "daneroll/config/config.hpp"
#include "exit_codes.hpp"

namespace daneroll::cli {

namespace {

struct CheckOptions {
    std::string config = config::kDefaultConfigPath;
    bool json = false;
};

std::string join(const std::vector<std::string>& v, const std::string& sep = " ") {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : sep) + s;
    }
    return out;
}

std::vector<std::string> install_paths(const config::Service& s, KeyAlgorithm alg) {
    if (!s.mta.combined_file.empty()) {
        return {config::Service::expand(s.mta.combined_file, alg)};
    }
    return {config::Service::expand(s.mta.key_file, alg),
            config::Service::expand(s.mta.chain_file, alg)};
}

std::string servers_text(const config::Zone& z) {
    std::vector<std::string> out;
    for (const auto& e : z.servers) {
        out.push_back(e.to_string());
    }
    if (out.empty()) {
        out.emplace_back("discovered from the NS records");
    }
    if (z.primary) {
        out.push_back("hidden primary " + z.primary->to_string());
    }
    return join(out, ", ");
}

std::string source_text(const config::CertificateSource& s) {
    switch (s.type) {
        case config::SourceType::Acme:
            if (s.challenge == config::Challenge::Dns01) {
                return "acme (dns-01)";
            }
            return "acme (http-01, " +
                   (s.webroot ? "webroot " + s.webroot->string()
                              : "listening on " + s.http_listen->to_string()) +
                   ")";
        case config::SourceType::Certbot:
            return "certbot (lineage " + s.lineage->string() + ")";
        case config::SourceType::Command:
            return "command: " + join(s.command);
    }
    return "?";
}

nlohmann::json to_json(const config::Config& c) {
    nlohmann::json services = nlohmann::json::array();
    for (const auto& s : c.services) {
        const auto& z = c.zone_of(s);
        const auto& k = c.key_of(z);
        for (const auto alg : s.algorithms) {
            nlohmann::json issuers = nlohmann::json::array();
            if (auto it = s.issuers.find(alg); it != s.issuers.end()) {
                for (const auto& r : it->second) {
                    issuers.push_back(r.to_string());
                }
            }
            services.push_back({
                {"service", s.id},
                {"host", s.host},
                {"port", s.port},
                {"algorithm", key_algorithm_name(alg)},
                {"tlsa_owner", s.tlsa_owner()},
                {"zone", z.name},
                {"servers", servers_text(z)},
                {"tsig_key", {{"id", k.id}, {"name", k.name}, {"algorithm", k.algorithm}}},
                {"ttl", s.ttl},
                {"scheme", config::to_string(s.scheme)},
                {"issuers", issuers},
                {"rotation_period", format_duration(s.rotation_period)},
                {"renew_before", format_duration(s.renew_before)},
                {"names", s.names},
                {"source", source_text(s.source)},
                {"mta", config::to_string(s.mta.type)},
                {"install", install_paths(s, alg)},
                {"reload", s.mta.reload},
                {"probe_addresses", s.probe.addresses},
            });
        }
    }
    return {{"config", c.file.string()},
            {"state_dir", c.global.state_dir.string()},
            {"resolver", c.global.resolver ? c.global.resolver->to_string() : "/etc/resolv.conf"},
            {"services", services}};
}

int run_check(const CheckOptions& o) {
    const config::Config c = config::load_config(o.config);
    if (o.json) {
        std::cout << to_json(c).dump(2) << '\n';
        return kExitOk;
    }
    std::cout << o.config << ": valid; " << c.services.size() << " service(s), state in "
              << c.global.state_dir.string() << '\n';
    for (const auto& s : c.services) {
        const auto& z = c.zone_of(s);
        const auto& k = c.key_of(z);
        std::cout << "\nservice " << s.id << ": " << s.host << " port " << s.port << '\n'
                  << "  TLSA owner   " << s.tlsa_owner() << " TTL " << s.ttl << ", scheme "
                  << config::to_string(s.scheme) << '\n'
                  << "  zone         " << z.name << ": " << servers_text(z) << '\n'
                  << "  updates      signed with TSIG key " << k.name << " (" << k.algorithm << ", "
                  << k.file.string() << ")\n"
                  << "  rotation     every " << format_duration(s.rotation_period) << ", renew "
                  << format_duration(s.renew_before) << " before expiry\n"
                  << "  certificate  for " << join(s.names, ", ") << " from "
                  << source_text(s.source) << '\n';
        for (const auto alg : s.algorithms) {
            std::cout << "  " << key_algorithm_name(alg)
                      << std::string(13 - key_algorithm_name(alg).size(), ' ')
                      << config::to_string(s.mta.type) << " reads "
                      << join(install_paths(s, alg), " + ") << '\n';
            if (auto it = s.issuers.find(alg); it != s.issuers.end()) {
                for (const auto& r : it->second) {
                    std::cout << "               issuer " << r.to_string() << '\n';
                }
            }
        }
        std::cout << "  reload       " << (s.mta.reload.empty() ? "(none)" : join(s.mta.reload))
                  << '\n';
    }
    return kExitOk;
}

}  // namespace

void add_config_commands(CLI::App& app, Action& action) {
    auto* cmd = app.add_subcommand("config", "Work with the configuration");
    cmd->require_subcommand(1);
    auto opts = std::make_shared<CheckOptions>();
    auto* check = cmd->add_subcommand("check", "Validate a configuration and show the services");
    check->add_option("-c,--config", opts->config, "The configuration file")
        ->default_val(config::kDefaultConfigPath);
    check->add_flag("--json", opts->json, "Print JSON");
    check->callback([&action, opts] { action = [opts] { return run_check(*opts); }; });
}

}  // namespace daneroll::cli
