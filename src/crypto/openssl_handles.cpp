#include "daneroll/crypto/openssl_handles.hpp"

#include <openssl/err.h>

#include <array>
#include <limits>

#include "daneroll/common/error.hpp"

namespace daneroll::ossl {

BioPtr memory_bio(const void* data, std::size_t size) {
    if (size > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
        fail(ErrorKind::Input, "input too large for OpenSSL");
    }
    BioPtr bio(BIO_new_mem_buf(data, static_cast<int>(size)));
    if (!bio) {
        fail(ErrorKind::Crypto, error_message("cannot allocate a memory BIO"));
    }
    return bio;
}

std::vector<std::uint8_t> take_der(unsigned char* der, int len, const std::string& what) {
    if (len <= 0 || der == nullptr) {
        OPENSSL_free(der);
        fail(ErrorKind::Crypto, error_message("cannot encode " + what));
    }
    std::vector<std::uint8_t> out(der, der + len);
    OPENSSL_free(der);
    return out;
}

std::string bio_contents(BIO* bio) {
    char* mem = nullptr;
    const long len = BIO_get_mem_data(bio, &mem);
    return {mem, static_cast<std::size_t>(len)};
}

std::vector<std::string> dns_names_of(const GENERAL_NAMES* names) {
    std::vector<std::string> out;
    for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type == GEN_DNS) {
            const ASN1_IA5STRING* s = gn->d.dNSName;
            out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                             static_cast<std::size_t>(ASN1_STRING_length(s)));
        }
    }
    return out;
}

std::string drain_errors() {
    std::string out;
    unsigned long code = 0;
    std::array<char, 256> buf{};
    while ((code = ERR_get_error()) != 0) {
        ERR_error_string_n(code, buf.data(), buf.size());
        if (!out.empty()) {
            out += "; ";
        }
        // Keep only the reason text: "error:0A000086:SSL routines::certificate
        // verify failed" -> "certificate verify failed".
        const char* reason = ERR_reason_error_string(code);
        out += reason != nullptr ? reason : buf.data();
    }
    return out;
}

std::string error_message(const std::string& what) {
    const std::string reason = drain_errors();
    return reason.empty() ? what : what + ": " + reason;
}

}  // namespace daneroll::ossl
