// A small HTTPS client on libcurl for the ACME protocol: one easy handle
// per client, so the TLS connection (HTTP/2 with Pebble and Let's Encrypt)
// is reused across the dozen requests of an issuance; a time limit on every
// request; a CA bundle for private and test CAs.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace daneroll::acme {

struct HttpOptions {
    // PEM bundle of trusted CAs; unset: the system's.
    std::optional<std::filesystem::path> ca_bundle;
    // The TLS handshake counts as part of connecting (libcurl).
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds request_timeout{30000};
    std::string user_agent;  // default "daneroll/<version>"
    // Larger bodies are refused: no ACME object comes close.
    std::size_t max_body = 4U << 20U;
};

struct HttpResponse {
    std::string url;
    long status = 0;
    // Header lines of the final response; names lower-cased (HTTP/2 sends
    // them so anyway), values trimmed.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    // The first header of that name (case-insensitive), if any.
    [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
    // Every header of that name, in order (Link may repeat).
    [[nodiscard]] std::vector<std::string> headers_named(std::string_view name) const;
    // The media type without parameters, lower-cased ("" if none).
    [[nodiscard]] std::string content_type() const;
};

class HttpClient {
  public:
    explicit HttpClient(HttpOptions options = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;
    HttpClient(HttpClient&&) noexcept;
    HttpClient& operator=(HttpClient&&) noexcept;

    // Throw Error(Network) when no HTTP response arrives (refused, timed
    // out, TLS verification failed: the message says which and what to
    // check); any HTTP status is a response.
    HttpResponse get(const std::string& url, const std::vector<std::string>& headers = {});
    HttpResponse head(const std::string& url);
    HttpResponse post(const std::string& url, std::string_view body,
                      const std::string& content_type,
                      const std::vector<std::string>& headers = {});

    [[nodiscard]] const HttpOptions& options() const { return options_; }

  private:
    enum class Method { Get, Head, Post };
    HttpResponse perform(Method method, const std::string& url, std::string_view body,
                         const std::vector<std::string>& headers);

    struct Handle;
    HttpOptions options_;
    std::unique_ptr<Handle> handle_;
};

}  // namespace daneroll::acme
