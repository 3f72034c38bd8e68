#include "daneroll/tlsa/record.hpp"

#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <string>
#include <vector>

#include "daneroll/common/error.hpp"
#include "daneroll/crypto/digest.hpp"
#include "daneroll/crypto/openssl_handles.hpp"

namespace daneroll {

namespace {

struct Acronym {
    std::string_view text;
    std::uint8_t value;
};

constexpr std::array<Acronym, 4> kUsageAcronyms{
    {{"PKIX-TA", 0}, {"PKIX-EE", 1}, {"DANE-TA", 2}, {"DANE-EE", 3}}};
constexpr std::array<Acronym, 2> kSelectorAcronyms{{{"CERT", 0}, {"SPKI", 1}}};
constexpr std::array<Acronym, 3> kMatchAcronyms{{{"FULL", 0}, {"SHA2-256", 1}, {"SHA2-512", 2}}};

std::string upper(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

template <std::size_t N>
std::uint8_t parse_field(std::string_view word, const std::array<Acronym, N>& acronyms,
                         std::string_view field, std::string_view text) {
    unsigned value = 0;
    const auto* end = word.data() + word.size();
    const auto [ptr, ec] = std::from_chars(word.data(), end, value);
    if (ec == std::errc() && ptr == end) {
        if (value > 255) {
            fail(ErrorKind::Input, "TLSA " + std::string(field) + " '" + std::string(word) +
                                       "' is out of range 0-255 in \"" + std::string(text) + "\"");
        }
        return static_cast<std::uint8_t>(value);
    }
    const std::string w = upper(word);
    for (const auto& a : acronyms) {
        if (a.text == w) {
            return a.value;
        }
    }
    fail(ErrorKind::Input, "TLSA " + std::string(field) + " '" + std::string(word) +
                               "' is neither a number nor a known acronym in \"" +
                               std::string(text) + "\"");
}

std::vector<std::string_view> split_words(std::string_view text) {
    std::vector<std::string_view> words;
    std::size_t i = 0;
    auto is_sep = [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ')';
    };
    while (i < text.size()) {
        while (i < text.size() && is_sep(text[i])) {
            ++i;
        }
        const std::size_t start = i;
        while (i < text.size() && !is_sep(text[i])) {
            ++i;
        }
        if (i > start) {
            words.push_back(text.substr(start, i - start));
        }
    }
    return words;
}

bool is_empty_input_digest(const Bytes& data) {
    static const Bytes kEmpty256 = sha256({});
    static const Bytes kEmpty512 = sha512({});
    return data == kEmpty256 || data == kEmpty512;
}

}  // namespace

TlsaRecord TlsaRecord::parse(std::string_view text) {
    const auto words = split_words(text);
    if (words.size() < 4) {
        fail(ErrorKind::Input, "TLSA record \"" + std::string(text) +
                                   "\" needs four fields: usage selector matching-type data "
                                   "(e.g. \"3 1 1 <hex>\")");
    }
    TlsaRecord r;
    r.usage = parse_field(words[0], kUsageAcronyms, "usage", text);
    r.selector = parse_field(words[1], kSelectorAcronyms, "selector", text);
    r.matching_type = parse_field(words[2], kMatchAcronyms, "matching type", text);
    std::string hex;
    for (std::size_t i = 3; i < words.size(); ++i) {
        hex += words[i];
    }
    try {
        r.data = from_hex(hex);
    } catch (const Error& e) {
        fail(ErrorKind::Input,
             "TLSA association data in \"" + std::string(text) + "\": " + e.what());
    }
    return r;
}

TlsaRecord TlsaRecord::from_wire(ByteView rdata) {
    if (rdata.size() < 4) {
        fail(ErrorKind::Input,
             "TLSA RDATA of " + std::to_string(rdata.size()) + " bytes is too short (at least 4)");
    }
    TlsaRecord r;
    r.usage = rdata[0];
    r.selector = rdata[1];
    r.matching_type = rdata[2];
    r.data.assign(rdata.begin() + 3, rdata.end());
    return r;
}

std::string TlsaRecord::to_string() const {
    return std::to_string(usage) + " " + std::to_string(selector) + " " +
           std::to_string(matching_type) + " " + to_hex(data);
}

Bytes TlsaRecord::to_wire() const {
    // Sized up front: GCC 12 flags vector::insert into a 3-byte vector with a
    // false -Warray-bounds at -O2.
    Bytes out(3 + data.size());
    out[0] = usage;
    out[1] = selector;
    out[2] = matching_type;
    std::copy(data.begin(), data.end(), out.begin() + 3);
    return out;
}

std::string TlsaRecord::short_string() const {
    std::string hex = to_hex(data);
    if (hex.size() > 12) {
        hex.resize(12);
        hex += "\u2026";
    }
    return std::to_string(usage) + " " + std::to_string(selector) + " " +
           std::to_string(matching_type) + " " + hex;
}

std::string usage_name(std::uint8_t usage) {
    for (const auto& a : kUsageAcronyms) {
        if (a.value == usage) {
            return std::string(a.text);
        }
    }
    return std::to_string(usage);
}

std::string normalize_host_name(std::string_view host, std::string_view what) {
    std::string h(host);
    if (!h.empty() && h.back() == '.') {
        h.pop_back();
    }
    auto bad = [&](const std::string& why) {
        fail(ErrorKind::Input,
             std::string(what) + " '" + std::string(host) + "' is not a valid host name: " + why);
    };
    if (h.empty()) {
        bad("it is empty");
    }
    if (h.size() > 253) {
        bad("longer than 253 characters");
    }
    std::size_t label = 0;
    for (char& c : h) {
        if (c == '.') {
            if (label == 0) {
                bad("it has an empty label");
            }
            label = 0;
            continue;
        }
        const auto uc = static_cast<unsigned char>(c);
        if (std::isalnum(uc) == 0 && c != '-' && c != '_') {
            bad("character '" + std::string(1, c) + "' is not allowed");
        }
        c = static_cast<char>(std::tolower(uc));
        if (++label > 63) {
            bad("a label is longer than 63 characters");
        }
    }
    if (label == 0) {
        bad("it has an empty label");  // "a.b.." once one trailing dot is gone
    }
    return h;
}

std::string tlsa_owner_name(std::string_view host, std::uint16_t port) {
    if (port == 0) {
        fail(ErrorKind::Input, "port 0 is not a valid TLSA port");
    }
    return "_" + std::to_string(port) + "._tcp." + normalize_host_name(host, "host") + ".";
}

std::string zone_file_line(std::string_view owner, std::uint32_t ttl, const TlsaRecord& record) {
    return std::string(owner) + " " + std::to_string(ttl) + " IN TLSA " + record.to_string();
}

void validate_for_publication(const TlsaRecord& r) {
    const std::string what = "TLSA record " + r.short_string();
    if (r.usage != tlsa::kDaneTa && r.usage != tlsa::kDaneEe) {
        fail(ErrorKind::Input, what + ": usage " + std::to_string(r.usage) + " (" +
                                   usage_name(r.usage) +
                                   ") is unusable for SMTP (RFC 7672 section 3.1.3); use 3 "
                                   "(DANE-EE) or 2 (DANE-TA)");
    }
    if (r.selector > tlsa::kSelectorSpki) {
        fail(ErrorKind::Input, what + ": selector " + std::to_string(r.selector) +
                                   " is not 0 (certificate) or 1 (SPKI)");
    }
    switch (r.matching_type) {
        case tlsa::kMatchSha256:
            if (r.data.size() != 32) {
                fail(ErrorKind::Input, what +
                                           ": matching type 1 (SHA-256) needs 32 bytes of "
                                           "data, got " +
                                           std::to_string(r.data.size()));
            }
            break;
        case tlsa::kMatchSha512:
            if (r.data.size() != 64) {
                fail(ErrorKind::Input, what +
                                           ": matching type 2 (SHA-512) needs 64 bytes of "
                                           "data, got " +
                                           std::to_string(r.data.size()));
            }
            break;
        case tlsa::kMatchFull: {
            // Full data must be the DER object the selector names.
            const unsigned char* p = r.data.data();
            const auto len = static_cast<long>(r.data.size());
            bool ok = false;
            if (r.selector == tlsa::kSelectorCert) {
                ossl::X509Ptr x(d2i_X509(nullptr, &p, len));
                ok = x != nullptr;
            } else {
                ossl::EvpPkeyPtr k(d2i_PUBKEY(nullptr, &p, len));
                ok = k != nullptr;
            }
            ossl::drain_errors();
            if (!ok || p != r.data.data() + r.data.size()) {
                fail(ErrorKind::Input,
                     what + ": matching type 0 (full) data is not a DER " +
                         (r.selector == tlsa::kSelectorCert ? "certificate" : "public key"));
            }
            break;
        }
        default:
            fail(ErrorKind::Input, what + ": matching type " + std::to_string(r.matching_type) +
                                       " is not 0 (full), 1 (SHA-256) or 2 (SHA-512)");
    }
    if (is_empty_input_digest(r.data)) {
        fail(ErrorKind::Input, what +
                                   ": the data is the digest of empty input, a known bug "
                                   "of broken tools; it matches no certificate");
    }
}

}  // namespace daneroll
