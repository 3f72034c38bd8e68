// Crash tests of the rollover engine against the real sandbox: for every
// crash point in src/rollover/engine.cpp, `daneroll run --wait` with
// DANEROLL_CRASH_AT=<point> during a current+next rotation must die by
// SIGKILL right there; `daneroll run --wait` without it must then finish
// the rollover. An independent observer (e2e_support.hpp: dig at every
// authoritative server, the chains Postfix presents, RFC 7672 matching)
// samples all along and checks that the two safety rules held at every
// sampled instant, crash included.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <regex>
#include <set>

#include "daneroll/common/files.hpp"
#include "e2e_support.hpp"

#ifndef DANEROLL_ENGINE_SOURCE
#error "DANEROLL_ENGINE_SOURCE must name src/rollover/engine.cpp"
#endif

namespace daneroll::e2e {
namespace {

using namespace std::chrono_literals;

// Every crash_point("...") of engine.cpp; CrashPointsAreAllTested keeps
// this list honest.
const std::vector<std::string> kCrashPoints{
    "after-keygen",   "before-update", "after-update", "after-issue",
    "before-install", "after-install", "after-reload", "after-probe",
};

const std::vector<std::string> kAlgorithms{"ecdsa-p256", "rsa2048"};

TEST(RolloverCrashPoints, CrashPointsAreAllTested) {
    const std::string src = read_file(DANEROLL_ENGINE_SOURCE);
    const std::regex re(R"re(crash_point\("([^"]+)"\))re");
    std::set<std::string> in_source;
    for (auto it = std::sregex_iterator(src.begin(), src.end(), re); it != std::sregex_iterator();
         ++it) {
        in_source.insert((*it)[1].str());
    }
    const std::set<std::string> tested(kCrashPoints.begin(), kCrashPoints.end());
    EXPECT_EQ(in_source, tested) << "a crash point of engine.cpp has no crash test, or a tested "
                                    "one is gone: update kCrashPoints";
}

class RolloverCrash : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        sb_ = Sandbox::load();
        sb_.reset_to_served_chains();
        std::string name = "RolloverCrash." + GetParam();
        d_ = std::make_unique<Daneroll>(sb_, name);
        observer_ = std::make_unique<Observer>(sb_, kAlgorithms);
    }

    void TearDown() override {
        if (observer_) {
            observer_->stop();
        }
        if (HasFailure() && d_) {
            std::cout << diagnostics(*d_, {"ecdsa-p256"});
            if (observer_) {
                std::cout << "--- observer timeline:\n" << observer_->judge().timeline;
            }
        }
    }

