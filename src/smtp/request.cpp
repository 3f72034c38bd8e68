#include "request.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>

#include "daneroll/common/error.hpp"

namespace daneroll::smtp {

bool is_valid_ehlo_name(const std::string& name) {
    if (name.empty() || name.size() > 255) {
        return false;
    }
    if (name.front() == '[') {
        // RFC 5321 §4.1.3 address literal: printable, no blanks, closed.
        return name.size() > 2 && name.back() == ']' &&
               std::all_of(name.begin(), name.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_';
    });
}

std::string default_ehlo_name() {
    std::array<char, HOST_NAME_MAX + 1> buf{};
    if (::gethostname(buf.data(), buf.size() - 1) == 0) {
        std::string name(buf.data());
        if (is_valid_ehlo_name(name)) {
            return name;
        }
    }
    return "localhost";
}

CheckedRequest check_request(const ProbeRequest& request) {
    CheckedRequest c;
    c.host = normalize_host_name(request.host, "the MX host name");
    if (request.port == 0) {
        fail(ErrorKind::Input, "port 0 is not a port to probe");
    }
    c.port = request.port;
    c.ehlo_name = request.ehlo_name.empty() ? default_ehlo_name() : request.ehlo_name;
    if (!is_valid_ehlo_name(c.ehlo_name)) {
        fail(ErrorKind::Input, "'" + c.ehlo_name +
                                   "' is not a usable EHLO name: give a domain name or an "
                                   "address literal such as [192.0.2.1]");
    }
    if (request.timeout <= std::chrono::milliseconds::zero()) {
        fail(ErrorKind::Input, "the probe timeout must be positive");
    }
    c.timeout = request.timeout;
    c.records = request.records;
    c.key_preference = request.key_preference;
    return c;
}

}  // namespace daneroll::smtp
