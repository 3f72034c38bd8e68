// An IP address literal and port, parsed without any name lookup.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace daneroll::smtp {

struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;
    std::string text;  // "192.0.2.25" or "2001:db8::25", as given without brackets

    [[nodiscard]] int family() const noexcept { return storage.ss_family; }
    [[nodiscard]] const sockaddr* get() const noexcept {
        return reinterpret_cast<const sockaddr*>(&storage);
    }
    // "192.0.2.25:25" or "[2001:db8::25]:25", for messages.
    [[nodiscard]] std::string endpoint(std::uint16_t port) const;
};

// Parses an IPv4 or IPv6 literal ("[2001:db8::1]" brackets allowed, an IPv6
// zone such as "fe80::1%eth0" too). Throws Error(Input) for anything else,
// host names included: the probe never resolves names itself.
SocketAddress parse_socket_address(std::string_view literal, std::uint16_t port);

}  // namespace daneroll::smtp