    Sandbox sb_;
    std::unique_ptr<Daneroll> d_;
    std::unique_ptr<Observer> observer_;
};

TEST_P(RolloverCrash, DiesThereAndTheNextRunCompletesSafely) {
    const std::string point = GetParam();
    d_->write_config({});
    const auto old_leaf = sb_.installed_chain("ecdsa-p256").front();
    const TlsaRecord old_rec = ee_record(old_leaf);
    observer_->start();

    const auto init = d_->init();
    ASSERT_TRUE(init.ok()) << init.describe();
    const auto first = d_->run_wait();
    ASSERT_TRUE(first.ok()) << first.describe();
    const auto u1 = d_->unit("ecdsa-p256");
    const auto nexts = records_with_role(u1, "next");
    ASSERT_EQ(nexts.size(), 1u) << u1.dump(2);
    const TlsaRecord next1 = nexts.front();

    const auto rotate = d_->rotate();
    ASSERT_TRUE(rotate.ok()) << rotate.describe();
    const auto crashed = d_->run_wait(60s, {"DANEROLL_CRASH_AT=" + point});
    ASSERT_TRUE(crashed.signaled && crashed.signal == SIGKILL)
        << "daneroll should have killed itself at " << point << ": " << crashed.describe();
    const auto after_crash = d_->unit("ecdsa-p256");
    std::cout << "crashed at " << point << " in phase " << after_crash.at("phase") << " after "
              << crashed.elapsed.count() << " ms\n";

    // Resume: run --wait until stable (bounded: a few runs).
    ProcResult resumed;
    for (int i = 0; i < 3; ++i) {
        resumed = d_->run_wait(60s);
        if (resumed.ok() || (resumed.exited && resumed.code == 1)) {
            break;
        }
    }
    ASSERT_TRUE(resumed.ok()) << "the rollover did not complete after the crash at " << point
                              << ": " << resumed.describe();
    EXPECT_EQ(resumed.output.find("this is a bug"), std::string::npos) << resumed.describe();

    const auto u2 = d_->unit("ecdsa-p256");
    EXPECT_EQ(u2.at("phase"), "stable") << u2.dump(2);
    EXPECT_EQ(u2.at("rotate_requested"), false) << u2.dump(2);
    EXPECT_EQ(records_with_role(u2, "current"), std::vector<TlsaRecord>{next1}) << u2.dump(2);
    const auto next2 = records_with_role(u2, "next");
    ASSERT_EQ(next2.size(), 1u) << u2.dump(2);
    // The new chain is served and the DNS ends as it should.
    const auto served = served_chain(sb_, sb_.env.mx_addrs.front(), "ecdsa-p256");
    EXPECT_EQ(served.leaf_spki, to_hex(next1.data)) << served.error;
    DnsSnapshot end;
    test::wait_until(
        [&] {
            end = dig_snapshot(sb_);
            return end.absent_everywhere(old_rec) && end.has_everywhere(next1) &&
                   end.has_everywhere(next2.front());
        },
        15s);
    EXPECT_TRUE(end.absent_everywhere(old_rec)) << end.describe();
    EXPECT_TRUE(end.has_everywhere(next1)) << end.describe();
    EXPECT_TRUE(end.has_everywhere(next2.front())) << end.describe();
    // Only the record sets daneroll should leave: the RSA chain's record
    // (not daneroll's), the current and the next.
    const auto rsa_rec = ee_record(sb_.installed_chain("rsa2048").front());
    EXPECT_EQ(end.everywhere, (std::set<TlsaRecord>{rsa_rec, next1, next2.front()}))
        << end.describe();
    const auto check = sb_.dane_check("ecdsa");
    EXPECT_TRUE(check.ok()) << check.describe();
    // Reported, not judged: a crash between writing a key and saving the
    // state leaves that key file behind, unused.
    std::size_t keys = 0;
    for (const auto& e :
         std::filesystem::directory_iterator(d_->state() / "keys" / "mx1" / "ecdsa-p256")) {
        keys += e.is_regular_file() ? 1u : 0u;
    }
    std::cout << "key files in the state directory: " << keys << " (adopted, current, next"
              << (keys > 3 ? ", and unused ones" : "") << ")\n";

    const auto v = judge_safe(*observer_, "around the crash at " + std::string(point));
    bool appeared = false;
    for (const auto& a : v.appearances) {
        if (!a.initial && a.leaf_spki == to_hex(next1.data)) {
            appeared = true;
            EXPECT_GE(a.margin_high_s, v.wait_s);
            std::cout << "new chain appeared via " << a.record << ", everywhere for "
                      << a.margin_low_s << " .. " << a.margin_high_s << " s (" << v.samples
                      << " samples)\n";
        }
    }
    EXPECT_TRUE(appeared) << v.timeline;
    for (const auto& in : v.installs) {
        if (!in.initial) {
            std::cout << "installed " << in.algorithm << " leaf " << in.leaf_spki.substr(0, 12)
                      << " via " << in.record << ", everywhere for " << in.margin_low_s << " .. "
                      << in.margin_high_s << " s before the file changed\n";
        }
    }
}

INSTANTIATE_TEST_SUITE_P(EveryPoint, RolloverCrash, ::testing::ValuesIn(kCrashPoints),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                             std::string n = param_info.param;
                             for (auto& c : n) {
                                 if (c == '-') {
                                     c = '_';
                                 }
                             }
                             return n;
                         });

}  // namespace
}  // namespace daneroll::e2e
