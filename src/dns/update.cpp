#include "daneroll/dns/update.hpp"

#include <algorithm>
#include <random>
#include <thread>

#include "daneroll/common/error.hpp"
#include "daneroll/dns/resolver.hpp"
#include "query_engine.hpp"
#include "rr_util.hpp"

namespace daneroll::dns {

namespace {

constexpr std::uint16_t kTsigFudge = 300;  // seconds of clock skew tolerated (RFC 8945)

bool inside_zone(const std::string& name, const std::string& zone) {
    return name == zone || (name.size() > zone.size() &&
                            name.compare(name.size() - zone.size(), zone.size(), zone) == 0 &&
                            name[name.size() - zone.size() - 1] == '.');
}

struct Reply {
    LdnsPkt packet;
    LdnsWire wire;
    std::size_t size = 0;
};

Reply send_tcp(const Server& server, const ldns_pkt* pkt, const QueryOptions& options) {
    socklen_t len = 0;
    const auto sa = server_sockaddr(server, len);
    LdnsBuffer buf(ldns_buffer_new(LDNS_MAX_PACKETLEN));
    if (!buf || ldns_pkt2buffer_wire(buf.get(), pkt) != LDNS_STATUS_OK) {
        fail(ErrorKind::Internal, "cannot encode the UPDATE message");
    }
    const auto ms = options.timeout.count();
    // Updates go over TCP: no truncation, and a lost reply is an error, not a
    // silent retransmission of a non-idempotent message.
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    std::uint8_t* raw = nullptr;
    Reply r;
    const ldns_status st = ldns_tcp_send(&raw, buf.get(), &sa, len, tv, &r.size);
    r.wire.reset(raw);
    if (st != LDNS_STATUS_OK) {
        fail(ErrorKind::Network, server.label() + " did not answer the UPDATE over TCP (" +
                                     status_text(st) + "); the zone may or may not have changed");
    }
    ldns_pkt* reply = nullptr;
    if (ldns_wire2pkt(&reply, raw, r.size) != LDNS_STATUS_OK) {
        fail(ErrorKind::Network, server.label() + " sent a malformed answer to the UPDATE");
    }
    r.packet.reset(reply);
    if (ldns_pkt_id(reply) != ldns_pkt_id(pkt)) {
        fail(ErrorKind::Network, server.label() + " answered the UPDATE with another message id");
    }
    return r;
}

int tsig_error_of(const ldns_pkt* reply) {
    const ldns_rr* tsig = ldns_pkt_tsig(reply);
    if (tsig == nullptr || ldns_rr_rd_count(tsig) < 6) {
        return 0;
    }
    return ldns_rdf2native_int16(ldns_rr_rdf(tsig, 5));
}

[[noreturn]] void explain_refusal(const Server& server, const TsigCredentials& key,
                                  const std::string& owner, const std::string& zone,
                                  const std::string& type, int rcode, int tsig_error) {
    const std::string who = server.label() + " answered " + rcode_name(rcode);
    const std::string what = " to the UPDATE for " + owner;
    const std::string k = "'" + key.name + "'";
    std::string advice;
    if (tsig_error == 16) {
        fail(ErrorKind::Network, who + " (TSIG BADSIG)" + what + ": the secret of key " + k +
                                     " does not match the server's copy");
    }
    if (tsig_error == 17) {
        fail(ErrorKind::Network, who + " (TSIG BADKEY)" + what + ": the server does not know key " +
                                     k + " with algorithm " + key.algorithm +
                                     "; check the key name and algorithm in both configs");
    }
    if (tsig_error == 18) {
        fail(ErrorKind::Network, who + " (TSIG BADTIME)" + what +
                                     ": this host's clock and the server's differ by more than " +
                                     std::to_string(kTsigFudge) + " s; check NTP on both");
    }
    switch (rcode) {
        case LDNS_RCODE_REFUSED:
            advice = ": check the update-policy for key " + k + " (it must allow " + type + " at " +
                     owner + ") and that the zone allows updates";
            break;
        case LDNS_RCODE_NOTAUTH:
            advice = ": it is not the primary for " + zone + " (or rejected the TSIG signature)";
            break;
        case LDNS_RCODE_NOTZONE:
            advice = ": " + owner + " is outside zone " + zone;
            break;
        case LDNS_RCODE_SERVFAIL:
            advice = ": the server failed; see its log";
            break;
        case LDNS_RCODE_FORMERR:
            advice = ": the server could not parse the message (a bug in daneroll, please report)";
            break;
        default:
            break;
    }
    fail(ErrorKind::Network, who + what + advice + "; the zone is unchanged");
}

// Signs `pkt` with TSIG and sends it. A NOERROR answer is returned only if
// its TSIG verifies: the server must prove it holds the key before a change
// counts as made. Other answers are returned for the caller to explain.
Reply sign_and_send(const Server& primary, const TsigCredentials& key, ldns_pkt* pkt,
                    const std::string& owner, const QueryOptions& options) {
    const std::string algorithm = key.algorithm + ".";
    const ldns_status st = ldns_pkt_tsig_sign(pkt, key.name.c_str(), key.secret.c_str(), kTsigFudge,
                                              algorithm.c_str(), nullptr);
    if (st != LDNS_STATUS_OK) {
        fail(ErrorKind::Crypto,
             "cannot sign the UPDATE with TSIG key '" + key.name + "': " + status_text(st));
    }
    Reply reply = send_tcp(primary, pkt, options);
    if (ldns_pkt_get_rcode(reply.packet.get()) == LDNS_RCODE_NOERROR) {
        const ldns_rr* request_tsig = ldns_pkt_tsig(pkt);
        const bool verified =
            request_tsig != nullptr &&
            ldns_pkt_tsig_verify(reply.packet.get(), reply.wire.get(), reply.size, key.name.c_str(),
                                 key.secret.c_str(), ldns_rr_rdf(request_tsig, 3));
        if (!verified) {
            fail(ErrorKind::Network, primary.label() + " answered NOERROR to the UPDATE for " +
                                         owner +
                                         " without a valid TSIG signature; not "
                                         "trusting it (check for a middlebox)");
        }
    }
    return reply;
}

LdnsPkt build_update(const std::string& zone, const std::string& owner, std::uint32_t ttl,
                     const std::vector<TlsaRecord>& current, const std::vector<TlsaRecord>& add,
                     const std::vector<TlsaRecord>& remove) {
    LdnsRrList prereq(ldns_rr_list_new());
    LdnsRrList updates(ldns_rr_list_new());
    if (current.empty()) {
        // "RRset does not exist" (RFC 2136 §2.4.3): class NONE, no rdata.
        LdnsRr rr(ldns_rr_new());
        ldns_rr_set_owner(rr.get(), make_dname(owner).release());
        ldns_rr_set_type(rr.get(), LDNS_RR_TYPE_TLSA);
        ldns_rr_set_class(rr.get(), LDNS_RR_CLASS_NONE);
        ldns_rr_set_ttl(rr.get(), 0);
        ldns_rr_list_push_rr(prereq.get(), rr.release());
    } else {
        // "RRset exists (value dependent)" (§2.4.2): the whole RRset, TTL 0.
        for (const auto& r : current) {
            ldns_rr_list_push_rr(prereq.get(),
                                 make_tlsa_rr(owner, 0, LDNS_RR_CLASS_IN, r).release());
        }
    }
    for (const auto& r : remove) {
        if (std::binary_search(current.begin(), current.end(), r)) {
            ldns_rr_list_push_rr(updates.get(),
                                 make_tlsa_rr(owner, 0, LDNS_RR_CLASS_NONE, r).release());
        }
    }
    for (const auto& r : add) {
        if (!std::binary_search(current.begin(), current.end(), r)) {
            ldns_rr_list_push_rr(updates.get(),
                                 make_tlsa_rr(owner, ttl, LDNS_RR_CLASS_IN, r).release());
        }
    }
    // ldns_update_pkt_new takes the zone name and clones the lists.
    LdnsPkt pkt(ldns_update_pkt_new(make_dname(zone).release(), LDNS_RR_CLASS_IN, prereq.get(),
                                    updates.get(), nullptr));
    if (!pkt) {
        fail(ErrorKind::Internal, "cannot build the UPDATE message");
    }
    ldns_pkt_set_random_id(pkt.get());
    return pkt;
}

}  // namespace

void require_signing_algorithm(const std::string& algorithm) {
    if (algorithm != "hmac-sha256" && algorithm != "hmac-sha512") {
        fail(ErrorKind::Config, "TSIG algorithm '" + algorithm +
                                    "' cannot sign updates; use hmac-sha256 or hmac-sha512");
    }
}

namespace {

UpdateOutcome update_tlsa_impl(const Server& primary, const TsigCredentials& key,
                               const TlsaChange& change, const std::vector<TlsaRecord>* observed,
                               const QueryOptions& options, int max_attempts) {
    require_signing_algorithm(key.algorithm);
    for (const auto& r : change.add) {
        validate_for_publication(r);
    }
    const std::string zone = absolute_name(change.zone);
    std::string owner = absolute_name(change.owner);
    if (!inside_zone(owner, zone)) {
        fail(ErrorKind::Input, owner + " is not inside zone " + zone);
    }
    std::mt19937 rng(std::random_device{}());
    UpdateOutcome out;
    for (out.attempts = 1; out.attempts <= max_attempts; ++out.attempts) {
        // Read the RRset from the server we update: it is the one whose
        // state the prerequisite is checked against.
        const Answer a = query_one(primary, {owner, LDNS_RR_TYPE_TLSA},
                                   QueryFlags{false, false, false}, options);
        if (!a.packet) {
            fail(ErrorKind::Network, "cannot read the TLSA RRset at " + owner + " from " +
                                         primary.label() + ": " + a.error);
        }
        const int rcode = ldns_pkt_get_rcode(a.packet.get());
        if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
            fail(ErrorKind::Network, primary.label() + " answered " + rcode_name(rcode) +
                                         " when asked for the TLSA RRset at " + owner);
        }
        const std::string alias = follow_cnames(a.packet.get(), owner);
        if (!alias.empty()) {
            if (!inside_zone(alias, zone)) {
                fail(ErrorKind::Input, owner + " is an alias for " + alias + ", outside zone " +
                                           zone + "; manage the TLSA records in that zone instead");
            }
            owner = alias;  // operators may point many MX hosts at one shared RRset
            continue;
        }
        std::uint32_t ttl = 0;
        const auto read = tlsa_records(
            rrs_at(a.packet.get(), LDNS_SECTION_ANSWER, owner, LDNS_RR_TYPE_TLSA), ttl);
        auto wanted = [&](std::vector<TlsaRecord> rrset) {
            for (const auto& r : change.add) {
                rrset.push_back(r);
            }
            std::sort(rrset.begin(), rrset.end());
            rrset.erase(std::unique(rrset.begin(), rrset.end()), rrset.end());
            rrset.erase(std::remove_if(rrset.begin(), rrset.end(),
                                       [&](const TlsaRecord& r) {
                                           return std::find(change.remove.begin(),
                                                            change.remove.end(),
                                                            r) != change.remove.end();
                                       }),
                        rrset.end());
            return rrset;
        };
        // The first UPDATE's prerequisite is what the caller observed, if it
        // says: a change made since then fails it, and we retry from `read`.
        std::vector<TlsaRecord> current = read;
        if (observed != nullptr) {
            current = *observed;
            std::sort(current.begin(), current.end());
            current.erase(std::unique(current.begin(), current.end()), current.end());
            observed = nullptr;
            if (wanted(current) == current) {
                current = read;  // nothing to send for the caller's view: judge by ours
            }
        }
        const std::vector<TlsaRecord> desired = wanted(current);
        out.owner = owner;
        out.before = current;
        out.after = desired;
        if (desired == current) {
            out.changed = false;
            return out;
        }
        LdnsPkt pkt = build_update(zone, owner, change.ttl, current, change.add, change.remove);
        const Reply reply = sign_and_send(primary, key, pkt.get(), owner, options);
        const int reply_rcode = ldns_pkt_get_rcode(reply.packet.get());
        if (reply_rcode == LDNS_RCODE_NOERROR) {
            out.changed = true;
            return out;
        }
        if (reply_rcode == LDNS_RCODE_NXRRSET || reply_rcode == LDNS_RCODE_YXRRSET) {
            // Another agent changed the RRset since we read it: read again.
            // A little random back-off keeps two agents from colliding again.
            std::uniform_int_distribution<int> jitter(5, 25 * out.attempts);
            std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
            continue;
        }
        explain_refusal(primary, key, owner, zone, "TLSA", reply_rcode,
                        tsig_error_of(reply.packet.get()));
    }
    fail(ErrorKind::Network,
         "gave up updating " + owner + " at " + primary.label() + " after " +
             std::to_string(max_attempts) +
             " attempt(s): each time the RRset had changed since it was read (the "
             "compare-and-swap prerequisite failed: another agent is changing it); this "
             "change was not applied");
}

}  // namespace

