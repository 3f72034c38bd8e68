// The DNS module against real servers: BIND (signing primary, TSIG
// updates), NSD (secondary) and Unbound (validating resolver) from the
// sandbox. Nothing here is faked.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/dns/observe.hpp"
#include "daneroll/dns/resolver.hpp"
#include "daneroll/dns/update.hpp"
#include "daneroll/rollover/state_store.hpp"
#include "sandbox_env.hpp"
#include "test_support.hpp"

namespace daneroll {
namespace {

using namespace std::chrono_literals;

class DnsSandbox : public ::testing::Test {
  protected:
    void SetUp() override {
        env_ = test::SandboxEnv::load();
        resolver_ = std::make_unique<dns::Resolver>(env_.resolver, options_);
        owner_ = "_25._tcp." + env_.mx_host + ".";
    }

    // A fresh random DANE-EE record, so tests never depend on each other.
    static TlsaRecord random_record() {
        static std::mt19937 rng(std::random_device{}());
        TlsaRecord r;
        r.usage = 3;
        r.selector = 1;
        r.matching_type = 1;
        r.data.resize(32);
        for (auto& b : r.data) {
            b = static_cast<std::uint8_t>(rng());
        }
        return r;
    }

    dns::ZoneView observe() {
        const auto keys = resolver_->dnskeys(env_.zone).first;
        return dns::observe_zone(env_.zone, env_.name_servers(), {owner_}, keys,
                                 std::chrono::system_clock::now(), options_);
    }

    dns::UpdateOutcome change(const std::vector<TlsaRecord>& add,
                              const std::vector<TlsaRecord>& remove,
                              const test::SandboxKey* key = nullptr) {
        dns::TlsaChange c{env_.zone, owner_, env_.ttl, add, remove};
        return dns::update_tlsa(env_.primary, env_.credentials(key ? *key : env_.update), c,
                                options_);
    }

    bool everywhere(const TlsaRecord& r) {
        const auto v = observe();
        return v.served_everywhere(owner_, r, v.observed_at);
    }

    bool nowhere(const TlsaRecord& r) {
        const auto v = observe();
        for (const auto& s : v.servers) {
            const auto& o = s.owners.at(owner_);
            if (!o.answered() || o.has(r)) {
                return false;
            }
        }
        return true;
    }

    // The RRset at the owner on every server, to prove a failed update left
    // the zone alone.
    std::vector<std::vector<TlsaRecord>> snapshot() {
        std::vector<std::vector<TlsaRecord>> out;
        for (const auto& s : observe().servers) {
            out.push_back(s.owners.at(owner_).records);
        }
        return out;
    }

    // Earlier changes may still be reaching the secondary: waits (bounded)
    // until every server serves the same RRset at the owner.
    bool wait_until_servers_agree() {
        return test::wait_until(
            [&] {
                const auto s = snapshot();
                return std::all_of(s.begin(), s.end(),
                                   [&](const auto& r) { return r == s.front(); });
            },
            10s);
    }

