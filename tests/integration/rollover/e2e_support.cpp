#include "e2e_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "daneroll/common/bytes.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/crypto/digest.hpp"
#include "daneroll/smtp/probe.hpp"
#include "daneroll/tlsa/compute.hpp"
#include "daneroll/tlsa/dane_verify.hpp"

extern char** environ;

#if !defined(DANEROLL_BIN) || !defined(DANEROLL_E2E_WORK_DIR)
#error "DANEROLL_BIN and DANEROLL_E2E_WORK_DIR must be defined (CMakeLists.txt)"
#endif

namespace daneroll::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

double seconds_between(TimePoint from, TimePoint to) {
    return std::chrono::duration<double>(to - from).count();
}

std::string fmt_s(double s) {
    std::ostringstream out;
    out.setf(std::ios::fixed);
    out.precision(2);
    out << s << " s";
    return out.str();
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : sep) + s;
    }
    return out;
}

std::string short_records(const std::set<TlsaRecord>& rs) {
    std::vector<std::string> v;
    for (const auto& r : rs) {
        v.push_back(r.short_string());
    }
    return "{" + join(v, ", ") + "}";
}

std::string tail(const std::string& s, std::size_t n) {
    return s.size() <= n ? s : "[...]" + s.substr(s.size() - n);
}

}  // namespace

// ---------------------------------------------------------------- processes

std::string ProcResult::describe() const {
    std::string how = timed_out  ? "was killed after its time limit"
                      : signaled ? "was killed by signal " + std::to_string(signal) + " (" +
                                       strsignal(signal) + ")"
                      : exited ? "exited " + std::to_string(code)
                               : "did not run";
    std::string cmd;
    for (const auto& a : argv) {
        cmd += (cmd.empty() ? "" : " ") + a;
    }
    return "`" + cmd + "` " + how + " after " +
           fmt_s(std::chrono::duration<double>(elapsed).count()) + "; output:\n" +
           tail(output, 8000);
}

ProcResult run_proc(const std::vector<std::string>& argv, Ms timeout,
                    const std::vector<std::string>& extra_env) {
    ProcResult r;
    r.argv = argv;
    // Everything the child needs is built before fork().
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry(*e);
        const std::string name = entry.substr(0, entry.find('='));
        const bool overridden =
            name == "DANEROLL_CRASH_AT" ||
            std::any_of(extra_env.begin(), extra_env.end(),
                        [&](const std::string& x) { return x.rfind(name + "=", 0) == 0; });
        if (!overridden) {
            env_strings.push_back(entry);
        }
    }
    env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp;
    for (auto& e : env_strings) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);
    std::vector<std::string> args_copy = argv;
    std::vector<char*> args;
    for (auto& a : args_copy) {
        args.push_back(a.data());
    }
    args.push_back(nullptr);

    int fds[2] = {-1, -1};
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe2 failed");
    }
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            ::dup2(devnull, STDIN_FILENO);
        }
        ::dup2(fds[1], STDOUT_FILENO);
        ::dup2(fds[1], STDERR_FILENO);
        ::execve(args[0], args.data(), envp.data());
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // either side may win the race; both set the same
    ::close(fds[1]);
    const auto deadline = start + timeout;
    char buf[8192];
    // Bounded: every round either reads, or waits at most until the
    // deadline; after it the group is killed and the pipe drains.
    for (int round = 0; round < 10'000'000; ++round) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline && !r.timed_out) {
            r.timed_out = true;
            ::kill(-pid, SIGKILL);
        }
        const auto left = std::chrono::duration_cast<Ms>(deadline - now).count();
        pollfd p{fds[0], POLLIN, 0};
        const int ready =
            ::poll(&p, 1, r.timed_out ? 2000 : static_cast<int>(std::max<long>(left, 1)));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready == 0) {
            if (r.timed_out) {
                break;  // killed and silent: a grandchild may hold the pipe
            }
            continue;
        }
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        r.output.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.elapsed = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - start);
    if (WIFEXITED(status)) {
        r.exited = true;
        r.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r.signaled = true;
        r.signal = WTERMSIG(status);
    }
    return r;
}

// --------------------------------------------------------------- the sandbox

