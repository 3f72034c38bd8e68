#include "daneroll/dns/resolver.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "daneroll/common/error.hpp"
#include "query_engine.hpp"
#include "rr_util.hpp"

namespace daneroll::dns {

namespace {

constexpr QueryFlags kRecursive{true, true, false};

std::string rr_text(const ldns_rr* rr) {
    char* s = ldns_rr2str(rr);
    std::string out = s != nullptr ? s : "";
    LDNS_FREE(s);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
        out.pop_back();
    }
    return out;
}

[[noreturn]] void lookup_failed(const Server& resolver, const std::string& what, const Answer& a) {
    if (!a.packet) {
        fail(ErrorKind::Network,
             "resolver " + resolver.label() + " gave no answer for " + what + ": " + a.error);
    }
    fail(ErrorKind::Network, "resolver " + resolver.label() + " answered " +
                                 rcode_name(ldns_pkt_get_rcode(a.packet.get())) + " for " + what);
}

// For finding servers and addresses, a validation failure must not hide
// the data: the operator needs to see which servers serve the bogus zone.
// So a SERVFAIL is asked again with CD (checking disabled). Whether DANE is
// in effect is judged separately (tlsa(), dnskeys()).
Answer ask_for_discovery(const Server& resolver, const Question& q, const QueryOptions& options) {
    Answer a = query_one(resolver, q, kRecursive, options);
    if (a.packet && ldns_pkt_get_rcode(a.packet.get()) == LDNS_RCODE_SERVFAIL) {
        QueryFlags cd = kRecursive;
        cd.checking_disabled = true;
        Answer unchecked = query_one(resolver, q, cd, options);
        if (unchecked.packet && ldns_pkt_get_rcode(unchecked.packet.get()) != LDNS_RCODE_SERVFAIL) {
            return unchecked;
        }
    }
    return a;
}

}  // namespace

std::string absolute_name(const std::string& name) {
    std::string out = name;
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (out.empty() || out.back() != '.') {
        out.push_back('.');
    }
    return out;
}

Resolver::Resolver(Server server, QueryOptions options)
    : server_(std::move(server)), options_(options) {}

Server Resolver::from_resolv_conf(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string keyword;
        std::string address;
        if (words >> keyword >> address && keyword == "nameserver") {
            return Server{"", address, 53};
        }
    }
    fail(ErrorKind::Config, path + " lists no nameserver; set 'resolver' in [daneroll]");
}

std::vector<std::string> Resolver::addresses(const std::string& host) const {
    const std::string name = absolute_name(host);
    std::vector<Answer> answers;
    answers.push_back(ask_for_discovery(server_, {name, LDNS_RR_TYPE_A}, options_));
    answers.push_back(ask_for_discovery(server_, {name, LDNS_RR_TYPE_AAAA}, options_));
    std::vector<std::string> out;
    for (const auto& a : answers) {
        if (!a.packet) {
            lookup_failed(server_, "the addresses of " + name, a);
        }
        const int rcode = ldns_pkt_get_rcode(a.packet.get());
        if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
            lookup_failed(server_, "the addresses of " + name, a);
        }
        const std::string target = follow_cnames(a.packet.get(), name);
        const std::string owner = target.empty() ? name : target;
        const ldns_rr_type type =
            ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(a.packet.get()), 0));
        for (const ldns_rr* rr : rrs_at(a.packet.get(), LDNS_SECTION_ANSWER, owner, type)) {
            char* s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
            if (s != nullptr) {
                out.emplace_back(s);
                LDNS_FREE(s);
            }
        }
    }
    if (out.empty()) {
        fail(ErrorKind::Network, name + " has no A or AAAA record (asked " + server_.label() + ")");
    }
    return out;
}