    test::SandboxEnv env_;
    dns::QueryOptions options_{std::chrono::milliseconds(1000), 2, 64};
    std::unique_ptr<dns::Resolver> resolver_;
    std::string owner_;
};

TEST_F(DnsSandbox, PublishIsSignedOnEveryServerAndRetireRemovesIt) {
    const auto before = observe();
    const TlsaRecord r = random_record();
    const auto outcome = change({r}, {});
    EXPECT_TRUE(outcome.changed);
    EXPECT_TRUE(test::wait_until([&] { return everywhere(r); }, 10s))
        << "not signed everywhere: "
        << ::testing::PrintToString(observe().gaps(owner_, r, std::chrono::system_clock::now()));
    const auto after = observe();
    for (std::size_t i = 0; i < after.servers.size(); ++i) {
        ASSERT_TRUE(after.servers[i].soa_serial && before.servers[i].soa_serial);
        EXPECT_GT(*after.servers[i].soa_serial, *before.servers[i].soa_serial)
            << after.servers[i].server.label();
        const auto& at = after.servers[i].owners.at(owner_);
        EXPECT_TRUE(at.signature_valid) << at.signature_problem;
        EXPECT_EQ(at.ttl, env_.ttl);
        ASSERT_TRUE(at.signature_expiration.has_value());
        EXPECT_GT(*at.signature_expiration, std::chrono::system_clock::now() + 24h);
    }
    // The validating resolver agrees, with the AD bit (after any cached
    // denial has expired: the negative TTL).
    EXPECT_TRUE(test::wait_until(
        [&] {
            const auto v = resolver_->tlsa(owner_);
            return v.security == dns::Security::Secure &&
                   std::find(v.records.begin(), v.records.end(), r) != v.records.end();
        },
        std::chrono::seconds(4 * env_.negative_ttl + 4)));

    EXPECT_TRUE(change({}, {r}).changed);
    EXPECT_TRUE(test::wait_until([&] { return nowhere(r); }, 10s));
    // The retire advanced the serial on every server too.
    const auto retired = observe();
    for (std::size_t i = 0; i < retired.servers.size(); ++i) {
        ASSERT_TRUE(retired.servers[i].soa_serial.has_value());
        EXPECT_GT(*retired.servers[i].soa_serial, *after.servers[i].soa_serial)
            << retired.servers[i].server.label();
    }
    // Publishing what is there, or retiring what is not, changes nothing.
    EXPECT_FALSE(change({}, {r}).changed);
}

TEST_F(DnsSandbox, Sha512KeyWorksToo) {
    const TlsaRecord r = random_record();
    EXPECT_TRUE(change({r}, {}, &env_.update_sha512).changed);
    EXPECT_TRUE(test::wait_until([&] { return everywhere(r); }, 10s));
    EXPECT_TRUE(change({}, {r}, &env_.update_sha512).changed);
}

TEST_F(DnsSandbox, LaggingSecondaryIsNamedInTheGaps) {
    ASSERT_EQ(env_.tool_run({"lag", "nsd", env_.dir.string()}), 0);
    const TlsaRecord r = random_record();
    change({r}, {});
    // The primary has it at once; the frozen secondary never gets it.
    ASSERT_TRUE(
        test::wait_until([&] { return observe().servers.front().owners.at(owner_).has(r); }, 5s));
    std::this_thread::sleep_for(500ms);
    const auto view = observe();
    EXPECT_FALSE(view.served_everywhere(owner_, r, view.observed_at));
    const auto gaps = view.gaps(owner_, r, view.observed_at);
    ASSERT_EQ(gaps.size(), 1U) << ::testing::PrintToString(gaps);
    EXPECT_NE(gaps[0].find(env_.secondaries.front().address), std::string::npos) << gaps[0];
    EXPECT_NE(gaps[0].find("lacks 3 1 1"), std::string::npos) << gaps[0];
    EXPECT_NE(gaps[0].find("at serial"), std::string::npos) << gaps[0];
    ASSERT_EQ(env_.tool_run({"thaw", "nsd", env_.dir.string()}), 0);
    EXPECT_TRUE(test::wait_until([&] { return everywhere(r); }, 10s));
    change({}, {r});
}

TEST_F(DnsSandbox, StoppedSecondaryIsReportedNotSkipped) {
    ASSERT_EQ(env_.tool_run({"stop", "nsd", env_.dir.string()}), 0);
    const TlsaRecord r = random_record();
    change({r}, {});
    const auto view = observe();
    EXPECT_FALSE(view.served_everywhere(owner_, r, view.observed_at));
    const auto gaps = view.gaps(owner_, r, view.observed_at);
    ASSERT_FALSE(gaps.empty());
    EXPECT_NE(gaps.back().find(env_.secondaries.front().address), std::string::npos) << gaps.back();
    ASSERT_EQ(env_.tool_run({"start", "nsd", env_.dir.string()}), 0);
    EXPECT_TRUE(test::wait_until([&] { return everywhere(r); }, 15s));
    change({}, {r});
}

std::string update_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST_F(DnsSandbox, TsigAndPolicyFailuresSayWhatTheServerSaidAndChangeNothing) {
    // Start from a zone in which every server serves the same RRset.
    ASSERT_TRUE(wait_until_servers_agree());
    const auto before = snapshot();
    const TlsaRecord r = random_record();
    dns::TlsaChange c{env_.zone, owner_, env_.ttl, {r}, {}};

    // A wrong secret: NOTAUTH with TSIG error BADSIG.
    auto wrong = env_.credentials(env_.update);
    wrong.secret = "d3Jvbmcgc2VjcmV0IGZvciB0aGUgdGVzdCBrZXkhIQ==";
    auto msg = update_error([&] { dns::update_tlsa(env_.primary, wrong, c, options_); });
    EXPECT_NE(msg.find("NOTAUTH"), std::string::npos) << msg;
    EXPECT_NE(msg.find("BADSIG"), std::string::npos) << msg;
    EXPECT_EQ(msg.find(wrong.secret), std::string::npos) << "the secret leaked into: " << msg;

    // An unknown key name: BADKEY.
    auto unknown = env_.credentials(env_.update);
    unknown.name = "no-such-key.";
    msg = update_error([&] { dns::update_tlsa(env_.primary, unknown, c, options_); });
    EXPECT_NE(msg.find("BADKEY"), std::string::npos) << msg;

    // A key named has no grant: REFUSED, naming the key and the policy.
    msg = update_error(
        [&] { dns::update_tlsa(env_.primary, env_.credentials(env_.forbidden), c, options_); });
    EXPECT_NE(msg.find("REFUSED"), std::string::npos) << msg;
    EXPECT_NE(msg.find("update-policy"), std::string::npos) << msg;

    // A name outside the policy of a good key: REFUSED.
    dns::TlsaChange outside{env_.zone, "_25._tcp.other." + env_.zone + ".", env_.ttl, {r}, {}};
    msg = update_error(
        [&] { dns::update_tlsa(env_.primary, env_.credentials(env_.update), outside, options_); });
    EXPECT_NE(msg.find("REFUSED"), std::string::npos) << msg;

    // A name outside the zone is refused before anything is sent.
    dns::TlsaChange elsewhere{env_.zone, "_25._tcp.mx1.example.org.", env_.ttl, {r}, {}};
    msg = update_error([&] {
        dns::update_tlsa(env_.primary, env_.credentials(env_.update), elsewhere, options_);
    });
    EXPECT_NE(msg.find("not inside zone"), std::string::npos) << msg;

    // hmac-sha384 is refused with the reason, not an obscure failure.
    auto sha384 = env_.credentials(env_.update);
    sha384.algorithm = "hmac-sha384";
    msg = update_error([&] { dns::update_tlsa(env_.primary, sha384, c, options_); });
    EXPECT_NE(msg.find("hmac-sha384"), std::string::npos) << msg;

    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(snapshot(), before) << "a refused update changed the zone";
}

TEST_F(DnsSandbox, ConcurrentAgentsNeverLoseOrDuplicateRecords) {
    // Two processes share the owner name (two MX machines, or RSA + ECDSA):
    // each adds its own record and retires its previous one, many rounds,
    // as fast as it can. Compare-and-swap must keep both sets intact.
    constexpr int kRounds = 25;
    std::vector<std::vector<TlsaRecord>> mine(2);
    for (auto& m : mine) {
        for (int i = 0; i < kRounds; ++i) {
            m.push_back(random_record());
        }
    }
    std::vector<pid_t> children;
    for (int who = 0; who < 2; ++who) {
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            int rc = 0;
            try {
                for (int i = 0; i < kRounds; ++i) {
                    std::vector<TlsaRecord> retire;
                    if (i > 0) {
                        retire.push_back(
                            mine[static_cast<std::size_t>(who)][static_cast<std::size_t>(i - 1)]);
                    }
                    change({mine[static_cast<std::size_t>(who)][static_cast<std::size_t>(i)]},
                           retire);
                }
            } catch (const std::exception& e) {
                std::fprintf(stderr, "agent %d: %s\n", who, e.what());
                rc = 1;
            }
            ::_exit(rc);
        }
        children.push_back(pid);
    }
    for (const pid_t pid : children) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    // At the primary: exactly the two last records of the agents remain
    // (plus whatever other tests left, none of which is ours).
    const auto view = observe();
    const auto& at_primary = view.servers.front().owners.at(owner_).records;
    for (int who = 0; who < 2; ++who) {
        const auto& m = mine[static_cast<std::size_t>(who)];
        EXPECT_EQ(std::count(at_primary.begin(), at_primary.end(), m.back()), 1)
            << "agent " << who << "'s last record is missing or duplicated";
        for (int i = 0; i + 1 < kRounds; ++i) {
            EXPECT_EQ(
                std::count(at_primary.begin(), at_primary.end(), m[static_cast<std::size_t>(i)]), 0)
                << "agent " << who << " round " << i << " was not retired";
        }
    }
    change({}, {mine[0].back(), mine[1].back()});
}

TEST_F(DnsSandbox, ResolverViewIsSecureForTheSignedZone) {
    const auto [keys, security] = resolver_->dnskeys(env_.zone);
    EXPECT_EQ(security, dns::Security::Secure);
    EXPECT_FALSE(keys.empty());
    const auto v = resolver_->tlsa("_25._tcp.nothing-here." + env_.zone);
    EXPECT_EQ(v.security, dns::Security::Secure);  // an authenticated denial
    EXPECT_TRUE(v.records.empty());
    const auto addrs = resolver_->addresses(env_.mx_host);
    EXPECT_EQ(addrs, env_.mx_addrs);
    EXPECT_EQ(resolver_->primary_name(env_.zone), "ns1." + env_.zone + ".");
    EXPECT_EQ(resolver_->name_servers(env_.zone).size(), 1 + env_.secondaries.size());
}

// A configuration for this sandbox in `dir`: service mx1 (ecdsa-p256) at the
// sandbox's MX host, both zones with the good key, `zone_extra` lines in the
// main zone's table, the sandbox's validating resolver unless `resolver` is
// given, and the state under dir/state.
std::string write_config(const test::SandboxEnv& env, const test::TempDir& dir,
                         const std::string& zone_extra = "", const std::string& resolver = "") {
    std::string zones;
    for (const auto& z : {env.zone, env.unsigned_zone}) {
        if (!z.empty()) {
            zones += "[zone.\"" + z + "\"]\ntsig_key = \"update\"\n" +
                     (z == env.zone ? zone_extra : std::string());
        }
    }
    const std::string config =
        "[daneroll]\nresolver = \"" + (resolver.empty() ? env.resolver.address : resolver) +
        "\"\nstate_dir = \"" + (dir / "state").string() + "\"\n[tsig.update]\nfile = \"" +
        env.update.file.string() + "\"\n" + zones + "[service.mx1]\nhost = \"" + env.mx_host +
        "\"\nttl = 2\nrotation_period = \"1h\"\n"
        "[service.mx1.source]\ntype = \"command\"\n"
        "command = [\"/bin/true\", \"{csr}\", \"{chain}\"]\n"
        "[service.mx1.mta]\ntype = \"exim\"\nkey_file = \"/k\"\n"
        "chain_file = \"/c\"\n";
    test::write_text(dir / "daneroll.toml", config);
    return (dir / "daneroll.toml").string();
}

struct CliResult {
    int rc = -1;
    std::string out;  // stdout, then stderr
};

// `daneroll ARGS...` (execv, no shell), stdout and stderr captured.
CliResult daneroll_cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv{DANEROLL_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    // (test::run_program captures stdout only; refusals are on stderr.)
    CliResult r;
    int out_pipe[2] = {-1, -1};
    if (::pipe(out_pipe) != 0) {
        throw std::runtime_error("pipe failed");
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(out_pipe[1], STDOUT_FILENO);
        ::dup2(out_pipe[1], STDERR_FILENO);
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        std::vector<char*> cargs;
        for (auto& a : argv) {
            cargs.push_back(a.data());
        }
        cargs.push_back(nullptr);
        ::execv(cargs[0], cargs.data());
        ::_exit(127);
    }
    ::close(out_pipe[1]);
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(out_pipe[0], buf, sizeof buf)) > 0) {
        r.out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out_pipe[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

// `daneroll dns ARGS... -c CONFIG` with a config written for this sandbox.
CliResult dns_cli(const test::SandboxEnv& env, std::vector<std::string> args) {
    test::TempDir dir;
    const std::string config = write_config(env, dir);
    args.insert(args.begin(), "dns");
    args.insert(args.end(), {"-c", config});
    return daneroll_cli(args);
}

// `daneroll dns show` for a host, with a config written for this sandbox.
std::string dns_show(const test::SandboxEnv& env, const std::string& host, int* exit_code) {
    const auto r = dns_cli(env, {"show", "--host", host});
    *exit_code = r.rc;
    return r.out;
}

TEST_F(DnsSandbox, UnsignedZoneIsReportedAsInsecure) {
    ASSERT_FALSE(env_.unsigned_zone.empty()) << "the fixture must run with --unsigned-zone";
    const std::string host = "mx1." + env_.unsigned_zone;
    const std::string owner = "_25._tcp." + host + ".";
    const TlsaRecord r = random_record();
    dns::TlsaChange c{env_.unsigned_zone, owner, env_.ttl, {r}, {}};
    ASSERT_TRUE(dns::update_tlsa(env_.primary, env_.credentials(env_.update), c, options_).changed);
    // The resolver serves it, without the AD bit.
    ASSERT_TRUE(test::wait_until(
        [&] {
            const auto v = resolver_->tlsa(owner);
            return std::find(v.records.begin(), v.records.end(), r) != v.records.end();
        },
        std::chrono::seconds(4 * env_.negative_ttl + 6)));
    EXPECT_EQ(resolver_->tlsa(owner).security, dns::Security::Insecure);
    const auto [keys, security] = resolver_->dnskeys(env_.unsigned_zone);
    EXPECT_EQ(security, dns::Security::Insecure);
    EXPECT_TRUE(keys.empty());
    // Every server has the record, but unsigned: not "served everywhere".
    ASSERT_TRUE(test::wait_until(
        [&] {
            const auto v = dns::observe_zone(env_.unsigned_zone, env_.name_servers(), {owner}, keys,
                                             std::chrono::system_clock::now(), options_);
            return std::all_of(v.servers.begin(), v.servers.end(),
                               [&](const dns::ServerView& s) { return s.owners.at(owner).has(r); });
        },
        10s));
    const auto v = dns::observe_zone(env_.unsigned_zone, env_.name_servers(), {owner}, keys,
                                     std::chrono::system_clock::now(), options_);
    EXPECT_FALSE(v.served_everywhere(owner, r, v.observed_at));
    for (const auto& s : v.servers) {
        EXPECT_FALSE(s.owners.at(owner).signed_) << s.server.label();
    }
    int rc = -1;
    const std::string out = dns_show(env_, host, &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("insecure"), std::string::npos) << out;
    EXPECT_NE(out.find("DANE is NOT in effect"), std::string::npos) << out;
    EXPECT_NE(out.find("NOT signed"), std::string::npos) << out;
    const auto verify = dns_cli(env_, {"verify", "--host", host, "--record", r.to_string()});
    EXPECT_EQ(verify.rc, 6) << verify.out;
    EXPECT_NE(verify.out.find(env_.unsigned_zone + ". is insecure: DANE is NOT in effect"),
              std::string::npos)
        << verify.out;
    dns::update_tlsa(env_.primary, env_.credentials(env_.update),
                     {env_.unsigned_zone, owner, env_.ttl, {}, {r}}, options_);
}

TEST_F(DnsSandbox, BrokenTrustAnchorIsReportedAsBogus) {
    ASSERT_EQ(env_.tool_run({"break-anchor", env_.dir.string()}), 0);
    // Restore the anchor however the test ends.
    struct Fix {
        const test::SandboxEnv& env;
        ~Fix() { env.tool_run({"fix-anchor", env.dir.string()}); }
    } fix{env_};
    const auto v = resolver_->tlsa(owner_);
    EXPECT_EQ(v.security, dns::Security::Bogus) << v.error;
    EXPECT_EQ(resolver_->dnskeys(env_.zone).second, dns::Security::Bogus);
    int rc = -1;
    const std::string out = dns_show(env_, env_.mx_host, &rc);
    EXPECT_NE(out.find("bogus"), std::string::npos) << out;
    EXPECT_NE(out.find("BOGUS"), std::string::npos) << out;
    // verify: not secure (exit 6), whatever the servers serve.
    const auto verify = dns_cli(
        env_, {"verify", "--host", env_.mx_host, "--record", "3 1 1 " + std::string(64, 'a')});
    EXPECT_EQ(verify.rc, 6) << verify.out;
    EXPECT_NE(verify.out.find("NOT SECURE"), std::string::npos) << verify.out;
    EXPECT_NE(verify.out.find(env_.zone + ". is bogus"), std::string::npos) << verify.out;
}

TEST_F(DnsSandbox, SilentServerTimesOutWithinTheBound) {
    ASSERT_EQ(env_.tool_run({"freeze", "nsd", env_.dir.string()}), 0);
    const auto start = std::chrono::steady_clock::now();
    const auto view = observe();
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(env_.tool_run({"thaw", "nsd", env_.dir.string()}), 0);
    // 3 tries of 1 s each, plus slack.
    EXPECT_LT(took, 4500ms);
    EXPECT_FALSE(view.servers.back().error.empty());
    EXPECT_NE(view.servers.back().error.find("no answer"), std::string::npos)
        << view.servers.back().error;
}

// RRsets too large for a UDP answer (36 records, ~2 KB, over the 1,232-byte
// EDNS buffer daneroll asks with): every server answers truncated, and the
// engine asks again over TCP, all the truncated questions of a server
// pipelined on one connection. Every record must be seen, signed, on every
// server: a truncated UDP answer cannot carry them.
TEST_F(DnsSandbox, RrsetsTooLargeForUdpAreReadOverTcpOnEveryServer) {
    static std::mt19937 rng(std::random_device{}());
    const int base = 20000 + static_cast<int>(rng() % 20000);
    std::vector<std::string> owners;
    std::map<std::string, std::vector<TlsaRecord>> published;
    for (int i = 0; i < 12; ++i) {
        const std::string owner = "_" + std::to_string(base + i) + "._tcp." + env_.mx_host + ".";
        owners.push_back(owner);
        std::vector<TlsaRecord> records;
        for (int k = 0; k < 36; ++k) {
            records.push_back(random_record());
        }
        dns::TlsaChange c{env_.zone, owner, env_.ttl, records, {}};
        ASSERT_TRUE(
            dns::update_tlsa(env_.primary, env_.credentials(env_.update), c, options_).changed)
            << owner;
        published[owner] = records;
    }
    const auto keys = resolver_->dnskeys(env_.zone).first;
    dns::ZoneView view;
    const bool all = test::wait_until(
        [&] {
            view = dns::observe_zone(env_.zone, env_.name_servers(), owners, keys,
                                     std::chrono::system_clock::now(), options_);
            for (const auto& [owner, records] : published) {
                for (const auto& r : records) {
                    if (!view.served_everywhere(owner, r, view.observed_at)) {
                        return false;
                    }
                }
            }
            return true;
        },
        20s);
    for (const auto& s : view.servers) {
        EXPECT_TRUE(s.error.empty()) << s.server.label() << ": " << s.error;
        for (const auto& owner : owners) {
            const auto& o = s.owners.at(owner);
            EXPECT_EQ(o.records.size(), 36U) << s.server.label() << " " << owner;
            EXPECT_TRUE(o.signature_valid) << s.server.label() << " " << o.signature_problem;
        }
    }
    EXPECT_TRUE(all) << "not every record of the large RRsets was seen everywhere";
    for (const auto& [owner, records] : published) {
        dns::TlsaChange c{env_.zone, owner, env_.ttl, {}, records};
        EXPECT_TRUE(
            dns::update_tlsa(env_.primary, env_.credentials(env_.update), c, options_).changed);
    }
}

// ---- daneroll dns publish|verify|show|retire at the command line ----------

bool contains(const nlohmann::json& list, const std::string& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

TEST_F(DnsSandbox, CliPublishVerifyShowRetire) {
    test::TempDir dir;
    const std::string config = write_config(env_, dir);
    const TlsaRecord r = random_record();
    const std::vector<std::string> target{"-c", config, "--service", "mx1"};
    auto args = [&](std::vector<std::string> a) {
        a.insert(a.begin() + 1, target.begin(), target.end());
        a.insert(a.begin(), "dns");
        return a;
    };

    const auto pub = daneroll_cli(args({"publish", "--record", r.to_string(), "--json"}));
    ASSERT_EQ(pub.rc, 0) << pub.out;
    const auto pj = nlohmann::json::parse(pub.out);
    EXPECT_TRUE(pj["changed"].get<bool>());
    EXPECT_EQ(pj["owner"], owner_);
    EXPECT_TRUE(contains(pj["after"], r.to_string())) << pub.out;

    // verify exits 0 once every server serves it, signed.
    CliResult v;
    EXPECT_TRUE(test::wait_until(
        [&] {
            v = daneroll_cli(args({"verify", "--record", r.to_string()}));
            return v.rc == 0;
        },
        10s))
        << v.out;
    EXPECT_NE(v.out.find("ok: " + r.short_string()), std::string::npos) << v.out;

    // show --json: every server, the record, a valid signature; the
    // resolver's verdict.
    const auto show = daneroll_cli(args({"show", "--json"}));
    ASSERT_EQ(show.rc, 0) << show.out;
    const auto sj = nlohmann::json::parse(show.out);
    EXPECT_EQ(sj["owner"], owner_);
    ASSERT_EQ(sj["servers"].size(), env_.name_servers().size()) << show.out;
    for (const auto& srv : sj["servers"]) {
        EXPECT_TRUE(contains(srv["records"], r.to_string())) << srv.dump();
        EXPECT_TRUE(srv["signature_valid"].get<bool>()) << srv.dump();
    }
    EXPECT_EQ(sj["resolver"]["security"], "secure") << show.out;
    // show, for people: each server by address, the record, signed.
    const auto human = daneroll_cli(args({"show"}));
    ASSERT_EQ(human.rc, 0) << human.out;
    for (const auto& ns : env_.name_servers()) {
        EXPECT_NE(human.out.find(ns.address), std::string::npos) << human.out;
    }
    EXPECT_NE(human.out.find(r.to_string()), std::string::npos) << human.out;
    EXPECT_NE(human.out.find("signed, valid until"), std::string::npos) << human.out;

    const auto ret = daneroll_cli(args({"retire", "--record", r.to_string()}));
    ASSERT_EQ(ret.rc, 0) << ret.out;
    EXPECT_NE(ret.out.find("retired at " + owner_), std::string::npos) << ret.out;
    // Gone from the primary at once: verify fails, naming it.
    v = daneroll_cli(args({"verify", "--record", r.to_string()}));
    EXPECT_EQ(v.rc, 1) << v.out;
    EXPECT_NE(v.out.find("NOT everywhere: " + r.short_string()), std::string::npos) << v.out;
    EXPECT_NE(v.out.find(env_.primary.address), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("lacks " + r.short_string()), std::string::npos) << v.out;
}

TEST_F(DnsSandbox, CliVerifyNamesTheLaggingSecondaryAndTheRecord) {
    ASSERT_EQ(env_.tool_run({"lag", "nsd", env_.dir.string()}), 0);
    struct Thaw {
        const test::SandboxEnv& env;
        ~Thaw() { env.tool_run({"thaw", "nsd", env.dir.string()}); }
    } thaw{env_};
    const TlsaRecord r = random_record();
    change({r}, {});
    ASSERT_TRUE(
        test::wait_until([&] { return observe().servers.front().owners.at(owner_).has(r); }, 5s));
    std::this_thread::sleep_for(500ms);
    const auto v = dns_cli(env_, {"verify", "--service", "mx1", "--record", r.to_string()});
    EXPECT_EQ(v.rc, 1) << v.out;
    EXPECT_NE(v.out.find("NOT everywhere: " + r.short_string()), std::string::npos) << v.out;
    const std::string secondary = env_.secondaries.front().address;
    const auto line = v.out.find(secondary);
    ASSERT_NE(line, std::string::npos) << v.out;
    EXPECT_NE(v.out.find("lacks " + r.short_string(), line), std::string::npos) << v.out;
    EXPECT_EQ(v.out.find(env_.primary.address), std::string::npos)
        << "the primary has it and must not be named: " << v.out;
    ASSERT_EQ(env_.tool_run({"thaw", "nsd", env_.dir.string()}), 0);
    EXPECT_TRUE(test::wait_until([&] { return everywhere(r); }, 10s));
    change({}, {r});
}

TEST_F(DnsSandbox, CliRetireRefusesARecordAManagedUnitReliesOn) {
    test::TempDir dir;
    const std::string config = write_config(env_, dir);
    const TlsaRecord r = random_record();
    change({r}, {});
    // A managed unit whose current record is r (as `daneroll init` and a
    // first tick leave it).
    rollover::UnitState st;
    st.service = "mx1";
    st.algorithm = "ecdsa-p256";
    st.phase = rollover::Phase::Stable;
    rollover::OwnedRecord owned;
    owned.record = r;
    owned.role = rollover::RecordRole::Current;
    owned.created = true;
    st.records.push_back(owned);
    rollover::StateStore(dir / "state").save(st);
    const std::vector<std::string> retire{"dns",       "retire", "-c",       config,
                                          "--service", "mx1",    "--record", r.to_string()};
    auto at_primary = [&] { return observe().servers.front().owners.at(owner_).has(r); };

    const auto refused = daneroll_cli(retire);
    EXPECT_EQ(refused.rc, 1) << refused.out;
    EXPECT_NE(refused.out.find("mx1/ecdsa-p256 relies on " + r.short_string()), std::string::npos)
        << refused.out;
    EXPECT_NE(refused.out.find("--force"), std::string::npos) << refused.out;
    EXPECT_TRUE(at_primary()) << "a refused retire removed the record";

    {  // A tick holds the state lock: retire waits its turn (exit 5).
        const auto lock = rollover::StateLock::acquire(dir / "state");
        auto forced = retire;
        forced.emplace_back("--force");
        const auto locked = daneroll_cli(forced);
        EXPECT_EQ(locked.rc, 5) << locked.out;
        EXPECT_TRUE(at_primary()) << "retire acted without the lock";
    }

    auto forced = retire;
    forced.emplace_back("--force");
    const auto done = daneroll_cli(forced);
    EXPECT_EQ(done.rc, 0) << done.out;
    EXPECT_NE(done.out.find("WARNING"), std::string::npos) << done.out;
    EXPECT_NE(done.out.find("mx1/ecdsa-p256 relies on " + r.short_string()), std::string::npos)
        << done.out;
    EXPECT_FALSE(at_primary());
}

TEST_F(DnsSandbox, CliVerifyFailsUnlessTheResolverSaysSecure) {
    const TlsaRecord r = random_record();
    change({r}, {});
    ASSERT_TRUE(test::wait_until([&] { return everywhere(r); }, 10s));
    // A resolver that does not validate: the primary itself. It answers the
    // zone's DNSKEYs (and the NS addresses) authoritatively, without the AD
    // bit, so the signed zone is "insecure" there: the signatures every
    // server serves verify under those keys, yet nothing vouches for them.
    test::TempDir dir;
    const std::string config = write_config(env_, dir, "", env_.primary.address);
    const std::vector<std::string> verify{"dns",       "verify", "-c",       config,
                                          "--service", "mx1",    "--record", r.to_string()};
    const auto v = daneroll_cli(verify);
    EXPECT_EQ(v.rc, 6) << v.out;
    EXPECT_NE(v.out.find("NOT SECURE"), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("says the zone " + env_.zone + ". is insecure: DANE is NOT in effect"),
              std::string::npos)
        << v.out;
    auto json = verify;
    json.emplace_back("--json");
    const auto vj = daneroll_cli(json);
    EXPECT_EQ(vj.rc, 6) << vj.out;
    const auto j = nlohmann::json::parse(vj.out);
    EXPECT_EQ(j["security"], "insecure");
    EXPECT_FALSE(j["secure"].get<bool>());
    EXPECT_TRUE(j["everywhere"].get<bool>()) << "every server does serve it, signed";
    // Through the validating resolver the same check passes.
    test::TempDir good_dir;
    auto good = verify;
    good[3] = write_config(env_, good_dir);
    const auto ok = daneroll_cli(good);
    EXPECT_EQ(ok.rc, 0) << ok.out;
    change({}, {r});
}

// ---- compare-and-swap ----------------------------------------------------

// The updater read the RRset, then another agent changed it: the first
// UPDATE's prerequisite (what the updater saw) no longer holds, the server
// refuses it, and the updater re-reads and tries again. Without the
// prerequisite the first UPDATE would simply apply (attempts == 1).
TEST_F(DnsSandbox, ChangeBehindTheUpdatersBackIsCaughtAndRetried) {
    const auto seen = observe().servers.front().owners.at(owner_).records;
    const TlsaRecord theirs = random_record();
    const TlsaRecord mine = random_record();
    ASSERT_TRUE(change({theirs}, {}).changed);  // the other agent, after our read
    dns::TlsaChange c{env_.zone, owner_, env_.ttl, {mine}, {}};
    const auto out =
        dns::update_tlsa_from(env_.primary, env_.credentials(env_.update), c, seen, options_);
    EXPECT_TRUE(out.changed);
    EXPECT_EQ(out.attempts, 2) << "the stale prerequisite was not refused and retried";
    EXPECT_TRUE(std::binary_search(out.before.begin(), out.before.end(), theirs));
    const auto at_primary = observe().servers.front().owners.at(owner_).records;
    EXPECT_EQ(std::count(at_primary.begin(), at_primary.end(), theirs), 1);
    EXPECT_EQ(std::count(at_primary.begin(), at_primary.end(), mine), 1);
    for (const auto& r : seen) {
        EXPECT_EQ(std::count(at_primary.begin(), at_primary.end(), r), 1) << r.short_string();
    }
    EXPECT_EQ(at_primary.size(), seen.size() + 2);
    EXPECT_TRUE(test::wait_until([&] { return everywhere(theirs) && everywhere(mine); }, 10s));
    change({}, {theirs, mine});
}

// With one attempt allowed, a stale prerequisite is an error that says so,
// and the zone is unchanged on every server.
TEST_F(DnsSandbox, StalePrerequisiteWithOneAttemptFailsAndChangesNothing) {
    const auto seen = observe().servers.front().owners.at(owner_).records;
    const TlsaRecord theirs = random_record();
    const TlsaRecord mine = random_record();
    ASSERT_TRUE(change({theirs}, {}).changed);
    ASSERT_TRUE(test::wait_until([&] { return everywhere(theirs); }, 10s));
    ASSERT_TRUE(wait_until_servers_agree());
    const auto before = snapshot();
    dns::TlsaChange c{env_.zone, owner_, env_.ttl, {mine}, {theirs}};
    const auto msg = update_error([&] {
        dns::update_tlsa_from(env_.primary, env_.credentials(env_.update), c, seen, options_, 1);
    });
    EXPECT_NE(msg.find("gave up updating " + owner_), std::string::npos) << msg;
    EXPECT_NE(msg.find("after 1 attempt"), std::string::npos) << msg;
    EXPECT_NE(msg.find("had changed since it was read"), std::string::npos) << msg;
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(snapshot(), before) << "a refused update changed the zone";
    EXPECT_EQ(before.size(), env_.name_servers().size());
    change({}, {theirs});
}

// ---- a CNAME at the TLSA owner (tests/sandbox/conf/zone.db.in) -----------

// _26._tcp.mx1 is an alias for _27._tcp.mx1 in the same zone: observation
// reports the target's RRset and checks the target's signature, and an
// UPDATE through the alias lands at the target.
TEST_F(DnsSandbox, InZoneAliasIsFollowedByObservationAndUpdate) {
    const std::string alias = "_26._tcp." + env_.mx_host + ".";
    const std::string target = "_27._tcp." + env_.mx_host + ".";
    const TlsaRecord r = random_record();
    const auto creds = env_.credentials(env_.update);
    const auto out =
        dns::update_tlsa(env_.primary, creds, {env_.zone, alias, env_.ttl, {r}, {}}, options_);
    EXPECT_TRUE(out.changed);
    EXPECT_EQ(out.owner, target);
    const auto keys = resolver_->dnskeys(env_.zone).first;
    dns::ZoneView view;
    EXPECT_TRUE(test::wait_until(
        [&] {
            view = dns::observe_zone(env_.zone, env_.name_servers(), {alias, target}, keys,
                                     std::chrono::system_clock::now(), options_);
            return view.served_everywhere(alias, r, view.observed_at) &&
                   view.served_everywhere(target, r, view.observed_at);
        },
        10s))
        << ::testing::PrintToString(view.gaps(alias, r, std::chrono::system_clock::now()));
    for (const auto& s : view.servers) {
        const auto& a = s.owners.at(alias);
        const auto& t = s.owners.at(target);
        EXPECT_EQ(a.cname_target, target) << s.server.label();
        EXPECT_TRUE(t.cname_target.empty()) << s.server.label();
        EXPECT_EQ(a.records, t.records) << s.server.label();
        EXPECT_TRUE(a.has(r)) << s.server.label();
        EXPECT_TRUE(a.signature_valid) << s.server.label() << ": " << a.signature_problem;
        EXPECT_EQ(a.signature_expiration, t.signature_expiration) << s.server.label();
    }
    // The validating resolver follows it too, securely.
    EXPECT_TRUE(test::wait_until(
        [&] {
            const auto v = resolver_->tlsa(alias);
            return v.security == dns::Security::Secure && v.cname_target == target &&
                   std::find(v.records.begin(), v.records.end(), r) != v.records.end();
        },
        std::chrono::seconds(4 * env_.negative_ttl + 4)));
    const auto back =
        dns::update_tlsa(env_.primary, creds, {env_.zone, alias, env_.ttl, {}, {r}}, options_);
    EXPECT_TRUE(back.changed);
    EXPECT_EQ(back.owner, target);
}

// _28._tcp.mx1 is an alias for a name in another zone: an UPDATE through it
// is refused before anything is sent, naming the alias, and observation
// reports the alias and that nothing is served there.
TEST_F(DnsSandbox, AliasIntoAnotherZoneIsRefusedAndReported) {
    const std::string alias = "_28._tcp." + env_.mx_host + ".";
    const std::string elsewhere = "_25._tcp.mx1.example.org.";
    const TlsaRecord r = random_record();
    const auto msg = update_error([&] {
        dns::update_tlsa(env_.primary, env_.credentials(env_.update),
                         {env_.zone, alias, env_.ttl, {r}, {}}, options_);
    });
    EXPECT_NE(msg.find(alias + " is an alias for " + elsewhere + ", outside zone " + env_.zone),
              std::string::npos)
        << msg;
    const auto view = dns::observe_zone(env_.zone, env_.name_servers(), {alias},
                                        resolver_->dnskeys(env_.zone).first,
                                        std::chrono::system_clock::now(), options_);
    for (const auto& s : view.servers) {
        const auto& a = s.owners.at(alias);
        EXPECT_TRUE(a.answered()) << s.server.label() << ": " << a.error;
        EXPECT_EQ(a.cname_target, elsewhere) << s.server.label();
        EXPECT_TRUE(a.records.empty()) << s.server.label();
    }
    EXPECT_EQ(view.gaps(alias, r, view.observed_at).size(), view.servers.size());
}

// ---- the zone's `servers` and `primary` from the configuration ----------

std::vector<std::string> addresses_shown(const CliResult& show) {
    std::vector<std::string> out;
    const auto j = nlohmann::json::parse(show.out);
    for (const auto& s : j["servers"]) {
        out.push_back(s["address"].get<std::string>());
    }
    return out;
}

// With `servers` listed, exactly those (and the hidden primary) are asked,
// not the NS RRset; UPDATEs go to the configured primary, not the SOA MNAME.
TEST_F(DnsSandbox, ConfiguredServersAndHiddenPrimaryAreExactlyWhatIsUsed) {
    ASSERT_FALSE(env_.secondaries.empty());
    const dns::Server& secondary = env_.secondaries.front();
    const std::string primary =
        "primary = \"" + env_.primary.address + ":" + std::to_string(env_.primary.port) + "\"\n";
    // The secondary by name and port (resolved through the resolver).
    const std::string servers =
        "servers = [\"ns2." + env_.zone + ":" + std::to_string(secondary.port) + "\"]\n";
    const TlsaRecord r = random_record();
    auto run = [&](const std::string& zone_extra, std::vector<std::string> args) {
        test::TempDir dir;
        args.insert(args.begin(), "dns");
        args.insert(args.end(), {"-c", write_config(env_, dir, zone_extra), "--json"});
        return daneroll_cli(args);
    };

    // Only the listed secondary: the primary is not asked.
    auto show = run(servers, {"show", "--service", "mx1"});
    ASSERT_EQ(show.rc, 0) << show.out;
    EXPECT_EQ(addresses_shown(show), std::vector<std::string>{secondary.address}) << show.out;

    // The listed secondary plus the hidden primary, primary first.
    show = run(servers + primary, {"show", "--service", "mx1"});
    ASSERT_EQ(show.rc, 0) << show.out;
    EXPECT_EQ(addresses_shown(show),
              (std::vector<std::string>{env_.primary.address, secondary.address}))
        << show.out;
    const auto pub =
        run(servers + primary, {"publish", "--service", "mx1", "--record", r.to_string()});
    ASSERT_EQ(pub.rc, 0) << pub.out;
    // The configured primary is a bare address: labelled by it, not by the
    // SOA MNAME's name.
    EXPECT_EQ(
        nlohmann::json::parse(pub.out)["server"],
        env_.primary.address +
            (env_.primary.port == 53 ? std::string() : ":" + std::to_string(env_.primary.port)))
        << pub.out;

    // Proof that UPDATEs follow `primary`: pointed at the secondary, which
    // takes none, the UPDATE goes there and fails, naming it.
    const TlsaRecord other = random_record();
    const auto wrong = run("primary = \"" + secondary.address + "\"\n",
                           {"publish", "--service", "mx1", "--record", other.to_string()});
    EXPECT_NE(wrong.rc, 0) << wrong.out;
    EXPECT_NE(wrong.out.find(secondary.address), std::string::npos) << wrong.out;
    EXPECT_FALSE(observe().servers.front().owners.at(owner_).has(other));
    change({}, {r});
}

}  // namespace
}  // namespace daneroll
