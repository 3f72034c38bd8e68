// The probe's handling of each way an SMTP server can fail it, against
// scripted peers on 127.0.0.1: refusals, silence, protocol violations and
// TLS trouble that a well-behaved Postfix will not produce on demand. The
// DANE verdicts against a real Postfix are in tests/integration/smtp.
#include "daneroll/smtp/probe.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/crypto/digest.hpp"
#include "daneroll/tlsa/compute.hpp"
#include "test_support.hpp"

namespace daneroll::smtp {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kHost = "mx1.example.test";

UniqueFd listen_on_loopback(std::uint16_t& port, int family = AF_INET) {
    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (family == AF_INET6) {
        auto& a = reinterpret_cast<sockaddr_in6&>(ss);
        a.sin6_family = AF_INET6;
        a.sin6_addr = in6addr_loopback;
        len = sizeof a;
    } else {
        auto& a = reinterpret_cast<sockaddr_in&>(ss);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof a;
    }
    auto* sa = reinterpret_cast<sockaddr*>(&ss);
    if (!fd.valid() || ::bind(fd.get(), sa, len) != 0 || ::listen(fd.get(), 8) != 0 ||
        ::getsockname(fd.get(), sa, &len) != 0) {
        throw std::runtime_error("cannot listen on loopback");
    }
    port = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(ss).sin6_port
                                    : reinterpret_cast<sockaddr_in&>(ss).sin_port);
    return fd;
}

// A line from the client (without CRLF), or "" on EOF or after 5 s.
std::string hear(int fd) {
    std::string line;
    char c = 0;
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0 || ::recv(fd, &c, 1, 0) != 1) {
            return line;
        }
        if (c == '\n') {
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            return line;
        }
        line.push_back(c);
    }
}

void say(int fd, const std::string& text) {
    ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
}

// Accepts connections on 127.0.0.1 and runs `session` on each, one at a
// time, until destroyed.
class ScriptedServer {
  public:
    using Session = std::function<void(int fd)>;
    explicit ScriptedServer(Session session, int family = AF_INET)
        : listener_(listen_on_loopback(port_, family)), session_(std::move(session)) {
        thread_ = std::thread([this] { run(); });
    }
    ScriptedServer(const ScriptedServer&) = delete;
    ScriptedServer& operator=(const ScriptedServer&) = delete;
    ~ScriptedServer() {
        stop_ = true;
        thread_.join();
    }
    [[nodiscard]] std::uint16_t port() const { return port_; }

  private:
    void run() {
        while (!stop_) {
            pollfd p{listener_.get(), POLLIN, 0};
            if (::poll(&p, 1, 50) != 1) {
                continue;
            }
            UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (client.valid()) {
                session_(client.get());
            }
        }
    }

