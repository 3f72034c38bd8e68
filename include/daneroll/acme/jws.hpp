// JSON Web Signatures as ACME uses them (RFC 8555 6.2, RFC 7515, RFC 7518):
// the account key's JWK and its RFC 7638 thumbprint, flattened JWS objects
// signed ES256/ES384 (raw r||s) or RS256, and the HS256 External Account
// Binding. Nothing here is ever logged: a JWS proves possession of the
// account key for one nonce, and the EAB key is a secret.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "daneroll/common/bytes.hpp"
#include "daneroll/crypto/key.hpp"

namespace daneroll::acme {

// The public JWK of a key in the canonical form of RFC 7638 3: required
// members only, sorted, no whitespace. EC P-256/P-384 and RSA keys; others
// throw Error(Input).
std::string jwk_json(const EVP_PKEY* key);
// base64url(SHA-256(jwk_json)): the thumbprint in key authorizations.
std::string jwk_thumbprint(const EVP_PKEY* key);

// The ACME account key: ECDSA P-256 (ES256, the default), P-384 (ES384) or
// RSA of 2048 bits or more (RS256).
class AccountKey {
  public:
    explicit AccountKey(PrivateKey key);

    [[nodiscard]] const std::string& alg() const { return alg_; }  // "ES256", "RS256", ...
    [[nodiscard]] const std::string& jwk() const { return jwk_; }  // canonical JSON
    [[nodiscard]] const std::string& thumbprint() const { return thumbprint_; }
    [[nodiscard]] const PrivateKey& key() const { return key_; }

    // The JWS signature of `signing_input` (RFC 7518 3.1): for ECDSA the
    // fixed-width big-endian r||s, not OpenSSL's DER.
    [[nodiscard]] Bytes sign(std::string_view signing_input) const;

  private:
    PrivateKey key_;
    std::string alg_;
    std::string jwk_;
    std::string thumbprint_;
};

// A flattened JWS JSON object ({"protected","payload","signature"}) for a
// request to `url`. With `kid` set the protected header names the account
// URL, else it carries the JWK (newAccount, and revocation by cert key).
// `payload` is the JSON text, or "" for POST-as-GET (RFC 8555 6.3).
std::string sign_request(const AccountKey& key, const std::string& url, const std::string& nonce,
                         const std::optional<std::string>& kid, std::string_view payload);

// The externalAccountBinding member of a newAccount payload (RFC 8555
// 7.3.4): a JWS over the account's JWK, HS256 with the CA-issued MAC key.
std::string external_account_binding(const AccountKey& key, const std::string& eab_kid,
                                     ByteView hmac_key, const std::string& new_account_url);

// The ECDSA signature conversions of RFC 7518 3.4, exposed for tests.
Bytes ecdsa_der_to_raw(ByteView der, std::size_t coordinate_size);
Bytes ecdsa_raw_to_der(ByteView raw);

// Unpadded base64url (RFC 4648 5), as in JOSE and ACME; nullopt if invalid.
// Padding and whitespace are tolerated, so a key pasted from a CA's web page
// decodes.
std::optional<Bytes> base64url_decode(std::string_view text);

}  // namespace daneroll::acme
