#include "rr_util.hpp"

#include <algorithm>

#include "daneroll/common/error.hpp"

namespace daneroll::dns {

std::vector<const ldns_rr*> rrs_at(const ldns_pkt* pkt, ldns_pkt_section section,
                                   const std::string& owner, ldns_rr_type type) {
    std::vector<const ldns_rr*> out;
    const ldns_rr_list* list = nullptr;
    switch (section) {
        case LDNS_SECTION_ANSWER:
            list = ldns_pkt_answer(pkt);
            break;
        case LDNS_SECTION_AUTHORITY:
            list = ldns_pkt_authority(pkt);
            break;
        case LDNS_SECTION_ADDITIONAL:
            list = ldns_pkt_additional(pkt);
            break;
        default:
            return out;
    }
    if (list == nullptr) {
        return out;
    }
    const LdnsRdf want = make_dname(owner);
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(list, i);
        if (ldns_rr_get_type(rr) == type &&
            ldns_dname_compare(ldns_rr_owner(rr), want.get()) == 0) {
            out.push_back(rr);
        }
    }
    return out;
}

std::string follow_cnames(const ldns_pkt* pkt, const std::string& owner) {
    std::string name = owner;
    std::string target;
    for (int hop = 0; hop < 8; ++hop) {
        const auto cnames = rrs_at(pkt, LDNS_SECTION_ANSWER, name, LDNS_RR_TYPE_CNAME);
        if (cnames.empty() || ldns_rr_rd_count(cnames.front()) < 1) {
            break;
        }
        target = dname_text(ldns_rr_rdf(cnames.front(), 0));
        name = target;
    }
    return target;
}

std::vector<TlsaRecord> tlsa_records(const std::vector<const ldns_rr*>& rrs, std::uint32_t& ttl) {
    std::vector<TlsaRecord> out;
    ttl = 0;
    for (const ldns_rr* rr : rrs) {
        if (ldns_rr_rd_count(rr) != 4) {
            continue;
        }
        TlsaRecord r;
        r.usage = ldns_rdf2native_int8(ldns_rr_rdf(rr, 0));
        r.selector = ldns_rdf2native_int8(ldns_rr_rdf(rr, 1));
        r.matching_type = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));
        const ldns_rdf* data = ldns_rr_rdf(rr, 3);
        const std::uint8_t* p = ldns_rdf_data(data);
        r.data.assign(p, p + ldns_rdf_size(data));
        out.push_back(std::move(r));
        ttl = ttl == 0 ? ldns_rr_ttl(rr) : std::min(ttl, ldns_rr_ttl(rr));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

LdnsRr make_tlsa_rr(const std::string& owner, std::uint32_t ttl, ldns_rr_class klass,
                    const TlsaRecord& record) {
    LdnsRr rr(ldns_rr_new());
    if (!rr) {
        fail(ErrorKind::Internal, "out of memory building a TLSA RR");
    }
    ldns_rr_set_owner(rr.get(), make_dname(owner).release());
    ldns_rr_set_type(rr.get(), LDNS_RR_TYPE_TLSA);
    ldns_rr_set_class(rr.get(), klass);
    ldns_rr_set_ttl(rr.get(), ttl);
    ldns_rr_push_rdf(rr.get(), ldns_native2rdf_int8(LDNS_RDF_TYPE_CERTIFICATE_USAGE, record.usage));
    ldns_rr_push_rdf(rr.get(), ldns_native2rdf_int8(LDNS_RDF_TYPE_SELECTOR, record.selector));
    ldns_rr_push_rdf(rr.get(),
                     ldns_native2rdf_int8(LDNS_RDF_TYPE_MATCHING_TYPE, record.matching_type));
    ldns_rr_push_rdf(
        rr.get(), ldns_rdf_new_frm_data(LDNS_RDF_TYPE_HEX, record.data.size(), record.data.data()));
    return rr;
}

}  // namespace daneroll::dns
