#include "daneroll/config/tsig_key_file.hpp"

#include <algorithm>
#include <cctype>

#include "daneroll/common/base64.hpp"
#include "daneroll/common/error.hpp"

namespace daneroll::config {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string canonical_key_name(std::string_view name) {
    std::string n = lower(name);
    if (n.empty() || n.back() != '.') {
        n.push_back('.');
    }
    return n;
}

// Why a canonical key name (lower case, trailing dot) is not a domain name
// ldns and the servers can use, or "" if it is.
std::string key_name_problem(const std::string& name) {
    if (name == ".") {
        return "the key name is empty";
    }
    if (name.size() > 255) {
        return "the key name is longer than 255 characters";
    }
    std::size_t label = 0;
    for (std::size_t i = 0; i + 1 < name.size(); ++i) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (c <= 0x20 || c >= 0x7f) {
            return "the key name '" + name + "' contains a space or a non-printable character";
        }
        if (c == '.') {
            if (label == 0) {
                return "the key name '" + name + "' has an empty label";
            }
            label = 0;
        } else if (++label > 63) {
            return "the key name '" + name + "' has a label longer than 63 characters";
        }
    }
    return "";
}

std::string canonical_algorithm(std::string_view alg) {
    std::string a = lower(alg);
    if (!a.empty() && a.back() == '.') {
        a.pop_back();
    }
    return a;
}

// A tokenizer for named.conf syntax: words, quoted strings, and the
// punctuation { } ;, skipping #, // and /* */ comments.
struct Token {
    std::string text;
    bool quoted = false;
    int line = 0;
};

class Lexer {
  public:
    Lexer(std::string_view text, const std::string& source) : text_(text), source_(source) {}

    std::vector<Token> tokens() {
        std::vector<Token> out;
        while (skip_space_and_comments()) {
            const char c = text_[pos_];
            if (c == '{' || c == '}' || c == ';') {
                out.push_back({std::string(1, c), false, line_});
                ++pos_;
            } else if (c == '"') {
                out.push_back(quoted());
            } else {
                const std::size_t start = pos_;
                while (pos_ < text_.size() &&
                       std::isspace(static_cast<unsigned char>(text_[pos_])) == 0 &&
                       text_[pos_] != '{' && text_[pos_] != '}' && text_[pos_] != ';' &&
                       text_[pos_] != '"') {
                    ++pos_;
                }
                out.push_back({std::string(text_.substr(start, pos_ - start)), false, line_});
            }
        }
        return out;
    }

  private:
    bool skip_space_and_comments() {
        while (pos_ < text_.size()) {
            const char c = text_[pos_];
            if (c == '\n') {
                ++line_;
                ++pos_;
            } else if (std::isspace(static_cast<unsigned char>(c)) != 0) {
                ++pos_;
            } else if (c == '#' || (c == '/' && peek(1) == '/')) {
                while (pos_ < text_.size() && text_[pos_] != '\n') {
                    ++pos_;
                }
            } else if (c == '/' && peek(1) == '*') {
                const int start_line = line_;
                pos_ += 2;
                while (pos_ < text_.size() && !(text_[pos_] == '*' && peek(1) == '/')) {
                    if (text_[pos_] == '\n') {
                        ++line_;
                    }
                    ++pos_;
                }
                if (pos_ >= text_.size()) {
                    fail(ErrorKind::Config,
                         source_ + ":" + std::to_string(start_line) + ": unterminated /* comment");
                }
                pos_ += 2;
            } else {
                return true;
            }
        }
        return false;
    }

    char peek(std::size_t ahead) const {
        return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
    }

    Token quoted() {
        const int start_line = line_;
        ++pos_;
        std::string s;
        while (pos_ < text_.size() && text_[pos_] != '"') {
            if (text_[pos_] == '\n') {
                ++line_;
            }
            s.push_back(text_[pos_++]);
        }
        if (pos_ >= text_.size()) {
            fail(ErrorKind::Config,
                 source_ + ":" + std::to_string(start_line) + ": unterminated quoted string");
        }
        ++pos_;
        return {s, true, start_line};
    }

    std::string_view text_;
    const std::string& source_;
    std::size_t pos_ = 0;
    int line_ = 1;
};

class BindKeyParser {
  public:
    BindKeyParser(std::vector<Token> tokens, const std::string& source)
        : tokens_(std::move(tokens)), source_(source) {}

    std::vector<TsigKeyMaterial> parse() {
        std::vector<TsigKeyMaterial> keys;
        while (i_ < tokens_.size()) {
            keys.push_back(key_clause());
        }
        return keys;
    }

  private:
    [[noreturn]] void error(int line, const std::string& msg) const {
        fail(ErrorKind::Config, source_ + ":" + std::to_string(line) + ": " + msg);
    }