UpdateOutcome update_tlsa(const Server& primary, const TsigCredentials& key,
                          const TlsaChange& change, const QueryOptions& options, int max_attempts) {
    return update_tlsa_impl(primary, key, change, nullptr, options, max_attempts);
}

UpdateOutcome update_tlsa_from(const Server& primary, const TsigCredentials& key,
                               const TlsaChange& change, const std::vector<TlsaRecord>& observed,
                               const QueryOptions& options, int max_attempts) {
    return update_tlsa_impl(primary, key, change, &observed, options, max_attempts);
}

namespace {

LdnsRr make_txt_rr(const std::string& owner, std::uint32_t ttl, ldns_rr_class klass,
                   const std::string& value) {
    if (value.size() > 255) {
        fail(ErrorKind::Input, "a TXT string longer than 255 bytes for " + owner);
    }
    LdnsRr rr(ldns_rr_new());
    if (!rr) {
        fail(ErrorKind::Internal, "out of memory building a TXT RR");
    }
    ldns_rr_set_owner(rr.get(), make_dname(owner).release());
    ldns_rr_set_type(rr.get(), LDNS_RR_TYPE_TXT);
    ldns_rr_set_class(rr.get(), klass);
    ldns_rr_set_ttl(rr.get(), ttl);
    // One <character-string>: a length byte, then the bytes (RFC 1035 3.3).
    std::vector<std::uint8_t> wire;
    wire.push_back(static_cast<std::uint8_t>(value.size()));
    wire.insert(wire.end(), value.begin(), value.end());
    ldns_rr_push_rdf(rr.get(), ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, wire.size(), wire.data()));
    return rr;
}

}  // namespace

