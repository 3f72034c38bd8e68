#include "sandbox_env.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "daneroll/common/files.hpp"
#include "daneroll/config/tsig_key_file.hpp"

namespace daneroll::test {

namespace {

dns::Server server_of(const nlohmann::json& j) {
    return dns::Server{j.value("name", std::string()) + ".", j.at("addr").get<std::string>(),
                       j.at("port").get<std::uint16_t>()};
}

SandboxKey key_of(const nlohmann::json& j) {
    return SandboxKey{j.at("name").get<std::string>(), j.at("algorithm").get<std::string>(),
                      j.at("file").get<std::string>()};
}

}  // namespace

SandboxEnv SandboxEnv::load() {
    const char* dir = std::getenv("DANEROLL_SANDBOX_DIR");
    if (dir == nullptr) {
        throw std::runtime_error("DANEROLL_SANDBOX_DIR is not set: run this test through ctest");
    }
    const auto j = nlohmann::json::parse(read_file(std::filesystem::path(dir) / "sandbox.json"));
    SandboxEnv e;
    e.dir = j.at("dir").get<std::string>();
    e.tool = j.at("tool").get<std::string>();
    e.net = j.at("net").get<std::string>();
    e.zone = j.at("zone").get<std::string>();
    if (j.contains("unsigned_zone") && j.at("unsigned_zone").is_string()) {
        e.unsigned_zone = j.at("unsigned_zone").get<std::string>();
    }
    e.ttl = j.at("ttl").get<std::uint32_t>();
    e.negative_ttl = j.at("negative_ttl").get<std::uint32_t>();
    e.primary = server_of(j.at("primary"));
    for (const auto& s : j.at("secondaries")) {
        e.secondaries.push_back(server_of(s));
    }
    e.resolver = server_of(j.at("resolver"));
    e.resolver.name.clear();
    e.update = key_of(j.at("tsig").at("update"));
    e.update_sha512 = key_of(j.at("tsig").at("update_sha512"));
    e.forbidden = key_of(j.at("tsig").at("forbidden"));
    e.mx_host = j.at("mx").at("host").get<std::string>();
    e.mx_addrs = j.at("mx").at("addrs").get<std::vector<std::string>>();
    return e;
}

std::vector<dns::Server> SandboxEnv::name_servers() const {
    std::vector<dns::Server> out{primary};
    out.insert(out.end(), secondaries.begin(), secondaries.end());
    return out;
}

dns::TsigCredentials SandboxEnv::credentials(const SandboxKey& key) const {
    const auto keys = config::parse_tsig_key_file(read_file(key.file), key.file.string());
    return dns::TsigCredentials{keys.front().name, keys.front().algorithm, keys.front().secret};
}

int SandboxEnv::tool_run(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{tool.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv);
}

int run_program(const std::vector<std::string>& argv, std::string* output) {
    int pipefd[2] = {-1, -1};
    if (output != nullptr && ::pipe(pipefd) != 0) {
        throw std::runtime_error("pipe failed");
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        if (output != nullptr) {
            ::dup2(pipefd[1], STDOUT_FILENO);
            ::close(pipefd[0]);
            ::close(pipefd[1]);
        }
        std::vector<char*> args;
        for (const auto& a : argv) {
            args.push_back(const_cast<char*>(a.c_str()));
        }
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    if (output != nullptr) {
        ::close(pipefd[1]);
        char buf[4096];
        ssize_t n = 0;
        while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) {
            output->append(buf, static_cast<std::size_t>(n));
        }
        ::close(pipefd[0]);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (int i = 0; i < 100000; ++i) {
        if (done()) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

}  // namespace daneroll::test
