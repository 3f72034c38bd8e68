#include "daneroll/mta/installer.hpp"

#include <filesystem>

#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/common/process.hpp"

namespace daneroll::mta {

namespace fs = std::filesystem;

namespace {

constexpr std::chrono::seconds kCommandTimeout{120};

std::string read_if_exists(const std::string& path) {
    std::error_code ec;
    if (path.empty() || !fs::exists(path, ec)) {
        return "";
    }
    return read_file(path);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
        s.replace(pos, from.size(), to);
    }
    return s;
}

}  // namespace

std::string normalized_chain_pem(const std::string& pem, const std::string& source) {
    return chain_to_pem(parse_certificates(pem, source));
}

Installer::Installer(const config::Service& service, KeyAlgorithm algorithm)
    : service_id_(service.id), algorithm_(algorithm), mta_(service.mta) {
    if (!mta_.combined_file.empty()) {
        combined_ = config::Service::expand(mta_.combined_file, algorithm);
    } else {
        key_file_ = config::Service::expand(mta_.key_file, algorithm);
        chain_file_ = config::Service::expand(mta_.chain_file, algorithm);
    }
}

std::vector<std::string> Installer::live_files() const {
    if (!combined_.empty()) {
        return {combined_};
    }
    return {key_file_, chain_file_};
}

std::optional<Installed> Installer::read_installed() const {
    Installed out;
    if (!combined_.empty()) {
        const std::string text = read_if_exists(combined_);
        if (text.empty()) {
            return std::nullopt;
        }
        out.chain_pem = normalized_chain_pem(text, combined_);
        out.key = PrivateKey::parse(text, combined_);
        return out;
    }
    const std::string chain = read_if_exists(chain_file_);
    if (chain.empty()) {
        return std::nullopt;
    }
    out.chain_pem = normalized_chain_pem(chain, chain_file_);
    const std::string key = read_if_exists(key_file_);
    if (!key.empty()) {
        out.key = PrivateKey::parse(key, key_file_);
    }
    return out;
}

void Installer::install(const PrivateKey& key, const std::vector<Certificate>& chain) const {
    const std::string chain_pem = chain_to_pem(chain);
    const std::string key_pem = key.to_pem();
    // Files holding the key: root only, or readable by the MTA's group.
    const gid_t group = mta_.key_group.empty() ? static_cast<gid_t>(-1) : group_id(mta_.key_group);
    const mode_t key_mode = mta_.key_group.empty() ? 0600 : 0640;
    // Keys and combined files are secrets (0600); a chain alone is public.
    if (!combined_.empty()) {
        const std::string content = key_pem + chain_pem;
        const std::string live = read_if_exists(combined_);
        if (live != content) {
            if (!live.empty()) {
                write_file_atomic(combined_ + mta_.backup_suffix, live, key_mode, Overwrite::Yes,
                                  group);
            }
            write_file_atomic(combined_, content, key_mode, Overwrite::Yes, group);
        }
    } else {
        const std::string live_key = read_if_exists(key_file_);
        const std::string live_chain = read_if_exists(chain_file_);
        if (live_key != key_pem || live_chain != chain_pem) {
            if (!live_key.empty() && !live_chain.empty()) {
                write_file_atomic(key_file_ + mta_.backup_suffix, live_key, key_mode,
                                  Overwrite::Yes, group);
                write_file_atomic(chain_file_ + mta_.backup_suffix, live_chain, 0644,
                                  Overwrite::Yes);
            }
            // Both files are written first and renamed back to back, so the
            // MTA can see a mismatched pair only for the instant between
            // two renames (a combined file avoids even that).
            const fs::path tmp_key = write_temp_beside(key_file_, key_pem, key_mode, group);
            fs::path tmp_chain;
            try {
                tmp_chain = write_temp_beside(chain_file_, chain_pem, 0644);
            } catch (...) {
                discard_temp(tmp_key);
                throw;
            }
            commit_temp(tmp_key, key_file_);
            commit_temp(tmp_chain, chain_file_);
        }
    }
    run_install_command();
}

void Installer::run_install_command() const {
    if (mta_.type != config::MtaType::Command || mta_.install.empty()) {
        return;
    }
    std::vector<std::string> argv;
    for (const auto& a : mta_.install) {
        std::string arg = replace_all(a, "{key}", key_file_);
        arg = replace_all(arg, "{chain}", chain_file_);
        arg = replace_all(arg, "{algorithm}", std::string(key_algorithm_name(algorithm_)));
        argv.push_back(replace_all(arg, "{service}", service_id_));
    }
    const auto r = run_process(argv, kCommandTimeout);
    if (!r.ok()) {
        fail(ErrorKind::Io,
             "the install command " + describe_command(argv) + " failed: " + r.summary());
    }
}

bool Installer::restore_backup() const {
    bool restored = false;
    for (const auto& live : live_files()) {
        const std::string backup = live + mta_.backup_suffix;
        const std::string content = read_if_exists(backup);
        if (content.empty()) {
            continue;
        }
        const bool secret = live == combined_ || live == key_file_;
        const gid_t group =
            secret && !mta_.key_group.empty() ? group_id(mta_.key_group) : static_cast<gid_t>(-1);
        const mode_t mode = !secret ? 0644 : mta_.key_group.empty() ? 0600 : 0640;
        write_file_atomic(live, content, mode, Overwrite::Yes, group);
        restored = true;
    }
    if (restored) {
        // The command MTA takes its files through the install command: the
        // restored files reach it the same way the new ones did.
        run_install_command();
    }
    return restored;
}

void Installer::reload() const {
    if (mta_.reload.empty()) {
        return;
    }
    const auto r = run_process(mta_.reload, kCommandTimeout);
    if (!r.ok()) {
        fail(ErrorKind::Io,
             "reloading the MTA with " + describe_command(mta_.reload) + " failed: " + r.summary());
    }
}

}  // namespace daneroll::mta