Sandbox Sandbox::load() {
    Sandbox sb;
    sb.env = test::SandboxEnv::load();
    const auto j = nlohmann::json::parse(read_file(sb.env.dir / "sandbox.json"));
    const auto& pf = j.at("postfix");
    if (pf.size() != 1) {
        throw std::runtime_error("the rollover tests want exactly one Postfix instance, " +
                                 (sb.env.dir / "sandbox.json").string() + " lists " +
                                 std::to_string(pf.size()));
    }
    sb.postfix_config_dir = pf[0].at("config_dir").get<std::string>();
    for (const auto& [alg, file] : pf[0].at("pem").items()) {
        sb.postfix_pem[alg] = file.get<std::string>();
    }
    sb.tools = sb.env.tool.parent_path();
    sb.owner = "_25._tcp." + sb.env.mx_host + ".";
    return sb;
}

ProcResult Sandbox::tool(const std::vector<std::string>& args, Ms timeout) const {
    std::vector<std::string> argv{env.tool.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_proc(argv, timeout);
}

ProcResult Sandbox::local_ca(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{(tools / "local-ca").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_proc(argv, Ms(60000));
}

ProcResult Sandbox::dane_check(const std::string& alg) const {
    return tool({"dane-check", env.dir.string(), "--alg", alg});
}

ProcResult Sandbox::posttls() const {
    return tool({"posttls", env.dir.string()}, Ms(120000));
}

ProcResult Sandbox::postfix_reload() const {
    return tool({"postfix-reload", env.dir.string()});
}

std::vector<Certificate> Sandbox::installed_chain(const std::string& algorithm) const {
    const auto& file = postfix_pem.at(algorithm);
    return parse_certificates(read_file(file), file.string());
}

Ms Sandbox::two_ttl() const {
    return Ms(2000LL * std::max(env.ttl, env.negative_ttl));
}

TlsaRecord ee_record(const Certificate& cert) {
    return tlsa_from_spki(tlsa::kDaneEe, cert.spki_der(), tlsa::kMatchSha256);
}

TlsaRecord ta_record(const Certificate& cert) {
    return tlsa_from_spki(tlsa::kDaneTa, cert.spki_der(), tlsa::kMatchSha256);
}

std::string spki_hex(const Certificate& cert) {
    return to_hex(sha256(cert.spki_der()));
}

void Sandbox::reset_to_served_chains() const {
    const auto reload = postfix_reload();
    if (!reload.ok()) {
        throw std::runtime_error("sandbox reset: " + reload.describe());
    }
    std::set<TlsaRecord> want;
    std::map<std::string, std::string> want_leaf;  // alg -> spki hex
    for (const auto& [alg, file] : postfix_pem) {
        const auto chain = installed_chain(alg);
        want.insert(ee_record(chain.front()));
        want_leaf[alg] = spki_hex(chain.front());
    }
    // nsupdate (bind9-dnsutils): replace the RRset in one UPDATE.
    std::string script = "server " + env.primary.address + " " + std::to_string(env.primary.port) +
                         "\nzone " + env.zone + "\n" + "update delete " + owner + " TLSA\n";
    for (const auto& r : want) {
        script +=
            "update add " + owner + " " + std::to_string(env.ttl) + " TLSA " + r.to_string() + "\n";
    }
    script += "send\n";
    fs::create_directories(DANEROLL_E2E_WORK_DIR);
    const fs::path file = fs::path(DANEROLL_E2E_WORK_DIR) / ("reset-" + env.net + ".nsupdate");
    write_file_atomic(file, script, 0600, Overwrite::Yes);
    const auto upd = run_proc(
        {"/usr/bin/nsupdate", "-t", "5", "-k", env.update.file.string(), file.string()}, Ms(30000));
    if (!upd.ok()) {
        throw std::runtime_error("sandbox reset: nsupdate failed: " + upd.describe());
    }
    DnsSnapshot last;
    const bool dns_ok = test::wait_until(
        [&] {
            last = dig_snapshot(*this);
            if (!last.complete) {
                return false;
            }
            return std::all_of(last.servers.begin(), last.servers.end(), [&](const ServerRrset& s) {
                return s.records == want && s.signed_;
            });
        },
        Ms(20000));
    if (!dns_ok) {
        throw std::runtime_error("sandbox reset: the servers do not serve exactly " +
                                 short_records(want) + " signed after 20 s:\n" + last.describe());
    }
    std::string why;
    const bool mta_ok = test::wait_until(
        [&] {
            why.clear();
            for (const auto& addr : env.mx_addrs) {
                for (const auto& [alg, leaf] : want_leaf) {
                    const auto c = served_chain(*this, addr, alg);
                    if (c.leaf_spki != leaf) {
                        why += addr + "/" + alg + ": " +
                               (c.error.empty() ? "serves another leaf " + c.leaf_spki : c.error) +
                               "; ";
                    }
                }
            }
            return why.empty();
        },
        Ms(15000));
    if (!mta_ok) {
        throw std::runtime_error("sandbox reset: Postfix does not serve its files: " + why);
    }
    // A moment for the resolver's view to settle. No chain deployed later
    // can match these records (every new chain has a fresh key), so they
    // need not be established for the observer's judgement.
    std::this_thread::sleep_for(500ms);
}

// ---------------------------------------------------- independent DNS view

ServerRrset dig_server(const dns::Server& server, const std::string& owner) {
    ServerRrset s;
    s.server = server.label();
    const auto r = run_proc({"/usr/bin/dig", "+norecurse", "+dnssec", "+noall", "+comments",
                             "+answer", "+nosplit", "+time=1", "+tries=2", "-p",
                             std::to_string(server.port), "@" + server.address, owner, "TLSA"},
                            Ms(10000));
    if (!r.ok()) {
        s.status = "dig: " + (r.exited ? "exit " + std::to_string(r.code) : "killed") + ": " +
                   tail(r.output, 200);
        return s;
    }
    std::istringstream in(r.output);
    std::string line;
    while (std::getline(in, line)) {
        if (const auto p = line.find("status: "); p != std::string::npos) {
            const auto e = line.find(',', p);
            s.status = line.substr(p + 8, e == std::string::npos ? e : e - p - 8);
            continue;
        }
        if (line.empty() || line[0] == ';') {
            continue;
        }
        std::istringstream f(line);
        std::string name, ttl, cls, type;
        f >> name >> ttl >> cls >> type;
        if (type == "TLSA") {
            std::string rdata;
            std::getline(f, rdata);
            s.records.insert(TlsaRecord::parse(rdata));
            s.ttl = std::max(s.ttl, static_cast<std::uint32_t>(std::stoul(ttl)));
        } else if (type == "RRSIG") {
            std::string covered;
            f >> covered;
            if (covered == "TLSA") {
                s.signed_ = true;
            }
        }
    }
    s.answered = s.status == "NOERROR" || s.status == "NXDOMAIN";
    return s;
}

TimePoint mtime_of(const fs::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        throw std::runtime_error("cannot stat " + file.string());
    }
    return TimePoint(std::chrono::duration_cast<Clock::duration>(
        std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

bool DnsSnapshot::absent_everywhere(const TlsaRecord& r) const {
    return complete && std::none_of(servers.begin(), servers.end(),
                                    [&](const ServerRrset& s) { return s.records.count(r) != 0; });
}

std::string DnsSnapshot::describe() const {
    std::string out;
    for (const auto& s : servers) {
        out += "  " + s.server + ": " + s.status + (s.signed_ ? ", signed " : ", unsigned ") +
               short_records(s.records) + "\n";
    }
    return out;
}

DnsSnapshot dig_snapshot(const Sandbox& sb) {
    DnsSnapshot d;
    d.begin = Clock::now();
    for (const auto& server : sb.env.name_servers()) {
        d.servers.push_back(dig_server(server, sb.owner));
    }
    d.end = Clock::now();
    d.complete = std::all_of(d.servers.begin(), d.servers.end(),
                             [](const ServerRrset& s) { return s.answered; });
    if (d.complete && !d.servers.empty()) {
        for (const auto& r : d.servers.front().records) {
            if (std::all_of(d.servers.begin(), d.servers.end(), [&](const ServerRrset& s) {
                    return s.signed_ && s.records.count(r) != 0;
                })) {
                d.everywhere.insert(r);
            }
        }
    }
    for (const auto& s : d.servers) {
        d.max_ttl = std::max(d.max_ttl, s.ttl);
    }
    return d;
}

// -------------------------------------------------------- independent MTA view

ServedChain served_chain(const Sandbox& sb, const std::string& address,
                         const std::string& algorithm) {
    smtp::ProbeRequest req;
    req.host = sb.env.mx_host;
    req.port = 25;
    req.addresses = {address};
    req.ehlo_name = "observer.invalid";
    req.timeout = Ms(3000);
    req.key_preference =
        algorithm.rfind("rsa", 0) == 0 ? smtp::KeyPreference::Rsa : smtp::KeyPreference::Ecdsa;
    ServedChain out;
    try {
        const auto report = smtp::probe(req);
        if (report.results.empty() || report.results.front().chain.empty()) {
            out.error = report.results.empty()
                            ? std::string("no result")
                            : std::string(smtp::status_name(report.results.front().status)) + ": " +
                                  report.results.front().reason;
            return out;
        }
        out.chain = report.results.front().chain;
    } catch (const std::exception& e) {
        out.error = e.what();
        return out;
    }
    return identify(std::move(out.chain));
}

ServedChain identify(std::vector<Certificate> chain) {
    ServedChain out;
    out.chain = std::move(chain);
    for (const auto& c : out.chain) {
        out.id += (out.id.empty() ? "" : ":") + to_hex(sha256(c.der())).substr(0, 24);
    }
    if (!out.chain.empty()) {
        out.leaf_spki = spki_hex(out.chain.front());
    }
    return out;
}

// ------------------------------------------------------------------ observer

Observer::Observer(const Sandbox& sb, std::vector<std::string> algorithms)
    : sb_(sb), algorithms_(std::move(algorithms)) {}

Observer::~Observer() {
    stop_ = true;
    if (thread_.joinable()) {
        thread_.join();
    }
}

void Observer::sample_once() {
    Sample s;
    s.dns = dig_snapshot(sb_);
    s.probe_begin = Clock::now();
    std::vector<ServedChain> seen;
    for (const auto& addr : sb_.env.mx_addrs) {
        for (const auto& alg : algorithms_) {
            auto c = served_chain(sb_, addr, alg);
            s.chains[addr + "/" + alg] = c.id;
            seen.push_back(std::move(c));
        }
    }
    s.probe_end = Clock::now();
    for (const auto& [alg, file] : sb_.postfix_pem) {
        try {
            // mtime first: a rename after it shows as a change next time.
            const TimePoint m = mtime_of(file);
            auto c = identify(parse_certificates(read_file(file), file.string()));
            s.files[alg] = {c.id, m};
            seen.push_back(std::move(c));
        } catch (const std::exception&) {
            s.files[alg] = {"", TimePoint{}};
        }
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : seen) {
        if (!c.id.empty() && chains_.count(c.id) == 0) {
            chains_.emplace(c.id, std::move(c));
        }
    }
    samples_.push_back(std::move(s));
}

void Observer::loop() {
    // Bounded in count (and so in time: a sample takes at least ~150 ms).
    constexpr int kMaxSamples = 4000;
    for (int i = 0; i < kMaxSamples && !stop_; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        sample_once();
        const auto spent = std::chrono::steady_clock::now() - t0;
        if (spent < 150ms) {
            std::this_thread::sleep_for(150ms - spent);
        }
    }
}

void Observer::start() {
    if (started_) {
        return;
    }
    started_ = true;
    sample_once();
    thread_ = std::thread([this] { loop(); });
}

void Observer::stop() {
    if (!started_ || stopped_) {
        return;
    }
    stopped_ = true;
    stop_ = true;
    if (thread_.joinable()) {
        thread_.join();
    }
    sample_once();
}

std::size_t Observer::samples() const {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_.size();
}

std::optional<TimePoint> Observer::first_seen_leaf(const std::string& spki) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& s : samples_) {
        for (const auto& [where, id] : s.chains) {
            if (!id.empty() && chains_.at(id).leaf_spki == spki) {
                return s.probe_end;
            }
        }
    }
    return std::nullopt;
}

bool Observer::ever_served_leaf(const std::string& spki) const {
    return first_seen_leaf(spki).has_value();
}

std::optional<TimePoint> Observer::first_served_by(const std::string& server_addr,
                                                   const TlsaRecord& r) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& s : samples_) {
        for (const auto& srv : s.dns.servers) {
            if (srv.server.find("(" + server_addr + ")") != std::string::npos && srv.answered &&
                srv.signed_ && srv.records.count(r) != 0) {
                return s.dns.end;
            }
        }
    }
    return std::nullopt;
}