    const Token& next(const char* expecting) {
        if (i_ >= tokens_.size()) {
            error(tokens_.empty() ? 1 : tokens_.back().line,
                  std::string("unexpected end of file, expecting ") + expecting);
        }
        return tokens_[i_++];
    }

    void expect(const char* punct) {
        const Token& t = next(punct);
        if (t.quoted || t.text != punct) {
            error(t.line, std::string("expected '") + punct + "' but found '" + t.text + "'");
        }
    }

    TsigKeyMaterial key_clause() {
        const Token& kw = next("'key'");
        if (kw.quoted || lower(kw.text) != "key") {
            error(kw.line, "expected a 'key \"name\" { ... };' clause but found '" + kw.text + "'");
        }
        TsigKeyMaterial key;
        key.line = kw.line;
        const Token& name = next("a key name");
        key.name = canonical_key_name(name.text);
        if (const auto problem = key_name_problem(key.name); !problem.empty()) {
            error(name.line, problem);
        }
        expect("{");
        bool have_alg = false;
        bool have_secret = false;
        for (;;) {
            const Token& t = next("'algorithm', 'secret' or '}'");
            if (!t.quoted && t.text == "}") {
                break;
            }
            const std::string word = lower(t.text);
            if (word == "algorithm") {
                key.algorithm = canonical_algorithm(next("an algorithm").text);
                have_alg = true;
            } else if (word == "secret") {
                const Token& s = next("a secret");
                // Never echo the secret in a message.
                if (!base64_decode(s.text) || base64_decode(s.text)->empty()) {
                    error(s.line, "the secret of key '" + key.name + "' is not valid base64");
                }
                key.secret = s.text;
                have_secret = true;
            } else {
                error(t.line, "unknown statement '" + t.text + "' in key '" + key.name +
                                  "' (expected 'algorithm' or 'secret')");
            }
            expect(";");
        }
        expect(";");
        if (!have_alg) {
            error(key.line, "key '" + key.name + "' has no algorithm");
        }
        if (!have_secret) {
            error(key.line, "key '" + key.name + "' has no secret");
        }
        require_supported_tsig_algorithm(key.algorithm, source_ + ":" + std::to_string(key.line));
        return key;
    }

    std::vector<Token> tokens_;
    const std::string& source_;
    std::size_t i_ = 0;
};

TsigKeyMaterial parse_colon_form(std::string_view text, const std::string& source) {
    std::string line(text);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())) != 0) {
        line.pop_back();
    }
    const auto first = line.find(':');
    const auto second = first == std::string::npos ? std::string::npos : line.find(':', first + 1);
    if (second == std::string::npos || line.find('\n') != std::string::npos) {
        fail(ErrorKind::Config, source +
                                    ":1: not a TSIG key file: expected BIND's 'key \"name\" "
                                    "{ algorithm ...; secret \"...\"; };' or one line "
                                    "'algorithm:name:base64-secret'");
    }
    TsigKeyMaterial key;
    key.line = 1;
    key.algorithm = canonical_algorithm(line.substr(0, first));
    key.name = canonical_key_name(line.substr(first + 1, second - first - 1));
    key.secret = line.substr(second + 1);
    if (const auto problem = key_name_problem(key.name); !problem.empty()) {
        fail(ErrorKind::Config, source + ":1: " + problem);
    }
    const auto decoded = base64_decode(key.secret);
    if (!decoded || decoded->empty()) {
        fail(ErrorKind::Config,
             source + ":1: the secret of key '" + key.name + "' is not valid base64");
    }
    require_supported_tsig_algorithm(key.algorithm, source + ":1");
    return key;
}

}  // namespace

void require_supported_tsig_algorithm(std::string_view algorithm, const std::string& where) {
    const std::string a = canonical_algorithm(algorithm);
    if (a == "hmac-sha256" || a == "hmac-sha512") {
        return;
    }
    if (a == "hmac-sha384") {
        fail(ErrorKind::Config, where +
                                    ": TSIG algorithm hmac-sha384 cannot be used: ldns 1.8.3 "
                                    "(Debian 12) misspells it and cannot sign with it; "
                                    "generate a hmac-sha256 or hmac-sha512 key "
                                    "(tsig-keygen -a hmac-sha256 NAME)");
    }
    fail(ErrorKind::Config, where + ": TSIG algorithm '" + std::string(algorithm) +
                                "' is not supported; use hmac-sha256 or hmac-sha512");
}

std::vector<TsigKeyMaterial> parse_tsig_key_file(std::string_view text, const std::string& source) {
    Lexer lexer(text, source);
    auto tokens = lexer.tokens();
    if (tokens.empty()) {
        fail(ErrorKind::Config, source + ": the TSIG key file is empty");
    }
    if (!tokens.front().quoted && lower(tokens.front().text) == "key") {
        return BindKeyParser(std::move(tokens), source).parse();
    }
    return {parse_colon_form(text, source)};
}

}  // namespace daneroll::config
