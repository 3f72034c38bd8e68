// Vocabulary of the DNS module: servers, credentials, query limits.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace daneroll::dns {

// One address of one name server. Every address counts as a server: an
// anycast name or a multi-homed NS is only verified if each address is.
struct Server {
    std::string name;     // e.g. "ns2.example.net." (may be empty for a bare address)
    std::string address;  // IPv4 or IPv6 literal
    std::uint16_t port = 53;

    // "ns2.example.net (192.0.2.53)" or "192.0.2.53:5353".
    [[nodiscard]] std::string label() const;
    friend bool operator==(const Server&, const Server&) = default;
};

// A TSIG key. The secret is base64 and must never be logged.
struct TsigCredentials {
    std::string name;       // "daneroll-mx1."
    std::string algorithm;  // "hmac-sha256" | "hmac-sha512"
    std::string secret;
};

struct QueryOptions {
    std::chrono::milliseconds timeout{2000};  // per try
    int retries = 2;                          // further tries after the first
    std::size_t window = 64;                  // UDP queries in flight per server
};

// The validating resolver's verdict on an answer (RFC 4035 §4.3).
enum class Security { Secure, Insecure, Bogus, Indeterminate };
std::string to_string(Security s);

}  // namespace daneroll::dns
