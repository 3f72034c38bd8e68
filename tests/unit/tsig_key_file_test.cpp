#include "daneroll/config/tsig_key_file.hpp"

#include <gtest/gtest.h>

#include "daneroll/common/error.hpp"

namespace daneroll::config {
namespace {

// What `tsig-keygen -a hmac-sha256 daneroll-mx1` prints (secret made up).
const char* const kBindKey = R"(key "daneroll-mx1" {
	algorithm hmac-sha256;
	secret "mVxS8cZ2l3WkqRZP6N4eOQn0E3vB3zBv9nW9u+3k2mE=";
};
)";

std::string error_of(const std::string& text) {
    try {
        parse_tsig_key_file(text, "k.key");
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Config);
        return e.what();
    }
    ADD_FAILURE() << "accepted:\n" << text;
    return "";
}

TEST(TsigKeyFile, ParsesTsigKeygenOutput) {
    const auto keys = parse_tsig_key_file(kBindKey, "k.key");
    ASSERT_EQ(keys.size(), 1U);
    EXPECT_EQ(keys[0].name, "daneroll-mx1.");
    EXPECT_EQ(keys[0].algorithm, "hmac-sha256");
    EXPECT_EQ(keys[0].secret, "mVxS8cZ2l3WkqRZP6N4eOQn0E3vB3zBv9nW9u+3k2mE=");
    EXPECT_EQ(keys[0].line, 1);
}

TEST(TsigKeyFile, ParsesSeveralKeysWithCommentsAndTrailingDots) {
    const std::string text =
        std::string("# made by tsig-keygen\n/* two keys */\n") + kBindKey +
        "// second\nkey Other. { algorithm HMAC-SHA512.; secret \"AAAA\"; };\n";
    const auto keys = parse_tsig_key_file(text, "k.key");
    ASSERT_EQ(keys.size(), 2U);
    EXPECT_EQ(keys[0].line, 3);
    EXPECT_EQ(keys[1].name, "other.");
    EXPECT_EQ(keys[1].algorithm, "hmac-sha512");
    EXPECT_EQ(keys[1].line, 8);
}

TEST(TsigKeyFile, ParsesColonForm) {
    const auto keys = parse_tsig_key_file("hmac-sha512:mx1-key:AAAA\n", "k.key");
    ASSERT_EQ(keys.size(), 1U);
    EXPECT_EQ(keys[0].name, "mx1-key.");
    EXPECT_EQ(keys[0].algorithm, "hmac-sha512");
    EXPECT_EQ(keys[0].secret, "AAAA");
}

TEST(TsigKeyFile, RefusesSha384WithTheReason) {
    const auto msg = error_of("key k { algorithm hmac-sha384; secret \"AAAA\"; };");
    EXPECT_NE(msg.find("hmac-sha384"), std::string::npos);
    EXPECT_NE(msg.find("ldns"), std::string::npos);
    EXPECT_NE(msg.find("k.key:1"), std::string::npos);
    EXPECT_NE(error_of("hmac-sha384:k:AAAA").find("ldns"), std::string::npos);
    EXPECT_NE(error_of("hmac-md5:k:AAAA").find("not supported"), std::string::npos);
}

TEST(TsigKeyFile, MalformedFilesNameTheLineAndNeverTheSecret) {
    EXPECT_NE(error_of("").find("empty"), std::string::npos);
    EXPECT_NE(error_of("key k {\n algorithm hmac-sha256;\n secret \"not base64!!\";\n};")
                  .find("k.key:3: the secret of key 'k.' is not valid base64"),
              std::string::npos);
    EXPECT_EQ(error_of("key k { algorithm hmac-sha256; secret \"sEcReT!!\"; };").find("sEcReT"),
              std::string::npos);
    EXPECT_NE(error_of("key k { algorithm hmac-sha256; };").find("no secret"), std::string::npos);
    EXPECT_NE(error_of("key k { secret \"AAAA\"; };").find("no algorithm"), std::string::npos);
    EXPECT_NE(error_of("key k { algorithm hmac-sha256; secret \"AAAA\" };").find("expected ';'"),
              std::string::npos);
    EXPECT_NE(error_of("key k { algorithm hmac-sha256; secret \"AAAA\"; }").find("end of file"),
              std::string::npos);
    EXPECT_NE(error_of("key k { algorithm hmac-sha256; port 53; };").find("unknown statement"),
              std::string::npos);
    EXPECT_NE(error_of("key k { secret \"AAAA").find("unterminated"), std::string::npos);
    EXPECT_NE(error_of("/* open").find("unterminated"), std::string::npos);
    EXPECT_NE(error_of("key k { algorithm hmac-sha256; secret \"AAAA\"; }; options { };")
                  .find("expected a 'key"),
              std::string::npos);
    EXPECT_NE(error_of("just-a-word").find("not a TSIG key file"), std::string::npos);
    EXPECT_NE(error_of("hmac-sha256:k:").find("not valid base64"), std::string::npos);
    EXPECT_NE(error_of("options { };").find("not a TSIG key file"), std::string::npos);
}

// Found by fuzz_tsig_key_file: `key "" { ... }` was accepted with the name
// "." (the colon form already refused it). A key name must be a domain name
// the servers can match.
TEST(TsigKeyFile, KeyNamesThatAreNotDomainNamesAreRefusedNamingTheLine) {
    const std::string body = " {\n algorithm hmac-sha256;\n secret \"AAAA\";\n};\n";
    EXPECT_NE(error_of("# comment\nkey \"\"" + body).find("k.key:2: the key name is empty"),
              std::string::npos)
        << error_of("# comment\nkey \"\"" + body);
    EXPECT_NE(error_of("key \".\"" + body).find("the key name is empty"), std::string::npos);
    EXPECT_NE(error_of("key \"a..b\"" + body).find("empty label"), std::string::npos);
    EXPECT_NE(error_of("key \"a b\"" + body).find("space"), std::string::npos);
    EXPECT_NE(error_of("key \"" + std::string(64, 'a') + "\"" + body).find("longer than 63"),
              std::string::npos);
    EXPECT_NE(error_of("hmac-sha256:a..b:AAAA").find("k.key:1:"), std::string::npos);
    // 63-character labels and names up to 255 characters are fine.
    const std::string longest = std::string(63, 'a') + "." + std::string(63, 'b') + ".";
    const auto keys = parse_tsig_key_file("key \"" + longest + "\"" + body, "k.key");
    ASSERT_EQ(keys.size(), 1U);
    EXPECT_EQ(keys.front().name, longest);
}

}  // namespace
}  // namespace daneroll::config
