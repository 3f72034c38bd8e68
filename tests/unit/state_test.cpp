// The unit state's JSON form: it is all a tick knows about the past, so
// every field must survive a save and a load exactly (times to the
// millisecond), older documents without the newer fields must still load,
// and a broken or newer document must be refused naming its file.

#include "daneroll/rollover/state.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <string>

#include "daneroll/common/error.hpp"
#include "daneroll/rollover/state_store.hpp"
#include "daneroll/tlsa/record.hpp"
#include "test_support.hpp"

namespace daneroll::rollover {
namespace {

using std::chrono::milliseconds;

TimePoint at_ms(std::int64_t ms) {
    return TimePoint(milliseconds(ms));
}

TlsaRecord record(const std::string& hex) {
    return TlsaRecord::parse("3 1 1 " + hex);
}

UnitState full_state() {
    UnitState s;
    s.service = "mx1";
    s.algorithm = "ecdsa-p256";
    s.phase = Phase::AwaitingPropagation;
    s.current_key = KeyInfo{"0011223344556677", "/var/lib/daneroll/keys/a.key",
                            at_ms(1'700'000'000'123), std::string(64, 'a')};
    s.next_key = KeyInfo{"8899aabbccddeeff", "/var/lib/daneroll/keys/b.key",
                         at_ms(1'700'000'500'456), std::string(64, 'b')};
    s.deployed_chain_pem = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n";
    s.deployed_at = at_ms(1'700'000'001'000);
    s.staged_chain_pem = "staged";
    s.staged_key_id = "8899aabbccddeeff";
    s.staged_at = at_ms(1'700'000'002'789);
    OwnedRecord o;
    o.record = record(std::string(64, 'a'));
    o.role = RecordRole::Current;
    o.created = true;
    o.published_at = at_ms(1'700'000'003'001);
    o.everywhere_since = at_ms(1'700'000'004'002);
    o.max_ttl_seen = 3600;
    o.new_owner = true;
    o.negative_ttl_seen = 300;
    s.records.push_back(o);
    o.record = record(std::string(64, 'b'));
    o.role = RecordRole::Next;
    o.created = false;
    o.everywhere_since.reset();
    s.records.push_back(o);
    s.caches.ttl = 7200;
    s.caches.ttl_until = at_ms(1'700'000'005'000);
    s.caches.ttl_lowered = true;
    s.caches.empty_until = at_ms(1'700'000'006'000);
    s.caches.empty_ended = true;
    s.caches.negative_ttl = 600;
    s.renewal_advice =
        RenewalAdvice{std::string(64, 'c'),     at_ms(1'700'100'000'000), at_ms(1'700'200'000'000),
                      at_ms(1'700'150'000'500), at_ms(1'700'021'600'000), "https://ca/why"};
    s.rotate_requested = true;
    s.failure = "the probe failed";
    s.last_tick = at_ms(1'700'000'007'000);
    s.last_success = at_ms(1'700'000'008'000);
    s.next_wake = at_ms(1'700'000'009'000);
    s.waiting_for = "2 x TTL";
    s.source_warnings = {"certbot made a new key"};
    s.note(at_ms(1'700'000'010'000), "stable -> issuing: due");
    return s;
}

TEST(State, EveryFieldSurvivesASaveAndALoad) {
    const UnitState s = full_state();
    const std::string text = serialize_state(s);
    const UnitState back = parse_state(text, "mx1.json");
    EXPECT_EQ(serialize_state(back), text);
    ASSERT_TRUE(back.renewal_advice.has_value());
    EXPECT_EQ(back.renewal_advice->renew_at, s.renewal_advice->renew_at);
    EXPECT_EQ(back.renewal_advice->check_after, s.renewal_advice->check_after);
    EXPECT_EQ(back.renewal_advice->explanation_url, "https://ca/why");
    ASSERT_EQ(back.records.size(), 2U);
    EXPECT_EQ(back.records[0].everywhere_since, s.records[0].everywhere_since);
    EXPECT_FALSE(back.records[1].everywhere_since.has_value());
    EXPECT_EQ(back.staged_at, s.staged_at);
    EXPECT_EQ(back.phase, Phase::AwaitingPropagation);
    EXPECT_EQ(back.source_warnings, s.source_warnings);
}

// A state written before renewal advice existed loads without one.
TEST(State, ADocumentWithoutRenewalAdviceLoads) {
    UnitState s = full_state();
    s.renewal_advice.reset();
    std::string text = serialize_state(s);
    const auto pos = text.find("\"renewal_advice\"");
    ASSERT_NE(pos, std::string::npos);
    const auto end = text.find('\n', pos);
    text.erase(pos, end - pos + 1);
    const UnitState back = parse_state(text, "old.json");
    EXPECT_FALSE(back.renewal_advice.has_value());
    EXPECT_EQ(back.service, "mx1");
}

TEST(State, ANewerVersionIsRefusedNamingTheFile) {
    UnitState s = full_state();
    s.version = kStateVersion + 1;
    try {
        static_cast<void>(parse_state(serialize_state(s), "/var/lib/daneroll/units/mx1.json"));
        FAIL() << "a newer state version was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/var/lib/daneroll/units/mx1.json"), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
    }
}

TEST(State, BrokenDocumentsAreRefusedNamingTheFile) {
    for (const std::string text :
         {"", "{", "[]", R"({"version": 1})", R"({"version": 1, "service": 3})"}) {
        try {
            static_cast<void>(parse_state(text, "units/broken.json"));
            ADD_FAILURE() << "accepted: " << text;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("units/broken.json"), std::string::npos)
                << e.what();
        }
    }
}

// One daneroll at a time per state directory: a second one (the timer's
// tick beside an operator's run --wait) stops at once, saying who holds it.
TEST(StateLock, ASecondHolderIsRefusedNamingTheHolderUntilTheFirstLetsGo) {
    test::TempDir dir;
    const auto state_dir = dir / "state";
    {
        const auto first = StateLock::acquire(state_dir);
        try {
            static_cast<void>(StateLock::acquire(state_dir));
            FAIL() << "two holders of one state lock";
        } catch (const LockedError& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("another daneroll is running"), std::string::npos) << what;
            EXPECT_NE(what.find("pid " + std::to_string(::getpid())), std::string::npos) << what;
            EXPECT_NE(what.find((state_dir / "lock").string()), std::string::npos) << what;
        }
    }
    EXPECT_NO_THROW(static_cast<void>(StateLock::acquire(state_dir))) << "not released";
}

}  // namespace
}  // namespace daneroll::rollover
