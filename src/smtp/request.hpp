// A ProbeRequest checked once, before any connection: names normalised,
// address literals parsed, defaults filled in. Bad input is the caller's
// to fix and is thrown as Error(Input), never reported as an address that
// "failed".
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "daneroll/smtp/probe.hpp"
#include "socket_address.hpp"

namespace daneroll::smtp {

struct CheckedRequest {
    std::string host;  // normalised MX host name
    std::uint16_t port = 25;
    std::string ehlo_name;
    std::chrono::milliseconds timeout{0};
    std::vector<TlsaRecord> records;
    KeyPreference key_preference = KeyPreference::Any;
};

// Everything but the addresses.
CheckedRequest check_request(const ProbeRequest& request);

// A domain name or an address literal ("[192.0.2.1]"), nothing that could
// smuggle a second command into the EHLO line.
bool is_valid_ehlo_name(const std::string& name);

}  // namespace daneroll::smtp
