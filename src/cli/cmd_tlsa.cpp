// `daneroll tlsa`: compute TLSA records; `daneroll tlsa match`: check a
// chain against records offline, with the same engine as the live probe.
#include <nlohmann/json.hpp>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "daneroll/crypto/csr.hpp"
#include "daneroll/crypto/key.hpp"
#include "daneroll/tlsa/compute.hpp"
#include "daneroll/tlsa/dane_verify.hpp"
#include "daneroll/tlsa/record.hpp"
#include "exit_codes.hpp"

namespace daneroll::cli {

namespace {

struct TlsaOptions {
    std::string cert;
    std::string chain;
    std::string key;
    std::string csr;
    int usage = 3;
    int selector = 1;
    int mtype = 1;
    std::string owner;
    int port = 25;
    std::int64_t ttl = 3600;
    bool json = false;
};

struct MatchOptions {
    std::string chain;
    std::vector<std::string> records;
    std::vector<std::string> names;
    bool json = false;
};

struct Computed {
    std::vector<TlsaRecord> records;
    std::string default_host;  // from the certificate or CSR, if any
};

Computed compute(const TlsaOptions& o) {
    const auto usage = static_cast<std::uint8_t>(o.usage);
    const auto selector = static_cast<std::uint8_t>(o.selector);
    const auto mtype = static_cast<std::uint8_t>(o.mtype);
    Computed out;
    // Only to check the key belongs to the certificate: a private or a
    // public key file, compared by SPKI.
    std::optional<Bytes> key_spki;
    if (!o.key.empty() && (!o.cert.empty() || !o.chain.empty())) {
        key_spki = load_spki_from_key_file(o.key);
    }
    auto first_name = [](const std::vector<std::string>& names) {
        return names.empty() ? std::string() : names.front();
    };
    if (!o.cert.empty() || !o.chain.empty()) {
        const std::string& file = o.cert.empty() ? o.chain : o.cert;
        const auto certs = load_certificates(file);
        if (!o.cert.empty() && certs.size() > 1) {
            fail(ErrorKind::Input, file + " holds " + std::to_string(certs.size()) +
                                       " certificates; use --chain for a chain");
        }
        if (key_spki && certs.front().spki_der() != *key_spki) {
            fail(ErrorKind::Input, o.key + " does not belong to the certificate in " + file + " (" +
                                       certs.front().subject() +
                                       "); refusing to compute records for a mismatched pair");
        }
        if (!o.chain.empty()) {
            require_ordered_chain(certs, file);
            out.records = tlsa_from_chain(certs, usage, selector, mtype);
        } else {
            out.records = {tlsa_from_certificate(certs.front(), usage, selector, mtype)};
        }
        out.default_host = first_name(certs.front().dns_names());
        return out;
    }
    if (selector != tlsa::kSelectorSpki) {
        fail(ErrorKind::Input,
             "selector 0 hashes the whole certificate, which a key or CSR does "
             "not have yet; use selector 1 (SPKI) or give --cert");
    }
    if (!o.csr.empty()) {
        const auto csr = CertificateRequest::load_file(o.csr);
        if (!csr.signature_valid()) {
            fail(ErrorKind::Input, o.csr + ": the CSR's self-signature does not verify");
        }
        out.records = {tlsa_from_spki(usage, csr.spki_der(), mtype)};
        out.default_host = first_name(csr.dns_names());
        return out;
    }
    out.records = {tlsa_from_spki(usage, load_spki_from_key_file(o.key), mtype)};
    return out;
}

int run_tlsa(const TlsaOptions& o) {
    const int inputs = static_cast<int>(!o.cert.empty()) + static_cast<int>(!o.chain.empty()) +
                       static_cast<int>(!o.csr.empty());
    if (inputs > 1 || (inputs == 0 && o.key.empty())) {
        fail(ErrorKind::Input,
             "give one of --cert, --chain, --csr or --key (--key may be added "
             "to --cert or --chain to check they belong together)");
    }
    if (!o.csr.empty() && !o.key.empty()) {
        fail(ErrorKind::Input, "give --csr or --key, not both");
    }
    const Computed c = compute(o);
    const std::string host = o.owner.empty() ? c.default_host : o.owner;
    const std::string owner =
        host.empty() ? std::string() : tlsa_owner_name(host, static_cast<std::uint16_t>(o.port));
    if (o.json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& r : c.records) {
            j.push_back({{"owner", owner},
                         {"ttl", o.ttl},
                         {"usage", r.usage},
                         {"selector", r.selector},
                         {"matching_type", r.matching_type},
                         {"data", to_hex(r.data)},
                         {"rdata", r.to_string()}});
        }
        std::cout << j.dump(2) << '\n';
        return kExitOk;
    }
    for (const auto& r : c.records) {
        if (owner.empty()) {
            std::cout << r.to_string() << '\n';
        } else {
            std::cout << zone_file_line(owner, static_cast<std::uint32_t>(o.ttl), r) << '\n';
        }
    }
    return kExitOk;
}

int run_match(const MatchOptions& o) {
    const auto chain = load_certificates(o.chain);
    std::vector<TlsaRecord> records;
    for (const auto& text : o.records) {
        records.push_back(TlsaRecord::parse(text));
    }
    OfflineMatchOptions opts;
    for (const auto& n : o.names) {
        opts.reference_names.push_back(normalize_host_name(n, "--name"));
    }
    const DaneVerdict v = verify_chain_offline(chain, records, opts);
    if (o.json) {
        nlohmann::json j{{"matched", v.verified},
                         {"reason", v.reason},
                         {"depth", v.match_depth},
                         {"notes", v.notes},
                         {"chain_length", chain.size()}};
        if (v.matched_record) {
            j["record"] = records[*v.matched_record].to_string();
            j["record_index"] = *v.matched_record;
        }
        std::cout << j.dump(2) << '\n';
        return v.verified ? kExitOk : kExitFailed;
    }
    for (const auto& n : v.notes) {
        std::cout << "note: " << n << '\n';
    }
    if (v.verified) {
        std::cout << "match: chain in " << o.chain << " matches ";
        if (v.matched_record) {
            std::cout << "record " << (*v.matched_record + 1) << " ("
                      << records[*v.matched_record].to_string() << ")";
        } else {
            std::cout << "a record";
        }
        std::cout << " at depth " << v.match_depth << " ("
                  << chain[static_cast<std::size_t>(v.match_depth) < chain.size()
                               ? static_cast<std::size_t>(v.match_depth)
                               : 0]
                         .subject()
                  << ")\n";
        return kExitOk;
    }
    std::cout << "no match: chain in " << o.chain << " (leaf " << chain.front().subject()
              << ") is not accepted: " << v.reason << '\n';
    return kExitFailed;
}

}  // namespace

