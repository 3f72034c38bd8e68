// Issuing with ACME as daneroll does it: the account kept on disk, one
// order for a key that already exists (its CSR built from that key, never
// from a fresh one), challenges answered and always cleaned up, the chain
// chosen among the CA's alternates. The rollover engine's `acme` source and
// `daneroll acme issue` both run issue_certificate().
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daneroll/acme/challenge.hpp"
#include "daneroll/acme/client.hpp"
#include "daneroll/config/config.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "daneroll/crypto/key.hpp"
#include "daneroll/source/certificate_source.hpp"

namespace daneroll::acme {

using LogFn = std::function<void(const std::string&)>;

// ------------------------------------------------------------------ account

// Where the account lives: the key (0600, in a 0700 directory) and, next to
// it, the account URLs per directory (`account.key` -> `account.json`).
struct AccountFiles {
    std::filesystem::path key;
    std::filesystem::path record;
};
AccountFiles account_files(const config::Acme& acme);

// Loads the account key, or creates it (with `algorithm`) if the file does
// not exist. An existing file must be private (0600).
AccountKey load_or_create_account_key(const std::filesystem::path& path,
                                      KeyAlgorithm algorithm = KeyAlgorithm::EcdsaP256,
                                      bool* created = nullptr);

// The account URL stored for `directory`, if any.
std::optional<std::string> stored_account_url(const AccountFiles& files,
                                              const std::string& directory);
void store_account_url(const AccountFiles& files, const std::string& directory,
                       const std::string& url);

// Client options from [acme] (directory, CA bundle, time limits).
ClientOptions client_options(const config::Acme& acme, LogFn log = {});

// Makes `client` ready for orders: the stored account URL for this
// directory, else a newAccount (contact, terms agreement, EAB from
// [acme]), whose URL is then stored. Returns the account as the CA has it
// when it was just registered; with `fetch` also for a stored one.
// `from_store` tells which happened.
Account ensure_account(Client& client, const config::Acme& acme, bool fetch = false,
                       bool* from_store = nullptr);

// Registers anew (newAccount), replacing what is stored for the directory.
Account register_account(Client& client, const config::Acme& acme);

// ------------------------------------------------------------------- orders

struct IssueOptions {
    std::vector<std::string> names;   // DNS names; the first becomes the CN
    const PrivateKey* key = nullptr;  // the certificate's key (the engine's next key)
    ChallengeSolver* solver = nullptr;
    std::optional<std::string> preferred_chain;  // issuer CN of the top certificate
    std::optional<std::string> replaces;         // ARI id of the certificate this renews
    std::chrono::seconds timeout{std::chrono::minutes(10)};  // the whole issuance
};

struct IssueResult {
    std::vector<Certificate> chain;  // leaf first
    std::string order_url;
    std::string certificate_url;
    std::size_t chains_offered = 1;
    std::string top_issuer;  // issuer CN of the chosen chain's top certificate
    std::vector<std::string> cleanup_problems;
};

IssueResult issue_certificate(Client& client, const IssueOptions& options);

// ensure_account, then issue_certificate; a stored account the CA no longer
// knows (accountDoesNotExist: a test CA restarted, an account deleted) is
// registered again, once.
IssueResult issue_with_account(Client& client, const config::Acme& acme,
                               const IssueOptions& options);

// The common name in a certificate's issuer ("" if none).
std::string issuer_common_name(const Certificate& cert);

// Index of the chain whose top certificate's issuer CN equals `preferred`
// (else one whose any certificate's issuer CN does; else 0, the CA's
// default).
std::size_t choose_chain(const std::vector<std::vector<Certificate>>& chains,
                         const std::optional<std::string>& preferred);

// ------------------------------------------------------- renewal information

// RFC 9773 for a deployed chain (leaf first): the CA's suggested renewal
// window, or nullopt when its directory offers no renewalInfo. Needs no
// account. The engine asks it through the acme source's renewal_window()
// for the deployed leaf (rollover/engine.cpp, refresh_renewal_advice).
std::optional<RenewalInfo> fetch_renewal_info(const config::Acme& acme, const Certificate& leaf,
                                              LogFn log = {});

// When to start renewing: inside the ARI window when there is one (drawn
// with `u` in [0,1)), else `renew_before` ahead of notAfter.
TimePoint renewal_start(const Certificate& leaf, const std::optional<RenewalInfo>& ari,
                        std::chrono::seconds renew_before, TimePoint now, double u);

// ------------------------------------------------------------------- source

// The rollover engine's `acme` certificate source for `service`.
std::unique_ptr<source::CertificateSource> make_acme_source(const config::Config& config,
                                                            const config::Service& service);

}  // namespace daneroll::acme
