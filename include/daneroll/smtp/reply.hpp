// SMTP replies (RFC 5321 §4.2) as a probe reads them from a server it does
// not trust: an incremental parser with hard bounds on line length, line
// count and total size, so a hostile or broken peer cannot make the agent
// buffer without limit, and helpers for the EHLO extension list.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace daneroll::smtp {

struct SmtpReply {
    int code = 0;                    // e.g. 250; the same on every line
    std::vector<std::string> lines;  // the text of each line, after "NNN-" / "NNN "

    // 2yz: positive completion; 3yz: intermediate; 4yz: transient; 5yz: permanent.
    [[nodiscard]] int category() const noexcept { return code / 100; }
    // For messages: "554 5.7.1 go away" with the lines joined by " / ",
    // control and non-ASCII bytes escaped (the peer is untrusted) and the
    // text shortened to a few hundred characters.
    [[nodiscard]] std::string summary() const;
};

// Bounds. RFC 5321 §4.5.3.1.5 limits a reply line to 512 octets with CRLF;
// real servers exceed that a little, so allow 2048. An EHLO reply has one
// line per extension, a few dozen at most.
inline constexpr std::size_t kMaxReplyLineLength = 2048;
inline constexpr std::size_t kMaxReplyLines = 128;

// Reads one reply from a byte stream fed in arbitrary pieces. Lines end in
// CRLF; a bare LF is accepted too, as most clients do. A line whose fourth
// character is '-' continues the reply; ' ' or nothing after the code ends it.
class ReplyParser {
  public:
    enum class State { NeedMore, Complete, Malformed };

    // Consumes bytes of `data` up to the end of the current reply and returns
    // how many it took: bytes after a complete reply belong to whatever the
    // server sends next and stay with the caller. Feeding a parser that is
    // not in NeedMore consumes nothing.
    std::size_t feed(std::string_view data);

    [[nodiscard]] State state() const noexcept { return state_; }
    // Valid once Complete.
    [[nodiscard]] const SmtpReply& reply() const noexcept { return reply_; }
    // Why the reply is Malformed: which rule the server broke.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    // Ready for the next reply.
    void reset();

  private:
    void finish_line();
    void malformed(std::string why);

    State state_ = State::NeedMore;
    SmtpReply reply_;
    std::string line_;  // the line being read, without its terminator
    std::string error_;
};

// The EHLO keywords (RFC 5321 §4.1.1.1): the first word of every line but
// the first (which greets with the server's name), upper-cased.
std::vector<std::string> ehlo_keywords(const SmtpReply& ehlo);

// True if a 250 EHLO reply advertises `keyword` (compared case-insensitively),
// e.g. "STARTTLS" (RFC 3207).
bool ehlo_has_keyword(const SmtpReply& ehlo, std::string_view keyword);

// `text` with bytes outside printable ASCII escaped as \xNN and cut to
// `max_length` characters (an ellipsis marks the cut): peer-supplied text
// must never inject control characters into a log or terminal.
std::string printable(std::string_view text, std::size_t max_length = 300);

}  // namespace daneroll::smtp
