#include "daneroll/crypto/key.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include <array>
#include <cstring>

#include "daneroll/common/error.hpp"

namespace daneroll {

namespace {

struct AlgorithmInfo {
    KeyAlgorithm alg;
    std::string_view name;
};

constexpr std::array<AlgorithmInfo, 6> kAlgorithms{{
    {KeyAlgorithm::Rsa2048, "rsa2048"},
    {KeyAlgorithm::Rsa3072, "rsa3072"},
    {KeyAlgorithm::Rsa4096, "rsa4096"},
    {KeyAlgorithm::EcdsaP256, "ecdsa-p256"},
    {KeyAlgorithm::EcdsaP384, "ecdsa-p384"},
    {KeyAlgorithm::Ed25519, "ed25519"},
}};

constexpr std::array<KeyAlgorithm, 5> kMtaAlgorithms{KeyAlgorithm::Rsa2048, KeyAlgorithm::Rsa3072,
                                                     KeyAlgorithm::Rsa4096, KeyAlgorithm::EcdsaP256,
                                                     KeyAlgorithm::EcdsaP384};

std::string ec_group_name(const EVP_PKEY* key) {
    std::array<char, 64> name{};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name.data(), name.size(),
                                       &len) != 1) {
        ossl::drain_errors();
        return "";
    }
    return {name.data(), len};
}

ossl::EvpPkeyPtr generate_raw(KeyAlgorithm alg) {
    EVP_PKEY* k = nullptr;
    switch (alg) {
        // The size_t casts matter: EVP_PKEY_Q_keygen is variadic.
        case KeyAlgorithm::Rsa2048:
            k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
            break;
        case KeyAlgorithm::Rsa3072:
            k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(3072));
            break;
        case KeyAlgorithm::Rsa4096:
            k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(4096));
            break;
        case KeyAlgorithm::EcdsaP256:
            k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
            break;
        case KeyAlgorithm::EcdsaP384:
            k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
            break;
        case KeyAlgorithm::Ed25519:
            k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
            break;
    }
    if (k == nullptr) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot generate a " +
                                                    std::string(key_algorithm_name(alg)) + " key"));
    }
    return ossl::EvpPkeyPtr(k);
}

}  // namespace

std::string_view key_algorithm_name(KeyAlgorithm alg) {
    for (const auto& info : kAlgorithms) {
        if (info.alg == alg) {
            return info.name;
        }
    }
    return "unknown";
}

std::optional<KeyAlgorithm> parse_key_algorithm(std::string_view name) {
    for (const auto& info : kAlgorithms) {
        if (info.name == name) {
            return info.alg;
        }
    }
    return std::nullopt;
}

std::span<const KeyAlgorithm> mta_key_algorithms() {
    return kMtaAlgorithms;
}

bool is_rsa(KeyAlgorithm alg) {
    return alg == KeyAlgorithm::Rsa2048 || alg == KeyAlgorithm::Rsa3072 ||
           alg == KeyAlgorithm::Rsa4096;
}

PrivateKey::PrivateKey(ossl::EvpPkeyPtr key) : key_(std::move(key)) {
    if (!key_) {
        fail(ErrorKind::Internal, "PrivateKey constructed from a null key");
    }
}

PrivateKey::PrivateKey(const PrivateKey& other) : key_(other.key_.get()) {
    EVP_PKEY_up_ref(key_.get());
}

PrivateKey& PrivateKey::operator=(const PrivateKey& other) {
    if (this != &other) {
        EVP_PKEY_up_ref(other.key_.get());
        key_.reset(other.key_.get());
    }
    return *this;
}

PrivateKey PrivateKey::generate(KeyAlgorithm alg) {
    return PrivateKey(generate_raw(alg));
}

PrivateKey PrivateKey::parse(std::string_view data, const std::string& source) {
    if (data.find("-----BEGIN") != std::string_view::npos) {
        if (data.find("ENCRYPTED PRIVATE KEY") != std::string_view::npos ||
            data.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos) {
            fail(ErrorKind::Input, source +
                                       ": the private key is encrypted; daneroll needs an "
                                       "unencrypted key (the MTA reads it unattended)");
        }
        auto bio = ossl::memory_bio(data.data(), data.size());
        // A null passphrase callback with an empty string prevents OpenSSL from
        // ever prompting on the terminal.
        EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>(""));
        if (k == nullptr) {
            fail(ErrorKind::Input, ossl::error_message(source + ": not a valid PEM private key"));
        }
        return PrivateKey(ossl::EvpPkeyPtr(k));
    }
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    EVP_PKEY* k = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(data.size()));
    if (k == nullptr) {
        fail(ErrorKind::Input,
             ossl::error_message(source + ": not a private key (neither PEM nor DER)"));
    }
    return PrivateKey(ossl::EvpPkeyPtr(k));
}

