#include "address_probe.hpp"

#include <openssl/err.h>

#include <type_traits>
#include <utility>

#include "connection.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/crypto/digest.hpp"
#include "daneroll/tlsa/dane_verify.hpp"
#include "sigpipe_guard.hpp"

namespace daneroll::smtp {

namespace {

using Clock = Deadline::Clock;
using std::chrono::microseconds;

// A QUIT is a courtesy: wait for its reply only briefly, and never past
// the probe's own deadline.
constexpr auto kQuitWait = std::chrono::seconds(2);

microseconds since(Clock::time_point start) {
    return std::chrono::duration_cast<microseconds>(Clock::now() - start);
}

// Runs one step and records how long it took (only if it completed).
template <typename Fn>
auto timed(std::optional<microseconds>& slot, Fn&& fn) {
    const auto start = Clock::now();
    if constexpr (std::is_void_v<decltype(fn())>) {
        std::forward<Fn>(fn)();
        slot = since(start);
    } else {
        auto out = std::forward<Fn>(fn)();
        slot = since(start);
        return out;
    }
}

SmtpReply command(Connection& conn, const std::string& cmd) {
    conn.send_command(cmd, "sending " + cmd);
    return conn.read_reply("waiting for the reply to " + cmd);
}

const char* sigalgs_for(KeyPreference pref) {
    switch (pref) {
        case KeyPreference::Ecdsa:
            return "ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384:ecdsa_secp521r1_sha512";
        case KeyPreference::Rsa:
            return "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
                   "rsa_pkcs1_sha256:rsa_pkcs1_sha384:rsa_pkcs1_sha512";
        case KeyPreference::Any:
            break;
    }
    return nullptr;
}

ossl::SslPtr make_ssl(SSL_CTX* ctx, const CheckedRequest& req, std::vector<std::string>& notes,
                      std::size_t& usable) {
    ossl::SslPtr ssl(SSL_new(ctx));
    if (!ssl) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot create a TLS object"));
    }
    // SNI is the MX host name (RFC 7672 §8.1), set explicitly rather than
    // left to SSL_dane_enable's default.
    // (SSL_set_tlsext_host_name expanded: the macro's C cast trips -Wold-style-cast.)
    if (SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(req.host.c_str())) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot set SNI " + req.host));
    }
    // Opportunistic verification: the handshake completes even when the
    // chain does not match, so the chain can be reported; the verdict is
    // read afterwards with read_dane_verdict, the offline matcher's engine.
    SSL_set_verify(ssl.get(), SSL_VERIFY_NONE, nullptr);
    usable = configure_dane(ssl.get(), req.records, {req.host}, notes);
    if (const char* sigalgs = sigalgs_for(req.key_preference)) {
        if (SSL_set1_sigalgs_list(ssl.get(), sigalgs) != 1) {
            fail(ErrorKind::Crypto, ossl::error_message("cannot restrict signature algorithms"));
        }
    }
    return ssl;
}

void record_tls_details(SSL* ssl, AddressResult& r) {
    r.tls_version = SSL_get_version(ssl);
    if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl)) {
        r.cipher = SSL_CIPHER_get_name(c);
    }
    // On the client side the peer chain includes the leaf, as sent.
    if (STACK_OF(X509)* sent = SSL_get_peer_cert_chain(ssl)) {
        for (int i = 0; i < sk_X509_num(sent); ++i) {
            X509* x = sk_X509_value(sent, i);
            if (X509_up_ref(x) == 1) {
                r.chain.emplace_back(ossl::X509Ptr(x));
            }
        }
    }
    if (!r.chain.empty()) {
        const Certificate& leaf = r.chain.front();
        r.leaf_spki_sha256 = to_hex(sha256(leaf.spki_der()));
        try {
            r.leaf_not_after = leaf.not_after();
        } catch (const Error&) {
            r.notes.emplace_back("the leaf certificate's notAfter cannot be read");
        }
    }
}

// Fills the DANE verdict and the status it implies.
void record_verdict(const CheckedRequest& req, std::size_t usable, const DaneVerdict& v,
                    AddressResult& r) {
    r.matched_record = v.matched_record;
    r.match_depth = v.match_depth;
    for (const auto& n : v.notes) {
        r.notes.push_back(n);
    }
    if (req.records.empty()) {
        r.status = ProbeStatus::NoDane;
        r.reason = "no TLSA records given, so there is nothing to verify the chain against";
        return;
    }
    if (usable == 0) {
        r.status = ProbeStatus::NoUsableRecords;
        r.reason = v.reason;
        return;
    }
    if (v.verified) {
        r.status = ProbeStatus::Verified;
        r.reason = v.matched_record ? "record " + std::to_string(*v.matched_record + 1) + " (" +
                                          req.records[*v.matched_record].short_string() +
                                          ") matched at depth " + std::to_string(v.match_depth)
                                    : "a record matched at depth " + std::to_string(v.match_depth);
        return;
    }
    r.status = ProbeStatus::DaneMismatch;
    const std::string leaf = r.chain.empty() ? "" : " (leaf " + r.chain.front().subject() + ")";
    r.reason = "the presented chain" + leaf + " does not match the TLSA records: " + v.reason +
               " (X.509 error " + std::to_string(r.verify_error) + ")";
}

