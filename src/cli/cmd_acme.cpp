// `daneroll acme register|show|issue|renewal-info`: the ACME account and
// standalone issuance for operators, through the same code the rollover
// engine's `acme` source runs. Nothing secret is printed: the account key's
// thumbprint is public (it is in every key authorization), the key is not.
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>

#include "commands.hpp"
#include "daneroll/acme/issue.hpp"
#include "daneroll/common/duration.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/config/config.hpp"
#include "exit_codes.hpp"

namespace daneroll::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct AcmeOptions {
    std::string config = config::kDefaultConfigPath;
    bool json = false;
    bool verbose = false;
    // register
    std::string key_algorithm = "ecdsa-p256";
    // issue
    std::string key;
    std::vector<std::string> names;
    std::string service;
    std::string out;
    std::string challenge;
    std::string webroot;
    std::string listen;
    std::string preferred_chain;
    std::string timeout = "10m";
    // renewal-info
    std::string cert;
};

acme::LogFn progress(const AcmeOptions& o) {
    if (!o.verbose) {
        return {};
    }
    return [](const std::string& line) { std::cerr << "acme: " << line << '\n'; };
}

std::string key_summary(const acme::AccountKey& key) {
    return key.key().description() + ", " + key.alg() + ", thumbprint " + key.thumbprint();
}

json account_json(const acme::Account& a) {
    return json{{"url", a.url},
                {"status", a.status},
                {"contact", a.contact},
                {"orders", a.orders},
                {"created", a.created}};
}

int run_register(const AcmeOptions& o) {
    const auto cfg = config::load_config(o.config);
    const auto alg = parse_key_algorithm(o.key_algorithm);
    if (!alg) {
        fail(ErrorKind::Input,
             "unknown --key-algorithm '" + o.key_algorithm +
                 "'; use ecdsa-p256 (ES256), ecdsa-p384 (ES384) or rsa2048+ (RS256)");
    }
    const auto files = acme::account_files(cfg.acme);
    bool created = false;
    auto key = acme::load_or_create_account_key(files.key, *alg, &created);
    acme::Client client(acme::client_options(cfg.acme, progress(o)), key);
    bool from_store = false;
    const auto account = acme::ensure_account(client, cfg.acme, true, &from_store);
    if (o.json) {
        std::cout << json{{"directory", cfg.acme.directory}, {"account_key", files.key.string()},
                          {"key_created", created},          {"alg", key.alg()},
                          {"thumbprint", key.thumbprint()},  {"already_registered", from_store},
                          {"account", account_json(account)}}
                         .dump(2)
                  << '\n';
        return kExitOk;
    }
    if (created) {
        std::cout << "created the account key " << files.key.string() << " (mode 0600)\n";
    }
    std::cout << (from_store        ? "already registered at "
                  : account.created ? "registered at "
                                    : "found the account at ")
              << cfg.acme.directory << "\n  account: " << account.url
              << "\n  status: " << (account.status.empty() ? "(not reported)" : account.status)
              << "\n  key: " << files.key.string() << " (" << key_summary(key) << ")\n";
    for (const auto& c : account.contact) {
        std::cout << "  contact: " << c << '\n';
    }
    return kExitOk;
}

int run_show(const AcmeOptions& o) {
    const auto cfg = config::load_config(o.config);
    const auto files = acme::account_files(cfg.acme);
    acme::HttpClient http(acme::client_options(cfg.acme).http);
    const acme::Directory d = acme::fetch_directory(http, cfg.acme.directory);
    std::optional<acme::AccountKey> key;
    std::error_code ec;
    if (fs::exists(files.key, ec)) {
        require_private_file(files.key);
        key.emplace(PrivateKey::load_file(files.key));
    }
    const auto url = acme::stored_account_url(files, cfg.acme.directory);
    std::optional<acme::Account> account;
    if (key && url) {
        acme::Client client(acme::client_options(cfg.acme, progress(o)), *key);
        client.set_account_url(*url);
        account = client.fetch_account();
    }
    if (o.json) {
        json j{{"directory",
                {{"url", d.url},
                 {"terms_of_service", d.terms_of_service},
                 {"website", d.website},
                 {"external_account_required", d.external_account_required},
                 {"renewal_info", !d.renewal_info.empty()}}},
               {"account_key", files.key.string()},
               {"account_key_exists", key.has_value()}};
        if (key) {
            j["alg"] = key->alg();
            j["thumbprint"] = key->thumbprint();
        }
        j["account"] = account ? account_json(*account) : json(nullptr);
        std::cout << j.dump(2) << '\n';
        return kExitOk;
    }
    std::cout << "directory: " << d.url << '\n';
    if (!d.terms_of_service.empty()) {
        std::cout << "  terms of service: " << d.terms_of_service
                  << (cfg.acme.agree_tos ? " (agreed in the config)" : " (not agreed)") << '\n';
    }
    std::cout << "  external account binding: "
              << (d.external_account_required ? "required" : "not required") << '\n'
              << "  renewal information (RFC 9773): "
              << (d.renewal_info.empty() ? "not offered" : "offered") << '\n';
    if (!key) {
        std::cout << "account key: " << files.key.string()
                  << " does not exist; `daneroll acme register` creates it\n";
        return kExitOk;
    }
    std::cout << "account key: " << files.key.string() << " (" << key_summary(*key) << ")\n";
    if (!account) {
        std::cout << "account: not registered at this directory; run `daneroll acme register`\n";
        return kExitOk;
    }
    std::cout << "account: " << account->url << "\n  status: " << account->status << '\n';
    for (const auto& c : account->contact) {
        std::cout << "  contact: " << c << '\n';
    }
    return kExitOk;
}

