#include "sandbox.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "daneroll/common/files.hpp"
#include "daneroll/smtp/probe.hpp"

namespace daneroll::smtp_it {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const Sandbox* g_sandbox = nullptr;

// Polls `done` every 100 ms for at most `limit`; throws naming `what`.
template <typename Fn>
void wait_until(const std::string& what, std::chrono::milliseconds limit, Fn&& done) {
    const auto deadline = Clock::now() + limit;
    std::string last;
    for (int tries = 0; tries < 1000; ++tries) {
        if (done(last)) {
            return;
        }
        if (Clock::now() >= deadline) {
            break;
        }
        std::this_thread::sleep_for(100ms);
    }
    throw std::runtime_error("timed out after " + std::to_string(limit.count()) +
                             " ms waiting for " + what + (last.empty() ? "" : ": " + last));
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// A probe without records: what the instance serves, whatever it is.
smtp::AddressResult plain_probe(const SandboxInfo& info, const std::string& addr,
                                smtp::KeyPreference pref = smtp::KeyPreference::Any) {
    smtp::ProbeRequest r;
    r.key_preference = pref;
    r.host = info.mx_host;
    r.ehlo_name = "sandbox-check.invalid";
    r.timeout = 5s;
    return smtp::probe_address(r, addr);
}

}  // namespace

const Sandbox& sandbox() {
    if (g_sandbox == nullptr) {
        throw std::runtime_error("no sandbox: the test environment did not start one");
    }
    return *g_sandbox;
}

void set_sandbox(const Sandbox* s) {
    g_sandbox = s;
}

SandboxInfo load_sandbox_info(const std::filesystem::path& dir) {
    std::ifstream in(dir / "sandbox.json");
    if (!in) {
        throw std::runtime_error("cannot read " + (dir / "sandbox.json").string());
    }
    const auto j = nlohmann::json::parse(in);
    SandboxInfo s;
    s.dir = j.at("dir").get<std::string>();
    s.tool = j.at("tool").get<std::string>();
    s.zone = j.at("zone").get<std::string>();
    s.ttl = j.at("ttl").get<int>();
    s.mx_host = j.at("mx").at("host").get<std::string>();
    s.mx_addrs = j.at("mx").at("addrs").get<std::vector<std::string>>();
    s.primary_addr = j.at("primary").at("addr").get<std::string>();
    s.resolver_addr = j.at("resolver").at("addr").get<std::string>();
    s.tsig_file = j.at("tsig").at("update").at("file").get<std::string>();
    for (const auto& p : j.at("postfix")) {
        s.postfix.push_back({p.at("instance").get<std::string>(), p.at("addr").get<std::string>(),
                             p.at("config_dir").get<std::string>(),
                             p.at("pem").at("ecdsa-p256").get<std::string>(),
                             p.at("pem").at("rsa2048").get<std::string>()});
    }
    return s;
}

const PostfixInstance& Sandbox::instance(const std::string& name) const {
    for (const auto& p : info_.postfix) {
        if (p.name == name) {
            return p;
        }
    }
    throw std::runtime_error("the sandbox has no Postfix instance " + name);
}

ProcessResult Sandbox::tool(const std::string& command, const std::vector<std::string>& args,
                            bool check, std::chrono::milliseconds limit) const {
    std::vector<std::string> argv{info_.tool.string(), command, info_.dir.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv, "", limit);
    if (check && (r.timed_out || r.exit_code != 0)) {
        throw std::runtime_error("sandbox " + command + " failed: " + r.summary());
    }
    return r;
}

void Sandbox::serve(const PostfixInstance& pf, const std::vector<Certificate>& chain,
                    const PrivateKey& key) const {
    const auto alg = key.algorithm();
    const bool rsa = alg && is_rsa(*alg);
    write_file_atomic(rsa ? pf.rsa_pem : pf.ecdsa_pem, key.to_pem() + chain_to_pem(chain), 0600,
                      Overwrite::Yes);
    tool("postfix-reload", {pf.name});
    // A reload is a signal to master: wait until a new connection really
    // gets the new chain (fact 4 of tests/sandbox/README.md).
    const Bytes want = chain.front().der();
    wait_until(pf.name + " to serve " + chain.front().subject(), 15s, [&](std::string& last) {
        const auto got = plain_probe(info_, pf.addr,
                                     rsa ? smtp::KeyPreference::Rsa : smtp::KeyPreference::Ecdsa);
        last = std::string(smtp::status_name(got.status)) + ": " + got.reason;
        return !got.chain.empty() && got.chain.front().der() == want;
    });
}

void Sandbox::serve_everywhere(const std::vector<Certificate>& chain, const PrivateKey& key) const {
    for (const auto& pf : info_.postfix) {
        serve(pf, chain, key);
    }
}

void Sandbox::publish(const std::vector<TlsaRecord>& records) const {
    const std::string owner = tlsa_owner_name(info_.mx_host, 25);
    std::ostringstream cmds;
    cmds << "server " << info_.primary_addr << " 53\n"
         << "zone " << info_.zone << "\n"
         << "update delete " << owner << " TLSA\n";
    std::set<std::string> want;
    for (const auto& r : records) {
        cmds << "update add " << owner << ' ' << info_.ttl << " TLSA " << r.to_string() << '\n';
        want.insert(r.to_string());
    }
    cmds << "send\n";
    const auto up = run({"nsupdate", "-t", "5", "-k", info_.tsig_file.string()}, cmds.str(), 20s);
    if (up.timed_out || up.exit_code != 0) {
        throw std::runtime_error("nsupdate failed: " + up.summary());
    }
    tool("wait-serial", {"10"});
    // The resolver may still hold the previous RRset (or a denial) for a TTL.
    wait_until("the resolver to serve the new TLSA RRset with AD", 20s, [&](std::string& last) {
        const auto d = run({"dig", "-p", "53", "@" + info_.resolver_addr, "+dnssec", "+noall",
                            "+answer", "+comments", "+tries=1", "+time=2", "TLSA", owner},
                           "", 10s);
        last = d.output;
        std::set<std::string> got;
        bool ad = false;
        std::istringstream lines(d.output);
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind(";; flags:", 0) == 0) {
                ad = std::regex_search(line, std::regex(R"(flags:[^;]* ad[ ;])"));
            }
            std::istringstream words(line);
            std::string name;
            std::string ttl;
            std::string cls;
            std::string type;
            std::string u;
            std::string s;
            std::string m;
            if (line.empty() || line[0] == ';' || !(words >> name >> ttl >> cls >> type) ||
                type != "TLSA" || !(words >> u >> s >> m)) {
                continue;
            }
            std::string hex;
            for (std::string part; words >> part;) {
                hex += part;
            }
            got.insert(u + " " + s + " " + m + " " + lower(hex));
        }
        return ad && got == want;
    });
}