void quit(Connection& conn) noexcept {
    try {
        conn.set_deadline(conn.deadline().at_most(kQuitWait));
        command(conn, "QUIT");
    } catch (const std::exception&) {
        // The verdict is in; a server that drops the connection on QUIT
        // changes nothing.
    }
    conn.shutdown_tls();
}

void converse(const CheckedRequest& req, SSL_CTX* ctx, const SocketAddress& address,
              Deadline deadline, AddressResult& r) {
    auto& t = r.timings;
    Connection conn = timed(t.connect, [&] { return Connection(address, req.port, deadline); });

    const SmtpReply banner =
        timed(t.banner, [&] { return conn.read_reply("waiting for the 220 greeting"); });
    r.banner = banner.lines.empty() ? "" : printable(banner.lines.front());
    if (banner.code != 220) {
        quit(conn);
        fail_probe(ProbeStatus::SmtpError,
                   "the server greeted with " + banner.summary() + " instead of 220" +
                       (banner.category() == 4 ? " (a temporary refusal)" : ""));
    }

    const std::string ehlo = "EHLO " + req.ehlo_name;
    const SmtpReply features = timed(t.ehlo, [&] { return command(conn, ehlo); });
    if (features.code != 250) {
        quit(conn);
        fail_probe(ProbeStatus::SmtpError, "EHLO was refused: " + features.summary());
    }
    if (!ehlo_has_keyword(features, "STARTTLS")) {
        quit(conn);
        r.downgrade = !req.records.empty();
        fail_probe(ProbeStatus::NoStarttls,
                   r.downgrade ? "the server does not offer STARTTLS although TLSA records exist: "
                                 "a DANE sender defers mail rather than send it in clear "
                                 "(downgrade, RFC 7672 section 2.2)"
                               : "the server does not offer STARTTLS");
    }

    const SmtpReply go = timed(t.starttls, [&] { return command(conn, "STARTTLS"); });
    if (go.code != 220) {
        quit(conn);
        fail_probe(ProbeStatus::SmtpError,
                   "STARTTLS was refused: " + go.summary() +
                       (go.category() == 4 ? " (a temporary refusal)" : ""));
    }
    // RFC 3207 §4.2: nothing may follow the 220 before the handshake. Bytes
    // already here were sent in clear and would be taken as protected.
    if (conn.has_unread_input()) {
        fail_probe(ProbeStatus::SmtpError,
                   "the server sent data after its 220 reply to STARTTLS, before the TLS "
                   "handshake (RFC 3207 section 4.2)");
    }

    std::vector<std::string> notes;
    std::size_t usable = 0;
    ossl::SslPtr ssl = make_ssl(ctx, req, notes, usable);
    timed(t.handshake, [&] { conn.start_tls(std::move(ssl)); });
    // Only now, with the handshake known to have completed, is the verify
    // result meaningful (see start_tls).
    r.verify_error = usable == 0 ? 0 : SSL_get_verify_result(conn.ssl());
    record_tls_details(conn.ssl(), r);
    record_verdict(req, usable,
                   read_dane_verdict(conn.ssl(), req.records, usable, std::move(notes)), r);

    // A verified address must also carry on inside TLS, or mail still
    // fails; an unverified one keeps its verdict whatever happens next.
    try {
        const SmtpReply again = timed(t.tls_ehlo, [&] { return command(conn, ehlo); });
        if (again.code != 250) {
            fail_probe(ProbeStatus::SmtpError, "EHLO inside TLS was refused: " + again.summary());
        }
    } catch (const ProbeFailure& f) {
        if (r.status == ProbeStatus::Verified) {
            quit(conn);
            fail_probe(f.status(), std::string("the chain verified, but ") + f.what());
        }
        r.notes.emplace_back(std::string("after the handshake: ") + f.what());
    }
    quit(conn);
}

}  // namespace

AddressResult probe_one(const CheckedRequest& req, SSL_CTX* ctx, const SocketAddress& address) {
    const SigpipeGuard no_sigpipe;
    const auto start = Clock::now();
    const Deadline deadline(start + req.timeout);
    AddressResult r;
    r.address = address.text;
    try {
        converse(req, ctx, address, deadline, r);
    } catch (const ProbeFailure& f) {
        r.status = f.status();
        r.reason = f.what();
        if (f.status() == ProbeStatus::Timeout) {
            r.reason += "; the probe's timeout is " + std::to_string(req.timeout.count()) + " ms";
        }
    }
    ERR_clear_error();
    r.timings.total = since(start);
    return r;
}

}  // namespace daneroll::smtp