Observer::Verdict Observer::judge() const {
    std::lock_guard<std::mutex> lock(mu_);
    Verdict v;
    v.samples = samples_.size();
    if (samples_.empty()) {
        v.violations.push_back("the observer took no sample");
        return v;
    }
    std::uint32_t ttl = std::max(sb_.env.ttl, sb_.env.negative_ttl);
    for (const auto& s : samples_) {
        ttl = std::max(ttl, s.dns.max_ttl);
        if (!s.dns.complete) {
            ++v.dns_incomplete;
        }
    }
    v.wait_s = 2.0 * ttl;
    const TimePoint t0 = samples_.front().dns.begin;
    auto at = [&](TimePoint t) { return "+" + fmt_s(seconds_between(t0, t)); };

    std::map<std::pair<std::string, TlsaRecord>, bool> memo;
    auto matches = [&](const std::string& id, const TlsaRecord& r) {
        const auto key = std::make_pair(id, r);
        if (auto it = memo.find(key); it != memo.end()) {
            return it->second;
        }
        OfflineMatchOptions o;
        o.reference_names = {sb_.env.mx_host};
        const bool m = verify_chain_offline(chains_.at(id).chain, {r}, o).verified;
        memo.emplace(key, m);
        return m;
    };
    auto leaf_of = [&](const std::string& id) {
        const auto& c = chains_.at(id);
        return c.chain.front().subject() + " key " + c.leaf_spki.substr(0, 12);
    };

    const std::size_t n = samples_.size();
    std::map<std::string, std::string> last;     // where -> last chain id seen
    std::map<std::string, std::size_t> last_at;  // where -> sample of it
    for (std::size_t k = 0; k < n; ++k) {
        const Sample& s = samples_[k];
        // The DNS samples around this probe: the latest complete one taken
        // before it (its own or earlier) and the first complete one after.
        std::optional<std::size_t> before;
        for (std::size_t j = k + 1; j-- > 0;) {
            if (samples_[j].dns.complete) {
                before = j;
                break;
            }
        }
        std::optional<std::size_t> after;
        for (std::size_t j = k + 1; j < n; ++j) {
            if (samples_[j].dns.complete) {
                after = j;
                break;
            }
        }
        for (const auto& [where, id] : s.chains) {
            if (id.empty()) {
                ++v.chain_failures;
                continue;
            }
            // Rule 2 (and rule 1 at every instant): the chain matches a
            // record every server serves, signed.
            bool covered = false;
            for (const auto j : {before, after}) {
                if (!j) {
                    continue;
                }
                for (const auto& r : samples_[*j].dns.everywhere) {
                    covered = covered || matches(id, r);
                }
            }
            if (!covered && (before || after)) {
                v.violations.push_back(
                    "RETIRE/COVERAGE: at " + at(s.probe_end) + " " + where + " served " +
                    leaf_of(id) + ", which matches no record served signed by every server " +
                    (before ? "at " + at(samples_[*before].dns.begin) : std::string()) +
                    (after ? " or at " + at(samples_[*after].dns.begin) : std::string()) +
                    " (before: " +
                    (before ? short_records(samples_[*before].dns.everywhere) : "-") + ", after: " +
                    (after ? short_records(samples_[*after].dns.everywhere) : "-") + ")");
            }
            // Rule 1 at each appearance of a chain.
            const auto prev = last.find(where);
            if (prev != last.end() && prev->second == id) {
                last_at[where] = k;
                continue;
            }
            Appearance a;
            a.where = where;
            a.chain_id = id;
            a.leaf_spki = chains_.at(id).leaf_spki;
            a.sample = k;
            a.initial = prev == last.end() && k <= 2;
            if (a.initial) {
                a.margin_low_s = a.margin_high_s = std::numeric_limits<double>::infinity();
            } else if (!before) {
                v.violations.push_back("DEPLOY: at " + at(s.probe_end) + " " + where + " served " +
                                       leaf_of(id) + " before any complete DNS sample");
            } else {
                double best_high = -std::numeric_limits<double>::infinity();
                double best_low = best_high;
                std::string best_record;
                for (const auto& r : samples_[*before].dns.everywhere) {
                    if (!matches(id, r)) {
                        continue;
                    }
                    // The run of complete samples, ending at `before`, that
                    // all had r everywhere; and the complete sample before it.
                    std::size_t first_yes = *before;
                    std::optional<std::size_t> last_no;
                    for (std::size_t j = *before; j-- > 0;) {
                        const auto& d = samples_[j].dns;
                        if (!d.complete) {
                            continue;
                        }
                        if (!d.has_everywhere(r)) {
                            last_no = j;
                            break;
                        }
                        first_yes = j;
                    }
                    double high = std::numeric_limits<double>::infinity();
                    double low = high;
                    if (last_no) {
                        high = seconds_between(samples_[*last_no].dns.begin, s.probe_end);
                        const TimePoint prev_probe = prev != last.end()
                                                         ? samples_[last_at[where]].probe_begin
                                                         : s.probe_begin;
                        low = seconds_between(samples_[first_yes].dns.end, prev_probe);
                    }
                    if (high > best_high) {
                        best_high = high;
                        best_low = low;
                        best_record = r.short_string();
                    }
                }
                a.margin_high_s = best_high;
                a.margin_low_s = best_low;
                a.record = best_record;
                if (best_record.empty()) {
                    v.violations.push_back(
                        "DEPLOY: at " + at(s.probe_end) + " " + where + " started serving " +
                        leaf_of(id) + ", which matches no record served signed by every server (" +
                        short_records(samples_[*before].dns.everywhere) + ")");
                } else if (best_high < v.wait_s) {
                    v.violations.push_back("DEPLOY: at " + at(s.probe_end) + " " + where +
                                           " started serving " + leaf_of(id) +
                                           "; its best record " + best_record +
                                           " had been on every server for at most " +
                                           fmt_s(best_high) + " (at least " + fmt_s(best_low) +
                                           "), less than 2 x TTL = " + fmt_s(v.wait_s));
                }
            }
            v.appearances.push_back(a);
            last[where] = id;
            last_at[where] = k;
        }
    }

    // Installs: each change of a Postfix file, at its exact mtime.
    for (const auto& alg : algorithms_) {
        std::string prev;
        for (std::size_t k = 0; k < n; ++k) {
            const auto it = samples_[k].files.find(alg);
            if (it == samples_[k].files.end() || it->second.first.empty() ||
                it->second.first == prev) {
                continue;
            }
            const auto& [id, mtime] = it->second;
            Install in;
            in.algorithm = alg;
            in.leaf_spki = chains_.at(id).leaf_spki;
            in.at = mtime;
            in.initial = prev.empty();
            prev = id;
            in.margin_low_s = in.margin_high_s = std::numeric_limits<double>::infinity();
            if (!in.initial) {
                std::optional<std::size_t> before;
                for (std::size_t j = n; j-- > 0;) {
                    if (samples_[j].dns.complete && samples_[j].dns.end <= mtime) {
                        before = j;
                        break;
                    }
                }
                in.margin_high_s = -std::numeric_limits<double>::infinity();
                for (const auto& r :
                     before ? samples_[*before].dns.everywhere : std::set<TlsaRecord>{}) {
                    if (!matches(id, r)) {
                        continue;
                    }
                    std::size_t first_yes = *before;
                    std::optional<std::size_t> last_no;
                    for (std::size_t j = *before; j-- > 0;) {
                        if (!samples_[j].dns.complete) {
                            continue;
                        }
                        if (!samples_[j].dns.has_everywhere(r)) {
                            last_no = j;
                            break;
                        }
                        first_yes = j;
                    }
                    const double high = last_no
                                            ? seconds_between(samples_[*last_no].dns.begin, mtime)
                                            : std::numeric_limits<double>::infinity();
                    if (high > in.margin_high_s) {
                        in.margin_high_s = high;
                        in.margin_low_s =
                            last_no ? seconds_between(samples_[first_yes].dns.end, mtime) : high;
                        in.record = r.short_string();
                    }
                }
            }
            v.installs.push_back(in);
        }
    }

    // The timeline, changes only.
    std::string prev_dns;
    std::map<std::string, std::string> prev_chain;
    for (std::size_t k = 0; k < n; ++k) {
        const Sample& s = samples_[k];
        std::string dns;
        for (const auto& srv : s.dns.servers) {
            dns += " " + srv.server.substr(0, srv.server.find(' ')) + "=" +
                   (srv.answered ? (srv.signed_ || srv.records.empty() ? "" : "UNSIGNED") +
                                       short_records(srv.records)
                                 : "?" + srv.status.substr(0, 60));
        }
        if (dns != prev_dns) {
            v.timeline += at(s.dns.begin) + " dns" + dns + "\n";
            prev_dns = dns;
        }
        for (const auto& [where, id] : s.chains) {
            if (prev_chain[where] != id) {
                v.timeline += at(s.probe_end) + " " + where + " serves " +
                              (id.empty() ? std::string("(no handshake)") : leaf_of(id)) + "\n";
                prev_chain[where] = id;
            }
        }
    }
    v.timeline += "(" + std::to_string(n) + " samples, " + std::to_string(v.dns_incomplete) +
                  " with a DNS server not answering, " + std::to_string(v.chain_failures) +
                  " probes without a handshake; 2 x TTL = " + fmt_s(v.wait_s) + ")\n";
    for (const auto& in : v.installs) {
        v.timeline +=
            "install: " + at(in.at) + " " + in.algorithm + " file gets leaf key " +
            in.leaf_spki.substr(0, 12) +
            (in.initial          ? std::string(" (in place when the observer started)")
             : in.record.empty() ? std::string(" matching NO record on every server")
                                 : " via " + in.record + ", everywhere for " +
                                       fmt_s(in.margin_low_s) + " .. " + fmt_s(in.margin_high_s)) +
            "\n";
    }
    for (const auto& a : v.appearances) {
        v.timeline += "appearance: " + at(samples_[a.sample].probe_end) + " " + a.where + " " +
                      leaf_of(a.chain_id) +
                      (a.initial ? " (served when the observer started)"
                                 : " via " + a.record + ", everywhere for " +
                                       fmt_s(a.margin_low_s) + " .. " + fmt_s(a.margin_high_s)) +
                      "\n";
    }
    return v;
}

