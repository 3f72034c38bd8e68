#include "daneroll/smtp/reply.hpp"

#include <gtest/gtest.h>

#include <string>

namespace daneroll::smtp {
namespace {

using State = ReplyParser::State;

// Feeds `text` in one piece and expects one complete reply using all of it.
SmtpReply parse_all(const std::string& text) {
    ReplyParser p;
    EXPECT_EQ(p.feed(text), text.size());
    EXPECT_EQ(p.state(), State::Complete) << p.error();
    return p.reply();
}

std::string malformed_reason(const std::string& text) {
    ReplyParser p;
    p.feed(text);
    EXPECT_EQ(p.state(), State::Malformed) << "accepted: " << text;
    return p.error();
}

TEST(SmtpReply, SingleLine) {
    const auto r = parse_all("220 mx1.example.test ESMTP\r\n");
    EXPECT_EQ(r.code, 220);
    EXPECT_EQ(r.category(), 2);
    ASSERT_EQ(r.lines.size(), 1U);
    EXPECT_EQ(r.lines[0], "mx1.example.test ESMTP");
}

TEST(SmtpReply, MultiLineContinuesWhileTheFourthCharacterIsAHyphen) {
    const auto r =
        parse_all("250-mx1.example.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n");
    EXPECT_EQ(r.code, 250);
    ASSERT_EQ(r.lines.size(), 4U);
    EXPECT_EQ(r.lines[2], "STARTTLS");
    EXPECT_EQ(r.summary(), "250 mx1.example.test / PIPELINING / STARTTLS / SMTPUTF8");
}

TEST(SmtpReply, BareCodeAndEmptyTextEndTheReply) {
    EXPECT_TRUE(parse_all("250\r\n").lines.at(0).empty());
    EXPECT_TRUE(parse_all("250 \r\n").lines.at(0).empty());
    EXPECT_EQ(parse_all("250-\r\n250 ok\r\n").lines.size(), 2U);
}

TEST(SmtpReply, BareLineFeedIsAccepted) {
    const auto r = parse_all("250-a\n250 b\n");
    EXPECT_EQ(r.lines.size(), 2U);
    EXPECT_EQ(r.lines[1], "b");
}

TEST(SmtpReply, ArbitrarySplitsGiveTheSameReply) {
    const std::string text = "250-mx1.example.test\r\n250-SIZE 10240000\r\n250 STARTTLS\r\n";
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
        ReplyParser p;
        EXPECT_EQ(p.feed(text.substr(0, cut)), cut);
        EXPECT_EQ(p.state(), cut == text.size() ? State::Complete : State::NeedMore);
        p.feed(text.substr(cut));
        ASSERT_EQ(p.state(), State::Complete) << "cut at " << cut;
        EXPECT_EQ(p.reply().lines.size(), 3U);
        EXPECT_EQ(p.reply().lines[1], "SIZE 10240000");
    }
    // Byte by byte.
    ReplyParser p;
    for (const char c : text) {
        p.feed(std::string(1, c));
    }
    EXPECT_EQ(p.state(), State::Complete);
}

TEST(SmtpReply, StopsAtTheEndOfOneReplyAndLeavesTheRest) {
    const std::string text = "220 ready\r\n\x16\x03\x01 junk";
    ReplyParser p;
    EXPECT_EQ(p.feed(text), 11U);
    EXPECT_EQ(p.state(), State::Complete);
    EXPECT_EQ(p.feed("more"), 0U);  // a complete parser takes nothing
    p.reset();
    EXPECT_EQ(p.state(), State::NeedMore);
    EXPECT_EQ(p.feed("221 bye\r\n"), 9U);
    EXPECT_EQ(p.reply().code, 221);
}

TEST(SmtpReply, RejectsBadCodes) {
    EXPECT_NE(malformed_reason("hello\r\n").find("three-digit code"), std::string::npos);
    EXPECT_NE(malformed_reason("22\r\n").find("three-digit code"), std::string::npos);
    EXPECT_NE(malformed_reason("\r\n").find("three-digit code"), std::string::npos);
    EXPECT_NE(malformed_reason("120 not smtp\r\n").find("not an SMTP reply code"),
              std::string::npos);
    EXPECT_NE(malformed_reason("650 no\r\n").find("not an SMTP reply code"), std::string::npos);
    EXPECT_NE(malformed_reason("290 no\r\n").find("not an SMTP reply code"), std::string::npos);
    EXPECT_NE(malformed_reason("250x\r\n").find("neither a space nor a hyphen"), std::string::npos);
}

TEST(SmtpReply, RejectsACodeThatChangesWithinAReply) {
    const auto why = malformed_reason("250-first\r\n251 second\r\n");
    EXPECT_NE(why.find("from 250 to 251"), std::string::npos) << why;
}

TEST(SmtpReply, OversizedLineIsRefusedWithoutBufferingIt) {
    ReplyParser p;
    const std::string endless(kMaxReplyLineLength + 10, 'A');
    const std::size_t used = p.feed("250 " + endless);
    EXPECT_EQ(p.state(), State::Malformed);
    EXPECT_LE(used, kMaxReplyLineLength + 1);
    EXPECT_NE(p.error().find("longer than"), std::string::npos);
    // A line at the limit is fine.
    const std::string max_line = "250 " + std::string(kMaxReplyLineLength - 5, 'a') + "\r\n";
    EXPECT_EQ(parse_all(max_line).lines[0].size(), kMaxReplyLineLength - 5);
}

TEST(SmtpReply, TooManyLinesIsRefused) {
    std::string text;
    for (std::size_t i = 0; i <= kMaxReplyLines; ++i) {
        text += "250-X" + std::to_string(i) + "\r\n";
    }
    EXPECT_NE(malformed_reason(text).find("more than"), std::string::npos);
}

TEST(SmtpReply, SummaryEscapesControlBytesAndIsBounded) {
    const auto r = parse_all("554 bad\x1b[31m red\x07\r\n");
    EXPECT_EQ(r.summary(), "554 bad\\x1b[31m red\\x07");
    const auto long_reply = parse_all("554 " + std::string(1000, 'z') + "\r\n");
    EXPECT_LE(long_reply.summary().size(), 310U);
    EXPECT_EQ(printable("\xff\r\n"), "\\xff\\x0d\\x0a");
}

TEST(EhloKeywords, FirstLineIsTheGreetingNotAKeyword) {
    const auto r =
        parse_all("250-STARTTLS.example greets you\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
    EXPECT_FALSE(ehlo_has_keyword(r, "STARTTLS"));
    EXPECT_TRUE(ehlo_has_keyword(r, "PIPELINING"));
    EXPECT_EQ(ehlo_keywords(r), (std::vector<std::string>{"PIPELINING", "8BITMIME"}));
}

TEST(EhloKeywords, CaseInsensitiveAndOnlyTheFirstWord) {
    const auto r =
        parse_all("250-mx\r\n250-starttls\r\n250-SIZE 1000\r\n250 AUTH PLAIN STARTTLSX\r\n");
    EXPECT_TRUE(ehlo_has_keyword(r, "STARTTLS"));
    EXPECT_TRUE(ehlo_has_keyword(r, "size"));
    EXPECT_FALSE(ehlo_has_keyword(r, "PLAIN"));
    EXPECT_FALSE(ehlo_has_keyword(r, "STARTTLSX"));
    // A one-line EHLO reply advertises nothing.
    EXPECT_FALSE(ehlo_has_keyword(parse_all("250 mx1 STARTTLS\r\n"), "STARTTLS"));
    // A keyword that only prefixes another does not count.
    EXPECT_FALSE(ehlo_has_keyword(parse_all("250-mx\r\n250 STARTTLSX\r\n"), "STARTTLS"));
}

}  // namespace
}  // namespace daneroll::smtp
