#include "daneroll/acme/client.hpp"

#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>
#include <thread>

#include "daneroll/common/base64.hpp"
#include "daneroll/common/duration.hpp"

namespace daneroll::acme {

namespace {

using json = nlohmann::json;
constexpr std::string_view kAcmeError = "urn:ietf:params:acme:error:";

std::string str(const json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> strings(const json& j, const char* key) {
    std::vector<std::string> out;
    const auto it = j.find(key);
    if (it != j.end() && it->is_array()) {
        for (const auto& v : *it) {
            if (v.is_string()) {
                out.push_back(v.get<std::string>());
            }
        }
    }
    return out;
}

// The body of a 2xx ACME response as a JSON object, or an error naming the
// request: a proxy's HTML error page must not become a silent empty order.
json object_body(const HttpResponse& r, const std::string& what) {
    json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        std::string snippet = r.body.substr(0, 120);
        std::replace_if(
            snippet.begin(), snippet.end(), [](unsigned char c) { return std::iscntrl(c) != 0; },
            ' ');
        fail(ErrorKind::Network, r.url + " answered " + what + " (HTTP " +
                                     std::to_string(r.status) + ") with something that is not a " +
                                     "JSON object: \"" + snippet + "\"");
    }
    return j;
}

std::optional<std::chrono::seconds> retry_after_of(const HttpResponse& r) {
    const auto v = r.header("retry-after");
    return v ? parse_retry_after(*v, Clock::now()) : std::nullopt;
}

std::optional<Problem> problem_member(const json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_object()) {
        return std::nullopt;
    }
    return parse_problem(it->dump(), 0);
}

Order parse_order(const json& j, const std::string& url) {
    Order o;
    o.url = url;
    o.status = str(j, "status");
    if (const auto it = j.find("identifiers"); it != j.end() && it->is_array()) {
        for (const auto& id : *it) {
            if (id.is_object()) {
                o.identifiers.push_back(str(id, "value"));
            }
        }
    }
    o.authorizations = strings(j, "authorizations");
    o.finalize = str(j, "finalize");
    o.certificate = str(j, "certificate");
    o.error = problem_member(j, "error");
    return o;
}

Authorization parse_authorization(const json& j, const std::string& url) {
    Authorization a;
    a.url = url;
    a.status = str(j, "status");
    if (const auto it = j.find("identifier"); it != j.end() && it->is_object()) {
        a.identifier = str(*it, "value");
    }
    if (const auto it = j.find("wildcard"); it != j.end() && it->is_boolean()) {
        a.wildcard = it->get<bool>();
    }
    if (const auto it = j.find("challenges"); it != j.end() && it->is_array()) {
        for (const auto& c : *it) {
            if (!c.is_object()) {
                continue;
            }
            a.challenges.push_back(Challenge{str(c, "type"), str(c, "url"), str(c, "status"),
                                             str(c, "token"), problem_member(c, "error")});
        }
    }
    return a;
}

ErrorKind kind_for(const Problem& p) {
    const std::string t = p.short_type();
    // What no retry fixes: the operator must change the config, the DNS
    // (CAA) or agree to something.
    static const char* const kOperator[] = {"externalAccountRequired",
                                            "userActionRequired",
                                            "rejectedIdentifier",
                                            "unsupportedContact",
                                            "invalidContact",
                                            "unsupportedIdentifier",
                                            "caa",
                                            "accountDoesNotExist"};
    for (const char* k : kOperator) {
        if (t == k) {
            return ErrorKind::Config;
        }
    }
    return ErrorKind::Network;
}

std::string advice_for(const Problem& p) {
    const std::string t = p.short_type();
    if (t == "rateLimited") {
        return p.retry_after ? "; the CA rate-limits this account or these names: wait " +
                                   format_duration(*p.retry_after) + " (its Retry-After)"
                             : "; the CA rate-limits this account or these names: wait before "
                               "trying again";
    }
    if (t == "externalAccountRequired") {
        return "; this CA needs External Account Binding: set eab_kid and eab_hmac_key_file in "
               "[acme]";
    }
    if (t == "userActionRequired") {
        return "; a person must act first" +
               (p.instance.empty() ? std::string() : " (see " + p.instance + ")");
    }
    if (t == "accountDoesNotExist") {
        return "; this account key has no account at this CA yet: run `daneroll acme register`";
    }
    if (t == "caa") {
        return "; a CAA record of the name does not allow this CA";
    }
    if (t == "badNonce") {
        return "; the CA kept rejecting fresh nonces";
    }
    return "";
}

[[noreturn]] void throw_problem(const std::string& what, const HttpResponse& r, Problem p) {
    const std::string message = "the ACME server refused " + what + " (HTTP " +
                                std::to_string(r.status) + " from " + r.url + "): " + p.describe() +
                                advice_for(p);
    throw ProblemError(kind_for(p), message, std::move(p));
}

Problem problem_of(const HttpResponse& r) {
    auto p = parse_problem(r.body, static_cast<int>(r.status));
    if (!p) {
        // Not a problem document (a proxy, a plain error page): say what came.
        Problem q;
        q.type = "about:blank";
        q.status = static_cast<int>(r.status);
        std::string snippet = r.body.substr(0, 120);
        std::replace_if(
            snippet.begin(), snippet.end(), [](unsigned char c) { return std::iscntrl(c) != 0; },
            ' ');
        q.detail = snippet.empty() ? "no problem document" : "\"" + snippet + "\"";
        p = q;
    }
    p->retry_after = retry_after_of(r);
    return *p;
}

std::string b64u_bytes(const std::vector<unsigned char>& v) {
    return base64url_encode(ByteView(v.data(), v.size()));
}

int two_digits(std::string_view s, std::size_t at) {
    if (at + 2 > s.size() || std::isdigit(static_cast<unsigned char>(s[at])) == 0 ||
        std::isdigit(static_cast<unsigned char>(s[at + 1])) == 0) {
        return -1;
    }
    return (s[at] - '0') * 10 + (s[at + 1] - '0');
}

}  // namespace

