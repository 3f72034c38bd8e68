// The daneroll side of the differential tests: certificates, chains, keys
// and CSRs made with daneroll's own builder, in every algorithm it supports.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "daneroll/crypto/key.hpp"
#include "test_support.hpp"

namespace daneroll {
// gtest prints parameters with this (found by ADL), so test names read
// "... # GetParam() = ecdsa-p256" rather than as raw bytes.
inline void PrintTo(KeyAlgorithm alg, std::ostream* os) {
    *os << key_algorithm_name(alg);
}
}  // namespace daneroll

namespace daneroll::oracle {

inline constexpr KeyAlgorithm kAllAlgorithms[] = {
    KeyAlgorithm::Rsa2048,   KeyAlgorithm::Rsa3072,   KeyAlgorithm::Rsa4096,
    KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384, KeyAlgorithm::Ed25519,
};

inline constexpr int kDepths[] = {1, 2, 3};

// "ecdsa_p256": gtest parameter names allow only letters, digits and '_'.
std::string param_name(const ::testing::TestParamInfo<KeyAlgorithm>& info);

// A chain whose levels use different algorithms, root first in
// `top_down` as (algorithm, cached key index); the last level is the leaf,
// named `leaf_name`. make_pki covers one algorithm per chain; real CAs mix
// them (an RSA root over an ECDSA intermediate), and so must the oracle.
test::TestPki mixed_pki(const std::vector<std::pair<KeyAlgorithm, int>>& top_down,
                        const std::string& leaf_name = "mx1.example.test");

// The mixed chains every mixed-algorithm test runs on.
std::vector<std::pair<std::string, test::TestPki>> mixed_corpus();

}  // namespace daneroll::oracle
