// Computing TLSA association data from keys, CSRs, certificates and chains,
// with the guards that keep a wrong record from ever being produced.
#pragma once

#include <cstdint>
#include <vector>

#include "daneroll/common/bytes.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "daneroll/tlsa/record.hpp"

namespace daneroll {

// Applies the matching type to already-selected bytes (DER cert or SPKI).
Bytes tlsa_match_data(ByteView selected, std::uint8_t matching_type);

// A selector-1 record from a DER SubjectPublicKeyInfo (a key or a CSR: the
// only form a not-yet-issued certificate can be pinned by).
TlsaRecord tlsa_from_spki(std::uint8_t usage, ByteView spki_der, std::uint8_t matching_type);

// A record for one certificate. Refuses usage 3 (DANE-EE) for a CA
// certificate and usage 2 (DANE-TA) for an end-entity certificate.
TlsaRecord tlsa_from_certificate(const Certificate& cert, std::uint8_t usage, std::uint8_t selector,
                                 std::uint8_t matching_type);

// Records for a chain as the MTA presents it (leaf first, ordered): usage 3
// gives the leaf's record; usage 2 gives one record per CA certificate above
// the leaf, the immediate issuer first. Throws if the chain has no issuer
// for usage 2.
std::vector<TlsaRecord> tlsa_from_chain(const std::vector<Certificate>& chain, std::uint8_t usage,
                                        std::uint8_t selector, std::uint8_t matching_type);

}  // namespace daneroll
