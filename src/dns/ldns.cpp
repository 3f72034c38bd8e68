#include "ldns.hpp"

#include <algorithm>
#include <cctype>

#include "daneroll/common/error.hpp"

namespace daneroll::dns {

std::string rcode_name(int rcode) {
    const ldns_lookup_table* entry = ldns_lookup_by_id(ldns_rcodes, rcode);
    if (entry != nullptr && entry->name != nullptr) {
        return entry->name;
    }
    return "RCODE" + std::to_string(rcode);
}

std::string tsig_error_name(int error) {
    switch (error) {
        case 0:
            return "NOERROR";
        case 16:
            return "BADSIG";
        case 17:
            return "BADKEY";
        case 18:
            return "BADTIME";
        case 22:
            return "BADTRUNC";
        default:
            return "TSIG error " + std::to_string(error);
    }
}

std::string status_text(ldns_status status) {
    const char* s = ldns_get_errorstr_by_id(status);
    return s != nullptr ? s : "ldns status " + std::to_string(status);
}

LdnsRdf make_dname(const std::string& name) {
    LdnsRdf rdf(ldns_dname_new_frm_str(name.c_str()));
    if (!rdf) {
        fail(ErrorKind::Input, "'" + name + "' is not a valid domain name");
    }
    return rdf;
}

std::string dname_text(const ldns_rdf* dname) {
    char* s = ldns_rdf2str(dname);
    if (s == nullptr) {
        return "";
    }
    std::string out(s);
    LDNS_FREE(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

}  // namespace daneroll::dns
