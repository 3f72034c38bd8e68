#include "daneroll/smtp/reply.hpp"

#include <algorithm>
#include <cctype>

namespace daneroll::smtp {

namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

char upper(char c) {
    return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return upper(x) == upper(y); });
}

}  // namespace

std::string printable(std::string_view text, std::size_t max_length) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (const char c : text) {
        if (out.size() >= max_length) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f) {
            out.push_back(c);
        } else {
            out += "\\x";
            out.push_back(kHex[u >> 4U]);
            out.push_back(kHex[u & 0x0fU]);
        }
    }
    return out;
}

std::string SmtpReply::summary() const {
    std::string text = std::to_string(code);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        text += i == 0 ? " " : " / ";
        text += lines[i];
    }
    return printable(text);
}

std::size_t ReplyParser::feed(std::string_view data) {
    std::size_t used = 0;
    while (used < data.size() && state_ == State::NeedMore) {
        const char c = data[used++];
        if (c == '\n') {
            finish_line();
            continue;
        }
        // Checked before buffering: an endless line costs at most the bound.
        if (line_.size() >= kMaxReplyLineLength) {
            malformed("a reply line is longer than " + std::to_string(kMaxReplyLineLength) +
                      " bytes");
            break;
        }
        line_.push_back(c);
    }
    return used;
}

void ReplyParser::finish_line() {
    std::string line = std::move(line_);
    line_.clear();
    if (!line.empty() && line.back() == '\r') {
        line.pop_back();
    }
    // RFC 5321 §4.2: three digits, the first 2-5 (1yz is unused in SMTP) and
    // the second 0-5; then ' ' on the last line, '-' on the others.
    if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2])) {
        malformed("a reply line does not start with a three-digit code: \"" + printable(line, 80) +
                  "\"");
        return;
    }
    if (line[0] < '2' || line[0] > '5' || line[1] > '5') {
        malformed("\"" + line.substr(0, 3) + "\" is not an SMTP reply code");
        return;
    }
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    bool last = true;
    if (line.size() > 3) {
        if (line[3] == '-') {
            last = false;
        } else if (line[3] != ' ') {
            malformed("reply code " + line.substr(0, 3) +
                      " is followed by neither a space nor a hyphen: \"" + printable(line, 80) +
                      "\"");
            return;
        }
    }
    if (!reply_.lines.empty() && code != reply_.code) {
        malformed("a multi-line reply changes its code from " + std::to_string(reply_.code) +
                  " to " + std::to_string(code));
        return;
    }
    if (reply_.lines.size() >= kMaxReplyLines) {
        malformed("a reply has more than " + std::to_string(kMaxReplyLines) + " lines");
        return;
    }
    reply_.code = code;
    reply_.lines.push_back(line.size() > 4 ? line.substr(4) : std::string());
    if (last) {
        state_ = State::Complete;
    }
}

void ReplyParser::malformed(std::string why) {
    state_ = State::Malformed;
    error_ = std::move(why);
    line_.clear();
}

void ReplyParser::reset() {
    state_ = State::NeedMore;
    reply_ = SmtpReply{};
    line_.clear();
    error_.clear();
}

std::vector<std::string> ehlo_keywords(const SmtpReply& ehlo) {
    std::vector<std::string> keywords;
    for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
        const std::string& text = ehlo.lines[i];
        std::string word = text.substr(0, text.find(' '));
        std::transform(word.begin(), word.end(), word.begin(), upper);
        if (!word.empty()) {
            keywords.push_back(std::move(word));
        }
    }
    return keywords;
}

bool ehlo_has_keyword(const SmtpReply& ehlo, std::string_view keyword) {
    const auto words = ehlo_keywords(ehlo);
    return std::any_of(words.begin(), words.end(),
                       [keyword](const std::string& w) { return iequals(w, keyword); });
}

}  // namespace daneroll::smtp
