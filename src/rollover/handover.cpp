// Chains obtained elsewhere: certbot's deploy hook hands a renewed key and
// chain over (Engine::hand_over, into the unit's inbox), and each tick reads
// the inbox, or else the certbot lineage itself (Engine::read_inbox), so a
// hook that could not run (another daneroll held the lock) loses nothing.
// Kept apart from engine.cpp, which holds the observe/decide/act loop.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "daneroll/common/bytes.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "daneroll/crypto/digest.hpp"
#include "daneroll/crypto/key.hpp"
#include "daneroll/rollover/engine.hpp"
#include "daneroll/source/certificate_source.hpp"

namespace daneroll::rollover {

namespace {

// The key's id, as engine.cpp names key files: the first 16 hex digits of
// the SHA-256 of its SubjectPublicKeyInfo.
std::string key_id(const Bytes& spki) {
    return to_hex(sha256(spki)).substr(0, 16);
}

std::optional<std::filesystem::path> canonical_lineage(const config::Service& svc,
                                                       KeyAlgorithm alg) {
    if (svc.source.type != config::SourceType::Certbot || !svc.source.lineage) {
        return std::nullopt;
    }
    std::error_code ec;
    return std::filesystem::weakly_canonical(
        config::Service::expand(svc.source.lineage->string(), alg), ec);
}

}  // namespace

void Engine::read_inbox(const Unit& unit, const UnitState& state, Inputs& in) {
    // A chain and key handed over by certbot's deploy hook (daneroll hook
    // certbot). The key is imported into the unit's key directory so the
    // deploy finds it by id like any other key.
    const auto dir = store_.inbox_dir(state.service, state.algorithm);
    std::error_code ec;
    if (std::filesystem::exists(dir / "chain.pem", ec) &&
        std::filesystem::exists(dir / "key.pem", ec)) {
        try {
            const PrivateKey key = PrivateKey::load_file(dir / "key.pem");
            const auto chain = load_certificates(dir / "chain.pem");
            if (chain.front().spki_der() != key.spki_der() || key.algorithm() != unit.algorithm) {
                in.warnings.push_back("the handed-over chain in " + dir.string() +
                                      " does not belong to its key, or is not " + state.algorithm +
                                      "; ignoring it");
            } else if (chain_to_pem(chain) != state.deployed_chain_pem) {
                import_delivery(state, key, chain, in);
                return;
            }
        } catch (const Error& e) {
            in.warnings.push_back(std::string("cannot read the handed-over chain: ") + e.what());
        }
    }
    read_lineage(unit, state, in);
}

void Engine::read_lineage(const Unit& unit, const UnitState& state, Inputs& in) {
    // certbot may have renewed while the hook could not hand the chain over
    // (another daneroll held the lock, the hook is not installed): look at
    // the lineage itself. Read-only, each file once; the MTA still only
    // reads the copies daneroll installs.
    const auto lineage = canonical_lineage(*unit.service, unit.algorithm);
    if (!lineage) {
        return;
    }
    const auto chain_file = *lineage / "fullchain.pem";
    const auto key_file = *lineage / "privkey.pem";
    std::error_code ec;
    if (!std::filesystem::exists(chain_file, ec) || !std::filesystem::exists(key_file, ec)) {
        return;  // certbot has not issued for it yet
    }
    try {
        const auto chain = load_certificates(chain_file);
        const std::string pem = chain_to_pem(chain);
        if (pem == state.deployed_chain_pem || pem == state.staged_chain_pem) {
            return;
        }
        // Only a renewal: a chain older than the one deployed (the one
        // daneroll replaced it with, or one rolled back) is never taken.
        if (!state.deployed_chain_pem.empty() &&
            chain.front().not_before() <=
                parse_certificates(state.deployed_chain_pem, "the deployed chain")
                    .front()
                    .not_before()) {
            return;
        }
        const PrivateKey key = PrivateKey::load_file(key_file);
        if (key.algorithm() != unit.algorithm) {
            return;  // the lineage of the service's other key type
        }
        source::validate_issued_chain(chain, key, unit.service->host,
                                      std::chrono::system_clock::now(),
                                      "the certbot lineage's " + chain_file.string());
        import_delivery(state, key, chain, in);
    } catch (const Error& e) {
        in.warnings.push_back("not taking the renewed chain in " + lineage->string() + ": " +
                              e.what());
    }
}

void Engine::import_delivery(const UnitState& state, const PrivateKey& key,
                             const std::vector<Certificate>& chain, Inputs& in) {
    const std::string id = key_id(key.spki_der());
    // `plan` changes nothing on disk: the key is imported when a tick that
    // acts sees the delivery (it is only read when the chain is deployed).
    if (!dry_run_) {
        const auto keys = store_.key_dir(state.service, state.algorithm);
        ensure_private_directory(keys);
        std::error_code ec;
        if (!std::filesystem::exists(keys / (id + ".key"), ec)) {
            save_private_key(key, keys / (id + ".key"), Overwrite::No);
        }
    }
    in.delivered_chain_pem = chain_to_pem(chain);
    in.delivered_key_id = id;
}

bool Engine::takes_lineage(const std::filesystem::path& lineage) const {
    std::error_code ec;
    const auto want = std::filesystem::weakly_canonical(lineage, ec);
    const auto all = units("");
    return std::any_of(all.begin(), all.end(), [&](const Unit& u) {
        return canonical_lineage(*u.service, u.algorithm) == want;
    });
}

HandOver Engine::hand_over(const std::filesystem::path& lineage,
                           const std::optional<std::vector<std::string>>& renewed_domains) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path want = fs::weakly_canonical(lineage, ec);
    HandOver out;
    std::optional<PrivateKey> key;
    std::vector<Certificate> chain;
    for (const auto& unit : units("")) {
        const auto& svc = *unit.service;
        if (canonical_lineage(svc, unit.algorithm) != want) {
            continue;
        }
        // certbot's live/ files are symlinks into archive/: read them once,
        // here, and never let the MTA read them directly.
        if (!key) {
            key = PrivateKey::load_file(want / "privkey.pem");
            chain = load_certificates(want / "fullchain.pem");
        }
        if (key->algorithm() != unit.algorithm) {
            continue;  // the lineage of this service's other key type
        }
        const std::string alg(key_algorithm_name(unit.algorithm));
        const std::string who = svc.id + "/" + alg;
        if (renewed_domains && std::find(renewed_domains->begin(), renewed_domains->end(),
                                         svc.host) == renewed_domains->end()) {
            std::string list;
            for (const auto& d : *renewed_domains) {
                list += (list.empty() ? "" : " ") + d;
            }
            out.skipped.push_back("not handing the chain of " + want.string() + " to " + who +
                                  ": its MX host " + svc.host +
                                  " is not among the renewed domains (RENEWED_DOMAINS: " +
                                  (list.empty() ? "empty" : list) + ")");
            continue;
        }
        try {
            source::validate_issued_chain(chain, *key, svc.host, std::chrono::system_clock::now(),
                                          (want / "fullchain.pem").string());
        } catch (const Error& e) {
            out.refused.push_back("refusing the chain for " + who + ": " + e.what());
            continue;
        }
        const auto inbox = store_.inbox_dir(svc.id, alg);
        ensure_private_directory(inbox);
        // The key first: the engine only looks once the chain is there.
        save_private_key(*key, inbox / "key.pem", Overwrite::Yes);
        write_file_atomic(inbox / "chain.pem", chain_to_pem(chain), 0600, Overwrite::Yes);
        UnitState state = store_.load(svc.id, alg);
        state.note(std::chrono::system_clock::now(), "certbot handed over a chain for " +
                                                         chain.front().subject() + " from " +
                                                         want.string());
        if (state.phase != Phase::Unmanaged) {
            store_.save(state);
        }
        out.took.push_back(who);
    }
    if (out.took.empty() && out.skipped.empty() && out.refused.empty()) {
        fail(ErrorKind::Input, "no service with source type \"certbot\" has lineage " +
                                   want.string() + " (and a key of that type) in " +
                                   config_.file.string());
    }
    return out;
}

}  // namespace daneroll::rollover