std::vector<std::string> Resolver::name_servers(const std::string& zone) const {
    const std::string name = absolute_name(zone);
    const Answer a = ask_for_discovery(server_, {name, LDNS_RR_TYPE_NS}, options_);
    if (!a.packet || ldns_pkt_get_rcode(a.packet.get()) != LDNS_RCODE_NOERROR) {
        lookup_failed(server_, "the NS records of " + name, a);
    }
    std::vector<std::string> out;
    for (const ldns_rr* rr : rrs_at(a.packet.get(), LDNS_SECTION_ANSWER, name, LDNS_RR_TYPE_NS)) {
        out.push_back(dname_text(ldns_rr_rdf(rr, 0)));
    }
    if (out.empty()) {
        fail(ErrorKind::Network,
             name + " has no NS records (asked " + server_.label() + "); is it a zone apex?");
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string Resolver::primary_name(const std::string& zone) const {
    const std::string name = absolute_name(zone);
    const Answer a = ask_for_discovery(server_, {name, LDNS_RR_TYPE_SOA}, options_);
    if (!a.packet || ldns_pkt_get_rcode(a.packet.get()) != LDNS_RCODE_NOERROR) {
        lookup_failed(server_, "the SOA of " + name, a);
    }
    const auto soa = rrs_at(a.packet.get(), LDNS_SECTION_ANSWER, name, LDNS_RR_TYPE_SOA);
    if (soa.empty()) {
        fail(ErrorKind::Network, name + " has no SOA record; is it a zone apex?");
    }
    return dname_text(ldns_rr_rdf(soa.front(), 0));
}

ValidatedTlsa Resolver::tlsa(const std::string& owner) const {
    ValidatedTlsa v;
    v.owner = absolute_name(owner);
    const Question q{v.owner, LDNS_RR_TYPE_TLSA};
    Answer a = query_one(server_, q, kRecursive, options_);
    if (!a.packet) {
        v.error = a.error;
        return v;
    }
    v.rcode = ldns_pkt_get_rcode(a.packet.get());
    if (v.rcode == LDNS_RCODE_SERVFAIL) {
        // A validator answers SERVFAIL for bogus data; with CD it hands the
        // data over, which tells bogus from a plain failure.
        QueryFlags cd = kRecursive;
        cd.checking_disabled = true;
        Answer unchecked = query_one(server_, q, cd, options_);
        if (unchecked.packet && ldns_pkt_get_rcode(unchecked.packet.get()) != LDNS_RCODE_SERVFAIL) {
            v.security = Security::Bogus;
            a = std::move(unchecked);
        } else {
            v.error = "resolver " + server_.label() + " answered SERVFAIL";
            return v;
        }
    } else if (v.rcode == LDNS_RCODE_NOERROR || v.rcode == LDNS_RCODE_NXDOMAIN) {
        v.security = ldns_pkt_ad(a.packet.get()) ? Security::Secure : Security::Insecure;
    } else {
        v.error = "resolver " + server_.label() + " answered " + rcode_name(v.rcode);
        return v;
    }
    v.cname_target = follow_cnames(a.packet.get(), v.owner);
    const std::string at = v.cname_target.empty() ? v.owner : v.cname_target;
    v.records =
        tlsa_records(rrs_at(a.packet.get(), LDNS_SECTION_ANSWER, at, LDNS_RR_TYPE_TLSA), v.ttl);
    return v;
}

std::pair<std::vector<std::string>, Security> Resolver::dnskeys(const std::string& zone) const {
    const std::string name = absolute_name(zone);
    const Answer a = query_one(server_, {name, LDNS_RR_TYPE_DNSKEY}, kRecursive, options_);
    if (!a.packet) {
        lookup_failed(server_, "the DNSKEY records of " + name, a);
    }
    const int rcode = ldns_pkt_get_rcode(a.packet.get());
    if (rcode == LDNS_RCODE_SERVFAIL) {
        return {{}, Security::Bogus};
    }
    if (rcode != LDNS_RCODE_NOERROR) {
        lookup_failed(server_, "the DNSKEY records of " + name, a);
    }
    std::vector<std::string> keys;
    for (const ldns_rr* rr :
         rrs_at(a.packet.get(), LDNS_SECTION_ANSWER, name, LDNS_RR_TYPE_DNSKEY)) {
        keys.push_back(rr_text(rr));
    }
    const Security s = keys.empty()                  ? Security::Insecure
                       : ldns_pkt_ad(a.packet.get()) ? Security::Secure
                                                     : Security::Insecure;
    return {keys, s};
}

}  // namespace daneroll::dns