PrivateKey PrivateKey::load_file(const std::filesystem::path& path) {
    std::string data = read_file(path, 1U << 20U);
    try {
        PrivateKey k = parse(data, path.string());
        OPENSSL_cleanse(data.data(), data.size());
        return k;
    } catch (...) {
        OPENSSL_cleanse(data.data(), data.size());
        throw;
    }
}

std::string PrivateKey::to_pem() const {
    ossl::BioPtr bio(BIO_new(BIO_s_secmem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr,
                                         nullptr) != 1) {
        fail(ErrorKind::Crypto, ossl::error_message("cannot encode the private key"));
    }
    return ossl::bio_contents(bio.get());
}

Bytes PrivateKey::spki_der() const {
    return spki_der_of(key_.get());
}

std::string PrivateKey::description() const {
    return describe_key(key_.get());
}

std::optional<KeyAlgorithm> PrivateKey::algorithm() const {
    return algorithm_of(key_.get());
}

void save_private_key(const PrivateKey& key, const std::filesystem::path& path,
                      Overwrite overwrite) {
    std::string pem = key.to_pem();
    try {
        write_file_atomic(path, pem, 0600, overwrite);
    } catch (...) {
        OPENSSL_cleanse(pem.data(), pem.size());
        throw;
    }
    OPENSSL_cleanse(pem.data(), pem.size());
}

Bytes spki_der_of(const EVP_PKEY* key) {
    unsigned char* der = nullptr;
    const int len = i2d_PUBKEY(key, &der);
    return ossl::take_der(der, len, "the public key");
}

std::string describe_key(const EVP_PKEY* key) {
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_RSA:
            return "RSA " + std::to_string(EVP_PKEY_get_bits(key));
        case EVP_PKEY_EC: {
            const std::string group = ec_group_name(key);
            if (group == "prime256v1" || group == "P-256") {
                return "ECDSA P-256";
            }
            if (group == "secp384r1" || group == "P-384") {
                return "ECDSA P-384";
            }
            if (group == "secp521r1" || group == "P-521") {
                return "ECDSA P-521";
            }
            return "ECDSA " + group;
        }
        case EVP_PKEY_ED25519:
            return "Ed25519";
        case EVP_PKEY_ED448:
            return "Ed448";
        default:
            return "unknown key type";
    }
}

std::optional<KeyAlgorithm> algorithm_of(const EVP_PKEY* key) {
    const std::string d = describe_key(key);
    if (d == "RSA 2048") {
        return KeyAlgorithm::Rsa2048;
    }
    if (d == "RSA 3072") {
        return KeyAlgorithm::Rsa3072;
    }
    if (d == "RSA 4096") {
        return KeyAlgorithm::Rsa4096;
    }
    if (d == "ECDSA P-256") {
        return KeyAlgorithm::EcdsaP256;
    }
    if (d == "ECDSA P-384") {
        return KeyAlgorithm::EcdsaP384;
    }
    if (d == "Ed25519") {
        return KeyAlgorithm::Ed25519;
    }
    return std::nullopt;
}

Bytes load_spki_from_key_file(const std::filesystem::path& path) {
    std::string data = read_file(path, 1U << 20U);
    const std::string source = path.string();
    const bool pem = data.find("-----BEGIN") != std::string::npos;
    const bool public_only = pem && data.find("-----BEGIN PUBLIC KEY-----") != std::string::npos &&
                             data.find("PRIVATE KEY-----") == std::string::npos;
    if (public_only) {
        auto bio = ossl::memory_bio(data.data(), data.size());
        ossl::EvpPkeyPtr k(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
        if (!k) {
            fail(ErrorKind::Input, ossl::error_message(source + ": not a valid PEM public key"));
        }
        return spki_der_of(k.get());
    }
    if (!pem) {
        // DER: try a public key first, a private key second.
        const auto* p = reinterpret_cast<const unsigned char*>(data.data());
        ossl::EvpPkeyPtr k(d2i_PUBKEY(nullptr, &p, static_cast<long>(data.size())));
        if (k && p == reinterpret_cast<const unsigned char*>(data.data()) + data.size()) {
            return spki_der_of(k.get());
        }
        ossl::drain_errors();
    }
    try {
        const PrivateKey key = PrivateKey::parse(data, source);
        OPENSSL_cleanse(data.data(), data.size());
        return key.spki_der();
    } catch (...) {
        OPENSSL_cleanse(data.data(), data.size());
        throw;
    }
}

}  // namespace daneroll
