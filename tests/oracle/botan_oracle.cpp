#include "botan_oracle.hpp"

#include <botan/auto_rng.h>
#include <botan/data_src.h>
#include <botan/hash.h>
#include <botan/pkcs8.h>
#include <botan/x509_key.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace daneroll::oracle {

namespace {

std::mutex& counts_mutex() {
    static std::mutex mu;
    return mu;
}

std::map<std::string, std::size_t>& counts() {
    static std::map<std::string, std::size_t> c;
    return c;
}

std::size_t count_occurrences(std::string_view text, std::string_view needle) {
    std::size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string_view::npos;
         pos = text.find(needle, pos + needle.size())) {
        ++n;
    }
    return n;
}

}  // namespace

std::vector<Botan::X509_Certificate> parse_pem_certificates(std::string_view pem) {
    // Botan reads one PEM block per constructor call from a shared source;
    // counting the BEGIN lines tells how many calls to make, so a truncated
    // block surfaces as Botan's decoding error instead of being skipped.
    const std::size_t blocks = count_occurrences(pem, "-----BEGIN CERTIFICATE-----");
    Botan::DataSource_Memory source{std::string(pem)};
    std::vector<Botan::X509_Certificate> out;
    for (std::size_t i = 0; i < blocks; ++i) {
        out.emplace_back(source);
    }
    return out;
}

Botan::X509_Certificate parse_der_certificate(ByteView der) {
    return Botan::X509_Certificate(der.data(), der.size());
}

Botan::PKCS10_Request parse_pem_csr(std::string_view pem) {
    Botan::DataSource_Memory source{std::string(pem)};
    return Botan::PKCS10_Request(source);
}

BotanBytes match(const BotanBytes& selected, std::uint8_t matching_type) {
    if (matching_type == 0) {
        return selected;
    }
    const char* name = nullptr;
    if (matching_type == 1) {
        name = "SHA-256";
    } else if (matching_type == 2) {
        name = "SHA-512";
    } else {
        throw std::invalid_argument("no such TLSA matching type");
    }
    const auto hash = Botan::HashFunction::create_or_throw(name);
    hash->update(selected);
    const auto digest = hash->final();
    return {digest.begin(), digest.end()};
}

BotanBytes tlsa_data(const Botan::X509_Certificate& cert, std::uint8_t selector,
                     std::uint8_t matching_type) {
    if (selector == 0) {
        return match(cert.BER_encode(), matching_type);
    }
    if (selector == 1) {
        return match(cert.subject_public_key_info(), matching_type);
    }
    throw std::invalid_argument("no such TLSA selector");
}

std::unique_ptr<Botan::Private_Key> load_private_key(std::string_view pem) {
    Botan::DataSource_Memory source{std::string(pem)};
    return Botan::PKCS8::load_key(source);
}

BotanBytes spki_of(const Botan::Public_Key& key) {
    return Botan::X509::BER_encode(key);
}

bool key_is_consistent(const Botan::Private_Key& key) {
    Botan::AutoSeeded_RNG rng;
    return key.check_key(rng, true);
}

std::vector<std::string> dns_names(const Botan::AlternativeName& san) {
    auto names = san.get_attribute("DNS");
    std::sort(names.begin(), names.end());
    return names;
}

void count_comparison(const std::string& kind) {
    const std::lock_guard lock(counts_mutex());
    ++counts()[kind];
}

std::map<std::string, std::size_t> comparison_counts() {
    const std::lock_guard lock(counts_mutex());
    return counts();
}

}  // namespace daneroll::oracle