    std::uint16_t port_ = 0;
    UniqueFd listener_;
    Session session_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// Greets, answers EHLO with `ehlo` and then `after_ehlo` for STARTTLS.
ScriptedServer::Session smtp_script(std::string banner, std::string ehlo,
                                    std::string starttls_reply = "220 go ahead\r\n") {
    return [=](int fd) {
        say(fd, banner);
        for (std::string line = hear(fd); !line.empty(); line = hear(fd)) {
            if (line.rfind("EHLO ", 0) == 0) {
                say(fd, ehlo);
            } else if (line == "STARTTLS") {
                say(fd, starttls_reply);
                if (starttls_reply.rfind("220", 0) == 0) {
                    return;  // a TLS session would start here; these scripts stop
                }
            } else if (line == "QUIT") {
                say(fd, "221 bye\r\n");
                return;
            } else {
                say(fd, "502 unknown\r\n");
            }
        }
    };
}

const std::string kEhloTls = "250-mx1.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n";

TlsaRecord some_record() {
    return TlsaRecord::parse("3 1 1 " + std::string(64, 'a'));
}

ProbeRequest request_for(std::uint16_t port, std::vector<TlsaRecord> records = {some_record()}) {
    ProbeRequest r;
    r.host = kHost;
    r.port = port;
    r.addresses = {"127.0.0.1"};
    r.ehlo_name = "probe.example.test";
    r.timeout = 3s;
    r.records = std::move(records);
    return r;
}

AddressResult probe_one_address(const ProbeRequest& r) {
    const auto report = probe(r);
    EXPECT_EQ(report.results.size(), 1U);
    EXPECT_EQ(report.all_verified(), report.results.at(0).verified());
    return report.results.at(0);
}

#define EXPECT_CONTAINS(haystack, needle) \
    EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

TEST(SmtpProbe, ConnectionRefusedIsConnectFailed) {
    std::uint16_t port = 0;
    { const UniqueFd gone = listen_on_loopback(port); }  // the port is now closed
    const auto r = probe_one_address(request_for(port));
    EXPECT_EQ(r.status, ProbeStatus::ConnectFailed);
    EXPECT_CONTAINS(r.reason, "refused");
    EXPECT_FALSE(r.timings.connect.has_value());
    EXPECT_EQ(status_name(r.status), "connect-failed");
}

TEST(SmtpProbe, ListenerThatNeverSpeaksTimesOutWithinTheBound) {
    std::uint16_t port = 0;
    const UniqueFd silent = listen_on_loopback(port);  // the kernel accepts; nobody speaks
    auto req = request_for(port);
    req.timeout = 400ms;
    const auto start = Clock::now();
    const auto r = probe_one_address(req);
    const auto took = Clock::now() - start;
    EXPECT_EQ(r.status, ProbeStatus::Timeout);
    EXPECT_CONTAINS(r.reason, "220 greeting");
    EXPECT_TRUE(r.timings.connect.has_value());
    EXPECT_GE(took, 400ms);
    EXPECT_LT(took, 900ms);
}

TEST(SmtpProbe, SlowDripCannotStretchTheProbe) {
    ScriptedServer server([](int fd) {
        for (int i = 0; i < 100 && ::send(fd, "2", 1, MSG_NOSIGNAL) == 1; ++i) {
            std::this_thread::sleep_for(50ms);
        }
    });
    auto req = request_for(server.port());
    req.timeout = 500ms;
    const auto start = Clock::now();
    const auto r = probe_one_address(req);
    EXPECT_EQ(r.status, ProbeStatus::Timeout);
    EXPECT_LT(Clock::now() - start, 1s);
}

TEST(SmtpProbe, RefusingGreetingIsAnSmtpError) {
    ScriptedServer server(smtp_script("554 5.7.1 no service for you\r\n", kEhloTls));
    const auto r = probe_one_address(request_for(server.port()));
    EXPECT_EQ(r.status, ProbeStatus::SmtpError);
    EXPECT_CONTAINS(r.reason, "554 5.7.1 no service for you");
    EXPECT_EQ(r.banner, "5.7.1 no service for you");
}

TEST(SmtpProbe, TemporaryGreetingSaysSo) {
    ScriptedServer server(smtp_script("421-busy\r\n421 try later\r\n", kEhloTls));
    const auto r = probe_one_address(request_for(server.port()));
    EXPECT_EQ(r.status, ProbeStatus::SmtpError);
    EXPECT_CONTAINS(r.reason, "421 busy / try later");
    EXPECT_CONTAINS(r.reason, "temporary");
}

TEST(SmtpProbe, RejectedEhloIsAnSmtpError) {
    ScriptedServer server(smtp_script("220 mx\r\n", "550 go away\r\n"));
    const auto r = probe_one_address(request_for(server.port()));
    EXPECT_EQ(r.status, ProbeStatus::SmtpError);
    EXPECT_CONTAINS(r.reason, "EHLO was refused: 550 go away");
    EXPECT_TRUE(r.timings.ehlo.has_value());
}

TEST(SmtpProbe, MissingStarttlsIsADowngradeWhenRecordsExist) {
    ScriptedServer server(smtp_script("220 mx\r\n", "250-mx\r\n250 PIPELINING\r\n"));
    auto r = probe_one_address(request_for(server.port()));
    EXPECT_EQ(r.status, ProbeStatus::NoStarttls);
    EXPECT_TRUE(r.downgrade);
    EXPECT_CONTAINS(r.reason, "downgrade");
    r = probe_one_address(request_for(server.port(), {}));
    EXPECT_EQ(r.status, ProbeStatus::NoStarttls);
    EXPECT_FALSE(r.downgrade);
}

TEST(SmtpProbe, Starttls454IsAnSmtpError) {
    ScriptedServer server(smtp_script("220 mx\r\n", kEhloTls,
                                      "454 4.7.0 TLS not available due to local problem\r\n"));
    const auto r = probe_one_address(request_for(server.port()));
    EXPECT_EQ(r.status, ProbeStatus::SmtpError);
    EXPECT_CONTAINS(r.reason, "STARTTLS was refused: 454 4.7.0 TLS not available");
    EXPECT_CONTAINS(r.reason, "temporary");
}

TEST(SmtpProbe, DataAfterStarttlsReplyIsRefused) {
    ScriptedServer server(smtp_script("220 mx\r\n", kEhloTls, "220 go ahead\r\n250 injected\r\n"));
    const auto r = probe_one_address(request_for(server.port()));
    EXPECT_EQ(r.status, ProbeStatus::SmtpError);
    EXPECT_CONTAINS(r.reason, "after its 220 reply to STARTTLS");
    EXPECT_FALSE(r.timings.handshake.has_value());
}

TEST(SmtpProbe, GarbageInsteadOfTlsIsAHandshakeFailure) {
    ScriptedServer server([](int fd) {
        smtp_script("220 mx\r\n", kEhloTls)(fd);
        // Wait for the ClientHello, then answer with text.
        pollfd p{fd, POLLIN, 0};
        std::array<char, 4096> buf{};
        if (::poll(&p, 1, 2000) == 1 && ::recv(fd, buf.data(), buf.size(), 0) > 0) {
            say(fd, "this is not TLS\r\n");
        }
    });
    const auto r = probe_one_address(request_for(server.port()));
    EXPECT_EQ(r.status, ProbeStatus::TlsHandshakeFailed);
    EXPECT_CONTAINS(r.reason, "handshake");
    EXPECT_TRUE(r.chain.empty());
    EXPECT_EQ(r.verify_error, 0);
}

TEST(SmtpProbe, HangUpAfterStarttlsIsAHandshakeFailure) {
    ScriptedServer server(smtp_script("220 mx\r\n", kEhloTls));
    const auto r = probe_one_address(request_for(server.port()));
    EXPECT_EQ(r.status, ProbeStatus::TlsHandshakeFailed);
}

TEST(SmtpProbe, MalformedAndEndlessRepliesAreSmtpErrors) {
    {
        ScriptedServer server(smtp_script("HELLO THERE\r\n", kEhloTls));
        const auto r = probe_one_address(request_for(server.port()));
        EXPECT_EQ(r.status, ProbeStatus::SmtpError);
        EXPECT_CONTAINS(r.reason, "three-digit code");
    }
    {
        ScriptedServer server([](int fd) { say(fd, "220 " + std::string(100000, 'x')); });
        const auto r = probe_one_address(request_for(server.port()));
        EXPECT_EQ(r.status, ProbeStatus::SmtpError);
        EXPECT_CONTAINS(r.reason, "longer than");
    }
}

TEST(SmtpProbe, ServerClosingMidReplyIsAnSmtpError) {
    ScriptedServer server([](int fd) { say(fd, "220-first line\r\n"); });
    const auto r = probe_one_address(request_for(server.port()));
    EXPECT_EQ(r.status, ProbeStatus::SmtpError);
    EXPECT_CONTAINS(r.reason, "closed the connection");
}

TEST(SmtpProbe, Ipv6AddressesWorkWithOrWithoutBrackets) {
    std::unique_ptr<ScriptedServer> server;
    try {
        server = std::make_unique<ScriptedServer>(
            smtp_script("220 mx\r\n", "250-mx\r\n250 PIPELINING\r\n"), AF_INET6);
    } catch (const std::runtime_error&) {
        GTEST_SKIP() << "no IPv6 loopback here";
    }
    auto req = request_for(server->port());
    req.addresses = {"[::1]", "::1"};
    const auto report = probe(req);
    ASSERT_EQ(report.results.size(), 2U);
    for (const auto& r : report.results) {
        EXPECT_EQ(r.address, "::1");
        EXPECT_EQ(r.status, ProbeStatus::NoStarttls) << r.reason;
    }
}

TEST(SmtpProbe, AddressesAreProbedConcurrently) {
    std::uint16_t port = 0;
    const UniqueFd silent = listen_on_loopback(port);
    auto req = request_for(port);
    // Four silent addresses (the same one four times) cost one timeout.
    req.addresses = {"127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1"};
    req.timeout = 500ms;
    const auto start = Clock::now();
    const auto report = probe(req);
    EXPECT_LT(Clock::now() - start, 1200ms);
    ASSERT_EQ(report.results.size(), 4U);
    for (const auto& r : report.results) {
        EXPECT_EQ(r.status, ProbeStatus::Timeout);
    }
    EXPECT_FALSE(report.all_verified());
    EXPECT_EQ(report.failures().size(), 4U);
}

TEST(SmtpProbe, InvalidRequestsAreRefusedBeforeConnecting) {
    const auto expect_input_error = [](const ProbeRequest& r, const std::string& needle) {
        try {
            probe(r);
            ADD_FAILURE() << "accepted a request that should fail with: " << needle;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Input);
            EXPECT_CONTAINS(e.what(), needle);
        }
    };
    auto r = request_for(25);
    r.addresses = {"127.0.0.1", "mx1.example.test"};
    expect_input_error(r, "not an IPv4 or IPv6 address");
    r.addresses = {};
    expect_input_error(r, "no address");
    r = request_for(25);
    r.ehlo_name = "x\r\nRCPT TO:<a@b>";
    expect_input_error(r, "not a usable EHLO name");
    r = request_for(0);
    expect_input_error(r, "port 0");
    r = request_for(25);
    r.host = "bad host";
    expect_input_error(r, "MX host name");
    r = request_for(25);
    r.timeout = 0ms;
    expect_input_error(r, "timeout");
}

