#include "endpoint_parse.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <string>

#include "daneroll/common/error.hpp"
#include "daneroll/tlsa/record.hpp"

namespace daneroll::config {

bool is_ip_address(std::string_view text) {
    const std::string s(text);
    std::array<unsigned char, 16> buf{};
    return inet_pton(AF_INET, s.c_str(), buf.data()) == 1 ||
           inet_pton(AF_INET6, s.c_str(), buf.data()) == 1;
}

std::optional<Endpoint> parse_endpoint(std::string_view text, std::uint16_t default_port,
                                       std::string& why) {
    Endpoint ep;
    ep.port = default_port;
    std::string_view host = text;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            why = "missing ']' after the IPv6 address";
            return std::nullopt;
        }
        host = text.substr(1, close - 1);
        const auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                why = "expected ':port' after ']'";
                return std::nullopt;
            }
            port = rest.substr(1);
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        const auto colon = text.find(':');
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    if (!port.empty() || (text.size() > 0 && text.back() == ':')) {
        unsigned value = 0;
        const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
            why = "'" + std::string(port) + "' is not a port number (1-65535)";
            return std::nullopt;
        }
        ep.port = static_cast<std::uint16_t>(value);
    }
    if (is_ip_address(host)) {
        ep.host = std::string(host);
        return ep;
    }
    if (host.find(':') != std::string_view::npos) {
        why = "'" + std::string(host) + "' is not a valid IPv6 address (write [addr]:port)";
        return std::nullopt;
    }
    try {
        ep.host = normalize_host_name(host, "server");
    } catch (const Error& e) {
        why = e.what();
        return std::nullopt;
    }
    return ep;
}

}  // namespace daneroll::config

namespace daneroll::config {

bool Endpoint::is_ip_literal() const {
    return is_ip_address(host);
}

std::string Endpoint::to_string() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace daneroll::config
