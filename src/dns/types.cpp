#include "daneroll/dns/types.hpp"

namespace daneroll::dns {

std::string Server::label() const {
    const bool v6 = address.find(':') != std::string::npos;
    std::string addr =
        port == 53 ? address : (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
    if (name.empty()) {
        return addr;
    }
    std::string n = name;
    if (!n.empty() && n.back() == '.') {
        n.pop_back();
    }
    return n + " (" + addr + ")";
}

std::string to_string(Security s) {
    switch (s) {
        case Security::Secure:
            return "secure";
        case Security::Insecure:
            return "insecure";
        case Security::Bogus:
            return "bogus";
        case Security::Indeterminate:
            return "indeterminate";
    }
    return "?";
}

}  // namespace daneroll::dns