TEST(SmtpProbe, DefaultEhloNameIsUsable) {
    const auto name = default_ehlo_name();
    EXPECT_FALSE(name.empty());
    EXPECT_EQ(name.find_first_of(" \r\n"), std::string::npos);
}

// ---- a TLS-speaking scripted server ---------------------------------------

// Serves `chain` (leaf first) with `key` after STARTTLS, then answers EHLO
// and QUIT inside TLS.
ScriptedServer::Session tls_script(const std::vector<Certificate>& chain, const PrivateKey& key) {
    auto ctx = std::make_shared<ossl::SslCtxPtr>(SSL_CTX_new(TLS_server_method()));
    SSL_CTX* c = ctx->get();
    if (c == nullptr || SSL_CTX_use_certificate(c, chain.front().get()) != 1 ||
        SSL_CTX_use_PrivateKey(c, key.get()) != 1) {
        throw std::runtime_error("cannot set up the test TLS server");
    }
    for (std::size_t i = 1; i < chain.size(); ++i) {
        SSL_CTX_add1_chain_cert(c, chain[i].get());
    }
    return [ctx](int fd) {
        smtp_script("220 mx1.example.test ESMTP\r\n", kEhloTls)(fd);
        const timeval five{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
        ossl::SslPtr ssl(SSL_new(ctx->get()));
        SSL_set_fd(ssl.get(), fd);
        if (SSL_accept(ssl.get()) != 1) {
            return;
        }
        std::array<char, 512> buf{};
        for (int i = 0; i < 2; ++i) {
            const int n = SSL_read(ssl.get(), buf.data(), static_cast<int>(buf.size()));
            if (n <= 0) {
                return;
            }
            const std::string reply = std::string(buf.data(), 4) == "QUIT"
                                          ? "221 bye\r\n"
                                          : "250-mx1.example.test\r\n250 PIPELINING\r\n";
            SSL_write(ssl.get(), reply.data(), static_cast<int>(reply.size()));
        }
        SSL_shutdown(ssl.get());
    };
}

TEST(SmtpProbeTls, MatchingRecordVerifiesAndReportsTheChain) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 2, kHost);
    ScriptedServer server(tls_script(pki.chain, pki.keys.front()));
    const auto good = tlsa_from_certificate(pki.chain[0], 3, 1, 1);
    const auto r = probe_one_address(request_for(server.port(), {some_record(), good}));
    ASSERT_EQ(r.status, ProbeStatus::Verified) << r.reason;
    EXPECT_EQ(r.matched_record, 1U);
    EXPECT_EQ(r.match_depth, 0);
    EXPECT_CONTAINS(r.reason, "record 2");
    ASSERT_EQ(r.chain.size(), 2U);
    EXPECT_EQ(r.chain[0].der(), pki.chain[0].der());
    EXPECT_EQ(r.chain[1].der(), pki.chain[1].der());
    EXPECT_EQ(r.leaf_spki_sha256, to_hex(good.data));
    EXPECT_EQ(r.leaf_not_after, pki.chain[0].not_after());
    EXPECT_EQ(r.tls_version, "TLSv1.3");
    EXPECT_FALSE(r.cipher.empty());
    EXPECT_EQ(r.banner, "mx1.example.test ESMTP");
    for (const auto* t : {&r.timings.connect, &r.timings.banner, &r.timings.ehlo,
                          &r.timings.starttls, &r.timings.handshake, &r.timings.tls_ehlo}) {
        EXPECT_TRUE(t->has_value());
    }
    EXPECT_GT(r.timings.total.count(), 0);
}

