#include "test_support.hpp"

#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>

#include <stdlib.h>

#include "daneroll/crypto/certificate_builder.hpp"

namespace daneroll::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "daneroll-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) {
        throw std::runtime_error("cannot write " + path.string());
    }
}

const PrivateKey& cached_key(KeyAlgorithm alg, int index) {
    static std::mutex mu;
    static std::map<std::pair<KeyAlgorithm, int>, PrivateKey> cache;
    const std::lock_guard lock(mu);
    auto it = cache.find({alg, index});
    if (it == cache.end()) {
        it = cache.emplace(std::make_pair(alg, index), PrivateKey::generate(alg)).first;
    }
    return it->second;
}

TestPki make_pki(KeyAlgorithm alg, int depth, const std::string& leaf_name,
                 std::chrono::system_clock::time_point now) {
    if (depth < 1) {
        throw std::invalid_argument("depth must be >= 1");
    }
    TestPki pki;
    const auto from = now - std::chrono::hours(1);
    const auto until = now + std::chrono::hours(24 * 30);
    // Build from the root down, then reverse into leaf-first order.
    std::vector<Certificate> top_down;
    std::vector<PrivateKey> keys;
    for (int level = 0; level < depth; ++level) {
        const bool leaf = level == depth - 1;
        const PrivateKey& key = cached_key(alg, level);
        CertificateSpec spec;
        spec.is_ca = !leaf;
        spec.common_name =
            leaf ? leaf_name
                 : (level == 0 ? "daneroll test root"
                               : "daneroll test intermediate " + std::to_string(level));
        if (leaf) {
            spec.dns_names = {leaf_name};
        }
        spec.not_before = from;
        spec.not_after = until;
        if (level == 0) {
            top_down.push_back(issue_certificate(spec, key.get(), key, nullptr));
        } else {
            top_down.push_back(issue_certificate(spec, key.get(), keys.back(), &top_down.back()));
        }
        keys.push_back(key);
    }
    pki.chain.assign(top_down.rbegin(), top_down.rend());
    pki.keys.assign(keys.rbegin(), keys.rend());
    return pki;
}

}  // namespace daneroll::test