// --------------------------------------------------------- daneroll itself

namespace {

std::string toml_string(const std::string& s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out + "\"";
}

std::string toml_array(const std::vector<std::string>& v) {
    std::string out = "[";
    for (const auto& s : v) {
        out += (out.size() == 1 ? "" : ", ") + toml_string(s);
    }
    return out + "]";
}

}  // namespace

Daneroll::Daneroll(const Sandbox& sb, const std::string& test_name) : sb_(sb) {
    // The build tree's work directory; the environment may move it.
    const char* work = std::getenv("DANEROLL_E2E_WORK_DIR");
    dir_ = fs::path(work != nullptr ? work : DANEROLL_E2E_WORK_DIR) / test_name;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    config_ = dir_ / "daneroll.toml";
    state_ = dir_ / "state";
    ca_ = dir_ / "ca";
    const auto r = sb_.local_ca({"init", ca_.string(), "daneroll e2e CA"});
    if (!r.ok()) {
        throw std::runtime_error("local-ca init: " + r.describe());
    }
}

void Daneroll::write_config(const ConfigSpec& spec) {
    const auto& e = sb_.env;
    const std::string combined =
        spec.combined_file.empty()
            ? (sb_.postfix_pem.begin()->second.parent_path() / "{algorithm}.pem").string()
            : spec.combined_file;
    const std::vector<std::string> reload =
        spec.reload.empty() ? std::vector<std::string>{"/usr/sbin/postfix", "-c",
                                                       sb_.postfix_config_dir.string(), "reload"}
                            : spec.reload;
    std::string t =
        "# written by the rollover end-to-end tests\n[daneroll]\nstate_dir = " +
        toml_string(state_.string()) + "\nresolver = " + toml_string(e.resolver.address) +
        (spec.log_level.empty() ? "" : "\nlog_level = " + toml_string(spec.log_level)) +
        "\n\n[tsig.update]\nfile = " + toml_string(e.update.file.string()) + "\n\n[zone." +
        toml_string(e.zone) +
        "]\ntsig_key = \"update\"\n\n[service.mx1]\nhost = " + toml_string(e.mx_host) +
        "\nttl = " + std::to_string(e.ttl) + "\nalgorithms = " + toml_array(spec.algorithms) +
        "\nscheme = " + (spec.issuer_scheme ? "\"current+issuer\"" : "\"current+next\"") +
        "\nrotation_period = \"30d\"\nrenew_before = \"10d\"\n";
    if (spec.issuer_scheme) {
        std::vector<std::string> files;
        for (const auto& f : spec.issuer_files) {
            files.push_back(f.string());
        }
        t += "\n[service.mx1.issuers]\n";
        for (const auto& alg : spec.algorithms) {
            t += alg + " = " + toml_array(files) + "\n";
        }
    }
    if (!spec.command.empty()) {
        t += "\n[service.mx1.source]\ntype = \"command\"\ncommand = " + toml_array(spec.command);
    } else if (spec.certbot_lineage.empty()) {
        t += "\n[service.mx1.source]\ntype = \"command\"\ncommand = " +
             toml_array({(sb_.tools / "local-ca").string(), "sign", ca_.string(), "{csr}",
                         "{chain}", "90"});
    } else {
        t += "\n[service.mx1.source]\ntype = \"certbot\"\nlineage = " +
             toml_string(spec.certbot_lineage);
    }
    if (spec.install.empty()) {
        t += "\n\n[service.mx1.mta]\ntype = \"postfix\"\ncombined_file = " + toml_string(combined) +
             "\nreload = " + toml_array(reload);
    } else {
        t += "\n\n[service.mx1.mta]\ntype = \"command\"\nkey_file = " + toml_string(spec.key_file) +
             "\nchain_file = " + toml_string(spec.chain_file) +
             "\ninstall = " + toml_array(spec.install) + "\nreload = " + toml_array(reload);
    }
    t += "\n\n[service.mx1.probe]\ntimeout = \"5s\"\n";
    write_file_atomic(config_, t, 0644, Overwrite::Yes);
}

