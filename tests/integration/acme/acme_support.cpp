#include "acme_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "daneroll/common/files.hpp"

#if !defined(DANEROLL_BIN) || !defined(DANEROLL_PEBBLE_UP) || !defined(DANEROLL_ACME_WORK_DIR)
#error "DANEROLL_BIN, DANEROLL_PEBBLE_UP and DANEROLL_ACME_WORK_DIR must be defined"
#endif

namespace daneroll::acme_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string toml_string(const std::string& s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
        }
        out.push_back(c);
    }
    return out + "\"";
}

std::string toml_array(const std::vector<std::string>& v) {
    std::string out = "[";
    for (const auto& s : v) {
        out += (out.size() > 1 ? ", " : "") + toml_string(s);
    }
    return out + "]";
}

std::string must(const ProcResult& r, const std::string& what) {
    if (!r.ok()) {
        throw std::runtime_error(what + ": " + r.describe());
    }
    return r.output;
}

}  // namespace

// -------------------------------------------------------------------- Pebble

Pebble::Pebble(const fs::path& dir, PebbleOptions options)
    : dir_(dir), options_(std::move(options)) {
    std::vector<std::string> argv{DANEROLL_PEBBLE_UP, dir_.string(),
                                  "--addr",           options_.addr,
                                  "--http-port",      std::to_string(options_.http_port)};
    if (options_.fake_dns) {
        argv.insert(argv.end(), {"--fake-dns", *options_.fake_dns});
    }
    if (options_.dns) {
        argv.insert(argv.end(), {"--dns", *options_.dns});
    }
    if (options_.eab) {
        argv.insert(argv.end(), {"--eab", *options_.eab});
    }
    for (const auto& e : options_.env) {
        argv.insert(argv.end(), {"--env", e});
    }
    must(e2e::run_proc(argv, 40s), "pebble-up");
}

Pebble::~Pebble() {
    static_cast<void>(e2e::run_proc({DANEROLL_PEBBLE_UP, "--down", dir_.string()}, 20s));
}

std::string Pebble::directory() const {
    return "https://" + options_.addr + ":14000/dir";
}

std::string Pebble::root_pem(int index) const {
    return must(
        e2e::run_proc({"/usr/bin/curl", "-sf", "--max-time", "5", "--cacert", ca().string(),
                       "https://" + options_.addr + ":15000/roots/" + std::to_string(index)},
                      10s),
        "fetch Pebble's root " + std::to_string(index));
}

std::string Pebble::intermediate_pem(int index) const {
    return must(e2e::run_proc(
                    {"/usr/bin/curl", "-sf", "--max-time", "5", "--cacert", ca().string(),
                     "https://" + options_.addr + ":15000/intermediates/" + std::to_string(index)},
                    10s),
                "fetch Pebble's intermediate " + std::to_string(index));
}

std::string Pebble::root_cn(int index) const {
    const fs::path f = dir_ / ("root-" + std::to_string(index) + ".pem");
    write_file_atomic(f, root_pem(index), 0644, Overwrite::Yes);
    std::string subject = must(e2e::run_proc({"/usr/bin/openssl", "x509", "-in", f.string(),
                                              "-noout", "-subject", "-nameopt", "multiline"},
                                             10s),
                               "openssl x509 -subject");
    const auto at = subject.find("commonName");
    if (at == std::string::npos) {
        throw std::runtime_error("no commonName in " + subject);
    }
    std::string cn = subject.substr(subject.find('=', at) + 1);
    cn = cn.substr(0, cn.find('\n'));
    cn.erase(0, cn.find_first_not_of(' '));
    return cn;
}

std::string Pebble::log() const {
    try {
        const std::string all = read_file(dir_ / "pebble.log");
        return all.size() > 6000 ? all.substr(all.size() - 6000) : all;
    } catch (const std::exception& e) {
        return e.what();
    }
}

// ---------------------------------------------------------------- Background

Background::Background(const std::vector<std::string>& argv, const fs::path& log) {
    std::vector<std::string> copy = argv;
    std::vector<char*> args;
    for (auto& a : copy) {
        args.push_back(a.data());
    }
    args.push_back(nullptr);
    const std::string log_path = log.string();
    pid_ = ::fork();
    if (pid_ < 0) {
        throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) {
        ::setpgid(0, 0);
        const int in = ::open("/dev/null", O_RDONLY);
        const int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in >= 0) {
            ::dup2(in, STDIN_FILENO);
        }
        if (out >= 0) {
            ::dup2(out, STDOUT_FILENO);
            ::dup2(out, STDERR_FILENO);
        }
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::setpgid(pid_, pid_);
}

Background::~Background() {
    if (pid_ <= 0) {
        return;
    }
    ::kill(-pid_, SIGTERM);
    // Bounded: 3 s for a clean exit, then SIGKILL and a blocking reap.
    for (int i = 0; i < 60; ++i) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            return;
        }
        std::this_thread::sleep_for(50ms);
    }
    ::kill(-pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
}

