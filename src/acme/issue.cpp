#include "daneroll/acme/issue.hpp"

#include <openssl/objects.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "daneroll/common/duration.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/crypto/csr.hpp"

namespace daneroll::acme {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string join(const std::vector<std::string>& lines, const std::string& sep) {
    std::string out;
    for (const auto& l : lines) {
        out += (out.empty() ? "" : sep) + l;
    }
    return out;
}

json read_record(const AccountFiles& files) {
    std::error_code ec;
    if (!fs::exists(files.record, ec)) {
        return json{{"accounts", json::array()}};
    }
    json j = json::parse(read_file(files.record, 1U << 20U), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("accounts") ||
        !j["accounts"].is_array()) {
        fail(ErrorKind::Input, files.record.string() +
                                   " is not daneroll's account record; move it away and run "
                                   "`daneroll acme register`");
    }
    return j;
}

// The EAB MAC key: base64url as CAs hand it out, in a private file.
Bytes read_eab_key(const fs::path& file) {
    require_private_file(file);
    std::string text = read_file(file, 4096);
    const auto key = base64url_decode(text);
    if (!key || key->empty()) {
        fail(ErrorKind::Config,
             file.string() + " must hold the CA's EAB HMAC key as base64url text (one line)");
    }
    return *key;
}

std::string x509_name_cn(const X509_NAME* name) {
    if (name == nullptr) {
        return "";
    }
    const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0) {
        return "";
    }
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) {
        return "";
    }
    std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
    OPENSSL_free(utf8);
    return out;
}

}  // namespace

// ------------------------------------------------------------------ account

AccountFiles account_files(const config::Acme& acme) {
    AccountFiles f;
    f.key = acme.account_key;
    f.record = acme.account_key;
    if (f.record.extension() == ".json") {
        f.record += ".account.json";
    } else {
        f.record.replace_extension(".json");
    }
    return f;
}

AccountKey load_or_create_account_key(const fs::path& path, KeyAlgorithm algorithm, bool* created) {
    if (created != nullptr) {
        *created = false;
    }
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        ensure_private_directory(path.has_parent_path() ? path.parent_path() : fs::path("."));
        PrivateKey key = PrivateKey::generate(algorithm);
        AccountKey account(key);  // refuses algorithms ACME cannot use, before saving
        try {
            save_private_key(key, path, Overwrite::No);
            if (created != nullptr) {
                *created = true;
            }
            return account;
        } catch (const Error& e) {
            // Another daneroll created it in the meantime: use that one.
            if (!fs::exists(path, ec)) {
                throw;
            }
        }
    }
    require_private_file(path);
    return AccountKey(PrivateKey::load_file(path));
}

std::optional<std::string> stored_account_url(const AccountFiles& files,
                                              const std::string& directory) {
    const json j = read_record(files);
    for (const auto& a : j["accounts"]) {
        if (a.is_object() && a.value("directory", "") == directory && a.contains("url") &&
            a["url"].is_string()) {
            return a["url"].get<std::string>();
        }
    }
    return std::nullopt;
}

void store_account_url(const AccountFiles& files, const std::string& directory,
                       const std::string& url) {
    json j = read_record(files);
    json kept = json::array();
    for (const auto& a : j["accounts"]) {
        if (!(a.is_object() && a.value("directory", "") == directory)) {
            kept.push_back(a);
        }
    }
    kept.push_back({{"directory", directory},
                    {"url", url},
                    {"registered_at", format_utc(std::chrono::system_clock::now())}});
    j["accounts"] = kept;
    ensure_private_directory(files.record.parent_path());
    write_file_atomic(files.record, j.dump(2) + "\n", 0600, Overwrite::Yes);
}

ClientOptions client_options(const config::Acme& acme, LogFn log) {
    ClientOptions o;
    o.directory_url = acme.directory;
    o.http.ca_bundle = acme.ca_bundle;
    o.log = std::move(log);
    return o;
}

Account register_account(Client& client, const config::Acme& acme) {
    const auto& d = client.directory();
    if (!acme.agree_tos && !d.terms_of_service.empty()) {
        fail(ErrorKind::Config, "the CA's terms of service are at " + d.terms_of_service +
                                    ": read them, then set agree_tos = true in [acme]");
    }
    NewAccount req;
    req.contact = acme.contact;
    req.terms_of_service_agreed = acme.agree_tos;
    if (acme.eab_kid && acme.eab_hmac_key_file) {
        req.eab_kid = acme.eab_kid;
        req.eab_hmac_key = read_eab_key(*acme.eab_hmac_key_file);
    }
    Account a = client.new_account(req);
    store_account_url(account_files(acme), acme.directory, a.url);
    return a;
}

