// The TLSA record (RFC 6698): its fields, presentation and wire forms, owner
// names, and the sanity guards every record passes before daneroll
// publishes or prints it.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "daneroll/common/bytes.hpp"

namespace daneroll {

// Field values (RFC 6698 §7, acronyms from RFC 7218).
namespace tlsa {
inline constexpr std::uint8_t kPkixTa = 0;
inline constexpr std::uint8_t kPkixEe = 1;
inline constexpr std::uint8_t kDaneTa = 2;
inline constexpr std::uint8_t kDaneEe = 3;
inline constexpr std::uint8_t kSelectorCert = 0;
inline constexpr std::uint8_t kSelectorSpki = 1;
inline constexpr std::uint8_t kMatchFull = 0;
inline constexpr std::uint8_t kMatchSha256 = 1;
inline constexpr std::uint8_t kMatchSha512 = 2;
}  // namespace tlsa

struct TlsaRecord {
    std::uint8_t usage = tlsa::kDaneEe;
    std::uint8_t selector = tlsa::kSelectorSpki;
    std::uint8_t matching_type = tlsa::kMatchSha256;
    Bytes data;

    // Presentation form of the RDATA: "3 1 1 <hex>". Fields may also be RFC
    // 7218 acronyms ("DANE-EE SPKI SHA2-256 <hex>"); the hex may be split by
    // whitespace and wrapped in zone-file parentheses. Throws Error(Input)
    // that quotes the field at fault. Values are only range-checked (0-255):
    // records observed in DNS may carry anything, see validate_for_publication.
    static TlsaRecord parse(std::string_view text);
    // RDATA wire form: usage, selector, matching type, data.
    static TlsaRecord from_wire(ByteView rdata);

    [[nodiscard]] std::string to_string() const;  // "3 1 1 <lower-case hex>"
    [[nodiscard]] Bytes to_wire() const;
    // For messages: "3 1 1 ab12cd34ef56…" (data shortened to 12 hex digits).
    [[nodiscard]] std::string short_string() const;

    friend auto operator<=>(const TlsaRecord&, const TlsaRecord&) = default;
};

// "DANE-EE", "DANE-TA", "PKIX-TA", "PKIX-EE" or the number.
std::string usage_name(std::uint8_t usage);

// "_25._tcp.mx1.example.com." for host "mx1.example.com" (a trailing dot on
// the host is accepted), port 25. Throws Error(Input) on a malformed host.
std::string tlsa_owner_name(std::string_view host, std::uint16_t port);

// Normalises a DNS host name: lower case, no trailing dot; refuses empty
// labels, labels over 63 octets, names over 253 and characters outside
// letters, digits, '-', '_' and '.'. `what` names the input in errors.
std::string normalize_host_name(std::string_view host, std::string_view what);

// "_25._tcp.mx1.example.com. 3600 IN TLSA 3 1 1 <hex>".
std::string zone_file_line(std::string_view owner, std::uint32_t ttl, const TlsaRecord& record);

// The guards a record must pass before it leaves the program (printed or
// published): a usage SMTP honours (2 or 3, RFC 7672 §3.1.3), a known
// selector and matching type, data whose length fits the matching type
// (32 bytes for SHA-256, 64 for SHA-512, a parseable DER object for Full),
// and never the digest of empty input, which a broken tool once published.
// Throws Error(Input) naming the rule.
void validate_for_publication(const TlsaRecord& record);

}  // namespace daneroll
