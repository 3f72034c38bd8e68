#include "daneroll/dns/observe.hpp"

#include <algorithm>
#include <future>
#include <mutex>
#include <unordered_map>

#include "daneroll/common/error.hpp"
#include "daneroll/dns/resolver.hpp"
#include "query_engine.hpp"
#include "rr_util.hpp"

namespace daneroll::dns {

namespace {

constexpr QueryFlags kAuthoritative{false, true, false};

LdnsRrList parse_keys(const std::vector<std::string>& texts) {
    LdnsRrList list(ldns_rr_list_new());
    for (const auto& t : texts) {
        ldns_rr* rr = nullptr;
        if (ldns_rr_new_frm_str(&rr, t.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK) {
            ldns_rr_list_push_rr(list.get(), rr);
        }
    }
    return list;
}

TimePoint from_rrsig_time(const ldns_rdf* rdf) {
    // RRSIG times are 32-bit serial arithmetic seconds (RFC 4034 §3.1.5);
    // until 2106 the plain value is the right one.
    return std::chrono::system_clock::from_time_t(static_cast<time_t>(ldns_rdf2native_time_t(rdf)));
}

// Secondaries serve the very RRset and RRSIG the primary signed, so one
// observation would verify each signature once per server. The verdict of
// ldns for the exact (RRset, RRSIG) bytes is remembered for the observation.
class SignatureMemo {
  public:
    std::optional<ldns_status> find(const std::string& key) {
        const std::lock_guard lock(mu_);
        const auto it = verdicts_.find(key);
        return it == verdicts_.end() ? std::nullopt : std::optional<ldns_status>(it->second);
    }
    void store(const std::string& key, ldns_status st) {
        const std::lock_guard lock(mu_);
        verdicts_.emplace(key, st);
    }

  private:
    std::mutex mu_;
    std::unordered_map<std::string, ldns_status> verdicts_;
};

void append_wire(std::string& out, const ldns_rr* rr) {
    std::uint8_t* wire = nullptr;
    std::size_t size = 0;
    if (ldns_rr2wire(&wire, rr, LDNS_SECTION_ANSWER, &size) == LDNS_STATUS_OK) {
        out.append(reinterpret_cast<const char*>(wire), size);
        out.push_back('\0');
    }
    LDNS_FREE(wire);
}

void check_signatures(RrsetAtServer& view, const ldns_pkt* pkt, const std::string& owner,
                      const ldns_rr_list* keys, TimePoint now, SignatureMemo& memo) {
    const auto tlsa = rrs_at(pkt, LDNS_SECTION_ANSWER, owner, LDNS_RR_TYPE_TLSA);
    std::vector<const ldns_rr*> sigs;
    for (const ldns_rr* s : rrs_at(pkt, LDNS_SECTION_ANSWER, owner, LDNS_RR_TYPE_RRSIG)) {
        if (ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(s)) == LDNS_RR_TYPE_TLSA) {
            sigs.push_back(s);
        }
    }
    view.signed_ = !sigs.empty();
    if (tlsa.empty() || sigs.empty()) {
        if (!tlsa.empty()) {
            view.signature_problem = "no RRSIG over the TLSA RRset";
        }
        return;
    }
    if (keys == nullptr || ldns_rr_list_rr_count(keys) == 0) {
        view.signature_problem = "DNSKEYs unavailable; signature not checked";
        return;
    }
    LdnsRrList rrset(ldns_rr_list_new());
    for (const ldns_rr* rr : tlsa) {
        ldns_rr_list_push_rr(rrset.get(), ldns_rr_clone(rr));
    }
    const time_t t = std::chrono::system_clock::to_time_t(now);
    // The RRset part of the memo key: its records in a canonical order (the
    // TTL is part of the wire form, so a different TTL is a different key).
    std::vector<std::string> parts;
    for (const ldns_rr* rr : tlsa) {
        std::string w;
        append_wire(w, rr);
        parts.push_back(std::move(w));
    }
    std::sort(parts.begin(), parts.end());
    std::string rrset_key;
    for (const auto& w : parts) {
        rrset_key += w;
    }
    for (const ldns_rr* sig : sigs) {
        std::string key = rrset_key;
        append_wire(key, sig);
        ldns_status st = LDNS_STATUS_OK;
        if (auto known = memo.find(key)) {
            st = *known;
        } else {
            st = ldns_verify_rrsig_keylist_time(rrset.get(), sig, keys, t, nullptr);
            memo.store(key, st);
        }
        if (st != LDNS_STATUS_OK) {
            view.signature_problem = status_text(st);
            continue;
        }
        const TimePoint expiration = from_rrsig_time(ldns_rr_rrsig_expiration(sig));
        if (!view.signature_expiration || expiration > *view.signature_expiration) {
            view.signature_valid = true;
            view.signature_problem.clear();
            view.signature_expiration = expiration;
            view.signature_inception = from_rrsig_time(ldns_rr_rrsig_inception(sig));
        }
    }
}

ServerView observe_server(const Server& server, const std::string& zone,
                          const std::vector<std::string>& owners, const ldns_rr_list* keys,
                          TimePoint now, const QueryOptions& options, SignatureMemo& memo) {
    const auto start = std::chrono::steady_clock::now();
    ServerView view;
    view.server = server;
    std::vector<Question> questions;
    questions.push_back({zone, LDNS_RR_TYPE_SOA});
    for (const auto& o : owners) {
        questions.push_back({o, LDNS_RR_TYPE_TLSA});
    }
    const auto answers = query_batch(server, questions, kAuthoritative, options);

    const Answer& soa = answers.front();
    if (!soa.packet) {
        view.error = soa.error;
    } else if (ldns_pkt_get_rcode(soa.packet.get()) != LDNS_RCODE_NOERROR) {
        view.error = "answered " + rcode_name(ldns_pkt_get_rcode(soa.packet.get())) +
                     " for the SOA of " + zone;
    } else if (!ldns_pkt_aa(soa.packet.get())) {
        view.error = "is not authoritative for " + zone + " (lame delegation)";
    } else {
        const auto rrs = rrs_at(soa.packet.get(), LDNS_SECTION_ANSWER, zone, LDNS_RR_TYPE_SOA);
        if (rrs.empty() || ldns_rr_rd_count(rrs.front()) < 7) {
            view.error = "gave no SOA record for " + zone;
        } else {
            view.soa_serial = ldns_rdf2native_int32(ldns_rr_rdf(rrs.front(), 2));
            view.negative_ttl = std::min(ldns_rr_ttl(rrs.front()),
                                         ldns_rdf2native_int32(ldns_rr_rdf(rrs.front(), 6)));
        }
    }

    for (std::size_t i = 0; i < owners.size(); ++i) {
        const Answer& a = answers[i + 1];
        RrsetAtServer& r = view.owners[owners[i]];
        if (!a.packet) {
            r.error = a.error;
            continue;
        }
        r.rcode = ldns_pkt_get_rcode(a.packet.get());
        if (r.rcode != LDNS_RCODE_NOERROR && r.rcode != LDNS_RCODE_NXDOMAIN) {
            r.error = "answered " + rcode_name(r.rcode);
            continue;
        }
        if (!ldns_pkt_aa(a.packet.get())) {
            r.error = "answered without the AA bit (not authoritative)";
            continue;
        }
        r.cname_target = follow_cnames(a.packet.get(), owners[i]);
        const std::string at = r.cname_target.empty() ? owners[i] : r.cname_target;
        r.records =
            tlsa_records(rrs_at(a.packet.get(), LDNS_SECTION_ANSWER, at, LDNS_RR_TYPE_TLSA), r.ttl);
        check_signatures(r, a.packet.get(), at, keys, now, memo);
    }
    view.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    return view;
}

bool valid_until(const RrsetAtServer& r, TimePoint until) {
    return r.signature_valid && r.signature_expiration && *r.signature_expiration >= until;
}

}  // namespace

bool RrsetAtServer::has(const TlsaRecord& r) const {
    return std::binary_search(records.begin(), records.end(), r);
}

bool ZoneView::served_everywhere(const std::string& owner, const TlsaRecord& record,
                                 TimePoint until) const {
    if (servers.empty() || !dnskeys_available) {
        return false;
    }
    return std::all_of(servers.begin(), servers.end(), [&](const ServerView& s) {
        const auto it = s.owners.find(owner);
        return s.error.empty() && it != s.owners.end() && it->second.answered() &&
               it->second.has(record) && valid_until(it->second, until);
    });
}

std::vector<std::string> ZoneView::gaps(const std::string& owner, const TlsaRecord& record,
                                        TimePoint until) const {
    std::vector<std::string> out;
    if (!dnskeys_available) {
        out.emplace_back(
            "the zone's DNSKEYs are not available from the validating resolver, so "
            "no signature can be trusted");
    }
    for (const auto& s : servers) {
        const std::string who =
            s.server.label() + (s.soa_serial ? " at serial " + std::to_string(*s.soa_serial) : "");
        const auto it = s.owners.find(owner);
        if (!s.error.empty()) {
            out.push_back(s.server.label() + " " + s.error);
        } else if (it == s.owners.end() || !it->second.answered()) {
            out.push_back(who + ": " + (it == s.owners.end() ? "not asked" : it->second.error));
        } else if (!it->second.has(record)) {
            out.push_back(who + " lacks " + record.short_string());
        } else if (!it->second.signature_valid) {
            out.push_back(who + " serves " + record.short_string() + " without a valid signature" +
                          (it->second.signature_problem.empty()
                               ? ""
                               : " (" + it->second.signature_problem + ")"));
        } else if (!valid_until(it->second, until)) {
            out.push_back(who + " serves " + record.short_string() +
                          " under a signature that expires too soon");
        }
    }
    return out;
}

std::uint32_t ZoneView::max_ttl(const std::string& owner) const {
    std::uint32_t ttl = 0;
    for (const auto& s : servers) {
        const auto it = s.owners.find(owner);
        if (it != s.owners.end()) {
            ttl = std::max(ttl, it->second.ttl);
        }
    }
    return ttl;
}

std::uint32_t ZoneView::max_negative_ttl() const {
    std::uint32_t ttl = 0;
    for (const auto& s : servers) {
        ttl = std::max(ttl, s.negative_ttl);
    }
    return ttl;
}

ZoneView observe_zone(const std::string& zone, const std::vector<Server>& servers,
                      const std::vector<std::string>& owners,
                      const std::vector<std::string>& dnskeys, TimePoint now,
                      const QueryOptions& options) {
    ZoneView view;
    view.zone = absolute_name(zone);
    view.observed_at = now;
    std::vector<std::string> names;
    for (const auto& o : owners) {
        names.push_back(absolute_name(o));
    }
    const LdnsRrList keys = parse_keys(dnskeys);
    view.dnskeys_available = ldns_rr_list_rr_count(keys.get()) > 0;
    // One thread per server: each pipelines its own questions, so the whole
    // observation costs about as much as the slowest server.
    SignatureMemo memo;
    std::vector<std::future<ServerView>> futures;
    futures.reserve(servers.size());
    for (const auto& s : servers) {
        futures.push_back(std::async(std::launch::async, observe_server, std::cref(s),
                                     std::cref(view.zone), std::cref(names), keys.get(), now,
                                     std::cref(options), std::ref(memo)));
    }
    for (auto& f : futures) {
        view.servers.push_back(f.get());
    }
    return view;
}

}  // namespace daneroll::dns
