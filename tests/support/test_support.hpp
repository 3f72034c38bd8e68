// Shared helpers for daneroll's tests: scratch directories and small PKIs
// generated at test time (no key material is committed).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "daneroll/crypto/certificate.hpp"
#include "daneroll/crypto/key.hpp"

namespace daneroll::test {

// A fresh private directory, removed with everything in it on destruction.
class TempDir {
  public:
    TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir();
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] std::filesystem::path operator/(const std::string& name) const {
        return path_ / name;
    }

  private:
    std::filesystem::path path_;
};

void write_text(const std::filesystem::path& path, const std::string& text);

// A chain as an MTA would serve it: leaf first, then intermediates, then
// (optionally) the root; and the keys that signed each certificate.
struct TestPki {
    std::vector<Certificate> chain;  // leaf, intermediates..., root
    std::vector<PrivateKey> keys;    // same order
};

// Builds a PKI of `depth` certificates (1 = self-signed leaf, 2 = root +
// leaf, 3 = root + intermediate + leaf) with `alg` keys and the leaf named
// `leaf_name`.
TestPki make_pki(KeyAlgorithm alg, int depth, const std::string& leaf_name = "mx1.example.test",
                 std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// A key per algorithm, generated once per test process (RSA 4096 is slow).
const PrivateKey& cached_key(KeyAlgorithm alg, int index = 0);

}  // namespace daneroll::test