ProcResult Daneroll::cmd(std::vector<std::string> args, Ms timeout,
                         const std::vector<std::string>& extra_env) const {
    // DANEROLL_E2E_BIN runs the tests against another build of daneroll.
    const char* bin = std::getenv("DANEROLL_E2E_BIN");
    args.insert(args.begin(), bin != nullptr ? bin : DANEROLL_BIN);
    args.push_back("-c");
    args.push_back(config_.string());
    return run_proc(args, timeout, extra_env);
}

ProcResult Daneroll::run_wait(std::chrono::seconds limit,
                              const std::vector<std::string>& extra_env) const {
    return cmd({"run", "--wait", "--timeout", std::to_string(limit.count()) + "s"},
               std::chrono::duration_cast<Ms>(limit + std::chrono::seconds(30)), extra_env);
}

nlohmann::json Daneroll::status() const {
    const auto r = cmd({"status", "--json"}, Ms(30000));
    try {
        if (!r.ok()) {
            throw std::runtime_error("not ok");
        }
        return nlohmann::json::parse(r.output);
    } catch (const std::exception&) {
        throw std::runtime_error("daneroll status --json: " + r.describe());
    }
}

nlohmann::json Daneroll::unit(const std::string& algorithm) const {
    const auto s = status();
    for (const auto& u : s.at("units")) {
        if (u.at("algorithm") == algorithm) {
            return u;
        }
    }
    throw std::runtime_error("status --json has no unit " + algorithm + ": " + s.dump(2));
}

