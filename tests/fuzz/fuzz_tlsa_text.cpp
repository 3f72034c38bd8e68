// libFuzzer target: TLSA records in presentation and wire form, and the
// host names their owners are built from.
//
// Records come from DNS answers and operators' zone files, so parsing must
// reject garbage only with daneroll::Error. What parses must round-trip:
// parse(to_string()) and from_wire(to_wire()) give the same record, or a
// record daneroll publishes would differ from the one it compared.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "daneroll/common/bytes.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/tlsa/record.hpp"

namespace {

// Aborts with the broken promise named, so a crash report says what is
// wrong without a debugger.
void require(bool ok, const char* promise) {
    if (!ok) {
        std::fprintf(stderr, "daneroll fuzz: broken promise: %s\n", promise);
        std::abort();
    }
}

void check_round_trips(const daneroll::TlsaRecord& r) {
    require(daneroll::TlsaRecord::parse(r.to_string()) == r, "parse(to_string()) round-trips");
    require(daneroll::TlsaRecord::from_wire(r.to_wire()) == r, "from_wire(to_wire()) round-trips");
    static_cast<void>(r.short_string());
    try {
        daneroll::validate_for_publication(r);
    } catch (const daneroll::Error&) {
        // Most fuzzed records are unfit to publish; only a crash matters.
    }
}

void fuzz_presentation(std::string_view text) {
    daneroll::TlsaRecord r;
    try {
        r = daneroll::TlsaRecord::parse(text);
    } catch (const daneroll::Error&) {
        return;
    }
    check_round_trips(r);
}

void fuzz_wire(daneroll::ByteView wire) {
    daneroll::TlsaRecord r;
    try {
        r = daneroll::TlsaRecord::from_wire(wire);
    } catch (const daneroll::Error&) {
        require(wire.size() < 4, "from_wire rejects only RDATA under 4 bytes");
        return;
    }
    // The wire form is the record, byte for byte.
    const auto back = r.to_wire();
    require(back.size() == wire.size() && std::equal(back.begin(), back.end(), wire.begin()),
            "to_wire() gives back the RDATA from_wire() read");
    check_round_trips(r);
}

void fuzz_host_name(std::string_view text) {
    std::string host;
    try {
        host = daneroll::normalize_host_name(text, "host");
    } catch (const daneroll::Error&) {
        return;
    }
    // Normalised names are final: normalising again changes nothing, and
    // they fit DNS limits once the "_25._tcp." prefix is added.
    require(!host.empty() && host.size() <= 253, "a normalised name has 1-253 characters");
    require(host.back() != '.', "a normalised name has no trailing dot");
    require(host.front() != '.' && host.find("..") == std::string::npos,
            "a normalised name has no empty label");
    require(daneroll::normalize_host_name(host, "host") == host, "normalising is idempotent");
    const std::string owner = daneroll::tlsa_owner_name(host, 25);
    require(owner == "_25._tcp." + host + ".", "the owner is _25._tcp.<host>.");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    fuzz_presentation(text);
    fuzz_wire(daneroll::ByteView(data, size));
    fuzz_host_name(text);
    return 0;
}
