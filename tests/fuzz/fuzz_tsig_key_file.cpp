// libFuzzer target: TSIG key files (BIND `key "n" { ... };` clauses and
// the one-line "algorithm:name:secret" form).
//
// Rejection is daneroll::Error(Config) only; anything else is a finding.
// Accepted keys must satisfy what tsig_key_file.hpp promises, since the
// DNS UPDATE code signs with them unchecked.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "daneroll/common/base64.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/config/tsig_key_file.hpp"

namespace {

// Aborts with the broken promise named, so a crash report says what is
// wrong without a debugger.
void require(bool ok, const char* promise) {
    if (!ok) {
        std::fprintf(stderr, "daneroll fuzz: broken promise: %s\n", promise);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<daneroll::config::TsigKeyMaterial> keys;
    try {
        keys = daneroll::config::parse_tsig_key_file(text, "fuzz.key");
    } catch (const daneroll::Error& e) {
        require(e.kind() == daneroll::ErrorKind::Config, "key file errors are ErrorKind::Config");
        return 0;
    }
    require(!keys.empty(), "an accepted file holds a key");
    for (const auto& k : keys) {
        require(k.algorithm == "hmac-sha256" || k.algorithm == "hmac-sha512",
                "only hmac-sha256 and hmac-sha512 are accepted");
        // Lower case with a trailing dot, and more than just the dot.
        require(k.name.size() >= 2 && k.name.back() == '.', "key names end with a dot");
        for (const char c : k.name) {
            require(!(c >= 'A' && c <= 'Z'), "key names are lower case");
        }
        const auto secret = daneroll::base64_decode(k.secret);
        require(secret.has_value() && !secret->empty(), "secrets are non-empty base64");
        require(k.line >= 1, "keys carry their line");
    }
    return 0;
}