int run_issue(const AcmeOptions& o) {
    const auto started = std::chrono::steady_clock::now();
    const auto cfg = config::load_config(o.config);
    config::CertificateSource source;
    std::vector<std::string> names = o.names;
    if (!o.service.empty()) {
        const auto* svc = cfg.find_service(o.service);
        if (svc == nullptr) {
            fail(ErrorKind::Input, "no service '" + o.service + "' in " + cfg.file.string());
        }
        if (svc->source.type == config::SourceType::Acme) {
            source = svc->source;
        }
        if (names.empty()) {
            names = svc->names;
        }
    }
    if (names.empty()) {
        fail(ErrorKind::Input, "give the certificate's names with --name (or --service)");
    }
    if (!o.challenge.empty()) {
        if (o.challenge == "http-01") {
            source.challenge = config::Challenge::Http01;
        } else if (o.challenge == "dns-01") {
            source.challenge = config::Challenge::Dns01;
        } else {
            fail(ErrorKind::Input, "--challenge must be http-01 or dns-01");
        }
    }
    if (!o.webroot.empty()) {
        source.webroot = fs::absolute(o.webroot);
        source.http_listen.reset();
    }
    if (!o.listen.empty()) {
        std::string why;
        const auto ep = config::parse_endpoint(o.listen, 80, why);
        if (!ep) {
            fail(ErrorKind::Input, "--listen '" + o.listen + "': " + why);
        }
        source.http_listen = *ep;
        source.webroot.reset();
    }
    if (source.challenge == config::Challenge::Http01 && !source.webroot && !source.http_listen) {
        fail(ErrorKind::Input, "http-01 needs --webroot DIR or --listen ADDRESS:PORT");
    }
    const auto timeout = parse_duration(o.timeout);
    if (!timeout || timeout->count() <= 0) {
        fail(ErrorKind::Input, "--timeout '" + o.timeout + "' is not a duration");
    }
    // The certificate's key is the operator's (or the engine's next key):
    // this command never makes one.
    const PrivateKey key = PrivateKey::load_file(o.key);
    const auto files = acme::account_files(cfg.acme);
    acme::Client client(acme::client_options(cfg.acme, progress(o)),
                        acme::load_or_create_account_key(files.key));
    acme::IssueOptions io;
    io.names = names;
    io.key = &key;
    io.timeout = *timeout;
    if (!o.preferred_chain.empty()) {
        io.preferred_chain = o.preferred_chain;
    } else {
        io.preferred_chain = cfg.acme.preferred_chain;
    }
    const auto solver = acme::make_solver(cfg, source, *timeout + std::chrono::minutes(1));
    io.solver = solver.get();
    const auto result = acme::issue_with_account(client, cfg.acme, io);
    write_file_atomic(o.out, chain_to_pem(result.chain), 0644, Overwrite::Yes);
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    const Certificate& leaf = result.chain.front();
    if (o.json) {
        std::cout << json{{"out", o.out},
                          {"subject", leaf.subject()},
                          {"issuer", leaf.issuer()},
                          {"names", leaf.dns_names()},
                          {"not_after", format_utc(leaf.not_after())},
                          {"chain_length", result.chain.size()},
                          {"chains_offered", result.chains_offered},
                          {"top_issuer", result.top_issuer},
                          {"order", result.order_url},
                          {"certificate_url", result.certificate_url},
                          {"cleanup_problems", result.cleanup_problems},
                          {"elapsed_ms", elapsed.count()}}
                         .dump(2)
                  << '\n';
    } else {
        std::cout << "wrote " << result.chain.size() << " certificate(s) to " << o.out << "\n  "
                  << leaf.subject() << ", issued by " << leaf.issuer() << "\n  valid until "
                  << format_utc(leaf.not_after()) << "\n  chain: top issuer '" << result.top_issuer
                  << "' (" << result.chains_offered << " offered)\n  order: " << result.order_url
                  << "\n  took " << elapsed.count() << " ms\n";
        for (const auto& p : result.cleanup_problems) {
            std::cout << "  warning: " << p << '\n';
        }
    }
    return kExitOk;
}

