// Base64 (RFC 4648 §4) and base64url (§5): TSIG secrets and ACME JWS.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "daneroll/common/bytes.hpp"

namespace daneroll {

std::string base64_encode(ByteView data);
// Unpadded base64url, as JOSE requires.
std::string base64url_encode(ByteView data);
// Strict decoding of padded base64 (whitespace ignored); nullopt if invalid.
std::optional<Bytes> base64_decode(std::string_view text);

}  // namespace daneroll
