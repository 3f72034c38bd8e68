#include "daneroll/common/duration.hpp"

#include <gtest/gtest.h>

namespace daneroll {
namespace {

using std::chrono::seconds;

TEST(Duration, ParsesUnitsAndCombinations) {
    EXPECT_EQ(parse_duration("45s"), seconds(45));
    EXPECT_EQ(parse_duration("45"), seconds(45));
    EXPECT_EQ(parse_duration("30m"), seconds(1800));
    EXPECT_EQ(parse_duration("12h"), seconds(43200));
    EXPECT_EQ(parse_duration("90d"), seconds(90 * 86400));
    EXPECT_EQ(parse_duration("2w"), seconds(14 * 86400));
    EXPECT_EQ(parse_duration("1h30m"), seconds(5400));
}

TEST(Duration, RejectsMalformedText) {
    for (const char* bad : {"", "d", "1x", "1h30", "-5s", "1.5h", "h1", "99999999999999999999s"}) {
        EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
    }
}

TEST(Duration, FormatsShortestExactForm) {
    EXPECT_EQ(format_duration(seconds(0)), "0s");
    EXPECT_EQ(format_duration(seconds(5400)), "1h30m");
    EXPECT_EQ(format_duration(seconds(90 * 86400)), "90d");
    EXPECT_EQ(format_duration(seconds(86400 + 1)), "1d1s");
    EXPECT_EQ(format_duration(seconds(-61)), "-1m1s");
}

}  // namespace
}  // namespace daneroll
