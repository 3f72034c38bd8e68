#include "daneroll/acme/http.hpp"

#include <curl/curl.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "daneroll/common/c_handle.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/version.hpp"

namespace daneroll::acme {

namespace {

using CurlPtr = CHandle<CURL, curl_easy_cleanup>;
using SlistPtr = CHandle<curl_slist, curl_slist_free_all>;

void global_init() {
    // libcurl wants curl_global_init once per process; call_once also keeps
    // two clients created from two threads from racing on it.
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fail(ErrorKind::Internal, "curl_global_init failed");
        }
    });
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
        s.remove_suffix(1);
    }
    return std::string(s);
}

// What the callbacks fill in. It lives in the Handle, beside the easy
// handle, because libcurl keeps the pointers until the next reset.
struct Sink {
    HttpResponse response;
    std::size_t max_body = 0;
    bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* sink = static_cast<Sink*>(user);
    const std::size_t n = size * count;
    if (sink->response.body.size() + n > sink->max_body) {
        sink->too_large = true;
        return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
    }
    sink->response.body.append(data, n);
    return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* sink = static_cast<Sink*>(user);
    const std::size_t n = size * count;
    const std::string_view line(data, n);
    if (line.rfind("HTTP/", 0) == 0) {
        // A new status line (after a 100 Continue, say): only the final
        // response's headers count.
        sink->response.headers.clear();
        return n;
    }
    const auto colon = line.find(':');
    if (colon != std::string_view::npos && colon > 0) {
        sink->response.headers.emplace_back(lower(std::string(line.substr(0, colon))),
                                            trim(line.substr(colon + 1)));
    }
    return n;
}

template <typename T>
void set(CURL* c, CURLoption option, T value) {
    if (curl_easy_setopt(c, option, value) != CURLE_OK) {
        fail(ErrorKind::Internal, "libcurl refused an option (" + std::to_string(option) + ")");
    }
}

std::string advice_for(CURLcode code, const HttpOptions& options) {
    switch (code) {
        case CURLE_PEER_FAILED_VERIFICATION:
            return options.ca_bundle ? "; the server's certificate does not chain to " +
                                           options.ca_bundle->string()
                                     : "; for a private or test CA set ca_bundle in [acme]";
        case CURLE_OPERATION_TIMEDOUT:
            return "; the server accepted the connection (or not) but did not answer in time";
        case CURLE_COULDNT_CONNECT:
            return "; nothing listens there, or a firewall refuses";
        case CURLE_COULDNT_RESOLVE_HOST:
            return "; check the directory URL and this host's resolver";
        case CURLE_SSL_CACERT_BADFILE:
            return "; ca_bundle must be a PEM file of CA certificates";
        default:
            return "";
    }
}

}  // namespace

struct HttpClient::Handle {
    Sink sink;
    char error_buffer[CURL_ERROR_SIZE] = {};
    SlistPtr headers;
    CurlPtr curl;  // last: destroyed first, while what it points to still exists
};

std::optional<std::string> HttpResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) {
            return v;
        }
    }
    return std::nullopt;
}

std::vector<std::string> HttpResponse::headers_named(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : headers) {
        if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) {
            out.push_back(v);
        }
    }
    return out;
}

std::string HttpResponse::content_type() const {
    const auto v = header("content-type");
    if (!v) {
        return "";
    }
    return lower(trim(v->substr(0, v->find(';'))));
}

HttpClient::HttpClient(HttpOptions options)
    : options_(std::move(options)), handle_(std::make_unique<Handle>()) {
    global_init();
    handle_->curl.reset(curl_easy_init());
    if (!handle_->curl) {
        fail(ErrorKind::Internal, "curl_easy_init failed");
    }
    if (options_.user_agent.empty()) {
        options_.user_agent = std::string("daneroll/") + kVersion;
    }
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

HttpResponse HttpClient::get(const std::string& url, const std::vector<std::string>& headers) {
    return perform(Method::Get, url, {}, headers);
}

HttpResponse HttpClient::head(const std::string& url) {
    return perform(Method::Head, url, {}, {});
}

HttpResponse HttpClient::post(const std::string& url, std::string_view body,
                              const std::string& content_type,
                              const std::vector<std::string>& headers) {
    std::vector<std::string> all = headers;
    all.push_back("Content-Type: " + content_type);
    return perform(Method::Post, url, body, all);
}

HttpResponse HttpClient::perform(Method method, const std::string& url, std::string_view body,
                                 const std::vector<std::string>& headers) {
    CURL* c = handle_->curl.get();
    // reset() forgets the previous request's options but keeps the
    // connection cache, so the next request reuses the TLS session.
    curl_easy_reset(c);
    Sink& sink = handle_->sink;
    sink = Sink{};
    sink.response.url = url;
    sink.max_body = options_.max_body;
    char* error_buffer = handle_->error_buffer;
    error_buffer[0] = '\0';

    set(c, CURLOPT_URL, url.c_str());
    set(c, CURLOPT_PROTOCOLS_STR, "http,https");
    set(c, CURLOPT_NOSIGNAL, 1L);
    set(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    set(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
    set(c, CURLOPT_USERAGENT, options_.user_agent.c_str());
    set(c, CURLOPT_ERRORBUFFER, error_buffer);
    set(c, CURLOPT_WRITEFUNCTION, &on_body);
    set(c, CURLOPT_WRITEDATA, static_cast<void*>(&sink));
    set(c, CURLOPT_HEADERFUNCTION, &on_header);
    set(c, CURLOPT_HEADERDATA, static_cast<void*>(&sink));
    set(c, CURLOPT_FOLLOWLOCATION, 0L);
    set(c, CURLOPT_ACCEPT_ENCODING, "");  // whatever libcurl can decode
    const std::string ca = options_.ca_bundle ? options_.ca_bundle->string() : std::string();
    if (options_.ca_bundle) {
        set(c, CURLOPT_CAINFO, ca.c_str());
    }
    handle_->headers.reset();
    for (const auto& h : headers) {
        curl_slist* next = curl_slist_append(handle_->headers.get(), h.c_str());
        if (next == nullptr) {
            fail(ErrorKind::Internal, "out of memory building HTTP headers");
        }
        // curl_slist_append returns the same list head once it exists.
        static_cast<void>(handle_->headers.release());
        handle_->headers.reset(next);
    }
    if (handle_->headers) {
        set(c, CURLOPT_HTTPHEADER, handle_->headers.get());
    }
    switch (method) {
        case Method::Get:
            set(c, CURLOPT_HTTPGET, 1L);
            break;
        case Method::Head:
            set(c, CURLOPT_NOBODY, 1L);
            break;
        case Method::Post:
            set(c, CURLOPT_POST, 1L);
            set(c, CURLOPT_POSTFIELDS, body.data());
            set(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
            break;
    }
    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        if (sink.too_large) {
            fail(ErrorKind::Network, url + " sent a response larger than " +
                                         std::to_string(options_.max_body) + " bytes; refused");
        }
        const std::string why = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
        fail(ErrorKind::Network, "no answer from " + url + ": " + why + " (curl error " +
                                     std::to_string(static_cast<int>(rc)) + ")" +
                                     advice_for(rc, options_));
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    sink.response.status = status;
    return std::move(sink.response);
}

}  // namespace daneroll::acme