void add_tlsa_commands(CLI::App& app, Action& action) {
    auto opts = std::make_shared<TlsaOptions>();
    auto* cmd = app.add_subcommand(
        "tlsa", "Compute TLSA records from a certificate, chain, key or CSR (default 3 1 1)");
    cmd->add_option("--cert", opts->cert, "A certificate file (PEM or DER)");
    cmd->add_option("--chain", opts->chain,
                    "A chain file as the MTA presents it, leaf first (usage 2: the issuers)");
    cmd->add_option("--key", opts->key,
                    "A private or public key file; with --cert/--chain, checked to belong to it");
    cmd->add_option("--csr", opts->csr, "A certificate signing request");
    cmd->add_option("--usage", opts->usage, "3 (DANE-EE) or 2 (DANE-TA)")
        ->check(CLI::Range(0, 255))
        ->default_val(3);
    cmd->add_option("--selector", opts->selector, "1 (SPKI) or 0 (full certificate)")
        ->check(CLI::Range(0, 255))
        ->default_val(1);
    cmd->add_option("--mtype", opts->mtype, "1 (SHA-256), 2 (SHA-512) or 0 (full data)")
        ->check(CLI::Range(0, 255))
        ->default_val(1);
    cmd->add_option("--owner", opts->owner,
                    "The MX host name (default: the certificate's first DNS name)");
    cmd->add_option("--port", opts->port, "The SMTP port")
        ->check(CLI::Range(1, 65535))
        ->default_val(25);
    cmd->add_option("--ttl", opts->ttl, "The TTL to print")
        ->check(CLI::Range(static_cast<std::int64_t>(0), static_cast<std::int64_t>(2147483647)))
        ->default_val(3600);
    cmd->add_flag("--json", opts->json, "Print JSON");
    cmd->require_subcommand(0, 1);
    cmd->callback([&action, opts, cmd] {
        if (cmd->get_subcommands().empty()) {
            action = [opts] { return run_tlsa(*opts); };
        }
    });

    auto mopts = std::make_shared<MatchOptions>();
    auto* match = cmd->add_subcommand(
        "match", "Check offline whether a chain matches TLSA records under RFC 7672 rules");
    match->add_option("--chain", mopts->chain, "The chain the MTA presents, leaf first")
        ->required();
    match->add_option("--record", mopts->records, "A record, e.g. \"3 1 1 <hex>\" (repeatable)")
        ->required();
    match->add_option("--name", mopts->names,
                      "Reference name(s) a DANE-TA match needs on the leaf: the MX host name");
    match->add_flag("--json", mopts->json, "Print JSON");
    match->callback([&action, mopts] { action = [mopts] { return run_match(*mopts); }; });
}

}  // namespace daneroll::cli
