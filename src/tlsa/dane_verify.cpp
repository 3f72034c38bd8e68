#include "daneroll/tlsa/dane_verify.hpp"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <algorithm>

#include "daneroll/common/error.hpp"

namespace daneroll {

ossl::SslCtxPtr make_dane_client_context() {
    ossl::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1 ||
        SSL_CTX_dane_enable(ctx.get()) <= 0) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot create a DANE TLS context"));
    }
    return ctx;
}

std::size_t configure_dane(SSL* ssl, const std::vector<TlsaRecord>& records,
                           const std::vector<std::string>& reference_names,
                           std::vector<std::string>& notes) {
    // SSL_dane_enable needs a base domain; with no reference names any
    // DANE-TA match would fail the name check, which the caller documents.
    const std::string base =
        reference_names.empty() ? std::string("daneroll.invalid") : reference_names.front();
    if (SSL_dane_enable(ssl, base.c_str()) <= 0) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot enable DANE for " + base));
    }
    for (std::size_t i = 1; i < reference_names.size(); ++i) {
        if (SSL_add1_host(ssl, reference_names[i].c_str()) != 1) {
            fail(ErrorKind::Crypto,
                 ossl::error_message("cannot add reference name " + reference_names[i]));
        }
    }
    // RFC 7672 §3.2.1: DANE-EE(3) ignores names (and expiry).
    SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);

    std::size_t usable = 0;
    for (const auto& r : records) {
        if (r.usage == tlsa::kPkixTa || r.usage == tlsa::kPkixEe) {
            notes.push_back("ignored " + r.short_string() + ": usage " + usage_name(r.usage) +
                            " is unusable for SMTP (RFC 7672 section 3.1.3)");
            continue;
        }
        const int rc = SSL_dane_tlsa_add(ssl, r.usage, r.selector, r.matching_type, r.data.data(),
                                         r.data.size());
        if (rc > 0) {
            ++usable;
        } else if (rc == 0) {
            notes.push_back("ignored " + r.short_string() + ": unusable (" +
                            ossl::error_message("unsupported parameters or malformed data") + ")");
        } else {
            fail(ErrorKind::Crypto,
                 ossl::error_message("OpenSSL failed to load TLSA record " + r.short_string()));
        }
    }
    ERR_clear_error();
    return usable;
}

DaneVerdict read_dane_verdict(SSL* ssl, const std::vector<TlsaRecord>& records, std::size_t usable,
                              std::vector<std::string> notes) {
    DaneVerdict v;
    v.notes = std::move(notes);
    if (usable == 0) {
        v.reason = "no usable TLSA records, so DANE is not in effect";
        return v;
    }
    const long result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK) {
        v.reason = X509_verify_cert_error_string(result);
        return v;
    }
    std::uint8_t u = 0;
    std::uint8_t s = 0;
    std::uint8_t m = 0;
    const unsigned char* data = nullptr;
    std::size_t len = 0;
    v.match_depth = SSL_get0_dane_tlsa(ssl, &u, &s, &m, &data, &len);
    if (v.match_depth < 0) {
        v.reason = "verification passed but no TLSA record matched";
        return v;
    }
    const Bytes matched(data, data + len);
    for (std::size_t i = 0; i < records.size(); ++i) {
        const auto& r = records[i];
        if (r.usage == u && r.selector == s && r.matching_type == m && r.data == matched) {
            v.matched_record = i;
            break;
        }
    }
    v.verified = true;
    return v;
}

DaneVerdict verify_chain_offline(const std::vector<Certificate>& chain,
                                 const std::vector<TlsaRecord>& records,
                                 const OfflineMatchOptions& options) {
    if (chain.empty()) {
        fail(ErrorKind::Input, "the chain is empty");
    }
    // One context for every offline check: creating an SSL_CTX costs far more
    // than the check itself, and SSL_new from a shared context is
    // thread-safe. Its certificate store stays empty: DANE is the only trust.
    static const ossl::SslCtxPtr shared = make_dane_client_context();
    SSL_CTX* ctx = shared.get();
    ossl::SslPtr ssl(SSL_new(ctx));
    if (!ssl) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot create a TLS object"));
    }
    std::vector<std::string> notes;
    if (options.reference_names.empty() &&
        std::any_of(records.begin(), records.end(),
                    [](const TlsaRecord& r) { return r.usage == tlsa::kDaneTa; })) {
        notes.emplace_back(
            "no reference name given: a DANE-TA (2 x x) match also needs the "
            "leaf to carry the MX host name; pass it to check");
    }
    // Without names, let DANE-TA check the leaf's own first name so that the
    // rest of the DANE-TA logic (TA in chain, signatures) is still exercised.
    std::vector<std::string> names = options.reference_names;
    if (names.empty()) {
        const auto leaf_names = chain.front().dns_names();
        if (!leaf_names.empty()) {
            names.push_back(leaf_names.front());
        }
    }
    const std::size_t usable = configure_dane(ssl.get(), records, names, notes);
    if (usable == 0) {
        return read_dane_verdict(ssl.get(), records, usable, std::move(notes));
    }

    ossl::X509StackPtr untrusted(sk_X509_new_null());
    if (!untrusted) {
        fail(ErrorKind::Crypto, ossl::error_message("out of memory"));
    }
    for (std::size_t i = 1; i < chain.size(); ++i) {
        if (X509_up_ref(chain[i].get()) != 1 ||
            sk_X509_push(untrusted.get(), chain[i].get()) == 0) {
            fail(ErrorKind::Crypto, ossl::error_message("out of memory"));
        }
    }
    ossl::X509StoreCtxPtr sctx(X509_STORE_CTX_new());
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    if (!sctx ||
        X509_STORE_CTX_init(sctx.get(), store, chain.front().get(), untrusted.get()) != 1 ||
        X509_STORE_CTX_set_ex_data(sctx.get(), SSL_get_ex_data_X509_STORE_CTX_idx(), ssl.get()) !=
            1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot set up chain verification"));
    }
    // The same steps libssl takes when a client verifies a server's chain
    // (ssl_verify_cert_chain), minus the socket.
    X509_STORE_CTX_set_default(sctx.get(), "ssl_server");
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(sctx.get());
    X509_VERIFY_PARAM_set1(param, SSL_get0_param(ssl.get()));
    if (options.at) {
        X509_VERIFY_PARAM_set_time(param, std::chrono::system_clock::to_time_t(*options.at));
    }
    X509_STORE_CTX_set0_dane(sctx.get(), SSL_get0_dane(ssl.get()));
    const int ok = X509_verify_cert(sctx.get());
    const int err = X509_STORE_CTX_get_error(sctx.get());
    SSL_set_verify_result(ssl.get(),
                          ok == 1 ? X509_V_OK : (err == X509_V_OK ? X509_V_ERR_UNSPECIFIED : err));
    ERR_clear_error();
    return read_dane_verdict(ssl.get(), records, usable, std::move(notes));
}

}  // namespace daneroll