Account ensure_account(Client& client, const config::Acme& acme, bool fetch, bool* from_store) {
    if (from_store != nullptr) {
        *from_store = false;
    }
    if (const auto url = stored_account_url(account_files(acme), acme.directory)) {
        client.set_account_url(*url);
        if (from_store != nullptr) {
            *from_store = true;
        }
        if (fetch) {
            return client.fetch_account();
        }
        Account a;
        a.url = *url;
        return a;
    }
    return register_account(client, acme);
}

// ------------------------------------------------------------------- orders

std::string issuer_common_name(const Certificate& cert) {
    return x509_name_cn(X509_get_issuer_name(cert.get()));
}

std::size_t choose_chain(const std::vector<std::vector<Certificate>>& chains,
                         const std::optional<std::string>& preferred) {
    if (!preferred || preferred->empty()) {
        return 0;
    }
    for (std::size_t i = 0; i < chains.size(); ++i) {
        if (!chains[i].empty() && issuer_common_name(chains[i].back()) == *preferred) {
            return i;
        }
    }
    for (std::size_t i = 0; i < chains.size(); ++i) {
        for (const auto& c : chains[i]) {
            if (issuer_common_name(c) == *preferred) {
                return i;
            }
        }
    }
    return 0;
}

IssueResult issue_certificate(Client& client, const IssueOptions& options) {
    if (options.names.empty() || options.key == nullptr || options.solver == nullptr) {
        fail(ErrorKind::Internal, "issue_certificate needs names, a key and a solver");
    }
    const auto deadline = Clock::now() + options.timeout;
    // The CSR first: a key that cannot sign one should fail before the CA
    // is bothered.
    const CertificateRequest csr = CertificateRequest::create(*options.key, options.names);
    ChallengeSolver& solver = *options.solver;
    IssueResult result;

    const Order order = client.new_order(options.names, options.replaces);
    result.order_url = order.url;
    try {
        struct Pending {
            std::string authorization;
            std::string identifier;
            std::string challenge;
        };
        std::vector<Pending> pending;
        for (const auto& url : order.authorizations) {
            const Authorization a = client.fetch_authorization(url);
            if (a.status == "valid") {
                continue;  // the CA reused an earlier validation
            }
            if (a.status != "pending") {
                fail(ErrorKind::Network, "the authorization for " + a.identifier + " is " +
                                             a.status + " (" + url + ")");
            }
            const Challenge* ch = nullptr;
            std::vector<std::string> offered;
            for (const auto& c : a.challenges) {
                offered.push_back(c.type);
                if (c.type == solver.type()) {
                    ch = &c;
                }
            }
            if (ch == nullptr) {
                fail(ErrorKind::Config, "the CA offers no " + solver.type() + " challenge for " +
                                            (a.wildcard ? "*." : "") + a.identifier +
                                            " (it offers " + join(offered, ", ") +
                                            "); configure another challenge");
            }
            solver.present(a.identifier, ch->token, ch->token + "." + client.key().thumbprint());
            pending.push_back({url, a.identifier, ch->url});
        }
        if (!pending.empty()) {
            solver.wait_ready(deadline);
        }
        for (const auto& p : pending) {
            client.respond(p.challenge);
        }
        for (const auto& p : pending) {
            const Authorization a = client.wait_authorization(p.authorization, deadline);
            if (a.status == "valid") {
                continue;
            }
            std::string why = "the authorization is " + a.status;
            ErrorKind kind = ErrorKind::Network;
            for (const auto& c : a.challenges) {
                if (c.type == solver.type() && c.error) {
                    why = c.error->describe();
                    if (c.error->short_type() == "caa") {
                        kind = ErrorKind::Config;
                    }
                }
            }
            fail(kind, "the CA could not validate " + p.identifier + " with " + solver.type() +
                           ": " + why);
        }
    } catch (const Error& e) {
        const auto problems = solver.cleanup();
        if (problems.empty()) {
            throw;
        }
        throw Error(e.kind(),
                    std::string(e.what()) + "; cleaning up also failed: " + join(problems, "; "));
    } catch (...) {
        static_cast<void>(solver.cleanup());
        throw;
    }
    // Validated: the responses are no longer needed, whatever happens next.
    result.cleanup_problems = solver.cleanup();

    const Order done = client.finalize(order, csr.der(), deadline);
    const CertificateDownload first = client.download(done.certificate);
    result.certificate_url = first.url;
    result.chains_offered = 1 + first.alternates.size();
    std::vector<std::vector<Certificate>> chains{
        parse_certificates(first.pem, "the certificate from " + first.url)};
    // Alternates are fetched only when they can change the outcome.
    if (options.preferred_chain && !first.alternates.empty() &&
        choose_chain(chains, options.preferred_chain) == 0 &&
        issuer_common_name(chains[0].back()) != *options.preferred_chain) {
        for (const auto& url : first.alternates) {
            const CertificateDownload alt = client.download(url);
            chains.push_back(parse_certificates(alt.pem, "the certificate from " + url));
        }
    }
    const std::size_t pick = choose_chain(chains, options.preferred_chain);
    result.chain = std::move(chains[pick]);
    if (result.chain.empty() || result.chain.front().spki_der() != options.key->spki_der()) {
        fail(ErrorKind::Network,
             "the CA returned a certificate for another key than the one "
             "in the CSR; not using it");
    }
    result.top_issuer = issuer_common_name(result.chain.back());
    return result;
}