int run_renewal_info(const AcmeOptions& o) {
    const auto cfg = config::load_config(o.config);
    const auto chain = load_certificates(o.cert);
    const auto info = acme::fetch_renewal_info(cfg.acme, chain.front(), progress(o));
    if (o.json) {
        json j{{"certificate", chain.front().subject()},
               {"cert_id", acme::ari_cert_id(chain.front())}};
        if (info) {
            j["window"] = {{"start", format_utc(info->window_start)},
                           {"end", format_utc(info->window_end)}};
            j["explanation_url"] = info->explanation_url;
            j["retry_after_s"] =
                info->retry_after ? json(info->retry_after->count()) : json(nullptr);
        } else {
            j["window"] = nullptr;
        }
        std::cout << j.dump(2) << '\n';
        return info ? kExitOk : kExitFailed;
    }
    if (!info) {
        std::cout << "the CA at " << cfg.acme.directory
                  << " offers no renewal information (RFC 9773); daneroll renews renew_before "
                     "ahead of expiry\n";
        return kExitFailed;
    }
    std::cout << chain.front().subject() << " (ARI id " << acme::ari_cert_id(chain.front())
              << ")\n  renew between " << format_utc(info->window_start) << " and "
              << format_utc(info->window_end) << '\n';
    if (!info->explanation_url.empty()) {
        std::cout << "  explanation: " << info->explanation_url << '\n';
    }
    return kExitOk;
}

void common(CLI::App& cmd, AcmeOptions& o) {
    cmd.add_option("-c,--config", o.config, "The configuration file ([acme] is used)")
        ->default_val(config::kDefaultConfigPath);
    cmd.add_flag("--json", o.json, "Print JSON");
    cmd.add_flag("-v,--verbose", o.verbose, "Show each ACME step on stderr");
}

}  // namespace

void add_acme_commands(CLI::App& app, Action& action) {
    auto* cmd = app.add_subcommand("acme", "The ACME account and standalone issuance");
    cmd->require_subcommand(1);

    auto reg = std::make_shared<AcmeOptions>();
    auto* r = cmd->add_subcommand(
        "register", "Create the account key if missing and register it with the CA ([acme])");
    common(*r, *reg);
    r->add_option("--key-algorithm", reg->key_algorithm,
                  "For a new account key: ecdsa-p256 (default), ecdsa-p384 or rsa2048..4096");
    r->callback([&action, reg] { action = [reg] { return run_register(*reg); }; });

    auto show = std::make_shared<AcmeOptions>();
    auto* s = cmd->add_subcommand("show", "The CA's directory and this host's account");
    common(*s, *show);
    s->callback([&action, show] { action = [show] { return run_show(*show); }; });

    auto issue = std::make_shared<AcmeOptions>();
    auto* i = cmd->add_subcommand(
        "issue", "Issue a certificate for an existing key (never makes one) and write the chain");
    common(*i, *issue);
    i->add_option("--key", issue->key, "The certificate's private key (PEM)")->required();
    i->add_option("--name", issue->names, "A DNS name (repeatable; the first becomes the CN)");
    i->add_option("--service", issue->service,
                  "Take the names and challenge settings from this service");
    i->add_option("--out", issue->out, "Where to write the chain (PEM, leaf first)")->required();
    i->add_option("--challenge", issue->challenge, "http-01 or dns-01");
    i->add_option("--webroot", issue->webroot, "http-01: the web server's document root");
    i->add_option("--listen", issue->listen, "http-01: ADDRESS:PORT for daneroll's own listener");
    i->add_option("--preferred-chain", issue->preferred_chain,
                  "Issuer CN of the top certificate of the chain to prefer");
    i->add_option("--timeout", issue->timeout, "Give up after this long (default 10m)");
    i->callback([&action, issue] { action = [issue] { return run_issue(*issue); }; });

    auto ari = std::make_shared<AcmeOptions>();
    auto* a = cmd->add_subcommand("renewal-info",
                                  "The CA's suggested renewal window for a certificate (RFC 9773)");
    common(*a, *ari);
    a->add_option("--cert", ari->cert, "The certificate (or chain, leaf first)")->required();
    a->callback([&action, ari] { action = [ari] { return run_renewal_info(*ari); }; });
}

}  // namespace daneroll::cli