void update_txt(const Server& primary, const TsigCredentials& key, const TxtChange& change,
                const QueryOptions& options) {
    require_signing_algorithm(key.algorithm);
    const std::string zone = absolute_name(change.zone);
    const std::string owner = absolute_name(change.owner);
    if (!inside_zone(owner, zone)) {
        fail(ErrorKind::Input, owner + " is not inside zone " + zone);
    }
    if (change.add.empty() && change.remove.empty()) {
        return;
    }
    LdnsRrList prereq(ldns_rr_list_new());
    LdnsRrList updates(ldns_rr_list_new());
    // Deleting one exact record (class NONE, RFC 2136 2.5.4) and adding one
    // are idempotent and leave the RRset's other records alone, so no
    // prerequisite is needed: concurrent orders for other names coexist.
    for (const auto& v : change.remove) {
        ldns_rr_list_push_rr(updates.get(), make_txt_rr(owner, 0, LDNS_RR_CLASS_NONE, v).release());
    }
    for (const auto& v : change.add) {
        ldns_rr_list_push_rr(updates.get(),
                             make_txt_rr(owner, change.ttl, LDNS_RR_CLASS_IN, v).release());
    }
    LdnsPkt pkt(ldns_update_pkt_new(make_dname(zone).release(), LDNS_RR_CLASS_IN, prereq.get(),
                                    updates.get(), nullptr));
    if (!pkt) {
        fail(ErrorKind::Internal, "cannot build the UPDATE message");
    }
    ldns_pkt_set_random_id(pkt.get());
    const Reply reply = sign_and_send(primary, key, pkt.get(), owner, options);
    const int rcode = ldns_pkt_get_rcode(reply.packet.get());
    if (rcode != LDNS_RCODE_NOERROR) {
        explain_refusal(primary, key, owner, zone, "TXT", rcode, tsig_error_of(reply.packet.get()));
    }
}

TxtAtServer txt_at(const Server& server, const std::string& owner, const QueryOptions& options) {
    TxtAtServer out;
    const std::string name = absolute_name(owner);
    const Answer a =
        query_one(server, {name, LDNS_RR_TYPE_TXT}, QueryFlags{false, false, false}, options);
    if (!a.packet) {
        out.error = a.error;
        return out;
    }
    out.rcode = ldns_pkt_get_rcode(a.packet.get());
    for (const ldns_rr* rr : rrs_at(a.packet.get(), LDNS_SECTION_ANSWER, name, LDNS_RR_TYPE_TXT)) {
        std::string value;
        for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
            const ldns_rdf* rdf = ldns_rr_rdf(rr, i);
            const std::uint8_t* p = ldns_rdf_data(rdf);
            const std::size_t size = ldns_rdf_size(rdf);
            if (size >= 1) {
                // A TXT record of several strings means their concatenation.
                const std::size_t len = std::min<std::size_t>(p[0], size - 1);
                value.append(reinterpret_cast<const char*>(p + 1), len);
            }
        }
        out.values.push_back(std::move(value));
    }
    return out;
}

}  // namespace daneroll::dns
