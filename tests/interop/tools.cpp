#include "tools.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <sstream>

namespace daneroll::interop {

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::vector<std::string> words(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    for (std::string w; in >> w;) {
        out.push_back(w);
    }
    return out;
}

bool parse_int(const std::string& s, int& value) {
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    return ec == std::errc() && ptr == s.data() + s.size();
}

bool all_digits(const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

struct Isolation {
    std::vector<std::string> prefix;
    std::string description;
};

const Isolation& isolation() {
    static const Isolation iso = [] {
        // As root, a plain network namespace; as a user, a user namespace
        // that maps us to root inside it, where the kernel allows that.
        const std::vector<std::vector<std::string>> candidates = {
            {"unshare", "--net", "--"},
            {"unshare", "--user", "--map-root-user", "--net", "--"},
        };
        for (const auto& prefix : candidates) {
            auto probe = prefix;
            probe.emplace_back("true");
            try {
                if (run_process(probe, "", std::chrono::seconds(10)).exit_code == 0) {
                    std::string d = "each tool runs in an empty network namespace (";
                    for (std::size_t i = 0; i + 1 < prefix.size(); ++i) {
                        d += (i == 0 ? "" : " ") + prefix[i];
                    }
                    return Isolation{prefix, d + ")"};
                }
            } catch (const std::exception&) {
                // unshare itself is missing: fall through.
            }
        }
        return Isolation{{},
                         "network namespaces are unavailable: the tools run directly, offline by "
                         "construction (records from files, loopback-only resolver settings)"};
    }();
    return iso;
}

std::vector<TlsaLine> expect_lines(const std::string& what, const ProcessResult& r) {
    if (r.timed_out || r.exit_code != 0) {
        ADD_FAILURE() << what << " failed: " << r.summary();
        return {};
    }
    auto lines = parse_tlsa_lines(r.out);
    if (lines.empty()) {
        ADD_FAILURE() << what << " printed no TLSA record: " << r.summary();
    }
    return lines;
}

std::string str(int v) {
    return std::to_string(v);
}

}  // namespace

std::string daneroll_binary() {
    if (const char* env = std::getenv("DANEROLL_BIN"); env != nullptr && *env != '\0') {
        return env;
    }
    return DANEROLL_BIN;
}

std::string missing_tool_message(const Tool& tool) {
    if (!find_in_path(tool.command).empty()) {
        return "";
    }
    return std::string(tool.command) + " is not installed, so daneroll cannot be compared with " +
           "it; install it with: apt-get install " + tool.package;
}

std::vector<std::string> offline(std::vector<std::string> argv) {
    auto out = isolation().prefix;
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

std::string isolation_description() {
    return isolation().description;
}

std::ostream& operator<<(std::ostream& os, const TlsaLine& line) {
    return os << line.owner << " TLSA " << line.usage << ' ' << line.selector << ' ' << line.mtype
              << ' ' << line.data;
}

std::vector<TlsaLine> parse_tlsa_lines(const std::string& text) {
    std::vector<TlsaLine> out;
    std::istringstream in(text);
    for (std::string raw; std::getline(in, raw);) {
        const auto w = words(raw);
        const auto it = std::find_if(w.begin(), w.end(),
                                     [](const std::string& s) { return lower(s) == "tlsa"; });
        if (it == w.end()) {
            continue;
        }
        const auto k = static_cast<std::size_t>(it - w.begin());
        // Walk back over "IN" and a TTL to the owner.
        std::size_t owner = k;
        if (owner > 0 && lower(w[owner - 1]) == "in") {
            --owner;
        }
        if (owner > 0 && all_digits(w[owner - 1])) {
            --owner;
        }
        if (owner == 0 || w.size() < k + 5) {
            continue;
        }
        TlsaLine line;
        line.owner = lower(w[owner - 1]);
        if (line.owner.back() != '.') {
            line.owner += '.';
        }
        if (!parse_int(w[k + 1], line.usage) || !parse_int(w[k + 2], line.selector) ||
            !parse_int(w[k + 3], line.mtype)) {
            continue;
        }
        for (std::size_t i = k + 4; i < w.size(); ++i) {
            line.data += lower(w[i]);
        }
        out.push_back(line);
    }
    return out;
}

std::vector<TlsaLine> daneroll_tlsa(const std::vector<std::string>& args) {
    std::vector<std::string> argv{daneroll_binary(), "tlsa"};
    argv.insert(argv.end(), args.begin(), args.end());
    return expect_lines("daneroll tlsa", run_process(argv));
}

std::vector<TlsaLine> ldns_dane_create(const std::filesystem::path& cert_file,
                                       const std::string& host, int usage, int selector, int mtype,
                                       const std::vector<std::string>& extra_options) {
    // -r 127.0.0.1: should it ever want a resolver, it gets loopback only.
    std::vector<std::string> argv{"ldns-dane", "-r", "127.0.0.1", "-c", cert_file.string()};
    argv.insert(argv.end(), extra_options.begin(), extra_options.end());
    for (const auto& a :
         {std::string("create"), host, std::string("25"), str(usage), str(selector), str(mtype)}) {
        argv.push_back(a);
    }
    return expect_lines("ldns-dane", run_process(offline(argv)));
}

std::vector<TlsaLine> hash_slinger_create(const std::filesystem::path& cert_file,
                                          const std::string& host, int usage, int selector,
                                          int mtype, const std::string& answers,
                                          const std::filesystem::path& resolv_conf) {
    // --certificate makes it read the chain from the file instead of
    // connecting; --resolvconf points its (unused) resolver at loopback.
    const std::vector<std::string> argv{"tlsa",
                                        "--create",
                                        "--resolvconf",
                                        resolv_conf.string(),
                                        "--certificate",
                                        cert_file.string(),
                                        "--port",
                                        "25",
                                        "--usage",
                                        str(usage),
                                        "--selector",
                                        str(selector),
                                        "--mtype",
                                        str(mtype),
                                        host};
    return expect_lines("hash-slinger tlsa", run_process(offline(argv), answers));
}

}  // namespace daneroll::interop
