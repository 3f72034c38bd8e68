#include "daneroll/common/bytes.hpp"

#include <gtest/gtest.h>

#include "daneroll/common/error.hpp"

namespace daneroll {
namespace {

TEST(Hex, RoundTripsAllByteValues) {
    Bytes all(256);
    for (std::size_t i = 0; i < all.size(); ++i) {
        all[i] = static_cast<std::uint8_t>(i);
    }
    const std::string hex = to_hex(all);
    EXPECT_EQ(hex.size(), 512U);
    EXPECT_EQ(hex.substr(0, 8), "00010203");
    EXPECT_EQ(hex.substr(504), "fcfdfeff");
    EXPECT_EQ(from_hex(hex), all);
}

TEST(Hex, AcceptsUpperCaseAndWhitespaceBetweenDigits) {
    EXPECT_EQ(from_hex("AB cd\n\tEF"), (Bytes{0xab, 0xcd, 0xef}));
    EXPECT_EQ(from_hex(""), Bytes{});
}

TEST(Hex, RejectsOddDigitCount) {
    try {
        from_hex("abc");
        FAIL() << "accepted an odd digit count";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Input);
        EXPECT_NE(std::string(e.what()).find("odd"), std::string::npos);
    }
}

TEST(Hex, RejectsBadDigitNamingItsPosition) {
    try {
        from_hex("00zz");
        FAIL() << "accepted a non-hex digit";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'z' at position 3"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace daneroll