// ------------------------------------------------------------------ problems

std::string Problem::short_type() const {
    if (type.rfind(kAcmeError, 0) == 0) {
        return type.substr(kAcmeError.size());
    }
    return type;
}

std::string Problem::describe() const {
    std::string out = short_type();
    if (!detail.empty()) {
        out += ": " + detail;
    }
    if (retry_after) {
        out += " (retry after " + format_duration(*retry_after) + ")";
    }
    for (const auto& s : subproblems) {
        out += "; ";
        if (!s.identifier.empty()) {
            out += s.identifier + ": ";
        }
        const std::string t =
            s.type.rfind(kAcmeError, 0) == 0 ? s.type.substr(kAcmeError.size()) : s.type;
        out += t + (s.detail.empty() ? "" : ": " + s.detail);
    }
    return out;
}

std::optional<Problem> parse_problem(const std::string& body, int status) {
    const json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("type") || !j["type"].is_string()) {
        return std::nullopt;
    }
    Problem p;
    p.type = str(j, "type");
    p.detail = str(j, "detail");
    p.instance = str(j, "instance");
    p.status = status;
    if (const auto it = j.find("status"); it != j.end() && it->is_number_integer()) {
        p.status = it->get<int>();
    }
    if (const auto it = j.find("subproblems"); it != j.end() && it->is_array()) {
        for (const auto& s : *it) {
            if (!s.is_object()) {
                continue;
            }
            Problem::Sub sub{str(s, "type"), str(s, "detail"), ""};
            if (const auto id = s.find("identifier"); id != s.end() && id->is_object()) {
                sub.identifier = str(*id, "value");
            }
            p.subproblems.push_back(std::move(sub));
        }
    }
    return p;
}

// ------------------------------------------------------------- small parsers

std::optional<std::chrono::seconds> parse_retry_after(const std::string& value, TimePoint now) {
    std::string v = value;
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back())) != 0) {
        v.pop_back();
    }
    if (v.empty()) {
        return std::nullopt;
    }
    if (std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
        if (v.size() > 9) {
            return std::nullopt;
        }
        return std::chrono::seconds(std::stol(v));
    }
    // An IMF-fixdate (RFC 9110 5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
    std::tm tm{};
    const char* end = strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == nullptr || *end != '\0') {
        return std::nullopt;
    }
    const auto at = Clock::from_time_t(timegm(&tm));
    const auto d = std::chrono::duration_cast<std::chrono::seconds>(at - now);
    return std::max(d, std::chrono::seconds(0));
}

