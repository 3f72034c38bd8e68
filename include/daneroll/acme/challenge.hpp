// Answering ACME challenges (RFC 8555 8): http-01 from a webroot a web
// server already serves, or from daneroll's own minimal listener; dns-01
// through a TSIG-signed UPDATE, checked on every authoritative server
// before the CA is told. Whatever a solver put in place it removes again,
// on success and on failure alike.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daneroll/common/files.hpp"
#include "daneroll/config/config.hpp"
#include "daneroll/dns/types.hpp"

namespace daneroll::acme {

class ChallengeSolver {
  public:
    virtual ~ChallengeSolver() = default;
    ChallengeSolver() = default;
    ChallengeSolver(const ChallengeSolver&) = delete;
    ChallengeSolver& operator=(const ChallengeSolver&) = delete;

    // "http-01" or "dns-01": the challenge type this solver answers.
    [[nodiscard]] virtual std::string type() const = 0;
    // Puts the response for one authorization in place. `identifier` is the
    // DNS name (without "*." for a wildcard).
    virtual void present(const std::string& identifier, const std::string& token,
                         const std::string& key_authorization) = 0;
    // Returns once the CA can see everything presented; throws Error if that
    // does not happen before `deadline`.
    virtual void wait_ready(std::chrono::system_clock::time_point deadline) {
        static_cast<void>(deadline);
    }
    // Removes everything presented. Never throws: returns what could not be
    // cleaned up, one line each, for the caller to report.
    virtual std::vector<std::string> cleanup() noexcept = 0;
};

// The dns-01 TXT value: base64url(SHA-256(key authorization)).
std::string dns01_txt_value(const std::string& key_authorization);

// http-01 into an existing web server's document root: each token becomes
// WEBROOT/.well-known/acme-challenge/TOKEN (0644; missing directories are
// created 0755 and removed again if they end up empty).
class WebrootSolver final : public ChallengeSolver {
  public:
    explicit WebrootSolver(std::filesystem::path webroot);
    ~WebrootSolver() override;
    [[nodiscard]] std::string type() const override { return "http-01"; }
    void present(const std::string& identifier, const std::string& token,
                 const std::string& key_authorization) override;
    std::vector<std::string> cleanup() noexcept override;

  private:
    std::filesystem::path webroot_;
    std::vector<std::filesystem::path> files_;
    std::vector<std::filesystem::path> created_dirs_;  // deepest last
};

// A minimal HTTP/1.x server for http-01: it answers GET (and HEAD) of
// /.well-known/acme-challenge/TOKEN for the tokens it was given, 404 for
// anything else, one connection at a time with a short deadline each. It
// stops when destroyed or at the latest after `max_lifetime`.
class HttpChallengeListener {
  public:
    HttpChallengeListener(const config::Endpoint& listen, std::chrono::seconds max_lifetime);
    ~HttpChallengeListener();
    HttpChallengeListener(const HttpChallengeListener&) = delete;
    HttpChallengeListener& operator=(const HttpChallengeListener&) = delete;

    void add(const std::string& token, const std::string& key_authorization);
    void remove(const std::string& token);
    void stop() noexcept;
    // The bound port (useful with port 0).
    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] std::size_t requests_answered() const { return answered_.load(); }
    [[nodiscard]] std::size_t tokens_served() const { return served_.load(); }

  private:
    void run(std::chrono::steady_clock::time_point until);
    void serve(int fd);

    UniqueFd listen_fd_;
    UniqueFd wake_read_;
    UniqueFd wake_write_;
    std::uint16_t port_ = 0;
    std::mutex mu_;
    std::map<std::string, std::string> tokens_;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> answered_{0};
    std::atomic<std::size_t> served_{0};
    std::thread thread_;
};

// http-01 answered by an HttpChallengeListener it starts at construction
// (so a port in use fails before anything is ordered).
class ListenerSolver final : public ChallengeSolver {
  public:
    ListenerSolver(const config::Endpoint& listen, std::chrono::seconds max_lifetime);
    [[nodiscard]] std::string type() const override { return "http-01"; }
    void present(const std::string& identifier, const std::string& token,
                 const std::string& key_authorization) override;
    std::vector<std::string> cleanup() noexcept override;
    [[nodiscard]] HttpChallengeListener& listener() { return listener_; }

  private:
    HttpChallengeListener listener_;
    std::vector<std::string> tokens_;
};

// dns-01 through the zones of the configuration: the TXT record goes to
// _acme-challenge.NAME in the longest configured zone containing it, by
// TSIG UPDATE to that zone's primary; wait_ready() polls every
// authoritative server (the NS RRset's addresses, or the configured
// servers, plus the primary) until each serves every value.
class Dns01Solver final : public ChallengeSolver {
  public:
    explicit Dns01Solver(const config::Config& config,
                         std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250));
    ~Dns01Solver() override;
    [[nodiscard]] std::string type() const override { return "dns-01"; }
    void present(const std::string& identifier, const std::string& token,
                 const std::string& key_authorization) override;
    void wait_ready(std::chrono::system_clock::time_point deadline) override;
    std::vector<std::string> cleanup() noexcept override;

    // The zone (config name) whose primary takes the TXT for `owner`;
    // throws Error(Config) if no configured zone contains it.
    [[nodiscard]] const config::Zone& zone_for(const std::string& owner) const;

  private:
    struct Published {
        std::string zone;
        std::string owner;  // absolute
        std::string value;
    };
    struct ZoneServers {
        dns::Server primary;
        std::vector<dns::Server> servers;  // includes the primary
    };
    ZoneServers& servers_of(const config::Zone& zone);

    config::Config config_;
    std::chrono::milliseconds poll_interval_;
    std::map<std::string, ZoneServers> zone_servers_;
    std::vector<Published> published_;
};

// The solver a service's [source] asks for; `lifetime` bounds the listener.
std::unique_ptr<ChallengeSolver> make_solver(const config::Config& config,
                                             const config::CertificateSource& source,
                                             std::chrono::seconds lifetime);

}  // namespace daneroll::acme
