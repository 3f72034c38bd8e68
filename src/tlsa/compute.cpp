#include "daneroll/tlsa/compute.hpp"

#include <string>

#include "daneroll/common/error.hpp"
#include "daneroll/crypto/digest.hpp"

namespace daneroll {

Bytes tlsa_match_data(ByteView selected, std::uint8_t matching_type) {
    switch (matching_type) {
        case tlsa::kMatchFull:
            return {selected.begin(), selected.end()};
        case tlsa::kMatchSha256:
            return sha256(selected);
        case tlsa::kMatchSha512:
            return sha512(selected);
        default:
            fail(ErrorKind::Input, "matching type " + std::to_string(matching_type) +
                                       " is not 0 (full), 1 (SHA-256) or 2 (SHA-512)");
    }
}

TlsaRecord tlsa_from_spki(std::uint8_t usage, ByteView spki_der, std::uint8_t matching_type) {
    TlsaRecord r{usage, tlsa::kSelectorSpki, matching_type,
                 tlsa_match_data(spki_der, matching_type)};
    validate_for_publication(r);
    return r;
}

TlsaRecord tlsa_from_certificate(const Certificate& cert, std::uint8_t usage, std::uint8_t selector,
                                 std::uint8_t matching_type) {
    if (usage == tlsa::kDaneEe && cert.is_ca()) {
        fail(ErrorKind::Input, "refusing a usage 3 (DANE-EE) record for " + cert.subject() +
                                   ": it is a CA certificate; DANE-EE pins the server's own "
                                   "certificate (use usage 2 for a CA)");
    }
    if (usage == tlsa::kDaneTa && !cert.is_ca()) {
        fail(ErrorKind::Input, "refusing a usage 2 (DANE-TA) record for " + cert.subject() +
                                   ": it is not a CA certificate; DANE-TA pins the issuing CA "
                                   "(use usage 3 for the server's certificate)");
    }
    Bytes selected;
    if (selector == tlsa::kSelectorCert) {
        selected = cert.der();
    } else if (selector == tlsa::kSelectorSpki) {
        selected = cert.spki_der();
    } else {
        fail(ErrorKind::Input,
             "selector " + std::to_string(selector) + " is not 0 (certificate) or 1 (SPKI)");
    }
    TlsaRecord r{usage, selector, matching_type, tlsa_match_data(selected, matching_type)};
    validate_for_publication(r);
    return r;
}

std::vector<TlsaRecord> tlsa_from_chain(const std::vector<Certificate>& chain, std::uint8_t usage,
                                        std::uint8_t selector, std::uint8_t matching_type) {
    if (chain.empty()) {
        fail(ErrorKind::Input, "the chain is empty");
    }
    if (usage == tlsa::kDaneEe) {
        return {tlsa_from_certificate(chain.front(), usage, selector, matching_type)};
    }
    if (usage != tlsa::kDaneTa) {
        fail(ErrorKind::Input, "usage " + std::to_string(usage) + " (" + usage_name(usage) +
                                   ") is unusable for SMTP (RFC 7672 section 3.1.3); use 3 or 2");
    }
    std::vector<TlsaRecord> out;
    for (std::size_t i = 1; i < chain.size(); ++i) {
        if (chain[i].is_ca()) {
            out.push_back(tlsa_from_certificate(chain[i], usage, selector, matching_type));
        }
    }
    if (out.empty()) {
        fail(ErrorKind::Input,
             "usage 2 (DANE-TA) needs the issuing CA's certificate, but the "
             "chain holds only the server's certificate; give the full chain "
             "the MTA presents");
    }
    return out;
}

}  // namespace daneroll
