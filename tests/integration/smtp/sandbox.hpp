// The tests' handle on a running tests/sandbox: its facts (sandbox.json)
// and the few things the SMTP tests do to it: serve a chain from a Postfix
// instance, publish a TLSA RRset through the signing primary, switch
// STARTTLS off and on, freeze an instance, and ask posttls-finger for its
// own DANE verdict. Infrastructure trouble throws std::runtime_error with
// the tool's output, which fails the test with that message.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "daneroll/crypto/certificate.hpp"
#include "daneroll/crypto/key.hpp"
#include "daneroll/tlsa/record.hpp"
#include "process.hpp"

namespace daneroll::smtp_it {

struct PostfixInstance {
    std::string name;  // "postfix", "postfix2"
    std::string addr;
    std::filesystem::path config_dir;
    std::filesystem::path ecdsa_pem;  // key, then chain: smtpd_tls_chain_files
    std::filesystem::path rsa_pem;
};

struct SandboxInfo {
    std::filesystem::path dir;
    std::filesystem::path tool;
    std::string zone;
    std::string mx_host;
    std::vector<std::string> mx_addrs;
    std::string primary_addr;
    std::string resolver_addr;
    std::filesystem::path tsig_file;  // the update key (hmac-sha256)
    int ttl = 2;
    std::vector<PostfixInstance> postfix;
};

SandboxInfo load_sandbox_info(const std::filesystem::path& dir);

// posttls-finger's verdict on one connection.
struct PosttlsVerdict {
    bool verified = false;  // "Verified TLS connection established"
    std::string address;    // the address it reported on last
    std::string output;
};

class Sandbox {
  public:
    explicit Sandbox(SandboxInfo info) : info_(std::move(info)) {}

    [[nodiscard]] const SandboxInfo& info() const { return info_; }
    [[nodiscard]] const PostfixInstance& instance(const std::string& name) const;

    // `sandbox COMMAND DIR ARGS...`; throws unless it exits 0 (when `check`).
    ProcessResult tool(const std::string& command, const std::vector<std::string>& args = {},
                       bool check = true,
                       std::chrono::milliseconds limit = std::chrono::seconds(60)) const;

    // Replaces the instance's chain file for the key's algorithm (ECDSA or
    // RSA) with `key` + `chain`, reloads, and waits until a new connection
    // is served `chain`'s leaf.
    void serve(const PostfixInstance& pf, const std::vector<Certificate>& chain,
               const PrivateKey& key) const;
    void serve_everywhere(const std::vector<Certificate>& chain, const PrivateKey& key) const;

    // Replaces the TLSA RRset of _25._tcp.<mx> by `records` with nsupdate
    // -k <update key> against the primary, then waits until the secondary
    // serves the new serial and the validating resolver answers with
    // exactly these records and AD (what posttls-finger will see).
    void publish(const std::vector<TlsaRecord>& records) const;

    // smtpd_tls_security_level may/none on every instance, reload, and wait
    // until EHLO shows it.
    void set_starttls(bool on) const;

    void freeze(const PostfixInstance& pf) const { tool("freeze", {pf.name}); }
    void thaw(const PostfixInstance& pf) const { tool("thaw", {pf.name}); }

    // posttls-finger -l dane to the zone (following the MX). It connects to
    // one address; with `only` set, the other instances are stopped for the
    // run (and started again) so that it reports on `only`'s address.
    PosttlsVerdict posttls(const PostfixInstance* only = nullptr,
                           const std::vector<std::string>& args = {}) const;

  private:
    SandboxInfo info_;
};

// The sandbox of this test run (set up by main.cpp's environment).
const Sandbox& sandbox();
void set_sandbox(const Sandbox* s);

}  // namespace daneroll::smtp_it