std::vector<std::string> link_targets(const std::vector<std::string>& link_headers,
                                      const std::string& rel) {
    std::vector<std::string> out;
    for (const auto& h : link_headers) {
        std::size_t i = 0;
        while (i < h.size()) {
            const auto open = h.find('<', i);
            if (open == std::string::npos) {
                break;
            }
            const auto close = h.find('>', open);
            if (close == std::string::npos) {
                break;
            }
            const std::string target = h.substr(open + 1, close - open - 1);
            // Parameters run to the next comma outside quotes.
            std::size_t j = close + 1;
            bool quoted = false;
            std::string params;
            for (; j < h.size(); ++j) {
                if (h[j] == '"') {
                    quoted = !quoted;
                } else if (h[j] == ',' && !quoted) {
                    break;
                }
                params.push_back(h[j]);
            }
            i = j + 1;
            std::size_t p = 0;
            while (p < params.size()) {
                auto semi = params.find(';', p);
                if (semi == std::string::npos) {
                    semi = params.size();
                }
                std::string param = params.substr(p, semi - p);
                p = semi + 1;
                param.erase(std::remove_if(param.begin(), param.end(),
                                           [](unsigned char c) { return std::isspace(c) != 0; }),
                            param.end());
                std::transform(param.begin(), param.end(), param.begin(),
                               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
                if (param.rfind("rel=", 0) != 0) {
                    continue;
                }
                std::string values = param.substr(4);
                values.erase(std::remove(values.begin(), values.end(), '"'), values.end());
                // A rel may list several relation types; whitespace was
                // removed above, so compare the whole value only.
                if (values == rel) {
                    out.push_back(target);
                }
            }
        }
    }
    return out;
}

std::optional<TimePoint> parse_rfc3339(const std::string& text) {
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
    const std::string_view s(text);
    if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':') {
        return std::nullopt;
    }
    const int y1 = two_digits(s, 0);
    const int y2 = two_digits(s, 2);
    std::tm tm{};
    const int mon = two_digits(s, 5);
    const int day = two_digits(s, 8);
    const int hour = two_digits(s, 11);
    const int min = two_digits(s, 14);
    const int sec = two_digits(s, 17);
    if (y1 < 0 || y2 < 0 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
        min < 0 || min > 59 || sec < 0 || sec > 60) {
        return std::nullopt;
    }
    tm.tm_year = y1 * 100 + y2 - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    std::size_t i = 19;
    std::chrono::nanoseconds frac{0};
    if (i < s.size() && s[i] == '.') {
        ++i;
        long long ns = 0;
        int digits = 0;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) {
            if (digits < 9) {
                ns = ns * 10 + (s[i] - '0');
                ++digits;
            }
            ++i;
        }
        if (digits == 0) {
            return std::nullopt;
        }
        for (; digits < 9; ++digits) {
            ns *= 10;
        }
        frac = std::chrono::nanoseconds(ns);
    }
    std::chrono::seconds offset{0};
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
        ++i;
    } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        const int oh = two_digits(s, i + 1);
        const int om = two_digits(s, i + 4);
        if (oh < 0 || oh > 23 || om < 0 || om > 59) {
            return std::nullopt;
        }
        offset = std::chrono::hours(oh) + std::chrono::minutes(om);
        if (s[i] == '-') {
            offset = -offset;
        }
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != s.size()) {
        return std::nullopt;
    }
    const auto base = Clock::from_time_t(timegm(&tm));
    return base - offset + std::chrono::duration_cast<Clock::duration>(frac);
}

// --------------------------------------------------------------------- ARI

std::string ari_cert_id(const Certificate& cert) {
    const ASN1_OCTET_STRING* keyid = X509_get0_authority_key_id(cert.get());
    if (keyid == nullptr || ASN1_STRING_length(keyid) <= 0) {
        fail(ErrorKind::Input, "the certificate " + cert.subject() +
                                   " has no authority key identifier, which ACME renewal "
                                   "information needs");
    }
    const unsigned char* kp = ASN1_STRING_get0_data(keyid);
    const std::vector<unsigned char> key_id(
        kp, kp + static_cast<std::size_t>(ASN1_STRING_length(keyid)));
    const ossl::BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
    if (!serial) {
        fail(ErrorKind::Crypto, "cannot read the serial number of " + cert.subject());
    }
    // The DER content octets of a positive INTEGER: minimal big-endian, with
    // a leading zero when the top bit is set (RFC 9773 4.1).
    std::vector<unsigned char> serial_bytes(static_cast<std::size_t>(BN_num_bytes(serial.get())));
    BN_bn2bin(serial.get(), serial_bytes.data());
    if (serial_bytes.empty() || (serial_bytes.front() & 0x80U) != 0) {
        serial_bytes.insert(serial_bytes.begin(), 0);
    }
    return b64u_bytes(key_id) + "." + b64u_bytes(serial_bytes);
}

