// `daneroll demo`: a complete rollover, end to end, on real servers on
// loopback — BIND (signing primary), NSD (secondary), Unbound (validating
// resolver), Postfix (the MTA) and a local openssl CA — for each scheme,
// checked by Postfix's own posttls-finger and by openssl's DANE client.
// It needs the source tree's tests/sandbox and root (loopback addresses).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "commands.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "exit_codes.hpp"

#ifndef DANEROLL_SOURCE_DIR
#define DANEROLL_SOURCE_DIR ""
#endif

namespace daneroll::cli {

namespace {

namespace fs = std::filesystem;

struct DemoOptions {
    std::string net = "127.53.99";
    bool keep = false;
};

// Runs a program with the terminal as its stdout/stderr (no shell).
int run_visible(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    std::cout << std::flush;
    const pid_t pid = ::fork();
    if (pid < 0) {
        fail(ErrorKind::Io, "cannot fork");
    }
    if (pid == 0) {
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void step(const std::string& text) {
    std::cout << "\n\033[1m== " << text << "\033[0m\n" << std::flush;
}

void must(const std::vector<std::string>& argv, const std::string& what) {
    if (run_visible(argv) != 0) {
        fail(ErrorKind::Io, "demo: " + what + " failed");
    }
}

std::map<std::string, std::string> read_env(const fs::path& file) {
    // env.sh lines look like: export A=1 B='x y' C=z
    std::map<std::string, std::string> out;
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        std::size_t i = line.rfind("export ", 0) == 0 ? 7 : std::string::npos;
        while (i != std::string::npos && i < line.size()) {
            const auto eq = line.find('=', i);
            if (eq == std::string::npos) {
                break;
            }
            const std::string name = line.substr(i, eq - i);
            std::string value;
            std::size_t j = eq + 1;
            if (j < line.size() && line[j] == '\'') {
                const auto end = line.find('\'', j + 1);
                value = line.substr(j + 1, end - j - 1);
                j = end + 1;
            } else {
                const auto end = line.find(' ', j);
                value = line.substr(j, end == std::string::npos ? std::string::npos : end - j);
                j = end;
            }
            out[name] = value;
            i = j == std::string::npos ? j : line.find_first_not_of(' ', j);
        }
    }
    return out;
}

std::string config_text(const std::map<std::string, std::string>& env, const fs::path& state,
                        const fs::path& ca, const std::string& tool_dir, bool issuer_scheme) {
    const std::string pf = env.at("SANDBOX_POSTFIX_CONFIG_DIR");
    std::string text = "# written by 'daneroll demo'\n[daneroll]\nstate_dir = \"" + state.string() +
                       "\"\nresolver = \"" + env.at("SANDBOX_RESOLVER_ADDR") +
                       "\"\n\n[tsig.update]\nfile = \"" + env.at("SANDBOX_TSIG_FILE") +
                       "\"\n\n[zone.\"" + env.at("SANDBOX_ZONE") +
                       "\"]\ntsig_key = \"update\"\n\n[service.mx1]\nhost = \"" +
                       env.at("SANDBOX_MX_HOST") + "\"\nttl = " + env.at("SANDBOX_TTL") + "\n";
    text += "algorithms = [\"ecdsa-p256\", \"rsa2048\"]\nscheme = \"";
    text += issuer_scheme ? "current+issuer\"\n" : "current+next\"\n";
    text += "rotation_period = \"30d\"\nrenew_before = \"10d\"\n";
    if (issuer_scheme) {
        // The local CA's intermediate signs both key types.
        const std::string issuer = "[\"" + (ca / "int.pem").string() + "\"]\n";
        text += "\n[service.mx1.issuers]\necdsa-p256 = " + issuer + "rsa2048 = " + issuer;
    }
    text += "\n[service.mx1.source]\ntype = \"command\"\ncommand = [\"" + tool_dir +
            "/local-ca\", \"sign\", \"" + ca.string() +
            "\", \"{csr}\", \"{chain}\", \"90\"]\n\n[service.mx1.mta]\ntype = \"postfix\"\n"
            "combined_file = \"" +
            fs::path(env.at("SANDBOX_POSTFIX_ECDSA_PEM")).parent_path().string() +
            "/{algorithm}.pem\"\nreload = [\"/usr/sbin/postfix\", \"-c\", \"" + pf +
            "\", \"reload\"]\n";
    return text;
}

int run_demo(const DemoOptions& o) {
    const char* override_dir = std::getenv("DANEROLL_SANDBOX_TOOLS");
    const std::string tool_dir = override_dir != nullptr
                                     ? override_dir
                                     : std::string(DANEROLL_SOURCE_DIR) + "/tests/sandbox";
    const std::string sandbox = tool_dir + "/sandbox";
    if (::access(sandbox.c_str(), X_OK) != 0) {
        fail(ErrorKind::Input, "the demo needs daneroll's source tree (" + sandbox +
                                   " is missing); set DANEROLL_SANDBOX_TOOLS to its tests/sandbox");
    }
    if (::geteuid() != 0) {
        fail(ErrorKind::Input, "the demo runs real servers on loopback addresses: run it as root");
    }
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    std::string tmpl = "/tmp/daneroll-demo-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
        fail(ErrorKind::Io, "cannot create a temporary directory");
    }
    const fs::path work = tmpl;
    fs::permissions(work, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    const fs::path sb = work / "sandbox";
    const fs::path ca = work / "ca";
    const fs::path state = work / "state";
    const fs::path conf = work / "daneroll.toml";

    int rc = kExitOk;
    try {
        step(
            "start the sandbox: BIND (signing primary), NSD (secondary), Unbound (validating "
            "resolver), Postfix");
        must({sandbox, "up", sb.string(), "--net", o.net}, "sandbox up");
        const auto env = read_env(sb / "env.sh");
        must({tool_dir + "/local-ca", "init", ca.string(), "daneroll demo CA"}, "local CA");
        auto d = [&](std::vector<std::string> args) {
            args.insert(args.begin(), self);
            args.push_back("-c");
            args.push_back(conf.string());
            return args;
        };

        step("scheme current+next, ECDSA and RSA side by side");
        write_file_atomic(conf, config_text(env, state, ca, tool_dir, false), 0644, Overwrite::Yes);
        std::cout << read_file(conf);
        must(d({"config", "check"}), "config check");
        step(
            "init: adopt the self-signed certificates Postfix serves today; its first tick "
            "publishes 3 1 1 for the current keys and pre-generated next keys");
        must(d({"init"}), "init");
        step("run --wait: until those records are served, signed, by every server");
        must(d({"run", "--wait", "--timeout", "2m"}), "first run");
        must(d({"dns", "show", "--service", "mx1"}), "dns show");
        step(
            "rotate: certificates for the next keys from the local CA; they deploy at once "
            "(their records were published long enough ago)");
        must(d({"rotate", "mx1"}), "rotate");
        must(d({"run", "--wait", "--timeout", "2m"}), "rollover");
        must(d({"status"}), "status");
        step("independent checks: posttls-finger (Postfix's DANE client) and openssl s_client");
        must({sandbox, "posttls", sb.string()}, "posttls-finger");
        must({sandbox, "dane-check", sb.string(), "--alg", "ecdsa"}, "ECDSA DANE check");
        must({sandbox, "dane-check", sb.string(), "--alg", "rsa"}, "RSA DANE check");

        step("switch to scheme current+issuer: publish the CA's 2 1 1, then roll");
        write_file_atomic(conf, config_text(env, state, ca, tool_dir, true), 0644, Overwrite::Yes);
        must(d({"rotate", "mx1"}), "rotate");
        must(d({"run", "--wait", "--timeout", "2m"}), "rollover under current+issuer");
        step(
            "the CA switches to a new intermediate: the new leaf's 3 1 1 is published and the "
            "deploy waits 2 x TTL for it");
        must({tool_dir + "/local-ca", "rekey", ca.string()}, "CA rekey");
        must(d({"rotate", "mx1"}), "rotate");
        must(d({"run", "--wait", "--timeout", "2m"}), "rollover with a new issuer");
        must({sandbox, "wait-serial", sb.string()}, "secondary catching up");
        must(d({"dns", "show", "--service", "mx1"}), "dns show");
        must({sandbox, "posttls", sb.string()}, "posttls-finger");
        must({sandbox, "dane-check", sb.string(), "--alg", "ecdsa"}, "ECDSA DANE check");
        must({sandbox, "dane-check", sb.string(), "--alg", "rsa"}, "RSA DANE check");
        step(
            "done: every rollover deployed only after its record was on every server for "
            "2 x TTL, and mail stayed DANE-verified throughout");
    } catch (const Error& e) {
        std::cerr << "daneroll: " << e.what() << '\n';
        rc = kExitFailed;
    }
    if (o.keep) {
        std::cout << "kept the sandbox in " << work.string() << " (stop it with: " << sandbox
                  << " down " << sb.string() << ")\n";
    } else {
        run_visible({sandbox, "down", sb.string()});
        std::error_code ec;
        fs::remove_all(work, ec);
    }
    return rc;
}

}  // namespace

void add_demo_command(CLI::App& app, Action& action) {
    auto opts = std::make_shared<DemoOptions>();
    auto* cmd = app.add_subcommand(
        "demo", "Run complete rollovers on a sandbox of real servers on loopback (needs root)");
    cmd->add_option("--net", opts->net, "The loopback /24 for the sandbox, as 127.X.Y")
        ->default_val("127.53.99");
    cmd->add_flag("--keep", opts->keep, "Leave the sandbox running at the end");
    cmd->callback([&action, opts] { action = [opts] { return run_demo(*opts); }; });
}

}  // namespace daneroll::cli