std::string Daneroll::state_file(const std::string& algorithm) const {
    try {
        return read_file(state_ / "units" / ("mx1." + algorithm + ".json"));
    } catch (const std::exception& e) {
        return std::string("(") + e.what() + ")";
    }
}

std::vector<TlsaRecord> records_with_role(const nlohmann::json& unit, const std::string& role) {
    std::vector<TlsaRecord> out;
    for (const auto& r : unit.at("records")) {
        if (r.at("role") == role) {
            out.push_back(TlsaRecord::parse(r.at("record").get<std::string>()));
        }
    }
    return out;
}

std::string diagnostics(const Daneroll& d, const std::vector<std::string>& algorithms) {
    std::string out = "--- daneroll status --json:\n";
    const auto r = d.cmd({"status", "--json"}, Ms(30000));
    out += r.output;
    for (const auto& alg : algorithms) {
        out += "--- state file of " + alg + ":\n" + tail(d.state_file(alg), 12000) + "\n";
    }
    return out;
}

Observer::Verdict judge_safe(Observer& observer, const std::string& context) {
    observer.stop();
    auto v = observer.judge();
    std::string all;
    for (const auto& x : v.violations) {
        all += "  " + x + "\n";
    }
    EXPECT_TRUE(v.violations.empty()) << (context.empty() ? "" : context + ": ")
                                      << "the independent observer saw the safety rules broken:\n"
                                      << all << "timeline:\n"
                                      << v.timeline;
    EXPECT_GT(v.samples, 10u) << "the observer took too few samples to judge anything";
    std::cout << "observer: " << v.samples << " samples; appearances:\n";
    for (const auto& a : v.appearances) {
        std::cout << "  " << a.where << " leaf " << a.leaf_spki.substr(0, 12)
                  << (a.initial ? " (initial)"
                                : " via " + a.record + ", everywhere for " +
                                      std::to_string(a.margin_low_s) + " .. " +
                                      std::to_string(a.margin_high_s) + " s")
                  << "\n";
    }
    for (const auto& in : v.installs) {
        if (!in.initial) {
            std::cout << "  installed " << in.algorithm << " leaf " << in.leaf_spki.substr(0, 12)
                      << " via " << in.record << ", everywhere for " << in.margin_low_s << " .. "
                      << in.margin_high_s << " s before the file changed\n";
        }
    }
    return v;
}

const Observer::Appearance* appearance_of(const Observer::Verdict& v,
                                          const std::string& leaf_spki) {
    for (const auto& a : v.appearances) {
        if (!a.initial && a.leaf_spki == leaf_spki) {
            return &a;
        }
    }
    return nullptr;
}

}  // namespace daneroll::e2e