bool Background::wait_port(const std::string& addr, std::uint16_t port, Ms limit) const {
    return test::wait_until([&] { return !port_closed(addr, port); }, limit);
}

bool port_closed(const std::string& addr, std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return true;
    }
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
    const bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    ::close(fd);
    return !connected;
}

// --------------------------------------------------------------------- misc

std::string current_test_name() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return std::string(info->test_suite_name()) + "." + info->name();
}

fs::path fresh_work_dir(const std::string& name) {
    const char* work = std::getenv("DANEROLL_ACME_WORK_DIR");
    const fs::path dir = fs::path(work != nullptr ? work : DANEROLL_ACME_WORK_DIR) / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::permissions(dir.parent_path(), fs::perms::owner_all | fs::perms::group_read |
                                           fs::perms::group_exec | fs::perms::others_read |
                                           fs::perms::others_exec);
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    return dir;
}

fs::path write_config(const fs::path& dir, const ConfigSpec& s) {
    fs::path tsig = s.tsig_file;
    if (tsig.empty()) {
        // Never used to sign anything in the http-01 tests: the config
        // needs a zone, and a zone needs a key.
        tsig = dir / "unused-tsig.key";
        write_file_atomic(tsig,
                          "key \"unused\" { algorithm hmac-sha256; secret "
                          "\"dW51c2VkdW51c2VkdW51c2VkdW51c2VkdW51c2VkMTI=\"; };\n",
                          0600, Overwrite::Yes);
    }
    std::string t = "# written by the ACME integration tests\n[daneroll]\nstate_dir = " +
                    toml_string(s.state_dir.string()) +
                    "\nlog_level = " + toml_string(s.log_level) + "\n";
    if (!s.resolver.empty()) {
        t += "resolver = " + toml_string(s.resolver) + "\n";
    }
    t += "\n[acme]\ndirectory = " + toml_string(s.directory) +
         "\nca_bundle = " + toml_string(s.ca_bundle.string()) +
         "\nagree_tos = true\ncontact = [\"mailto:hostmaster@example.test\"]\n";
    if (s.eab_kid) {
        t += "eab_kid = " + toml_string(*s.eab_kid) + "\n";
    }
    if (s.eab_key_file) {
        t += "eab_hmac_key_file = " + toml_string(s.eab_key_file->string()) + "\n";
    }
    if (s.preferred_chain) {
        t += "preferred_chain = " + toml_string(*s.preferred_chain) + "\n";
    }
    t += "\n[tsig.update]\nfile = " + toml_string(tsig.string()) + "\n\n[zone." +
         toml_string(s.zone) +
         "]\ntsig_key = \"update\"\n\n[service.mx1]\nhost = " + toml_string(s.host) +
         "\nnames = " + toml_array(s.names) + "\n" + s.service_extra +
         "\n[service.mx1.source]\ntype = \"acme\"\n" + s.source + "\n[service.mx1.mta]\n" +
         (s.mta.empty() ? "type = \"postfix\"\ncombined_file = " +
                              toml_string((dir / "{algorithm}.pem").string()) + "\n"
                        : s.mta);
    const fs::path config = dir / "daneroll.toml";
    write_file_atomic(config, t, 0644, Overwrite::Yes);
    return config;
}

ProcResult daneroll(const fs::path& config, std::vector<std::string> args, Ms timeout) {
    args.insert(args.begin(), DANEROLL_BIN);
    args.push_back("-c");
    args.push_back(config.string());
    return e2e::run_proc(args, timeout);
}

std::string openssl_cert_pubkey(const fs::path& cert) {
    return must(
        e2e::run_proc({"/usr/bin/openssl", "x509", "-in", cert.string(), "-noout", "-pubkey"}, 10s),
        "openssl x509 -pubkey");
}

std::string openssl_key_pubkey(const fs::path& key) {
    return must(e2e::run_proc({"/usr/bin/openssl", "pkey", "-in", key.string(), "-pubout"}, 10s),
                "openssl pkey -pubout");
}

bool openssl_verifies(const fs::path& chain, const std::string& root_pem, const fs::path& scratch) {
    const fs::path root = scratch / "verify-root.pem";
    write_file_atomic(root, root_pem, 0644, Overwrite::Yes);
    const auto r = e2e::run_proc({"/usr/bin/openssl", "verify", "-CAfile", root.string(),
                                  "-untrusted", chain.string(), chain.string()},
                                 10s);
    return r.ok() && r.output.find(": OK") != std::string::npos;
}

std::vector<fs::path> files_below(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_directory()) {
            out.push_back(it->path());
        }
    }
    return out;
}

std::string acme_resolver(const e2e::Sandbox& sb) {
    const auto j = nlohmann::json::parse(read_file(sb.env.dir / "sandbox.json"));
    const auto& r = j.at("acme_resolver");
    if (r.is_string()) {
        return r.get<std::string>() + ":53";
    }
    return r.at("addr").get<std::string>() + ":" + std::to_string(r.at("port").get<int>());
}

}  // namespace daneroll::acme_test
