// gtest's main for the interop tests: ignores SIGPIPE (a tool may exit
// before reading all its input) and reports what was compared, with which
// tools and under which network isolation.
#include <signal.h>

#include <gtest/gtest.h>

#include <iostream>

#include "common.hpp"
#include "tools.hpp"

namespace {

class InteropReport : public ::testing::Environment {
  public:
    void SetUp() override {
        using daneroll::interop::Tool;
        std::cout << "[ interop  ] daneroll: " << daneroll::interop::daneroll_binary() << '\n';
        for (const Tool& t : {daneroll::interop::kLdnsDane, daneroll::interop::kHashSlinger,
                              daneroll::interop::kOpenssl}) {
            const auto path = daneroll::interop::find_in_path(t.command);
            std::cout << "[ interop  ] " << t.command << ": "
                      << (path.empty() ? "MISSING (apt-get install " + std::string(t.package) + ")"
                                       : path)
                      << '\n';
        }
        std::cout << "[ interop  ] " << daneroll::interop::isolation_description() << '\n';
    }
    void TearDown() override {
        std::size_t total = 0;
        for (const auto& [tool, n] : daneroll::interop::case_counts()) {
            std::cout << "[ interop  ] " << n << " x compared with " << tool << '\n';
            total += n;
        }
        std::cout << "[ interop  ] " << total << " interop cases in total\n";
    }
};

}  // namespace

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);
    ::testing::InitGoogleTest(&argc, argv);
    // gtest owns registered environments and deletes them at exit.
    ::testing::AddGlobalTestEnvironment(
        new InteropReport);  // NOLINT(cppcoreguidelines-owning-memory)
    return RUN_ALL_TESTS();
}
