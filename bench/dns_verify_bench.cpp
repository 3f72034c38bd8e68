// How fast daneroll verifies TLSA RRsets on real authoritative servers: the
// servers of a running sandbox (tests/sandbox), BIND primary and NSD
// secondaries, DNSKEYs from its validating Unbound. run-dns-bench.sh brings
// the sandbox up, publishes the records printed by `updates`, and calls
// `run`, which waits until every server serves them signed and then times
//   1. dns::observe_zone over all N owner names (plus the DNSKEY lookup),
//      and the same without DNSKEYs (no signature checks),
//   3. dns::observe_zone over one owner name, many times (steady state),
//   4. dns::observe_zone over N absent names (NXDOMAIN).
// (2, the naive dig loop, is the script's.) Every timed view of 1 and 3 is
// checked: each server must serve each owner's own record under a signature
// that verifies, or the run fails.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "daneroll/common/bytes.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/crypto/digest.hpp"
#include "daneroll/dns/observe.hpp"
#include "daneroll/dns/resolver.hpp"
#include "daneroll/dns/types.hpp"
#include "daneroll/tlsa/record.hpp"

namespace {

using namespace daneroll;
using Clock = std::chrono::steady_clock;

constexpr int kMaxNames = 100000;
constexpr int kMaxRuns = 100000;

struct Sandbox {
    std::string zone;
    std::string mx_host;               // relative to the root, no trailing dot
    std::vector<dns::Server> servers;  // primary first, then the secondaries
    dns::Server resolver;
};

dns::Server server_of(const nlohmann::json& j) {
    const std::string name = j.value("name", std::string());
    return dns::Server{name.empty() ? name : name + ".", j.at("addr").get<std::string>(),
                       j.at("port").get<std::uint16_t>()};
}

Sandbox load_sandbox(const std::filesystem::path& dir) {
    const auto j = nlohmann::json::parse(read_file(dir / "sandbox.json"));
    Sandbox s;
    s.zone = j.at("zone").get<std::string>();
    s.mx_host = j.at("mx").at("host").get<std::string>();
    s.servers.push_back(server_of(j.at("primary")));
    for (const auto& sec : j.at("secondaries")) {
        s.servers.push_back(server_of(sec));
    }
    s.resolver = server_of(j.at("resolver"));
    return s;
}

// `_N._tcp.mx1.ZONE.`: names the sandbox's update key may change.
std::string owner_name(const Sandbox& s, int n) {
    return "_" + std::to_string(n) + "._tcp." + s.mx_host + ".";
}

// A DANE-EE record of its own per name, so a server that mixed up two
// RRsets would be caught.
TlsaRecord record_for(int n) {
    TlsaRecord r;
    r.data = sha256(as_bytes("daneroll-bench-" + std::to_string(n)));
    return r;
}

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

double cpu_ms() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    const auto ms = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3;
    };
    return ms(u.ru_utime) + ms(u.ru_stime);
}

struct Stats {
    std::size_t n = 0;
    double min = 0;
    double median = 0;
    double p95 = 0;
    double max = 0;
    double mean = 0;
};

Stats stats_of(std::vector<double> v) {
    Stats s;
    if (v.empty()) {
        return s;
    }
    std::sort(v.begin(), v.end());
    s.n = v.size();
    s.min = v.front();
    s.max = v.back();
    const std::size_t mid = v.size() / 2;
    s.median = v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
    // Nearest rank.
    const auto rank = static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(v.size())));
    s.p95 = v[std::max<std::size_t>(rank, 1) - 1];
    double sum = 0;
    for (const double x : v) {
        sum += x;
    }
    s.mean = sum / static_cast<double>(v.size());
    return s;
}

// (server, owner) pairs that serve the owner's record under a valid
// signature, and the first few that do not.
struct Check {
    std::size_t good = 0;
    std::size_t expected = 0;
    std::vector<std::string> problems;
    [[nodiscard]] bool complete() const { return good == expected; }
};

