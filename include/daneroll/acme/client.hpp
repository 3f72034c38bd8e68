// The RFC 8555 protocol: directory, nonces, signed requests with badNonce
// retries, accounts, orders, authorizations, challenges, finalization,
// certificate download with alternate chains, and ACME Renewal Information
// (RFC 9773). Every request has a time limit and every wait is bounded.
// Errors are daneroll::Error with the CA's problem document spelled out.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daneroll/acme/http.hpp"
#include "daneroll/acme/jws.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/crypto/certificate.hpp"

namespace daneroll::acme {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

struct Directory {
    std::string url;
    std::string new_nonce;
    std::string new_account;
    std::string new_order;
    std::string revoke_cert;
    std::string key_change;
    std::string renewal_info;  // RFC 9773; "" if the CA does not offer it
    std::string terms_of_service;
    std::string website;
    bool external_account_required = false;
};

// An RFC 7807 problem document as ACME uses it (RFC 8555 6.7).
struct Problem {
    struct Sub {
        std::string type;
        std::string detail;
        std::string identifier;  // the identifier's value, if any
    };
    std::string type;  // "urn:ietf:params:acme:error:badNonce", ...
    std::string detail;
    std::string instance;  // e.g. where to agree to new terms
    int status = 0;
    std::vector<Sub> subproblems;
    std::optional<std::chrono::seconds> retry_after;  // from the response header

    // "badNonce" for an ACME error type, else the whole type.
    [[nodiscard]] std::string short_type() const;
    // "rateLimited: too many certificates for example.com (retry after 1h);
    //  mx1.example.com: caa: CAA forbids ..." -- one line, for messages.
    [[nodiscard]] std::string describe() const;
};

// Parses a problem document; nullopt if `body` is not one.
std::optional<Problem> parse_problem(const std::string& body, int status);

// Error(Network), or Error(Config) for what only the operator can fix
// (terms of service, external account binding, a forbidden name), carrying
// the problem for callers that react to its type (rateLimited's
// Retry-After).
class ProblemError : public Error {
  public:
    ProblemError(ErrorKind kind, const std::string& message, Problem problem)
        : Error(kind, message), problem_(std::move(problem)) {}
    [[nodiscard]] const Problem& problem() const { return problem_; }

  private:
    Problem problem_;
};

struct Account {
    std::string url;
    std::string status;  // valid | deactivated | revoked
    std::vector<std::string> contact;
    std::string orders;
    bool created = false;  // newAccount made it now (201), rather than found it (200)
};

struct NewAccount {
    std::vector<std::string> contact;  // "mailto:..."
    bool terms_of_service_agreed = false;
    bool only_return_existing = false;
    // External Account Binding: both set or neither.
    std::optional<std::string> eab_kid;
    std::optional<Bytes> eab_hmac_key;  // secret
};

struct Challenge {
    std::string type;  // "http-01", "dns-01", ...
    std::string url;
    std::string status;  // pending | processing | valid | invalid
    std::string token;
    std::optional<Problem> error;
};

struct Authorization {
    std::string url;
    std::string identifier;  // DNS name, without "*." for a wildcard
    bool wildcard = false;
    std::string status;  // pending | valid | invalid | deactivated | expired | revoked
    std::vector<Challenge> challenges;
    std::optional<std::chrono::seconds> retry_after;
};

struct Order {
    std::string url;
    std::string status;  // pending | ready | processing | valid | invalid
    std::vector<std::string> identifiers;
    std::vector<std::string> authorizations;
    std::string finalize;
    std::string certificate;
    std::optional<Problem> error;
    std::optional<std::chrono::seconds> retry_after;
};

// A certificate as the CA sent it, plus where alternates can be fetched.
struct CertificateDownload {
    std::string url;
    std::string pem;
    std::vector<std::string> alternates;  // Link: <...>;rel="alternate"
};

// RFC 9773: the CA's suggested renewal window for one certificate.
struct RenewalInfo {
    TimePoint window_start;
    TimePoint window_end;
    std::string explanation_url;
    std::optional<std::chrono::seconds> retry_after;  // when to ask again
};

// The ARI certificate identifier: base64url(authorityKeyIdentifier's
// keyIdentifier) "." base64url(serial number's DER content octets).
// Throws Error(Input) if the certificate has no keyIdentifier.
std::string ari_cert_id(const Certificate& cert);

// Parses a renewalInfo response body; throws Error(Network) when malformed
// or when the window ends before it starts.
RenewalInfo parse_renewal_info(const std::string& body);

// When to renew inside the window: uniformly at random (RFC 9773 4.2 asks
// clients to spread out), or now if the window has started already. `u` in
// [0,1) is the random draw, so callers and tests choose it.
TimePoint renewal_time(const RenewalInfo& info, TimePoint now, double u);

// GET and parse a directory (RFC 8555 7.1.1).
Directory fetch_directory(HttpClient& http, const std::string& url);

// RFC 9773: GET <renewalInfo>/<ari_cert_id(cert)>; nullopt if the
// directory has no renewalInfo.
std::optional<RenewalInfo> fetch_renewal_info(HttpClient& http, const Directory& directory,
                                              const Certificate& cert);

struct ClientOptions {
    std::string directory_url;
    HttpOptions http;
    // badNonce answers retried per request. Generous, because a retry costs
    // one round trip and CAs (Pebble by design) reject valid nonces at
    // random; still a bound, since a CA that rejects every nonce is broken.
    int max_nonce_retries = 16;
    // Polling authorizations and orders: first pause, doubling up to the cap
    // (Retry-After, when sent, replaces it), and at most this many polls.
    // A CA validates and issues within milliseconds when idle (Pebble:
    // 5-30 ms), so the first pause is short; doubling keeps a slow CA from
    // being polled more than ~a dozen times a minute.
    std::chrono::milliseconds poll_initial{50};
    std::chrono::milliseconds poll_max{3000};
    int max_polls = 200;
    // A Retry-After longer than this fails the wait at once instead.
    std::chrono::seconds max_retry_after{std::chrono::minutes(5)};
    // Progress lines for people (never secrets); may be empty.
    std::function<void(const std::string&)> log;
};

class Client {
  public:
    Client(ClientOptions options, AccountKey key);

