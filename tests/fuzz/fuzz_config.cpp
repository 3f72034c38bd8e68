// libFuzzer target: the TOML configuration parser and validator.
//
// parse_config may reject input only with daneroll::Error (kind Config,
// message naming the file); any other exception, crash, hang, leak or UB
// is a finding. A config it accepts must be internally consistent, because
// the agent trusts a validated Config without re-checking it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "daneroll/common/error.hpp"
#include "daneroll/config/config.hpp"
#include "daneroll/tlsa/record.hpp"

namespace {

constexpr const char* kSource = "fuzz.toml";

// Aborts with the broken promise named, so a crash report says what is
// wrong without a debugger.
void require(bool ok, const char* promise) {
    if (!ok) {
        std::fprintf(stderr, "daneroll fuzz: broken promise: %s\n", promise);
        std::abort();
    }
}

void check_accepted(const daneroll::config::Config& c) {
    require(!c.services.empty(), "an accepted config has a service");
    for (const auto& s : c.services) {
        // Cross references were validated: these must resolve.
        const auto& zone = c.zone_of(s);
        static_cast<void>(c.key_of(zone));
        require(c.find_service(s.id) != nullptr, "find_service finds every service");
        require(!s.algorithms.empty(), "every service has an algorithm");
        require(s.port != 0, "every service has a port");
        // The owner name is what gets published: it must be well-formed
        // and inside the service's zone.
        const std::string owner = s.tlsa_owner();
        require(owner == daneroll::tlsa_owner_name(s.host, s.port),
                "tlsa_owner() equals tlsa_owner_name(host, port)");
        const std::string suffix = "." + zone.name + ".";
        require(owner.size() > suffix.size() &&
                    owner.compare(owner.size() - suffix.size(), suffix.size(), suffix) == 0,
                "the TLSA owner is inside the service's zone");
        require(owner.find("..") == std::string::npos, "the TLSA owner has no empty label");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::optional<daneroll::config::Config> config;
    try {
        config = daneroll::config::parse_config(text, kSource, "/nonexistent",
                                                /*check_files=*/false);
    } catch (const daneroll::Error& e) {
        // Errors must say which file is wrong, and be configuration errors
        // (exit code 3), as documented in config.hpp.
        require(e.kind() == daneroll::ErrorKind::Config, "config errors are ErrorKind::Config");
        require(std::string_view(e.what()).substr(0, std::string_view(kSource).size()) == kSource,
                "config errors start with the file name");
        return 0;
    }
    // Outside the try: an exception here is a finding, not a rejection.
    check_accepted(*config);
    return 0;
}
