#include "daneroll/common/base64.hpp"

#include <gtest/gtest.h>

namespace daneroll {
namespace {

// RFC 4648 §10 test vectors.
TEST(Base64, Rfc4648Vectors) {
    const std::vector<std::pair<std::string, std::string>> cases{{"", ""},
                                                                 {"f", "Zg=="},
                                                                 {"fo", "Zm8="},
                                                                 {"foo", "Zm9v"},
                                                                 {"foob", "Zm9vYg=="},
                                                                 {"fooba", "Zm9vYmE="},
                                                                 {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : cases) {
        EXPECT_EQ(base64_encode(as_bytes(plain)), encoded);
        if (!plain.empty()) {
            const auto decoded = base64_decode(encoded);
            ASSERT_TRUE(decoded.has_value()) << encoded;
            EXPECT_EQ(std::string(decoded->begin(), decoded->end()), plain);
        }
    }
}

TEST(Base64, UrlFormIsUnpaddedWithUrlAlphabet) {
    const Bytes data{0xfb, 0xff, 0xbf};
    EXPECT_EQ(base64_encode(data), "+/+/");
    EXPECT_EQ(base64url_encode(data), "-_-_");
    EXPECT_EQ(base64url_encode(as_bytes("f")), "Zg");
}

TEST(Base64, RejectsMalformedInput) {
    EXPECT_FALSE(base64_decode("").has_value());
    EXPECT_FALSE(base64_decode("Zm9").has_value());       // not a multiple of 4
    EXPECT_FALSE(base64_decode("Zm9v!A==").has_value());  // bad character
    EXPECT_FALSE(base64_decode("Z=9v").has_value());      // padding in the middle
    EXPECT_TRUE(base64_decode("Zm9v\nYmFy").has_value());
}

}  // namespace
}  // namespace daneroll
