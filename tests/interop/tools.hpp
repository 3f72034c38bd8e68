// The programs the interop tests compare daneroll with, how they are run
// (offline, in a network namespace when the system allows one), and a
// parser for the zone-file lines they all print.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "process.hpp"

namespace daneroll::interop {

// The daneroll binary under test: $DANEROLL_BIN, else the path CMake baked in.
std::string daneroll_binary();

// A tool the tests need, with the Debian package that provides it.
struct Tool {
    const char* command;
    const char* package;
};
inline constexpr Tool kLdnsDane{"ldns-dane", "ldnsutils"};
inline constexpr Tool kHashSlinger{"tlsa", "hash-slinger"};
inline constexpr Tool kOpenssl{"openssl", "openssl"};

// "" if present, else a message naming the package to install.
std::string missing_tool_message(const Tool& tool);

// Prefixes argv so the program runs in a fresh network namespace with no
// interface up: whatever it tries, nothing leaves the machine. Both tools
// compute records from files without any network I/O (checked with strace
// when these tests were written); the namespace keeps it that way if a
// future version starts resolving names. Falls back to argv unchanged when
// namespaces are unavailable (no privilege); isolation_description() says
// which applies.
std::vector<std::string> offline(std::vector<std::string> argv);
std::string isolation_description();

// One "<owner> [ttl] [IN] TLSA u s m hex..." line, normalised for comparison:
// owner lower case with a trailing dot, data lower-case hex without spaces.
struct TlsaLine {
    std::string owner;
    int usage = -1;
    int selector = -1;
    int mtype = -1;
    std::string data;

    friend bool operator==(const TlsaLine&, const TlsaLine&) = default;
};
std::ostream& operator<<(std::ostream& os, const TlsaLine& line);

// Every TLSA line in a tool's output. Text before the owner on the same line
// (hash-slinger prints its y/N prompt without a newline) is skipped.
std::vector<TlsaLine> parse_tlsa_lines(const std::string& text);

// Runs the tools: each returns the TLSA lines it printed, and fails the
// current test (with the tool's output) if it printed none or exited
// non-zero. `cert_file` is PEM, leaf first.
std::vector<TlsaLine> daneroll_tlsa(const std::vector<std::string>& args);
std::vector<TlsaLine> ldns_dane_create(const std::filesystem::path& cert_file,
                                       const std::string& host, int usage, int selector, int mtype,
                                       const std::vector<std::string>& extra_options);
// hash-slinger asks "Use this as certificate to match? [y/N]" for each CA
// certificate but the last when usage is 2; `answers` is what to type.
std::vector<TlsaLine> hash_slinger_create(const std::filesystem::path& cert_file,
                                          const std::string& host, int usage, int selector,
                                          int mtype, const std::string& answers,
                                          const std::filesystem::path& resolv_conf);

}  // namespace daneroll::interop