Check check_view(const dns::ZoneView& view, const std::vector<std::string>& owners,
                 const std::vector<TlsaRecord>& records) {
    Check c;
    c.expected = owners.size() * view.servers.size();
    if (!view.dnskeys_available) {
        c.problems.emplace_back("no DNSKEYs from the resolver");
    }
    for (const auto& s : view.servers) {
        if (!s.error.empty()) {
            c.problems.push_back(s.server.label() + ": " + s.error);
        }
    }
    for (std::size_t i = 0; i < owners.size(); ++i) {
        if (view.served_everywhere(owners[i], records[i], view.observed_at)) {
            c.good += view.servers.size();
            continue;
        }
        for (const auto& s : view.servers) {
            const auto it = s.owners.find(owners[i]);
            if (it != s.owners.end() && it->second.answered() && it->second.has(records[i]) &&
                it->second.signature_valid) {
                ++c.good;
            }
        }
        if (c.problems.size() < 5) {
            for (const auto& g : view.gaps(owners[i], records[i], view.observed_at)) {
                c.problems.push_back(owners[i] + ": " + g);
            }
        }
    }
    return c;
}

struct Args {
    std::string command;
    std::filesystem::path dir;
    int names = 1000;
    int batch = 0;  // names per UPDATE; 0: all in one
    int runs = 7;
    int single = 200;
    int wait_seconds = 60;
    int window = static_cast<int>(dns::QueryOptions{}.window);
    int interval_ms = 10;  // between single-name rounds (NSD's RRL: see README)
    int absent = 0;        // absent (NXDOMAIN) names to observe, 0: skip
    int absent_runs = 3;
    std::uint32_t ttl = 3600;
    std::string out;
};

