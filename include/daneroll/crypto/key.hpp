// Private keys: generation, loading, saving (0600, atomic), and the DER
// SubjectPublicKeyInfo that TLSA selector 1 hashes.
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "daneroll/common/bytes.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/crypto/openssl_handles.hpp"

namespace daneroll {

enum class KeyAlgorithm { Rsa2048, Rsa3072, Rsa4096, EcdsaP256, EcdsaP384, Ed25519 };

// "rsa2048", "rsa3072", "rsa4096", "ecdsa-p256", "ecdsa-p384", "ed25519".
std::string_view key_algorithm_name(KeyAlgorithm alg);
std::optional<KeyAlgorithm> parse_key_algorithm(std::string_view name);
// The algorithms an MTA certificate may use (Ed25519 is not yet usable for
// SMTP server certificates in practice, so it is only for tests/CA keys).
std::span<const KeyAlgorithm> mta_key_algorithms();
// True for the RSA algorithms; RSA and ECDSA services roll independently.
bool is_rsa(KeyAlgorithm alg);

class PrivateKey {
  public:
    explicit PrivateKey(ossl::EvpPkeyPtr key);
    // Copies share the immutable key (EVP_PKEY_up_ref).
    PrivateKey(const PrivateKey& other);
    PrivateKey& operator=(const PrivateKey& other);
    PrivateKey(PrivateKey&&) noexcept = default;
    PrivateKey& operator=(PrivateKey&&) noexcept = default;
    ~PrivateKey() = default;

    static PrivateKey generate(KeyAlgorithm alg);
    // PEM (PKCS#8 or traditional) or DER; `source` names the input in errors.
    static PrivateKey parse(std::string_view data, const std::string& source);
    static PrivateKey load_file(const std::filesystem::path& path);

    // PKCS#8 PEM. This is secret material: callers must not log it.
    [[nodiscard]] std::string to_pem() const;
    [[nodiscard]] Bytes spki_der() const;
    // "ECDSA P-256", "RSA 2048", "Ed25519".
    [[nodiscard]] std::string description() const;
    [[nodiscard]] std::optional<KeyAlgorithm> algorithm() const;
    [[nodiscard]] EVP_PKEY* get() const noexcept { return key_.get(); }

  private:
    ossl::EvpPkeyPtr key_;
};

// Writes the key as PEM, mode 0600, atomically (see write_file_atomic).
void save_private_key(const PrivateKey& key, const std::filesystem::path& path,
                      Overwrite overwrite);

// DER SubjectPublicKeyInfo of any key (private or public).
Bytes spki_der_of(const EVP_PKEY* key);
// Description ("RSA 2048", ...) and algorithm of any key.
std::string describe_key(const EVP_PKEY* key);
std::optional<KeyAlgorithm> algorithm_of(const EVP_PKEY* key);

// The SPKI of a key file holding a private key or a public key, PEM or DER.
Bytes load_spki_from_key_file(const std::filesystem::path& path);

}  // namespace daneroll
