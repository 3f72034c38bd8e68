// The independent side of the differential tests: everything here is
// computed by Botan 2 from the bytes daneroll wrote (PEM or DER), never from
// daneroll's OpenSSL objects, so an agreement means two libraries agree.
#pragma once

#include <botan/pk_keys.h>
#include <botan/pkcs10.h>
#include <botan/pkix_types.h>
#include <botan/x509cert.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daneroll/common/bytes.hpp"

namespace daneroll::oracle {

using BotanBytes = std::vector<std::uint8_t>;

// Every certificate in a PEM text, in order (Botan's own PEM decoder).
std::vector<Botan::X509_Certificate> parse_pem_certificates(std::string_view pem);
Botan::X509_Certificate parse_der_certificate(ByteView der);
Botan::PKCS10_Request parse_pem_csr(std::string_view pem);

// TLSA association data as RFC 6698 §2.1 defines it, from Botan's parse:
// selector 0 = the full DER certificate, selector 1 = the DER
// SubjectPublicKeyInfo (not subject_public_key_bits(), which is only the
// BIT STRING content); matching type 0 = as is, 1 = SHA-256, 2 = SHA-512.
BotanBytes tlsa_data(const Botan::X509_Certificate& cert, std::uint8_t selector,
                     std::uint8_t matching_type);
BotanBytes match(const BotanBytes& selected, std::uint8_t matching_type);

// A private key from daneroll's PKCS#8 PEM, loaded by Botan.
std::unique_ptr<Botan::Private_Key> load_private_key(std::string_view pem);
// Botan's DER SubjectPublicKeyInfo for a key.
BotanBytes spki_of(const Botan::Public_Key& key);
// Botan's strong consistency check of a private key (RSA primes, EC point).
bool key_is_consistent(const Botan::Private_Key& key);

// Sorted DNS names of a subjectAltName.
std::vector<std::string> dns_names(const Botan::AlternativeName& san);

// Counts the byte-for-byte comparisons between daneroll and Botan, per
// kind, so a run reports how much was actually cross-checked.
void count_comparison(const std::string& kind);
std::map<std::string, std::size_t> comparison_counts();

}  // namespace daneroll::oracle
