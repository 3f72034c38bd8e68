#include "daneroll/acme/jws.hpp"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "daneroll/common/base64.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/crypto/digest.hpp"

namespace daneroll::acme {

namespace {

using EcdsaSigPtr = CHandle<ECDSA_SIG, ECDSA_SIG_free>;

Bytes bn_param(const EVP_PKEY* key, const char* name, std::size_t width) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message(std::string("cannot read ") + name));
    }
    const ossl::BignumPtr bn(raw);
    const int bytes = BN_num_bytes(bn.get());
    const std::size_t n = width != 0 ? width : static_cast<std::size_t>(bytes);
    Bytes out(n == 0 ? 1 : n);
    if (BN_bn2binpad(bn.get(), out.data(), static_cast<int>(out.size())) < 0) {
        fail(ErrorKind::Crypto, std::string("cannot encode ") + name);
    }
    return out;
}

std::string curve_of(const EVP_PKEY* key) {
    char name[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) !=
        1) {
        return "";
    }
    return std::string(name, len);
}

// Coordinate size in bytes of a supported curve, 0 for others.
std::size_t coordinate_size(const std::string& curve) {
    if (curve == "prime256v1" || curve == "P-256") {
        return 32;
    }
    if (curve == "secp384r1" || curve == "P-384") {
        return 48;
    }
    return 0;
}

std::string b64u(std::string_view s) {
    return base64url_encode(as_bytes(s));
}

}  // namespace

std::string jwk_json(const EVP_PKEY* key) {
    const int id = EVP_PKEY_get_base_id(key);
    if (id == EVP_PKEY_EC) {
        const std::string curve = curve_of(key);
        const std::size_t width = coordinate_size(curve);
        if (width == 0) {
            fail(ErrorKind::Input, "ACME account keys on curve " + curve +
                                       " are not supported; use ECDSA P-256 or P-384, or RSA");
        }
        // Members in lexicographic order, no whitespace (RFC 7638 3.2-3.3);
        // built by hand because the thumbprint hashes these exact bytes.
        return std::string("{\"crv\":\"") + (width == 32 ? "P-256" : "P-384") +
               "\",\"kty\":\"EC\",\"x\":\"" +
               base64url_encode(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, width)) + "\",\"y\":\"" +
               base64url_encode(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, width)) + "\"}";
    }
    if (id == EVP_PKEY_RSA) {
        // Minimal big-endian octets, no leading zero (RFC 7518 6.3.1).
        return "{\"e\":\"" + base64url_encode(bn_param(key, OSSL_PKEY_PARAM_RSA_E, 0)) +
               "\",\"kty\":\"RSA\",\"n\":\"" +
               base64url_encode(bn_param(key, OSSL_PKEY_PARAM_RSA_N, 0)) + "\"}";
    }
    fail(ErrorKind::Input,
         "ACME account keys must be ECDSA P-256/P-384 or RSA, not " + describe_key(key));
}

std::string jwk_thumbprint(const EVP_PKEY* key) {
    return base64url_encode(sha256(as_bytes(jwk_json(key))));
}

AccountKey::AccountKey(PrivateKey key) : key_(std::move(key)) {
    const EVP_PKEY* k = key_.get();
    jwk_ = jwk_json(k);
    thumbprint_ = base64url_encode(sha256(as_bytes(jwk_)));
    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
        alg_ = coordinate_size(curve_of(k)) == 32 ? "ES256" : "ES384";
    } else {
        if (EVP_PKEY_get_bits(k) < 2048) {
            fail(ErrorKind::Input, "an RSA account key needs at least 2048 bits");
        }
        alg_ = "RS256";
    }
}

Bytes AccountKey::sign(std::string_view signing_input) const {
    const EVP_MD* md = alg_ == "ES384" ? EVP_sha384() : EVP_sha256();
    const ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key_.get()) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot start a JWS signature"));
    }
    const auto* data = reinterpret_cast<const unsigned char*>(signing_input.data());
    std::size_t len = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &len, data, signing_input.size()) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot size a JWS signature"));
    }
    Bytes sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, data, signing_input.size()) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot sign a JWS"));
    }
    sig.resize(len);
    if (alg_ == "RS256") {
        return sig;
    }
    return ecdsa_der_to_raw(sig, alg_ == "ES256" ? 32 : 48);
}

