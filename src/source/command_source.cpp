// The `command` certificate source: daneroll writes a CSR for its own key,
// runs the configured program (no shell) to turn it into a chain, and reads
// the chain back. A local CA, a corporate PKI client or a script around
// another ACME client all fit.
#include <algorithm>

#include "daneroll/acme/issue.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/common/process.hpp"
#include "daneroll/crypto/csr.hpp"
#include "daneroll/source/certificate_source.hpp"

namespace daneroll::source {

namespace {

constexpr std::chrono::minutes kCommandTimeout{10};

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
        s.replace(pos, from.size(), to);
    }
    return s;
}

class CommandSource final : public CertificateSource {
  public:
    explicit CommandSource(std::vector<std::string> argv) : argv_(std::move(argv)) {}

    [[nodiscard]] bool can_issue() const override { return true; }

    IssuedChain issue(const IssueRequest& req) override {
        ensure_private_directory(req.work_dir);
        const auto csr_path = req.work_dir / "request.csr";
        const auto chain_path = req.work_dir / "chain.pem";
        // Where a command that writes the leaf and the issuers apart may put
        // them (certbot certonly --csr: --cert-path, --chain-path). Like the
        // chain, they must not be left over from the last run: certbot
        // refuses to overwrite them.
        const auto cert_path = req.work_dir / "cert.pem";
        const auto issuer_path = req.work_dir / "issuer.pem";
        std::error_code ec;
        for (const auto* p : {&chain_path, &cert_path, &issuer_path}) {
            std::filesystem::remove(*p, ec);
        }
        const auto csr = CertificateRequest::create(*req.key, req.names);
        write_file_atomic(csr_path, csr.to_pem(), 0600, Overwrite::Yes);

        std::string names;
        for (const auto& n : req.names) {
            names += (names.empty() ? "" : ",") + n;
        }
        std::vector<std::string> argv;
        for (const auto& a : argv_) {
            std::string arg = replace_all(a, "{csr}", csr_path.string());
            arg = replace_all(arg, "{chain}", chain_path.string());
            arg = replace_all(arg, "{cert}", cert_path.string());
            arg = replace_all(arg, "{issuer}", issuer_path.string());
            arg = replace_all(arg, "{names}", names);
            arg = replace_all(arg, "{algorithm}", std::string(key_algorithm_name(req.algorithm)));
            argv.push_back(replace_all(arg, "{service}", req.service));
        }
        const auto result = run_process(argv, kCommandTimeout);
        if (!result.ok()) {
            fail(ErrorKind::Io, "the certificate command " + describe_command(argv) +
                                    " failed: " + result.summary());
        }
        if (!std::filesystem::exists(chain_path, ec)) {
            fail(ErrorKind::Input, "the certificate command " + describe_command(argv) +
                                       " succeeded but wrote no chain to " + chain_path.string());
        }
        return {load_certificates(chain_path), {}};
    }

  private:
    std::vector<std::string> argv_;
};

class UnavailableSource final : public CertificateSource {
  public:
    explicit UnavailableSource(std::string why) : why_(std::move(why)) {}
    [[nodiscard]] bool can_issue() const override { return true; }
    IssuedChain issue(const IssueRequest&) override { fail(ErrorKind::Config, why_); }

  private:
    std::string why_;
};

}  // namespace

std::unique_ptr<CertificateSource> make_source(const config::Config& config,
                                               const config::Service& service) {
    switch (service.source.type) {
        case config::SourceType::Command:
            return std::make_unique<CommandSource>(service.source.command);
        case config::SourceType::Acme:
            return acme::make_acme_source(config, service);
        case config::SourceType::Certbot:
            // certbot renews on its own schedule and hands the result over
            // through its deploy hook (daneroll hook certbot).
            return std::make_unique<UnavailableSource>(
                "service " + service.id +
                ": certbot issues on its own; daneroll waits for its deploy hook (daneroll hook "
                "certbot)");
    }
    fail(ErrorKind::Internal, "unknown source type");
}

void validate_issued_chain(const std::vector<Certificate>& chain, const PrivateKey& key,
                           const std::string& host, std::chrono::system_clock::time_point now,
                           const std::string& source) {
    if (chain.empty()) {
        fail(ErrorKind::Input, source + " returned no certificate");
    }
    require_ordered_chain(chain, source);
    const Certificate& leaf = chain.front();
    if (leaf.spki_der() != key.spki_der()) {
        fail(ErrorKind::Input, source + " returned a certificate for another key (" +
                                   leaf.subject() +
                                   "); daneroll only deploys certificates for the key it "
                                   "generated and published");
    }
    const auto names = leaf.dns_names();
    if (std::find(names.begin(), names.end(), host) == names.end()) {
        fail(ErrorKind::Input, source + " returned a certificate without the name " + host +
                                   "; DANE-TA senders would reject it");
    }
    // A CA that stamps notBefore with the current second may be a second
    // ahead of `now`; a minute of slack covers that, not a wrong clock.
    if (leaf.not_before() > now + std::chrono::minutes(1) || leaf.not_after() <= now) {
        fail(ErrorKind::Input,
             source + " returned a certificate that is not valid now (" + leaf.subject() + ")");
    }
}

}  // namespace daneroll::source
