// RAII ownership for every OpenSSL handle daneroll touches: each handle
// type is a std::unique_ptr whose deleter is OpenSSL's own free function.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daneroll/common/c_handle.hpp"

namespace daneroll::ossl {

template <auto FreeFn>
using Deleter = CDeleter<FreeFn>;

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
inline void free_openssl_string(char* p) noexcept {
    OPENSSL_free(p);
}
using OpensslStringPtr = std::unique_ptr<char, Deleter<free_openssl_string>>;

inline void free_x509_stack(STACK_OF(X509) * s) noexcept {
    sk_X509_pop_free(s, X509_free);
}
using X509StackPtr = std::unique_ptr<STACK_OF(X509), Deleter<free_x509_stack>>;

inline void free_extension_stack(STACK_OF(X509_EXTENSION) * s) noexcept {
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}
using X509ExtensionStackPtr =
    std::unique_ptr<STACK_OF(X509_EXTENSION), Deleter<free_extension_stack>>;

// A memory BIO reading `data` (which must outlive the BIO).
BioPtr memory_bio(const void* data, std::size_t size);

// Takes the DER an i2d_* function allocated: copies `len` bytes, frees
// them, and throws Error(Crypto) "cannot encode <what>" if len <= 0.
std::vector<std::uint8_t> take_der(unsigned char* der, int len, const std::string& what);

// Everything written so far into a memory BIO.
std::string bio_contents(BIO* bio);

// The dNSName entries of a subjectAltName.
std::vector<std::string> dns_names_of(const GENERAL_NAMES* names);

// Drains OpenSSL's thread-local error queue into one line ("" if empty), so
// a failure message says what OpenSSL objected to and the next call starts
// clean.
std::string drain_errors();

// drain_errors() prefixed by `what`, for messages: "what: <openssl reason>".
std::string error_message(const std::string& what);

}  // namespace daneroll::ossl