    // Fetched on first use and kept.
    const Directory& directory();

    // newAccount (RFC 8555 7.3): creates the account, or finds the one this
    // key already has; either way the account URL becomes the `kid`.
    Account new_account(const NewAccount& request);
    // POST-as-GET of the account (kid must be set).
    Account fetch_account();
    void set_account_url(std::string url) { kid_ = std::move(url); }
    [[nodiscard]] const std::optional<std::string>& account_url() const { return kid_; }

    // newOrder for DNS names; `replaces` is an ARI certificate id (RFC 9773 5).
    Order new_order(const std::vector<std::string>& names,
                    const std::optional<std::string>& replaces = std::nullopt);
    Order fetch_order(const std::string& url);
    Authorization fetch_authorization(const std::string& url);
    // Tells the CA the challenge is ready to be checked (payload {}).
    Challenge respond(const std::string& challenge_url);
    // Polls until the authorization is no longer pending; bounded by
    // `deadline` and max_polls.
    Authorization wait_authorization(const std::string& url, TimePoint deadline);
    // Finalizes with a DER CSR and polls until the order is valid or invalid.
    Order finalize(const Order& order, ByteView csr_der, TimePoint deadline);
    // Polls until the order leaves `from_status`.
    Order wait_order(const std::string& url, const std::string& from_status, TimePoint deadline);
    // The PEM chain at `url` (POST-as-GET), with its alternates' URLs.
    CertificateDownload download(const std::string& url);

    // RFC 9773 for `cert` (the leaf); nullopt if the directory has no
    // renewalInfo. An unauthenticated GET: needs no account.
    std::optional<RenewalInfo> renewal_info(const Certificate& cert);

    [[nodiscard]] const AccountKey& key() const { return key_; }
    [[nodiscard]] const ClientOptions& options() const { return options_; }

  private:
    struct Reply {
        HttpResponse http;
        std::string location;
    };
    // A signed POST with nonce handling: badNonce is retried with the nonce
    // the error carried; other problems throw ProblemError naming `what`.
    Reply post(const std::string& url, const std::optional<std::string>& payload,
               const std::string& what, bool use_jwk = false,
               const std::vector<std::string>& headers = {});
    std::string take_nonce();
    void remember_nonce(const HttpResponse& r);
    void sleep_before_poll(int attempt, const std::optional<std::chrono::seconds>& retry_after,
                           TimePoint deadline, const std::string& what);
    void log(const std::string& line) const;

    ClientOptions options_;
    AccountKey key_;
    HttpClient http_;
    std::optional<Directory> directory_;
    std::optional<std::string> kid_;
    std::string nonce_;
};

// Parses a Retry-After value: delta-seconds or an HTTP-date (relative to
// `now`); nullopt if malformed.
std::optional<std::chrono::seconds> parse_retry_after(const std::string& value, TimePoint now);

// The URLs of Link headers with rel="<rel>".
std::vector<std::string> link_targets(const std::vector<std::string>& link_headers,
                                      const std::string& rel);

// An RFC 3339 timestamp ("2025-01-02T03:04:05Z", fractions and offsets
// allowed); nullopt if malformed.
std::optional<TimePoint> parse_rfc3339(const std::string& text);

}  // namespace daneroll::acme
