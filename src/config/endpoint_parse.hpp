#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "daneroll/config/config.hpp"

namespace daneroll::config {

// Parses "host", "host:port", "[v6]:port" or a bare IPv6 literal; nullopt
// with `why` set when malformed.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::uint16_t default_port,
                                       std::string& why);

// True for a valid IPv4 or IPv6 literal.
bool is_ip_address(std::string_view text);

}  // namespace daneroll::config
