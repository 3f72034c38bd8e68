#include "daneroll/common/base64.hpp"

#include <array>

namespace daneroll {

namespace {

constexpr std::string_view kStd =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrl =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(ByteView data, std::string_view alphabet, bool pad) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        const unsigned v = (unsigned{data[i]} << 16U) | (unsigned{data[i + 1]} << 8U) | data[i + 2];
        out.push_back(alphabet[(v >> 18U) & 63U]);
        out.push_back(alphabet[(v >> 12U) & 63U]);
        out.push_back(alphabet[(v >> 6U) & 63U]);
        out.push_back(alphabet[v & 63U]);
    }
    const std::size_t rest = data.size() - i;
    if (rest > 0) {
        unsigned v = unsigned{data[i]} << 16U;
        if (rest == 2) {
            v |= unsigned{data[i + 1]} << 8U;
        }
        out.push_back(alphabet[(v >> 18U) & 63U]);
        out.push_back(alphabet[(v >> 12U) & 63U]);
        if (rest == 2) {
            out.push_back(alphabet[(v >> 6U) & 63U]);
        } else if (pad) {
            out.push_back('=');
        }
        if (pad) {
            out.push_back('=');
        }
    }
    return out;
}

}  // namespace

std::string base64_encode(ByteView data) {
    return encode(data, kStd, true);
}

std::string base64url_encode(ByteView data) {
    return encode(data, kUrl, false);
}

std::optional<Bytes> base64_decode(std::string_view text) {
    std::array<int, 256> value{};
    value.fill(-1);
    for (std::size_t i = 0; i < kStd.size(); ++i) {
        value[static_cast<unsigned char>(kStd[i])] = static_cast<int>(i);
    }
    std::string clean;
    for (char c : text) {
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            clean.push_back(c);
        }
    }
    if (clean.empty() || clean.size() % 4 != 0) {
        return std::nullopt;
    }
    std::size_t padding = 0;
    if (clean.back() == '=') {
        padding = clean[clean.size() - 2] == '=' ? 2 : 1;
    }
    Bytes out;
    out.reserve(clean.size() / 4 * 3);
    for (std::size_t i = 0; i < clean.size(); i += 4) {
        unsigned v = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const char c = clean[i + j];
            const bool in_pad = i + 4 == clean.size() && j >= 4 - padding;
            if (in_pad) {
                if (c != '=') {
                    return std::nullopt;
                }
                v <<= 6U;
                continue;
            }
            const int d = value[static_cast<unsigned char>(c)];
            if (d < 0) {
                return std::nullopt;
            }
            v = (v << 6U) | static_cast<unsigned>(d);
        }
        out.push_back(static_cast<std::uint8_t>(v >> 16U));
        out.push_back(static_cast<std::uint8_t>(v >> 8U));
        out.push_back(static_cast<std::uint8_t>(v));
    }
    out.resize(out.size() - padding);
    return out;
}

}  // namespace daneroll
