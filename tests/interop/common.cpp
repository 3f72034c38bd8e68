#include "common.hpp"

#include <map>
#include <mutex>

namespace daneroll::interop {

namespace {

std::mutex& counts_mutex() {
    static std::mutex mu;
    return mu;
}

std::map<std::string, std::size_t>& counts() {
    static std::map<std::string, std::size_t> c;
    return c;
}

}  // namespace

void count_case(const std::string& tool) {
    const std::lock_guard lock(counts_mutex());
    ++counts()[tool];
}

std::map<std::string, std::size_t> case_counts() {
    const std::lock_guard lock(counts_mutex());
    return counts();
}

void InteropTest::SetUp() {
    resolv_ = write("resolv.conf", "nameserver 127.0.0.1\n");
}

std::filesystem::path InteropTest::write(const std::string& name, const std::string& text) const {
    const auto path = dir_ / name;
    test::write_text(path, text);
    return path;
}

std::filesystem::path InteropTest::write_chain(const std::string& name,
                                               const std::vector<Certificate>& chain) const {
    return write(name, chain_to_pem(chain));
}

}  // namespace daneroll::interop
