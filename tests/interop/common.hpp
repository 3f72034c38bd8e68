// Shared fixture of the interop tests: a scratch directory with the
// certificates under test written as PEM files, the way an operator would
// hand them to each tool.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>
#include <map>
#include <ostream>
#include <string>

#include "daneroll/crypto/certificate.hpp"
#include "daneroll/crypto/key.hpp"
#include "test_support.hpp"
#include "tools.hpp"

namespace daneroll {
// gtest prints parameters with this (found by ADL), so test names read
// "... # GetParam() = ecdsa-p256" rather than as raw bytes.
inline void PrintTo(KeyAlgorithm alg, std::ostream* os) {
    *os << key_algorithm_name(alg);
}
}  // namespace daneroll

namespace daneroll::interop {

inline const std::string kHost = "mx1.example.test";

// (selector, matching type): every combination, the common 3 1 1 first.
struct Combo {
    int selector;
    int mtype;
};
inline constexpr Combo kCombos[] = {{1, 1}, {1, 2}, {0, 1}, {0, 2}, {1, 0}, {0, 0}};

// Counts the records compared between daneroll and another tool, reported
// at the end of the run.
void count_case(const std::string& tool);
std::map<std::string, std::size_t> case_counts();

class InteropTest : public ::testing::Test {
  protected:
    void SetUp() override;

    // Writes `text` to a file in the scratch directory and returns its path.
    std::filesystem::path write(const std::string& name, const std::string& text) const;
    std::filesystem::path write_chain(const std::string& name,
                                      const std::vector<Certificate>& chain) const;
    // A resolv.conf naming only 127.0.0.1, for tools that insist on one.
    [[nodiscard]] const std::filesystem::path& loopback_resolv_conf() const { return resolv_; }

    test::TempDir dir_;

  private:
    std::filesystem::path resolv_;
};

}  // namespace daneroll::interop