IssueResult issue_with_account(Client& client, const config::Acme& acme,
                               const IssueOptions& options) {
    bool from_store = false;
    ensure_account(client, acme, false, &from_store);
    try {
        return issue_certificate(client, options);
    } catch (const ProblemError& e) {
        if (!from_store || e.problem().short_type() != "accountDoesNotExist") {
            throw;
        }
    }
    register_account(client, acme);
    return issue_certificate(client, options);
}

// ------------------------------------------------------- renewal information

std::optional<RenewalInfo> fetch_renewal_info(const config::Acme& acme, const Certificate& leaf,
                                              LogFn log) {
    HttpClient http(client_options(acme).http);
    const Directory d = fetch_directory(http, acme.directory);
    if (d.renewal_info.empty()) {
        if (log) {
            log("the CA at " + acme.directory + " offers no renewal information (RFC 9773)");
        }
        return std::nullopt;
    }
    return acme::fetch_renewal_info(http, d, leaf);
}

TimePoint renewal_start(const Certificate& leaf, const std::optional<RenewalInfo>& ari,
                        std::chrono::seconds renew_before, TimePoint now, double u) {
    if (ari) {
        return renewal_time(*ari, now, u);
    }
    return leaf.not_after() - renew_before;
}

// ------------------------------------------------------------------- source

namespace {

class AcmeSource final : public source::CertificateSource {
  public:
    AcmeSource(const config::Config& config, const config::Service& service)
        : config_(config), source_(service.source), service_(service.id) {}

    [[nodiscard]] bool can_issue() const override { return true; }

    source::IssuedChain issue(const source::IssueRequest& req) override {
        const bool debug = config_.global.log_level == config::LogLevel::Debug;
        LogFn log;
        if (debug) {
            log = [this](const std::string& line) {
                std::cerr << "daneroll: acme (" << service_ << "): " << line << '\n';
            };
        }
        const auto files = account_files(config_.acme);
        Client client(client_options(config_.acme, log), load_or_create_account_key(files.key));
        IssueOptions o;
        o.names = req.names;
        o.key = req.key;
        o.preferred_chain = config_.acme.preferred_chain;
        const auto solver = make_solver(config_, source_, o.timeout + std::chrono::minutes(1));
        o.solver = solver.get();
        IssueResult r = issue_with_account(client, config_.acme, o);
        // The chain is good; a leftover challenge response is only untidy,
        // so it goes into the tick's report as a warning, not an error.
        return {std::move(r.chain), std::move(r.cleanup_problems)};
    }

    std::optional<source::RenewalWindow> renewal_window(const Certificate& leaf) override {
        const auto info = fetch_renewal_info(config_.acme, leaf);
        if (!info) {
            return std::nullopt;
        }
        return source::RenewalWindow{info->window_start, info->window_end, info->explanation_url,
                                     info->retry_after};
    }

  private:
    config::Config config_;
    config::CertificateSource source_;
    std::string service_;
};

}  // namespace

std::unique_ptr<source::CertificateSource> make_acme_source(const config::Config& config,
                                                            const config::Service& service) {
    return std::make_unique<AcmeSource>(config, service);
}

}  // namespace daneroll::acme