RenewalInfo parse_renewal_info(const std::string& body) {
    const json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("suggestedWindow") ||
        !j["suggestedWindow"].is_object()) {
        fail(ErrorKind::Network, "the renewal information has no suggestedWindow");
    }
    const auto& w = j["suggestedWindow"];
    const auto start = parse_rfc3339(str(w, "start"));
    const auto end = parse_rfc3339(str(w, "end"));
    if (!start || !end) {
        fail(ErrorKind::Network, "the renewal information's window has malformed times ('" +
                                     str(w, "start") + "', '" + str(w, "end") + "')");
    }
    if (*end < *start) {
        fail(ErrorKind::Network, "the renewal information's window ends before it starts");
    }
    RenewalInfo info;
    info.window_start = *start;
    info.window_end = *end;
    info.explanation_url = str(j, "explanationURL");
    return info;
}

TimePoint renewal_time(const RenewalInfo& info, TimePoint now, double u) {
    u = std::clamp(u, 0.0, 1.0);
    const auto span = info.window_end - info.window_start;
    const auto offset = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, Clock::period>(static_cast<double>(span.count()) * u));
    const TimePoint t = info.window_start + offset;
    return std::max(t, std::min(now, info.window_end));
}

// ------------------------------------------------------------------ client

Client::Client(ClientOptions options, AccountKey key)
    : options_(std::move(options)), key_(std::move(key)), http_(options_.http) {
    if (options_.directory_url.empty()) {
        fail(ErrorKind::Config, "no ACME directory URL");
    }
}

void Client::log(const std::string& line) const {
    if (options_.log) {
        options_.log(line);
    }
}

Directory fetch_directory(HttpClient& http, const std::string& url) {
    const auto r = http.get(url);
    if (r.status != 200) {
        fail(ErrorKind::Network, "the ACME directory " + url + " answered HTTP " +
                                     std::to_string(r.status) + "; check [acme] directory");
    }
    const json j = object_body(r, "the directory request");
    Directory d;
    d.url = url;
    d.new_nonce = str(j, "newNonce");
    d.new_account = str(j, "newAccount");
    d.new_order = str(j, "newOrder");
    d.revoke_cert = str(j, "revokeCert");
    d.key_change = str(j, "keyChange");
    d.renewal_info = str(j, "renewalInfo");
    if (const auto m = j.find("meta"); m != j.end() && m->is_object()) {
        d.terms_of_service = str(*m, "termsOfService");
        d.website = str(*m, "website");
        if (const auto e = m->find("externalAccountRequired"); e != m->end() && e->is_boolean()) {
            d.external_account_required = e->get<bool>();
        }
    }
    if (d.new_nonce.empty() || d.new_account.empty() || d.new_order.empty()) {
        fail(ErrorKind::Config, url +
                                    " is not an ACME directory (it lacks newNonce, newAccount "
                                    "or newOrder); check [acme] directory");
    }
    return d;
}

std::optional<RenewalInfo> fetch_renewal_info(HttpClient& http, const Directory& directory,
                                              const Certificate& cert) {
    std::string base = directory.renewal_info;
    if (base.empty()) {
        return std::nullopt;
    }
    if (base.back() == '/') {
        base.pop_back();
    }
    const std::string url = base + "/" + ari_cert_id(cert);
    const auto r = http.get(url);
    if (r.status != 200) {
        throw_problem("the renewal-information request for " + cert.subject(), r, problem_of(r));
    }
    RenewalInfo info = parse_renewal_info(r.body);
    info.retry_after = retry_after_of(r);
    return info;
}

const Directory& Client::directory() {
    if (!directory_) {
        directory_ = fetch_directory(http_, options_.directory_url);
    }
    return *directory_;
}

void Client::remember_nonce(const HttpResponse& r) {
    if (auto n = r.header("replay-nonce"); n && !n->empty()) {
        nonce_ = *n;
    }
}

std::string Client::take_nonce() {
    if (nonce_.empty()) {
        const auto r = http_.head(directory().new_nonce);
        remember_nonce(r);
        if (nonce_.empty()) {
            fail(ErrorKind::Network, directory().new_nonce + " answered HTTP " +
                                         std::to_string(r.status) + " without a Replay-Nonce");
        }
    }
    // A nonce is good for one request only.
    return std::exchange(nonce_, std::string());
}