Bytes ecdsa_der_to_raw(ByteView der, std::size_t coordinate_size) {
    const unsigned char* p = der.data();
    const EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    if (!sig) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot parse an ECDSA signature"));
    }
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(sig.get(), &r, &s);
    Bytes out(2 * coordinate_size);
    const int w = static_cast<int>(coordinate_size);
    if (BN_bn2binpad(r, out.data(), w) != w || BN_bn2binpad(s, out.data() + w, w) != w) {
        fail(ErrorKind::Crypto, "an ECDSA signature value does not fit its curve");
    }
    return out;
}

Bytes ecdsa_raw_to_der(ByteView raw) {
    if (raw.empty() || raw.size() % 2 != 0) {
        fail(ErrorKind::Input, "a raw ECDSA signature must be r||s of equal halves");
    }
    const int half = static_cast<int>(raw.size() / 2);
    ossl::BignumPtr r(BN_bin2bn(raw.data(), half, nullptr));
    ossl::BignumPtr s(BN_bin2bn(raw.data() + half, half, nullptr));
    EcdsaSigPtr sig(ECDSA_SIG_new());
    if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
        fail(ErrorKind::Crypto, "cannot build an ECDSA signature");
    }
    static_cast<void>(r.release());  // owned by sig now
    static_cast<void>(s.release());
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(sig.get(), &der);
    return ossl::take_der(der, len, "an ECDSA signature");
}

std::string sign_request(const AccountKey& key, const std::string& url, const std::string& nonce,
                         const std::optional<std::string>& kid, std::string_view payload) {
    nlohmann::json header{{"alg", key.alg()}, {"nonce", nonce}, {"url", url}};
    if (kid) {
        header["kid"] = *kid;
    } else {
        header["jwk"] = nlohmann::json::parse(key.jwk());
    }
    const std::string protected_b64 = b64u(header.dump());
    // POST-as-GET signs an empty payload, which base64url keeps empty.
    const std::string payload_b64 = b64u(payload);
    const Bytes sig = key.sign(protected_b64 + "." + payload_b64);
    return nlohmann::json{{"protected", protected_b64},
                          {"payload", payload_b64},
                          {"signature", base64url_encode(sig)}}
        .dump();
}

std::string external_account_binding(const AccountKey& key, const std::string& eab_kid,
                                     ByteView hmac_key, const std::string& new_account_url) {
    if (hmac_key.empty()) {
        fail(ErrorKind::Config, "the external account binding's HMAC key is empty");
    }
    const nlohmann::json header{{"alg", "HS256"}, {"kid", eab_kid}, {"url", new_account_url}};
    const std::string protected_b64 = b64u(header.dump());
    const std::string payload_b64 = b64u(key.jwk());
    const std::string input = protected_b64 + "." + payload_b64;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (HMAC(EVP_sha256(), hmac_key.data(), static_cast<int>(hmac_key.size()),
             reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
             &mac_len) == nullptr) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot compute the EAB HMAC"));
    }
    return nlohmann::json{{"protected", protected_b64},
                          {"payload", payload_b64},
                          {"signature", base64url_encode(ByteView(mac, mac_len))}}
        .dump();
}

std::optional<Bytes> base64url_decode(std::string_view text) {
    std::string b64;
    b64.reserve(text.size() + 3);
    for (const char c : text) {
        if (c == '-') {
            b64.push_back('+');
        } else if (c == '_') {
            b64.push_back('/');
        } else if (c == '=' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            continue;
        } else {
            b64.push_back(c);
        }
    }
    if (b64.empty()) {
        return Bytes{};
    }
    if (b64.size() % 4 == 1) {
        return std::nullopt;
    }
    while (b64.size() % 4 != 0) {
        b64.push_back('=');
    }
    return base64_decode(b64);
}

}  // namespace daneroll::acme
