#include "daneroll/crypto/certificate.hpp"

#include <openssl/asn1.h>
#include <openssl/pem.h>

#include <ctime>

#include "daneroll/common/error.hpp"

namespace daneroll {

namespace {

std::string name_to_string(const X509_NAME* name) {
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) {
        ossl::drain_errors();
        return "(unprintable name)";
    }
    return ossl::bio_contents(bio.get());
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
    struct tm tm {};
    if (ASN1_TIME_to_tm(t, &tm) != 1) {
        fail(ErrorKind::Input, "certificate has an unreadable validity time");
    }
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

Certificate::Certificate(ossl::X509Ptr cert) : cert_(std::move(cert)) {
    if (!cert_) {
        fail(ErrorKind::Internal, "Certificate constructed from a null X509");
    }
}

Certificate::Certificate(const Certificate& other) : cert_(X509_dup(other.cert_.get())) {
    if (!cert_) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot copy a certificate"));
    }
}

Certificate& Certificate::operator=(const Certificate& other) {
    if (this != &other) {
        Certificate copy(other);
        *this = std::move(copy);
    }
    return *this;
}

Bytes Certificate::der() const {
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert_.get(), &der);
    return ossl::take_der(der, len, "the certificate");
}

Bytes Certificate::spki_der() const {
    // The SPKI exactly as encoded inside the certificate: that is what a
    // verifier hashes, and re-encoding could in principle differ.
    unsigned char* der = nullptr;
    const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert_.get()), &der);
    return ossl::take_der(der, len, "the certificate's public key");
}

std::string Certificate::to_pem() const {
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), cert_.get()) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot encode the certificate as PEM"));
    }
    return ossl::bio_contents(bio.get());
}

std::string Certificate::subject() const {
    return name_to_string(X509_get_subject_name(cert_.get()));
}

std::string Certificate::issuer() const {
    return name_to_string(X509_get_issuer_name(cert_.get()));
}

std::chrono::system_clock::time_point Certificate::not_before() const {
    return to_time_point(X509_get0_notBefore(cert_.get()));
}

std::chrono::system_clock::time_point Certificate::not_after() const {
    return to_time_point(X509_get0_notAfter(cert_.get()));
}

std::vector<std::string> Certificate::dns_names() const {
    ossl::GeneralNamesPtr sans(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert_.get(), NID_subject_alt_name, nullptr, nullptr)));
    if (sans) {
        return ossl::dns_names_of(sans.get());
    }
    std::vector<std::string> names;
    const X509_NAME* subject = X509_get_subject_name(cert_.get());
    const int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (idx >= 0) {
        const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
        names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                           static_cast<std::size_t>(ASN1_STRING_length(cn)));
    }
    return names;
}

std::string Certificate::key_description() const {
    return describe_key(X509_get0_pubkey(cert_.get()));
}

bool Certificate::is_self_signed() const {
    return X509_self_signed(cert_.get(), 1) == 1;
}

bool Certificate::is_ca() const {
    // X509_get_extension_flags caches the parsed extensions (EXFLAG_*).
    const uint32_t flags = X509_get_extension_flags(cert_.get());
    if ((flags & EXFLAG_CA) == 0) {
        return false;
    }
    if ((flags & EXFLAG_KUSAGE) != 0) {
        return (X509_get_key_usage(cert_.get()) & KU_KEY_CERT_SIGN) != 0;
    }
    return !is_self_signed();
}

bool Certificate::issued_by(const Certificate& issuer) const {
    return X509_check_issued(issuer.cert_.get(), cert_.get()) == X509_V_OK;
}

bool Certificate::matches_key(const PrivateKey& key) const {
    const bool ok = X509_check_private_key(cert_.get(), key.get()) == 1;
    ossl::drain_errors();
    return ok;
}

std::vector<Certificate> parse_certificates(std::string_view data, const std::string& source) {
    std::vector<Certificate> out;
    if (data.find("-----BEGIN") != std::string_view::npos) {
        auto bio = ossl::memory_bio(data.data(), data.size());
        // Walk every PEM block: keep certificates, skip keys and other blocks
        // (a combined key+chain file, as Postfix reads, is valid input).
        for (int block = 1;; ++block) {
            char* name = nullptr;
            char* header = nullptr;
            unsigned char* body = nullptr;
            long len = 0;
            if (PEM_read_bio(bio.get(), &name, &header, &body, &len) != 1) {
                ossl::drain_errors();  // end of input is reported as an error
                break;
            }
            const std::string type = name;
            OPENSSL_free(name);
            OPENSSL_free(header);
            if (type == "CERTIFICATE" || type == "TRUSTED CERTIFICATE" ||
                type == "X509 CERTIFICATE") {
                const unsigned char* p = body;
                X509* x = type == "TRUSTED CERTIFICATE" ? d2i_X509_AUX(nullptr, &p, len)
                                                        : d2i_X509(nullptr, &p, len);
                if (x == nullptr) {
                    OPENSSL_free(body);
                    fail(ErrorKind::Input,
                         ossl::error_message(source + ": PEM block " + std::to_string(block) +
                                             " is not a valid certificate"));
                }
                out.emplace_back(ossl::X509Ptr(x));
            }
            // Key blocks are cleansed: they may be secret.
            OPENSSL_clear_free(body, static_cast<std::size_t>(len));
        }
        // A damaged block (bad base64, missing END line) makes PEM_read_bio
        // stop early; catch it by counting BEGIN lines.
        std::size_t begins = 0;
        for (std::size_t pos = data.find("-----BEGIN CERTIFICATE-----");
             pos != std::string_view::npos;
             pos = data.find("-----BEGIN CERTIFICATE-----", pos + 1)) {
            ++begins;
        }
        if (out.size() < begins) {
            fail(ErrorKind::Input, source + ": certificate " + std::to_string(out.size() + 1) +
                                       " of " + std::to_string(begins) +
                                       " is truncated or damaged (check the PEM base64 and the "
                                       "END line)");
        }
    } else if (!data.empty()) {
        const auto* p = reinterpret_cast<const unsigned char*>(data.data());
        X509* x = d2i_X509(nullptr, &p, static_cast<long>(data.size()));
        if (x == nullptr) {
            fail(ErrorKind::Input,
                 ossl::error_message(source + ": not a certificate (neither PEM nor DER)"));
        }
        out.emplace_back(ossl::X509Ptr(x));
    }
    if (out.empty()) {
        fail(ErrorKind::Input, source + ": contains no certificate");
    }
    return out;
}

std::vector<Certificate> load_certificates(const std::filesystem::path& path) {
    return parse_certificates(read_file(path), path.string());
}

std::string chain_to_pem(const std::vector<Certificate>& chain) {
    std::string out;
    for (const auto& c : chain) {
        out += c.to_pem();
    }
    return out;
}

void require_ordered_chain(const std::vector<Certificate>& chain, const std::string& source) {
    for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
        if (!chain[i].issued_by(chain[i + 1])) {
            fail(ErrorKind::Input, source + ": certificate " + std::to_string(i + 2) + " (" +
                                       chain[i + 1].subject() + ") did not issue certificate " +
                                       std::to_string(i + 1) + " (" + chain[i].subject() +
                                       "); a chain must be ordered leaf first");
        }
    }
}

}  // namespace daneroll