Client::Reply Client::post(const std::string& url, const std::optional<std::string>& payload,
                           const std::string& what, bool use_jwk,
                           const std::vector<std::string>& headers) {
    if (!use_jwk && !kid_) {
        fail(ErrorKind::Internal, "an ACME request (" + what + ") before the account is known");
    }
    for (int attempt = 0;; ++attempt) {
        const std::string nonce = take_nonce();
        const std::string body = sign_request(key_, url, nonce, use_jwk ? std::nullopt : kid_,
                                              payload ? *payload : std::string());
        HttpResponse r = http_.post(url, body, "application/jose+json", headers);
        remember_nonce(r);
        if (r.status >= 200 && r.status < 300) {
            Reply reply;
            reply.location = r.header("location").value_or("");
            reply.http = std::move(r);
            return reply;
        }
        Problem p = problem_of(r);
        if (p.short_type() == "badNonce" && attempt < options_.max_nonce_retries) {
            // RFC 8555 6.5: retry with the nonce the error response carried.
            log("the CA rejected a nonce (badNonce) for " + what + "; retrying with a fresh one");
            continue;
        }
        throw_problem(what, r, std::move(p));
    }
}

Account Client::new_account(const NewAccount& request) {
    const auto& d = directory();
    json payload = json::object();
    if (!request.contact.empty()) {
        payload["contact"] = request.contact;
    }
    if (request.terms_of_service_agreed) {
        payload["termsOfServiceAgreed"] = true;
    }
    if (request.only_return_existing) {
        payload["onlyReturnExisting"] = true;
    }
    if (request.eab_kid.has_value() != request.eab_hmac_key.has_value()) {
        fail(ErrorKind::Config, "external account binding needs both eab_kid and the HMAC key");
    }
    if (request.eab_kid) {
        payload["externalAccountBinding"] = json::parse(
            external_account_binding(key_, *request.eab_kid, *request.eab_hmac_key, d.new_account));
    } else if (d.external_account_required && !request.only_return_existing) {
        fail(ErrorKind::Config, "the CA at " + d.url +
                                    " requires External Account Binding: set eab_kid and "
                                    "eab_hmac_key_file in [acme] (the CA gives both)");
    }
    const Reply r = post(d.new_account, payload.dump(), "the new-account request", true);
    if (r.location.empty()) {
        fail(ErrorKind::Network, d.new_account + " created an account but sent no Location");
    }
    const json j = object_body(r.http, "the new-account request");
    Account a;
    a.url = r.location;
    a.status = str(j, "status");
    a.contact = strings(j, "contact");
    a.orders = str(j, "orders");
    a.created = r.http.status == 201;
    kid_ = a.url;
    log(std::string(a.created ? "created" : "found") + " the ACME account " + a.url);
    return a;
}

Account Client::fetch_account() {
    const Reply r = post(kid_.value_or(""), std::nullopt, "the account request");
    const json j = object_body(r.http, "the account request");
    Account a;
    a.url = *kid_;
    a.status = str(j, "status");
    a.contact = strings(j, "contact");
    a.orders = str(j, "orders");
    return a;
}

Order Client::new_order(const std::vector<std::string>& names,
                        const std::optional<std::string>& replaces) {
    if (names.empty()) {
        fail(ErrorKind::Input, "an order needs at least one name");
    }
    json ids = json::array();
    for (const auto& n : names) {
        ids.push_back({{"type", "dns"}, {"value", n}});
    }
    json payload{{"identifiers", ids}};
    if (replaces) {
        payload["replaces"] = *replaces;
    }
    const Reply r = post(directory().new_order, payload.dump(), "the new-order request");
    if (r.location.empty()) {
        fail(ErrorKind::Network, directory().new_order + " created an order but sent no Location");
    }
    Order o = parse_order(object_body(r.http, "the new-order request"), r.location);
    o.retry_after = retry_after_of(r.http);
    log("order " + o.url + ": " + o.status + ", " + std::to_string(o.authorizations.size()) +
        " authorization(s)");
    return o;
}

Order Client::fetch_order(const std::string& url) {
    const Reply r = post(url, std::nullopt, "the order request");
    Order o = parse_order(object_body(r.http, "the order request"), url);
    o.retry_after = retry_after_of(r.http);
    return o;
}

Authorization Client::fetch_authorization(const std::string& url) {
    const Reply r = post(url, std::nullopt, "the authorization request");
    Authorization a = parse_authorization(object_body(r.http, "the authorization request"), url);
    a.retry_after = retry_after_of(r.http);
    return a;
}

