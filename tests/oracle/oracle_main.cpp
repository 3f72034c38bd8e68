// gtest's main plus a summary of how many daneroll-vs-Botan comparisons ran,
// so a green run also says how much it actually cross-checked.
#include <gtest/gtest.h>

#include <iostream>

#include "botan_oracle.hpp"

namespace {

class ComparisonReport : public ::testing::Environment {
  public:
    void TearDown() override {
        std::size_t total = 0;
        for (const auto& [kind, n] : daneroll::oracle::comparison_counts()) {
            std::cout << "[ oracle   ] " << n << " x " << kind << '\n';
            total += n;
        }
        std::cout << "[ oracle   ] " << total << " comparisons with Botan in total\n";
    }
};

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    // gtest owns registered environments and deletes them at exit.
    ::testing::AddGlobalTestEnvironment(
        new ComparisonReport);  // NOLINT(cppcoreguidelines-owning-memory)
    return RUN_ALL_TESTS();
}