TEST(SmtpProbeTls, WrongDigestIsAMismatchWithTheChainStillReported) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 1, kHost);
    ScriptedServer server(tls_script(pki.chain, pki.keys.front()));
    const auto r = probe_one_address(request_for(server.port()));
    EXPECT_EQ(r.status, ProbeStatus::DaneMismatch);
    EXPECT_CONTAINS(r.reason, "no matching DANE TLSA records");
    EXPECT_EQ(r.verify_error, 65);  // X509_V_ERR_DANE_NO_MATCH
    EXPECT_FALSE(r.matched_record.has_value());
    EXPECT_EQ(r.chain.size(), 1U);
}

TEST(SmtpProbeTls, NoRecordsIsNoDaneAndUnusableRecordsAreSaidSo) {
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 1, kHost);
    ScriptedServer server(tls_script(pki.chain, pki.keys.front()));
    auto r = probe_one_address(request_for(server.port(), {}));
    EXPECT_EQ(r.status, ProbeStatus::NoDane);
    EXPECT_EQ(r.chain.size(), 1U);
    auto pkix = tlsa_from_certificate(pki.chain[0], 3, 1, 1);
    pkix.usage = 1;  // PKIX-EE: unusable for SMTP
    r = probe_one_address(request_for(server.port(), {pkix}));
    EXPECT_EQ(r.status, ProbeStatus::NoUsableRecords);
    ASSERT_EQ(r.notes.size(), 1U);
    EXPECT_CONTAINS(r.notes[0], "unusable for SMTP");
}

TEST(SmtpProbeTls, KeyPreferenceIsOffered) {
    // An ECDSA-only server cannot satisfy an RSA-only client.
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 1, kHost);
    ScriptedServer server(tls_script(pki.chain, pki.keys.front()));
    auto req = request_for(server.port(), {tlsa_from_certificate(pki.chain[0], 3, 1, 1)});
    req.key_preference = KeyPreference::Ecdsa;
    EXPECT_EQ(probe_one_address(req).status, ProbeStatus::Verified);
    req.key_preference = KeyPreference::Rsa;
    EXPECT_EQ(probe_one_address(req).status, ProbeStatus::TlsHandshakeFailed);
}

}  // namespace
}  // namespace daneroll::smtp
