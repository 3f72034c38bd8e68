// Byte strings and their hex form, as used in TLSA association data.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace daneroll {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Lower-case hex, no separators (the presentation form of TLSA data).
std::string to_hex(ByteView data);

// Parses hex digits; ASCII whitespace between digits is allowed because
// zone files split long TLSA data over several words. Throws Error(Input)
// naming the offending character's position, or the odd digit count.
Bytes from_hex(std::string_view text);

// Bytes of a string, e.g. for hashing text.
inline ByteView as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace daneroll