int to_int(const std::string& flag, const std::string& value, int lo, int hi) {
    std::size_t used = 0;
    int v = 0;
    try {
        v = std::stoi(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != value.size() || v < lo || v > hi) {
        throw std::invalid_argument(flag + " wants a number from " + std::to_string(lo) + " to " +
                                    std::to_string(hi) + ", not '" + value + "'");
    }
    return v;
}

Args parse_args(int argc, char** argv) {
    if (argc < 3) {
        throw std::invalid_argument(
            "usage: dns_verify_bench updates SANDBOX_DIR [--names N] [--batch B] [--ttl S]\n"
            "       dns_verify_bench run SANDBOX_DIR [--names N] [--runs R] [--single S]\n"
            "                        [--interval-ms I] [--absent N] [--absent-runs R]\n"
            "                        [--window W] [--wait-seconds S] [--out FILE]");
    }
    Args a;
    a.command = argv[1];
    a.dir = argv[2];
    for (int i = 3; i < argc; ++i) {
        const std::string flag = argv[i];
        if (i + 1 >= argc) {
            throw std::invalid_argument(flag + " needs a value");
        }
        const std::string value = argv[++i];
        if (flag == "--names") {
            a.names = to_int(flag, value, 1, kMaxNames);
        } else if (flag == "--batch") {
            a.batch = to_int(flag, value, 1, kMaxNames);
        } else if (flag == "--runs") {
            a.runs = to_int(flag, value, 1, kMaxRuns);
        } else if (flag == "--single") {
            a.single = to_int(flag, value, 0, kMaxRuns);
        } else if (flag == "--interval-ms") {
            a.interval_ms = to_int(flag, value, 0, 10000);
        } else if (flag == "--absent-runs") {
            a.absent_runs = to_int(flag, value, 1, kMaxRuns);
        } else if (flag == "--absent") {
            a.absent = to_int(flag, value, 0, kMaxNames);
        } else if (flag == "--window") {
            a.window = to_int(flag, value, 1, 4096);
        } else if (flag == "--wait-seconds") {
            a.wait_seconds = to_int(flag, value, 1, 3600);
        } else if (flag == "--ttl") {
            a.ttl = static_cast<std::uint32_t>(to_int(flag, value, 1, 86400));
        } else if (flag == "--out") {
            a.out = value;
        } else {
            throw std::invalid_argument("unknown option " + flag);
        }
    }
    if (a.command != "updates" && a.command != "run") {
        throw std::invalid_argument("unknown command '" + a.command + "' (updates or run)");
    }
    return a;
}

// nsupdate input: `update add` lines, a `send` after every `batch` of them.
int print_updates(const Args& a) {
    const Sandbox sb = load_sandbox(a.dir);
    for (int n = 1; n <= a.names; ++n) {
        std::cout << "update add " << zone_file_line(owner_name(sb, n), a.ttl, record_for(n))
                  << '\n';
        if ((a.batch > 0 && n % a.batch == 0) || n == a.names) {
            std::cout << "send\n";
        }
    }
    return 0;
}

void print_row(const std::string& what, const Stats& s, const std::string& target) {
    std::printf("  %-50s %5zu %9.2f %9.2f %9.2f %9.2f  %s\n", what.c_str(), s.n, s.min, s.median,
                s.p95, s.max, target.c_str());
}

int run(const Args& a) {
    const Sandbox sb = load_sandbox(a.dir);
    dns::QueryOptions options;  // the defaults daneroll runs with, but for --window
    options.window = static_cast<std::size_t>(a.window);
    const dns::Resolver resolver(sb.resolver, options);
    std::vector<std::string> owners;
    std::vector<TlsaRecord> records;
    for (int n = 1; n <= a.names; ++n) {
        owners.push_back(owner_name(sb, n));
        records.push_back(record_for(n));
    }
    std::string server_list;
    for (const auto& s : sb.servers) {
        server_list += (server_list.empty() ? "" : ", ") + s.label();
    }
    std::printf("zone %s, %zu servers (%s), resolver %s, %d owner names\n", sb.zone.c_str(),
                sb.servers.size(), server_list.c_str(), sb.resolver.label().c_str(), a.names);
    std::printf("query options: timeout %lld ms, %d retries, window %zu\n",
                static_cast<long long>(options.timeout.count()), options.retries, options.window);
    std::fflush(stdout);

    // Wait (bounded in time and tries) until every server serves every
    // record signed: the secondary transfers after the primary signed.
    const auto wait_start = Clock::now();
    const auto wait_deadline = wait_start + std::chrono::seconds(a.wait_seconds);
    Check ready;
    for (int attempt = 1; attempt <= 10000; ++attempt) {
        const auto keys = resolver.dnskeys(sb.zone).first;
        const auto view = dns::observe_zone(sb.zone, sb.servers, owners, keys,
                                            std::chrono::system_clock::now(), options);
        ready = check_view(view, owners, records);
        if (ready.complete() || Clock::now() >= wait_deadline) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (!ready.complete()) {
        std::fprintf(stderr, "not served signed everywhere after %d s: %zu of %zu pairs\n",
                     a.wait_seconds, ready.good, ready.expected);
        for (const auto& p : ready.problems) {
            std::fprintf(stderr, "  %s\n", p.c_str());
        }
        return 1;
    }
    std::printf("all %zu (server, name) pairs served and signed, checked after %.2f s\n",
                ready.expected, ms_between(wait_start, Clock::now()) / 1e3);

    // 1. All names, all servers: DNSKEYs from the resolver, then observe.
    std::vector<double> total_ms;
    std::vector<double> observe_ms;
    std::vector<double> dnskey_ms;
    std::vector<std::vector<double>> server_ms(sb.servers.size());
    const double cpu_before = cpu_ms();
    double cpu_checking = 0;
    for (int r = 0; r < a.runs; ++r) {
        const auto t0 = Clock::now();
        const auto keys = resolver.dnskeys(sb.zone).first;
        const auto t1 = Clock::now();
        const auto view = dns::observe_zone(sb.zone, sb.servers, owners, keys,
                                            std::chrono::system_clock::now(), options);
        const auto t2 = Clock::now();
        const double c0 = cpu_ms();
        const Check c = check_view(view, owners, records);
        cpu_checking += cpu_ms() - c0;
        if (!c.complete()) {
            std::fprintf(stderr, "run %d: only %zu of %zu pairs verified\n", r + 1, c.good,
                         c.expected);
            for (const auto& p : c.problems) {
                std::fprintf(stderr, "  %s\n", p.c_str());
            }
            return 1;
        }
        dnskey_ms.push_back(ms_between(t0, t1));
        observe_ms.push_back(ms_between(t1, t2));
        total_ms.push_back(ms_between(t0, t2));
        for (std::size_t i = 0; i < view.servers.size(); ++i) {
            server_ms[i].push_back(static_cast<double>(view.servers[i].elapsed.count()) / 1e3);
        }
    }
    const double cpu_per_run = (cpu_ms() - cpu_before - cpu_checking) / a.runs;

    // 1b. The same without DNSKEYs: observe_zone then only notes that
    // RRSIGs are present. The difference to 1 is the signature checking.
    std::vector<double> unverified_ms;
    const double cpu_before_unverified = cpu_ms();
    for (int r = 0; r < a.runs; ++r) {
        const auto t0 = Clock::now();
        const auto view = dns::observe_zone(sb.zone, sb.servers, owners, {},
                                            std::chrono::system_clock::now(), options);
        unverified_ms.push_back(ms_between(t0, Clock::now()));
        for (const auto& sv : view.servers) {
            for (std::size_t i = 0; i < owners.size(); ++i) {
                const auto it = sv.owners.find(owners[i]);
                if (it == sv.owners.end() || !it->second.has(records[i]) || !it->second.signed_) {
                    std::fprintf(stderr, "unverified run %d: %s lacks %s\n", r + 1,
                                 sv.server.label().c_str(), owners[i].c_str());
                    return 1;
                }
            }
        }
    }
    const double cpu_per_unverified = (cpu_ms() - cpu_before_unverified) / a.runs;

    // 3. One name, all servers, steady state: DNSKEYs fetched once (as a
    // daemon polling one owner would keep them), then the same with the
    // DNSKEY lookup in every round.
    const std::vector<std::string> one_owner{owners.front()};
    const std::vector<TlsaRecord> one_record{records.front()};
    std::vector<double> single_ms;
    std::vector<double> single_keys_ms;
    std::vector<double> single_dnskey_ms;
    if (a.single > 0) {
        const auto keys = resolver.dnskeys(sb.zone).first;
        const auto interval = std::chrono::milliseconds(a.interval_ms);
        auto slot = Clock::now();
        for (int r = 0; r < a.single; ++r) {
            std::this_thread::sleep_until(slot);
            slot += interval;
            const auto t0 = Clock::now();
            const auto view = dns::observe_zone(sb.zone, sb.servers, one_owner, keys,
                                                std::chrono::system_clock::now(), options);
            single_ms.push_back(ms_between(t0, Clock::now()));
            if (!check_view(view, one_owner, one_record).complete()) {
                std::fprintf(stderr, "single-name run %d did not verify\n", r + 1);
                return 1;
            }
        }
        slot = Clock::now();
        for (int r = 0; r < a.single; ++r) {
            std::this_thread::sleep_until(slot);
            slot += interval;
            const auto t0 = Clock::now();
            const auto k = resolver.dnskeys(sb.zone).first;
            const auto t1 = Clock::now();
            const auto view = dns::observe_zone(sb.zone, sb.servers, one_owner, k,
                                                std::chrono::system_clock::now(), options);
            single_keys_ms.push_back(ms_between(t0, Clock::now()));
            single_dnskey_ms.push_back(ms_between(t0, t1));
            if (!check_view(view, one_owner, one_record).complete()) {
                std::fprintf(stderr, "single-name run %d (with DNSKEY) did not verify\n", r + 1);
                return 1;
            }
        }
    }

    // 4. Absent names: every server must answer NXDOMAIN, as when a
    // retirement is confirmed. Last, as NSD's RRL counts NXDOMAIN answers
    // per zone and may then drop or truncate them for a while.
    std::vector<double> absent_ms;
    std::size_t absent_pairs = 0;
    std::size_t absent_nxdomain = 0;
    std::string absent_error;
    if (a.absent > 0) {
        std::vector<std::string> absent_owners;
        for (int n = 1; n <= a.absent; ++n) {
            absent_owners.push_back("_" + std::to_string(n) + "._udp." + sb.mx_host + ".");
        }
        const auto keys = resolver.dnskeys(sb.zone).first;
        for (int r = 0; r < a.absent_runs; ++r) {
            const auto t0 = Clock::now();
            const auto view = dns::observe_zone(sb.zone, sb.servers, absent_owners, keys,
                                                std::chrono::system_clock::now(), options);
            absent_ms.push_back(ms_between(t0, Clock::now()));
            for (const auto& sv : view.servers) {
                for (const auto& [owner, at] : sv.owners) {
                    ++absent_pairs;
                    if (at.answered() && at.rcode == 3) {
                        ++absent_nxdomain;
                    } else if (absent_error.empty()) {
                        absent_error =
                            sv.server.label() + " " + owner + ": " +
                            (at.error.empty() ? "rcode " + std::to_string(at.rcode) : at.error);
                    }
                }
            }
        }
    }

    const Stats total = stats_of(total_ms);
    const Stats observe = stats_of(observe_ms);
    const Stats single = stats_of(single_ms);
    const Stats single_keys = stats_of(single_keys_ms);
    std::printf("\n  %-50s %5s %9s %9s %9s %9s\n", "milliseconds", "runs", "min", "median", "p95",
                "max");
    const std::string all =
        std::to_string(a.names) + " names x " + std::to_string(sb.servers.size()) + " servers";
    print_row(all + ", DNSKEY + observe_zone", total, total.max <= 1000 ? "<= 1 s: met" : "> 1 s");
    print_row("  of which observe_zone", observe, "");
    print_row("  of which Resolver::dnskeys", stats_of(dnskey_ms), "");
    for (std::size_t i = 0; i < sb.servers.size(); ++i) {
        print_row("  ServerView::elapsed " + sb.servers[i].address, stats_of(server_ms[i]), "");
    }
    const Stats unverified = stats_of(unverified_ms);
    print_row("  observe_zone without DNSKEYs (no RRSIG check)", unverified, "");
    if (a.single > 0) {
        print_row("1 name x " + std::to_string(sb.servers.size()) + " servers, observe_zone",
                  single, "");
        print_row("1 name, Resolver::dnskeys + observe_zone", single_keys, "");
        print_row("  of which Resolver::dnskeys", stats_of(single_dnskey_ms), "");
    }
    if (a.absent > 0) {
        print_row(std::to_string(a.absent) + " absent names (NXDOMAIN), observe_zone",
                  stats_of(absent_ms), "");
        std::printf("  absent names: %zu of %zu (server, name) pairs answered NXDOMAIN%s%s\n",
                    absent_nxdomain, absent_pairs,
                    absent_error.empty() ? "" : "; first other: ", absent_error.c_str());
    }
    // A run as slow as one query timeout waited for a retransmission: a
    // datagram was lost (or a server was slow to answer).
    const auto retried = [&](const std::vector<double>& v) {
        return std::count_if(v.begin(), v.end(), [&](double x) {
            return x >= static_cast<double>(options.timeout.count());
        });
    };
    const long slow = retried(absent_ms) + retried(total_ms) + retried(unverified_ms) +
                      retried(single_ms) + retried(single_keys_ms);
    std::printf("  runs that took >= one query timeout (%lld ms): %ld\n",
                static_cast<long long>(options.timeout.count()), slow);
    std::printf("  CPU (user+sys) per %d-name run: %.1f ms verified, %.1f ms without DNSKEYs\n",
                a.names, cpu_per_run, cpu_per_unverified);

    if (!a.out.empty()) {
        std::ofstream out(a.out);
        const auto put = [&](const std::string& prefix, const Stats& s) {
            out << prefix << "_MIN=" << s.min << '\n'
                << prefix << "_MEDIAN=" << s.median << '\n'
                << prefix << "_P95=" << s.p95 << '\n'
                << prefix << "_MAX=" << s.max << '\n';
        };
        out << "BENCH_NAMES=" << a.names << "\nBENCH_SERVERS=" << sb.servers.size()
            << "\nBENCH_RUNS=" << a.runs << "\nBENCH_SINGLE_RUNS=" << a.single
            << "\nBENCH_WINDOW=" << options.window << "\nBENCH_CPU_PER_RUN=" << cpu_per_run
            << "\nBENCH_CPU_PER_UNVERIFIED=" << cpu_per_unverified << "\nBENCH_SLOW_RUNS=" << slow
            << '\n';
        put("BENCH_ALL", total);
        put("BENCH_OBSERVE", observe);
        put("BENCH_UNVERIFIED", unverified);
        put("BENCH_SINGLE", single);
        put("BENCH_SINGLE_KEYS", single_keys);
        put("BENCH_ABSENT", stats_of(absent_ms));
        out << "BENCH_ABSENT_NAMES=" << a.absent << "\nBENCH_ABSENT_PAIRS=" << absent_pairs
            << "\nBENCH_ABSENT_NXDOMAIN=" << absent_nxdomain
            << "\nBENCH_INTERVAL_MS=" << a.interval_ms << '\n';
        if (!out) {
            std::fprintf(stderr, "cannot write %s\n", a.out.c_str());
            return 1;
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Args a = parse_args(argc, argv);
        return a.command == "updates" ? print_updates(a) : run(a);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dns_verify_bench: %s\n", e.what());
        return 2;
    }
}
