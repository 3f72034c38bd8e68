// Entry point of the SMTP integration tests. They need a running sandbox
// (tests/sandbox) with two Postfix instances: ctest brings one up as a
// fixture (sandbox_smtp) and names it in DANEROLL_SANDBOX_DIR; run by hand without it,
// the binary brings up its own in a temporary directory (as root) on
// DANEROLL_SMTP_TEST_NET (default 127.53.71) and takes it down at the end.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "process.hpp"
#include "sandbox.hpp"

namespace daneroll::smtp_it {
namespace {

namespace fs = std::filesystem;

class SandboxEnvironment : public ::testing::Environment {
  public:
    void SetUp() override {
        const char* given = std::getenv("DANEROLL_SANDBOX_DIR");
        fs::path dir;
        if (given != nullptr && *given != '\0') {
            dir = given;
        } else {
            ASSERT_EQ(::geteuid(), 0U)
                << "the sandbox needs root (loopback addresses, daemons); or set "
                   "DANEROLL_SANDBOX_DIR to a running sandbox's directory";
            std::string tmpl = "/tmp/daneroll-smtp-it-XXXXXX";
            ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
            // named, nsd and unbound run as their own users and must enter it.
            ::chmod(tmpl.c_str(), 0755);
            temp_ = tmpl;
            dir = temp_ / "sb";
            const char* net = std::getenv("DANEROLL_SMTP_TEST_NET");
            const auto up = run({DANEROLL_SANDBOX_TOOL, "up", dir.string(), "--net",
                                 net != nullptr && *net != '\0' ? net : "127.53.71", "--second-mx"},
                                "", std::chrono::seconds(120));
            owned_ = true;
            ASSERT_TRUE(!up.timed_out && up.exit_code == 0)
                << "sandbox up failed: " << up.summary();
        }
        sandbox_ = std::make_unique<Sandbox>(load_sandbox_info(dir));
        ASSERT_EQ(sandbox_->info().postfix.size(), 2U)
            << dir << " must be a sandbox started with --second-mx";
        set_sandbox(sandbox_.get());
    }

    void TearDown() override {
        set_sandbox(nullptr);
        if (owned_) {
            run({DANEROLL_SANDBOX_TOOL, "down", (temp_ / "sb").string()}, "",
                std::chrono::seconds(60));
            std::error_code ec;
            fs::remove_all(temp_, ec);
        }
    }

  private:
    fs::path temp_;
    bool owned_ = false;
    std::unique_ptr<Sandbox> sandbox_;
};

}  // namespace
}  // namespace daneroll::smtp_it

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    // Owned and deleted by GoogleTest.
    ::testing::AddGlobalTestEnvironment(new daneroll::smtp_it::SandboxEnvironment);
    return RUN_ALL_TESTS();
}
