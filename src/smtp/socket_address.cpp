#include "socket_address.hpp"

#include <netdb.h>

#include <cstring>
#include <memory>

#include "daneroll/common/error.hpp"

namespace daneroll::smtp {

std::string SocketAddress::endpoint(std::uint16_t port) const {
    const std::string p = std::to_string(port);
    return family() == AF_INET6 ? "[" + text + "]:" + p : text + ":" + p;
}

SocketAddress parse_socket_address(std::string_view literal, std::uint16_t port) {
    std::string text(literal);
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
        text = text.substr(1, text.size() - 2);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    // Numeric only: getaddrinfo must not turn a typo into a DNS query.
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    const int rc =
        text.empty() ? EAI_NONAME : ::getaddrinfo(text.c_str(), service.c_str(), &hints, &found);
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, &::freeaddrinfo);
    if (rc != 0 || found == nullptr || found->ai_addrlen > sizeof(sockaddr_storage)) {
        fail(ErrorKind::Input, "'" + std::string(literal) +
                                   "' is not an IPv4 or IPv6 address (the probe takes "
                                   "addresses, not names)");
    }
    SocketAddress out;
    std::memcpy(&out.storage, found->ai_addr, found->ai_addrlen);
    out.length = found->ai_addrlen;
    out.text = text;
    return out;
}

}  // namespace daneroll::smtp
