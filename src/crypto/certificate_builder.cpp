#include "daneroll/crypto/certificate_builder.hpp"

#include <openssl/rand.h>

#include <array>

#include "daneroll/common/error.hpp"

namespace daneroll {

namespace {

void add_extension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
    ossl::X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot add certificate extension " +
                                                    std::string(OBJ_nid2sn(nid)) + "=" + value));
    }
}

void set_time(ASN1_TIME* field, std::chrono::system_clock::time_point t) {
    if (ASN1_TIME_set(field, std::chrono::system_clock::to_time_t(t)) == nullptr) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot set a certificate time"));
    }
}

void set_random_serial(X509* cert) {
    std::array<unsigned char, 16> raw{};
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("no randomness for a serial number"));
    }
    raw[0] &= 0x7FU;  // keep it positive
    raw[0] |= 0x01U;  // and of full length
    ossl::BignumPtr bn(BN_bin2bn(raw.data(), static_cast<int>(raw.size()), nullptr));
    if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot set the serial number"));
    }
}

}  // namespace

Certificate issue_certificate(const CertificateSpec& spec, const EVP_PKEY* subject_key,
                              const PrivateKey& signer_key, const Certificate* issuer) {
    ossl::X509Ptr cert(X509_new());
    if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot create a certificate"));
    }
    set_random_serial(cert.get());
    set_time(X509_getm_notBefore(cert.get()), spec.not_before);
    set_time(X509_getm_notAfter(cert.get()), spec.not_after);
    if (X509_set_pubkey(cert.get(), const_cast<EVP_PKEY*>(subject_key)) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot set the certificate's public key"));
    }
    X509_NAME* subject = X509_get_subject_name(cert.get());
    if (!spec.common_name.empty() &&
        X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                                   -1, -1, 0) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot set the subject name"));
    }
    const X509_NAME* issuer_name =
        issuer != nullptr ? X509_get_subject_name(issuer->get()) : subject;
    if (X509_set_issuer_name(cert.get(), issuer_name) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot set the issuer name"));
    }

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer != nullptr ? issuer->get() : cert.get(), cert.get(), nullptr,
                   nullptr, 0);
    if (spec.is_ca) {
        add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
        const bool rsa = EVP_PKEY_get_base_id(subject_key) == EVP_PKEY_RSA;
        add_extension(
            cert.get(), &ctx, NID_key_usage,
            rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature");
        add_extension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
    }
    add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
    if (issuer != nullptr) {
        add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
    }
    if (!spec.dns_names.empty()) {
        std::string san;
        for (const auto& n : spec.dns_names) {
            san += (san.empty() ? "DNS:" : ",DNS:") + n;
        }
        add_extension(cert.get(), &ctx, NID_subject_alt_name, san);
    }
    const EVP_MD* md =
        EVP_PKEY_get_base_id(signer_key.get()) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
    if (X509_sign(cert.get(), signer_key.get(), md) <= 0) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot sign the certificate"));
    }
    return Certificate(std::move(cert));
}

Certificate make_self_signed(const PrivateKey& key, const std::vector<std::string>& dns_names,
                             int days, std::chrono::system_clock::time_point now) {
    CertificateSpec spec;
    spec.common_name = dns_names.empty() ? std::string("daneroll") : dns_names.front();
    spec.dns_names = dns_names;
    spec.not_before = now - std::chrono::hours(1);
    spec.not_after = now + std::chrono::hours(24) * days;
    return issue_certificate(spec, key.get(), key, nullptr);
}

}  // namespace daneroll
