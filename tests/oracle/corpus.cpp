#include "corpus.hpp"

#include <chrono>
#include <stdexcept>

#include "daneroll/crypto/certificate_builder.hpp"

namespace daneroll::oracle {

std::string param_name(const ::testing::TestParamInfo<KeyAlgorithm>& info) {
    std::string name(key_algorithm_name(info.param));
    for (char& c : name) {
        if (c == '-') {
            c = '_';
        }
    }
    return name;
}

test::TestPki mixed_pki(const std::vector<std::pair<KeyAlgorithm, int>>& top_down,
                        const std::string& leaf_name) {
    if (top_down.empty()) {
        throw std::invalid_argument("a chain needs at least one level");
    }
    const auto now = std::chrono::system_clock::now();
    std::vector<Certificate> certs;
    std::vector<PrivateKey> keys;
    for (std::size_t level = 0; level < top_down.size(); ++level) {
        const bool leaf = level + 1 == top_down.size();
        const PrivateKey& key = test::cached_key(top_down[level].first, top_down[level].second);
        CertificateSpec spec;
        spec.is_ca = !leaf;
        spec.common_name = leaf ? leaf_name : "daneroll mixed CA " + std::to_string(level);
        if (leaf) {
            spec.dns_names = {leaf_name};
        }
        spec.not_before = now - std::chrono::hours(1);
        spec.not_after = now + std::chrono::hours(24 * 30);
        if (level == 0) {
            certs.push_back(issue_certificate(spec, key.get(), key, nullptr));
        } else {
            certs.push_back(issue_certificate(spec, key.get(), keys.back(), &certs.back()));
        }
        keys.push_back(key);
    }
    test::TestPki pki;
    pki.chain.assign(certs.rbegin(), certs.rend());
    pki.keys.assign(keys.rbegin(), keys.rend());
    return pki;
}

std::vector<std::pair<std::string, test::TestPki>> mixed_corpus() {
    // Key indices 3+ keep these keys apart from make_pki's (0-2), so a
    // record can never match because two chains happen to share a key.
    std::vector<std::pair<std::string, test::TestPki>> out;
    out.emplace_back("Ed25519 root > RSA-2048 intermediate > ECDSA P-384 leaf",
                     mixed_pki({{KeyAlgorithm::Ed25519, 3},
                                {KeyAlgorithm::Rsa2048, 3},
                                {KeyAlgorithm::EcdsaP384, 3}}));
    out.emplace_back(
        "ECDSA P-256 root > RSA-3072 leaf",
        mixed_pki({{KeyAlgorithm::EcdsaP256, 3}, {KeyAlgorithm::Rsa3072, 3}}, "smtp.example.test"));
    out.emplace_back("RSA-2048 root > ECDSA P-256 intermediate > Ed25519 leaf",
                     mixed_pki({{KeyAlgorithm::Rsa2048, 4},
                                {KeyAlgorithm::EcdsaP256, 4},
                                {KeyAlgorithm::Ed25519, 4}}));
    return out;
}

}  // namespace daneroll::oracle