void Sandbox::set_starttls(bool on) const {
    for (const auto& pf : info_.postfix) {
        tool("postconf",
             {pf.name, "-e", std::string("smtpd_tls_security_level=") + (on ? "may" : "none")});
        tool("postfix-reload", {pf.name});
    }
    for (const auto& pf : info_.postfix) {
        wait_until(pf.name + (on ? " to offer" : " to stop offering") + " STARTTLS", 15s,
                   [&](std::string& last) {
                       const auto got = plain_probe(info_, pf.addr);
                       last = std::string(smtp::status_name(got.status)) + ": " + got.reason;
                       return on ? got.status == smtp::ProbeStatus::NoDane
                                 : got.status == smtp::ProbeStatus::NoStarttls;
                   });
    }
}

PosttlsVerdict Sandbox::posttls(const PostfixInstance* only,
                                const std::vector<std::string>& args) const {
    std::vector<const PostfixInstance*> stopped;
    if (only != nullptr) {
        for (const auto& pf : info_.postfix) {
            if (pf.name != only->name) {
                tool("stop", {pf.name});
                stopped.push_back(&pf);
            }
        }
    }
    std::vector<std::string> a{info_.zone};
    a.insert(a.end(), args.begin(), args.end());
    ProcessResult r;
    try {
        r = tool("posttls", a, false, 120s);
    } catch (...) {
        for (const auto* pf : stopped) {
            tool("start", {pf->name}, false);
        }
        throw;
    }
    for (const auto* pf : stopped) {
        tool("start", {pf->name});
    }
    if (r.timed_out) {
        throw std::runtime_error("posttls-finger did not finish: " + r.summary());
    }
    PosttlsVerdict v;
    v.output = r.output;
    v.verified = r.output.find("Verified TLS connection established") != std::string::npos;
    const std::regex addr(R"(\[([0-9a-fA-F:.]+)\]:25)");
    for (std::sregex_iterator it(r.output.begin(), r.output.end(), addr), end; it != end; ++it) {
        v.address = (*it)[1];
    }
    return v;
}

}  // namespace daneroll::smtp_it
