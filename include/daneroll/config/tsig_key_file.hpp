// TSIG key files: BIND's `tsig-keygen` / `rndc-confgen` format
//   key "name" { algorithm hmac-sha256; secret "base64"; };
// or a single line "algorithm:name:base64" (nsupdate -y style).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace daneroll::config {

struct TsigKeyMaterial {
    std::string name;       // lower case, with trailing dot: "daneroll-mx1."
    std::string algorithm;  // "hmac-sha256" or "hmac-sha512"
    std::string secret;     // base64, as in the file. Secret: never log.
    int line = 0;           // where the key starts in the file
};

// The TSIG algorithms daneroll signs with. hmac-sha384 is refused because
// Debian 12's ldns 1.8.3 misspells it ("hmac-shac384.") and cannot sign
// with it; hmac-md5 and hmac-sha1 are refused as too weak for zone updates.
void require_supported_tsig_algorithm(std::string_view algorithm, const std::string& where);

// Parses every key in the text. Throws Error(Config) as
// "<source>:<line>: <problem>" without ever quoting the secret.
std::vector<TsigKeyMaterial> parse_tsig_key_file(std::string_view text, const std::string& source);

}  // namespace daneroll::config