Challenge Client::respond(const std::string& challenge_url) {
    const Reply r = post(challenge_url, std::string("{}"), "the challenge response");
    const json j = object_body(r.http, "the challenge response");
    return Challenge{str(j, "type"), challenge_url, str(j, "status"), str(j, "token"),
                     problem_member(j, "error")};
}

void Client::sleep_before_poll(int attempt, const std::optional<std::chrono::seconds>& retry_after,
                               TimePoint deadline, const std::string& what) {
    if (attempt >= options_.max_polls) {
        fail(ErrorKind::Network,
             "gave up waiting for " + what + " after " + std::to_string(attempt) + " polls");
    }
    using std::chrono::milliseconds;
    auto pause = options_.poll_initial * (1LL << std::min(attempt, 16));
    pause = std::min<milliseconds>(pause, options_.poll_max);
    if (retry_after) {
        if (*retry_after > options_.max_retry_after) {
            fail(ErrorKind::Network, "the CA asks to wait " + format_duration(*retry_after) +
                                         " (Retry-After) for " + what + "; more than the " +
                                         format_duration(options_.max_retry_after) +
                                         " daneroll waits in one run; try again later");
        }
        // Retry-After is the CA's own estimate: honour it, but never poll in
        // a tight loop on a "0".
        pause = std::max<milliseconds>(*retry_after, options_.poll_initial);
    }
    if (Clock::now() + pause > deadline) {
        fail(ErrorKind::Network,
             "gave up waiting for " + what + ": the time limit for this issuance ran out");
    }
    std::this_thread::sleep_for(pause);
}

Authorization Client::wait_authorization(const std::string& url, TimePoint deadline) {
    for (int attempt = 0;; ++attempt) {
        Authorization a = fetch_authorization(url);
        if (a.status != "pending") {
            return a;
        }
        sleep_before_poll(attempt, a.retry_after, deadline,
                          "the CA to validate " + a.identifier + " (still pending)");
    }
}

Order Client::wait_order(const std::string& url, const std::string& from_status,
                         TimePoint deadline) {
    for (int attempt = 0;; ++attempt) {
        Order o = fetch_order(url);
        if (o.status != from_status) {
            return o;
        }
        sleep_before_poll(attempt, o.retry_after, deadline,
                          "the order " + url + " (still " + from_status + ")");
    }
}

Order Client::finalize(const Order& order, ByteView csr_der, TimePoint deadline) {
    Order o = order;
    if (o.status == "pending") {
        o = wait_order(o.url, "pending", deadline);
    }
    if (o.status != "ready") {
        fail(ErrorKind::Network, "the order " + o.url + " is " + o.status +
                                     ", not ready to finalize" +
                                     (o.error ? ": " + o.error->describe() : std::string()));
    }
    const json payload{{"csr", base64url_encode(csr_der)}};
    const Reply r = post(o.finalize, payload.dump(), "the finalize request (the CSR)");
    Order f = parse_order(object_body(r.http, "the finalize request"), o.url);
    f.retry_after = retry_after_of(r.http);
    log("finalized " + o.url + ": " + f.status);
    for (int attempt = 0; f.status == "processing" || f.status == "ready"; ++attempt) {
        sleep_before_poll(attempt, f.retry_after, deadline,
                          "the CA to issue the certificate of " + o.url);
        f = fetch_order(o.url);
    }
    if (f.status != "valid") {
        fail(ErrorKind::Network, "the CA did not issue the certificate: the order " + o.url +
                                     " is " + f.status +
                                     (f.error ? ": " + f.error->describe() : std::string()));
    }
    if (f.certificate.empty()) {
        fail(ErrorKind::Network, "the order " + o.url + " is valid but names no certificate URL");
    }
    return f;
}

CertificateDownload Client::download(const std::string& url) {
    const Reply r = post(url, std::nullopt, "the certificate download", false,
                         {"Accept: application/pem-certificate-chain"});
    if (r.http.body.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        fail(ErrorKind::Network,
             url + " sent no PEM certificate chain (Content-Type '" + r.http.content_type() + "')");
    }
    CertificateDownload d;
    d.url = url;
    d.pem = r.http.body;
    d.alternates = link_targets(r.http.headers_named("link"), "alternate");
    return d;
}

std::optional<RenewalInfo> Client::renewal_info(const Certificate& cert) {
    return fetch_renewal_info(http_, directory(), cert);
}

}  // namespace daneroll::acme
