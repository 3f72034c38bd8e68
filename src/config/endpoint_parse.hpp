#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "daneroll/config/config.hpp"

namespace daneroll::config {

// True for a valid IPv4 or IPv6 literal.
bool is_ip_address(std::string_view text);

}  // namespace daneroll::config
