#include "daneroll/crypto/csr.hpp"

#include <openssl/pem.h>

#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"

namespace daneroll {

namespace {

void require_dns_name(const std::string& name) {
    if (name.empty() || name.size() > 253 ||
        name.find_first_of(",:= \t\r\n") != std::string::npos) {
        fail(ErrorKind::Input, "'" + name + "' is not a valid DNS name for a certificate");
    }
}

}  // namespace

CertificateRequest::CertificateRequest(ossl::X509ReqPtr req) : req_(std::move(req)) {
    if (!req_) {
        fail(ErrorKind::Internal, "CertificateRequest constructed from null");
    }
}

CertificateRequest CertificateRequest::create(const PrivateKey& key,
                                              const std::vector<std::string>& names) {
    if (names.empty()) {
        fail(ErrorKind::Input, "a certificate request needs at least one DNS name");
    }
    std::string san;
    for (const auto& n : names) {
        require_dns_name(n);
        san += (san.empty() ? "DNS:" : ",DNS:") + n;
    }
    ossl::X509ReqPtr req(X509_REQ_new());
    if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot create a CSR"));
    }
    X509_NAME* subject = X509_REQ_get_subject_name(req.get());
    if (names.front().size() <= 64 &&
        X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(names.front().c_str()),
                                   -1, -1, 0) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot set the CSR subject"));
    }
    ossl::X509ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
    ossl::X509ExtensionPtr ext(
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str()));
    if (!exts || !ext || sk_X509_EXTENSION_push(exts.get(), ext.get()) == 0) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot build the subjectAltName extension"));
    }
    ext.release();  // now owned by the stack
    if (X509_REQ_add_extensions(req.get(), exts.get()) != 1 ||
        X509_REQ_set_pubkey(req.get(), key.get()) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot fill the CSR"));
    }
    // Ed25519 signs without a separate digest; the others use SHA-256.
    const EVP_MD* md = EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
    // X509_REQ_sign returns the signature length, not 1.
    if (X509_REQ_sign(req.get(), key.get(), md) <= 0) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot sign the CSR"));
    }
    return CertificateRequest(std::move(req));
}

CertificateRequest CertificateRequest::parse(std::string_view data, const std::string& source) {
    X509_REQ* r = nullptr;
    if (data.find("-----BEGIN") != std::string_view::npos) {
        auto bio = ossl::memory_bio(data.data(), data.size());
        r = PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr);
    } else {
        const auto* p = reinterpret_cast<const unsigned char*>(data.data());
        r = d2i_X509_REQ(nullptr, &p, static_cast<long>(data.size()));
    }
    if (r == nullptr) {
        fail(ErrorKind::Input,
             ossl::error_message(source + ": not a certificate signing request (PEM or DER)"));
    }
    return CertificateRequest(ossl::X509ReqPtr(r));
}

CertificateRequest CertificateRequest::load_file(const std::filesystem::path& path) {
    return parse(read_file(path), path.string());
}

Bytes CertificateRequest::der() const {
    unsigned char* der = nullptr;
    const int len = i2d_X509_REQ(req_.get(), &der);
    return ossl::take_der(der, len, "the CSR");
}

std::string CertificateRequest::to_pem() const {
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509_REQ(bio.get(), req_.get()) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot encode the CSR as PEM"));
    }
    return ossl::bio_contents(bio.get());
}

Bytes CertificateRequest::spki_der() const {
    const EVP_PKEY* k = X509_REQ_get0_pubkey(req_.get());
    if (k == nullptr) {
        fail(ErrorKind::Input, ossl::error_message("the CSR has no readable public key"));
    }
    return spki_der_of(k);
}

std::vector<std::string> CertificateRequest::dns_names() const {
    std::vector<std::string> names;
    ossl::X509ExtensionStackPtr exts(X509_REQ_get_extensions(req_.get()));
    if (!exts) {
        return names;
    }
    ossl::GeneralNamesPtr sans(static_cast<GENERAL_NAMES*>(
        X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr)));
    return ossl::dns_names_of(sans.get());
}

bool CertificateRequest::signature_valid() const {
    EVP_PKEY* k = X509_REQ_get0_pubkey(req_.get());
    const bool ok = k != nullptr && X509_REQ_verify(req_.get(), k) == 1;
    ossl::drain_errors();
    return ok;
}

}  // namespace daneroll
