// Chains obtained elsewhere: certbot's deploy hook hands a renewed key and
// chain over (Engine::hand_over, into the unit's inbox), and each tick reads
// the inbox (Engine::read_inbox). Kept apart from engine.cpp, which holds
// the observe/decide/act loop itself.
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

namespace daneroll::rollover {

namespace {

// The key's id, as engine.cpp names key files: the first 16 hex digits of
// the SHA-256 of its SubjectPublicKeyInfo.
std::string key_id(const Bytes& spki) {
    return to_hex(sha256(spki)).substr(0, 16);
}

}  // namespace

void Engine::read_inbox(const Unit& unit, const UnitState& state, Inputs& in) {
    // A chain and key handed over by certbot's deploy hook (daneroll hook
    // certbot). The key is imported into the unit's key directory so the
    // deploy finds it by id like any other key.
    const auto dir = store_.inbox_dir(state.service, state.algorithm);
    std::error_code ec;
    if (!std::filesystem::exists(dir / "chain.pem", ec) ||
        !std::filesystem::exists(dir / "key.pem", ec)) {
        return;
    }
    try {
        const PrivateKey key = PrivateKey::load_file(dir / "key.pem");
        const auto chain = load_certificates(dir / "chain.pem");
        if (chain.front().spki_der() != key.spki_der() || key.algorithm() != unit.algorithm) {
            in.dns.problems.push_back("the handed-over chain in " + dir.string() +
                                      " does not belong to its key, or is not " + state.algorithm +
                                      "; ignoring it");
            return;
        }
        const std::string id = key_id(key.spki_der());
        const auto keys = store_.key_dir(state.service, state.algorithm);
        ensure_private_directory(keys);
        if (!std::filesystem::exists(keys / (id + ".key"), ec)) {
            save_private_key(key, keys / (id + ".key"), Overwrite::No);
        }
        in.delivered_chain_pem = chain_to_pem(chain);
        in.delivered_key_id = id;
    } catch (const Error& e) {
        in.dns.problems.push_back(std::string("cannot read the handed-over chain: ") + e.what());
    }
}

std::vector<std::string> Engine::hand_over(const std::filesystem::path& lineage) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path want = fs::weakly_canonical(lineage, ec);
    std::vector<std::string> took;
    for (const auto& unit : units("")) {
        const auto& svc = *unit.service;
        if (svc.source.type != config::SourceType::Certbot || !svc.source.lineage) {
            continue;
        }
        const fs::path mine = fs::weakly_canonical(
            config::Service::expand(svc.source.lineage->string(), unit.algorithm), ec);
        if (mine != want) {
            continue;
        }
        // certbot's live/ files are symlinks into archive/: read them once,
        // here, and never let the MTA read them directly.
        const PrivateKey key = PrivateKey::load_file(want / "privkey.pem");
        const auto chain = load_certificates(want / "fullchain.pem");
        if (key.algorithm() != unit.algorithm) {
            continue;  // the lineage of this service's other key type
        }
        if (chain.front().spki_der() != key.spki_der()) {
            fail(ErrorKind::Input, (want / "fullchain.pem").string() +
                                       " does not belong to privkey.pem; not handing it over");
        }
        const std::string alg(key_algorithm_name(unit.algorithm));
        const auto inbox = store_.inbox_dir(svc.id, alg);
        ensure_private_directory(inbox);
        // The key first: the engine only looks once the chain is there.
        save_private_key(key, inbox / "key.pem", Overwrite::Yes);
        write_file_atomic(inbox / "chain.pem", chain_to_pem(chain), 0600, Overwrite::Yes);
        UnitState state = store_.load(svc.id, alg);
        state.note(std::chrono::system_clock::now(), "certbot handed over a chain for " +
                                                         chain.front().subject() + " from " +
                                                         want.string());
        if (state.phase != Phase::Unmanaged) {
            store_.save(state);
        }
        took.push_back(svc.id + "/" + alg);
    }
    if (took.empty()) {
        fail(ErrorKind::Input, "no service with source type \"certbot\" has lineage " +
                                   want.string() + " (and a key of that type) in " +
                                   config_.file.string());
    }
    return took;
}

}  // namespace daneroll::rollover
