#include "daneroll/tlsa/record.hpp"

#include <gtest/gtest.h>

#include "daneroll/common/error.hpp"
#include "daneroll/crypto/digest.hpp"

namespace daneroll {
namespace {

const std::string kHex32 = "163e4c747dfa8c7b6092193489a582bc5b69514820790ea5d618b17bdc6b9baf";

std::string error_of(const std::string& text) {
    try {
        TlsaRecord::parse(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Input);
        return e.what();
    }
    ADD_FAILURE() << "accepted \"" << text << "\"";
    return "";
}

TEST(TlsaRecord, ParsesNumericAndAcronymForms) {
    const auto r = TlsaRecord::parse("3 1 1 " + kHex32);
    EXPECT_EQ(r.usage, 3);
    EXPECT_EQ(r.selector, 1);
    EXPECT_EQ(r.matching_type, 1);
    EXPECT_EQ(r.data.size(), 32U);
    EXPECT_EQ(r.to_string(), "3 1 1 " + kHex32);
    EXPECT_EQ(TlsaRecord::parse("dane-ee SPKI sha2-256 " + kHex32), r);
    // Zone-file style: upper case, split data, parentheses.
    std::string upper = kHex32;
    for (auto& c : upper) {
        c = static_cast<char>(std::toupper(c));
    }
    EXPECT_EQ(
        TlsaRecord::parse("3 1 1 ( " + upper.substr(0, 20) + "\n  " + upper.substr(20) + " )"), r);
}

TEST(TlsaRecord, WireFormRoundTrips) {
    const auto r = TlsaRecord::parse("2 0 2 " + kHex32 + kHex32);
    const Bytes wire = r.to_wire();
    EXPECT_EQ(wire.size(), 3U + 64U);
    EXPECT_EQ(wire[0], 2);
    EXPECT_EQ(TlsaRecord::from_wire(wire), r);
    EXPECT_THROW(TlsaRecord::from_wire(Bytes{3, 1, 1}), Error);
}

TEST(TlsaRecord, MalformedTextNamesTheField) {
    EXPECT_NE(error_of("3 1 1").find("four fields"), std::string::npos);
    EXPECT_NE(error_of("").find("four fields"), std::string::npos);
    EXPECT_NE(error_of("x 1 1 00").find("usage 'x'"), std::string::npos);
    EXPECT_NE(error_of("3 9999 1 00").find("selector '9999' is out of range"), std::string::npos);
    EXPECT_NE(error_of("3 1 -1 00").find("matching type"), std::string::npos);
    EXPECT_NE(error_of("3 1 1 abc").find("odd number"), std::string::npos);
    EXPECT_NE(error_of("3 1 1 zz").find("invalid hex digit 'z'"), std::string::npos);
}

TEST(TlsaRecord, OwnerNamesAndZoneLines) {
    EXPECT_EQ(tlsa_owner_name("MX1.Example.com.", 25), "_25._tcp.mx1.example.com.");
    EXPECT_EQ(tlsa_owner_name("mx1.example.com", 465), "_465._tcp.mx1.example.com.");
    EXPECT_THROW(tlsa_owner_name("", 25), Error);
    EXPECT_THROW(tlsa_owner_name("a..b", 25), Error);
    EXPECT_THROW(tlsa_owner_name("mx1.example.test..", 25), Error);  // found by fuzz_tlsa_text
    EXPECT_THROW(tlsa_owner_name("bad name", 25), Error);
    EXPECT_THROW(tlsa_owner_name(std::string(64, 'a') + ".com", 25), Error);
    EXPECT_THROW(tlsa_owner_name("mx.example.com", 0), Error);
    const auto r = TlsaRecord::parse("3 1 1 " + kHex32);
    EXPECT_EQ(zone_file_line("_25._tcp.mx1.example.com.", 3600, r),
              "_25._tcp.mx1.example.com. 3600 IN TLSA 3 1 1 " + kHex32);
    EXPECT_EQ(usage_name(2), "DANE-TA");
    EXPECT_EQ(usage_name(7), "7");
}

TEST(TlsaRecord, PublicationGuards) {
    EXPECT_NO_THROW(validate_for_publication(TlsaRecord::parse("3 1 1 " + kHex32)));
    EXPECT_NO_THROW(validate_for_publication(TlsaRecord::parse("2 1 2 " + kHex32 + kHex32)));
    auto guard_error = [](const std::string& text) {
        try {
            validate_for_publication(TlsaRecord::parse(text));
        } catch (const Error& e) {
            return std::string(e.what());
        }
        ADD_FAILURE() << "published \"" << text << "\"";
        return std::string();
    };
    EXPECT_NE(guard_error("1 1 1 " + kHex32).find("unusable for SMTP"), std::string::npos);
    EXPECT_NE(guard_error("0 1 1 " + kHex32).find("unusable for SMTP"), std::string::npos);
    EXPECT_NE(guard_error("3 2 1 " + kHex32).find("selector 2"), std::string::npos);
    EXPECT_NE(guard_error("3 1 3 " + kHex32).find("matching type 3"), std::string::npos);
    EXPECT_NE(guard_error("3 1 1 " + kHex32.substr(2)).find("needs 32 bytes"), std::string::npos);
    EXPECT_NE(guard_error("3 1 2 " + kHex32).find("needs 64 bytes"), std::string::npos);
    EXPECT_NE(guard_error("3 1 0 3000").find("not a DER public key"), std::string::npos);
    EXPECT_NE(guard_error("3 0 0 3000").find("not a DER certificate"), std::string::npos);
    // The SHA-256 and SHA-512 of empty input, which a broken tool once published.
    EXPECT_NE(guard_error("3 1 1 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
                  .find("empty input"),
              std::string::npos);
    EXPECT_NE(guard_error("3 1 2 " + to_hex(sha512({}))).find("empty input"), std::string::npos);
}

}  // namespace
}  // namespace daneroll
