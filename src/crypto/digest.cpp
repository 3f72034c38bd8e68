#include "daneroll/crypto/digest.hpp"

#include <openssl/evp.h>

#include "daneroll/common/error.hpp"
#include "daneroll/crypto/openssl_handles.hpp"

namespace daneroll {

namespace {

Bytes digest(ByteView data, const EVP_MD* md, const char* name) {
    Bytes out(static_cast<std::size_t>(EVP_MD_get_size(md)));
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message(std::string("cannot compute ") + name));
    }
    out.resize(len);
    return out;
}

}  // namespace

Bytes sha256(ByteView data) {
    return digest(data, EVP_sha256(), "SHA-256");
}

Bytes sha512(ByteView data) {
    return digest(data, EVP_sha512(), "SHA-512");
}

}  // namespace daneroll
