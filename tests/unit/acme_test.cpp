// Unit tests of the ACME client's pure parts: JWK/thumbprint (RFC 7638's
// own example), JWS signatures verified with OpenSSL's verifier, EAB,
// problem documents, Retry-After, Link headers, RFC 3339, the ARI
// certificate id (RFC 9773's own example), chain choice; and the http-01
// responders (webroot files and modes, the built-in listener spoken to with
// libcurl) and the HTTP client's error messages.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "daneroll/acme/challenge.hpp"
#include "daneroll/acme/client.hpp"
#include "daneroll/acme/http.hpp"
#include "daneroll/acme/issue.hpp"
#include "daneroll/acme/jws.hpp"
#include "daneroll/common/base64.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/crypto/certificate_builder.hpp"
#include "daneroll/crypto/digest.hpp"
#include "test_support.hpp"

namespace daneroll::acme {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

std::string decode_text(const std::string& b64u) {
    const auto b = base64url_decode(b64u);
    EXPECT_TRUE(b.has_value()) << b64u;
    return b ? std::string(b->begin(), b->end()) : std::string();
}

bool verify(const PrivateKey& key, const std::string& input, const Bytes& der_or_rsa,
            const EVP_MD* md) {
    const ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.get()) != 1) {
        return false;
    }
    return EVP_DigestVerify(ctx.get(), der_or_rsa.data(), der_or_rsa.size(),
                            reinterpret_cast<const unsigned char*>(input.data()),
                            input.size()) == 1;
}

// RFC 7638 3.1: the example RSA key and its thumbprint.
TEST(AcmeJwk, Rfc7638ExampleThumbprint) {
    const std::string n =
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
        "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
        "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
        "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    const auto nb = base64url_decode(n);
    const auto eb = base64url_decode("AQAB");
    ASSERT_TRUE(nb && eb);
    ossl::BignumPtr bn_n(BN_bin2bn(nb->data(), static_cast<int>(nb->size()), nullptr));
    ossl::BignumPtr bn_e(BN_bin2bn(eb->data(), static_cast<int>(eb->size()), nullptr));
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get());
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get());
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    const ossl::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY* raw = nullptr;
    ASSERT_EQ(EVP_PKEY_fromdata_init(ctx.get()), 1);
    ASSERT_EQ(EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params), 1);
    const ossl::EvpPkeyPtr key(raw);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EXPECT_EQ(jwk_json(key.get()), "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"" + n + "\"}");
    EXPECT_EQ(jwk_thumbprint(key.get()), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(AcmeJwk, EcKeyHasCanonicalMembersAndItsOwnPoint) {
    const auto& key = test::cached_key(KeyAlgorithm::EcdsaP256);
    const AccountKey ak(key);
    EXPECT_EQ(ak.alg(), "ES256");
    const std::string j = ak.jwk();
    EXPECT_EQ(j.rfind("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"", 0), 0u) << j;
    const json parsed = json::parse(j);
    EXPECT_EQ(parsed.dump(), j);  // sorted, no whitespace: nlohmann's own canonical dump
    const auto x = base64url_decode(parsed["x"].get<std::string>());
    const auto y = base64url_decode(parsed["y"].get<std::string>());
    ASSERT_TRUE(x && y);
    ASSERT_EQ(x->size(), 32u);
    ASSERT_EQ(y->size(), 32u);
    // The uncompressed point 04||x||y is the key's public key.
    unsigned char pub[65];
    std::size_t len = 0;
    ASSERT_EQ(
        EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &len),
        1);
    ASSERT_EQ(len, 65u);
    EXPECT_EQ(Bytes(pub + 1, pub + 33), *x);
    EXPECT_EQ(Bytes(pub + 33, pub + 65), *y);
    EXPECT_EQ(ak.thumbprint(), base64url_encode(sha256(as_bytes(j))));
    EXPECT_EQ(AccountKey(test::cached_key(KeyAlgorithm::EcdsaP384)).alg(), "ES384");
    EXPECT_THROW(AccountKey(test::cached_key(KeyAlgorithm::Ed25519)), Error);
}

TEST(AcmeJws, Es256RequestVerifiesAndCarriesJwkOrKid) {
    const auto& key = test::cached_key(KeyAlgorithm::EcdsaP256);
    const AccountKey ak(key);
    const std::string body =
        sign_request(ak, "https://ca.example/acct", "nonce-1", std::nullopt, R"({"a":1})");
    const json j = json::parse(body);
    const json header = json::parse(decode_text(j["protected"]));
    EXPECT_EQ(header["alg"], "ES256");
    EXPECT_EQ(header["nonce"], "nonce-1");
    EXPECT_EQ(header["url"], "https://ca.example/acct");
    EXPECT_EQ(header["jwk"].dump(), ak.jwk());
    EXPECT_FALSE(header.contains("kid"));
    EXPECT_EQ(decode_text(j["payload"]), R"({"a":1})");
    const auto raw = base64url_decode(j["signature"].get<std::string>());
    ASSERT_TRUE(raw);
    ASSERT_EQ(raw->size(), 64u);  // r||s, not DER
    const std::string input =
        j["protected"].get<std::string>() + "." + j["payload"].get<std::string>();
    EXPECT_TRUE(verify(key, input, ecdsa_raw_to_der(*raw), EVP_sha256()));
    EXPECT_FALSE(verify(key, input + "x", ecdsa_raw_to_der(*raw), EVP_sha256()));

    // POST-as-GET: kid instead of jwk, and an empty payload.
    const json g = json::parse(sign_request(ak, "https://ca.example/order/1", "nonce-2",
                                            std::string("https://ca.example/acct/7"), ""));
    EXPECT_EQ(g["payload"], "");
    const json gh = json::parse(decode_text(g["protected"]));
    EXPECT_EQ(gh["kid"], "https://ca.example/acct/7");
    EXPECT_FALSE(gh.contains("jwk"));
}

TEST(AcmeJws, RawSignaturesKeepFixedWidth) {
    const auto& key = test::cached_key(KeyAlgorithm::EcdsaP256);
    const AccountKey ak(key);
    // Over many signatures r or s is sometimes shorter than 32 bytes; the
    // raw form must stay 64 bytes and convert back losslessly.
    for (int i = 0; i < 200; ++i) {
        const std::string input = "input-" + std::to_string(i);
        const Bytes raw = ak.sign(input);
        ASSERT_EQ(raw.size(), 64u);
        const Bytes der = ecdsa_raw_to_der(raw);
        EXPECT_EQ(ecdsa_der_to_raw(der, 32), raw);
        EXPECT_TRUE(verify(key, input, der, EVP_sha256()));
    }
    const AccountKey p384(test::cached_key(KeyAlgorithm::EcdsaP384));
    const Bytes raw384 = p384.sign("x");
    EXPECT_EQ(raw384.size(), 96u);
    EXPECT_TRUE(verify(p384.key(), "x", ecdsa_raw_to_der(raw384), EVP_sha384()));
}

TEST(AcmeJws, Rs256RequestVerifies) {
    const auto& key = test::cached_key(KeyAlgorithm::Rsa2048);
    const AccountKey ak(key);
    EXPECT_EQ(ak.alg(), "RS256");
    const json j =
        json::parse(sign_request(ak, "https://ca.example/new-acct", "n", std::nullopt, "{}"));
    const auto sig = base64url_decode(j["signature"].get<std::string>());
    ASSERT_TRUE(sig);
    EXPECT_EQ(sig->size(), 256u);
    EXPECT_TRUE(verify(key,
                       j["protected"].get<std::string>() + "." + j["payload"].get<std::string>(),
                       *sig, EVP_sha256()));
    const json jwk = json::parse(json::parse(decode_text(j["protected"]))["jwk"].dump());
    EXPECT_EQ(jwk["kty"], "RSA");
    EXPECT_EQ(jwk["e"], "AQAB");
}

TEST(AcmeJws, ExternalAccountBindingIsHs256OverTheJwk) {
    const AccountKey ak(test::cached_key(KeyAlgorithm::EcdsaP256));
    const Bytes mac_key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    const json e =
        json::parse(external_account_binding(ak, "kid-7", mac_key, "https://ca.example/new-acct"));
    const json h = json::parse(decode_text(e["protected"]));
    EXPECT_EQ(h,
              (json{{"alg", "HS256"}, {"kid", "kid-7"}, {"url", "https://ca.example/new-acct"}}));
    EXPECT_EQ(decode_text(e["payload"]), ak.jwk());
    // An independent HMAC through EVP_Q_mac.
    const std::string input =
        e["protected"].get<std::string>() + "." + e["payload"].get<std::string>();
    unsigned char mac[64];
    std::size_t len = 0;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                           OSSL_PARAM_construct_end()};
    ASSERT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, nullptr, params, mac_key.data(), mac_key.size(),
                        reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
                        sizeof(mac), &len),
              nullptr);
    EXPECT_EQ(e["signature"], base64url_encode(ByteView(mac, len)));
    EXPECT_THROW(static_cast<void>(external_account_binding(ak, "k", {}, "u")), Error);
}

TEST(AcmeJws, Base64UrlDecoding) {
    EXPECT_EQ(base64url_decode("AQAB"), (Bytes{1, 0, 1}));
    EXPECT_EQ(base64url_decode("_-8"), (Bytes{0xff, 0xef}));
    EXPECT_EQ(base64url_decode("_-8=\n"), (Bytes{0xff, 0xef}));
    EXPECT_EQ(base64url_decode(""), Bytes{});
    EXPECT_FALSE(base64url_decode("A").has_value());
    EXPECT_FALSE(base64url_decode("A*BC").has_value());
}

TEST(AcmeProblem, ParsedAndDescribedWithSubproblems) {
    const auto p = parse_problem(R"({
        "type": "urn:ietf:params:acme:error:rejectedIdentifier",
        "detail": "Some of the identifiers requested were rejected",
        "status": 400,
        "subproblems": [
          {"type": "urn:ietf:params:acme:error:malformed",
           "detail": "Invalid underscore in DNS name \"_example.org\"",
           "identifier": {"type": "dns", "value": "_example.org"}},
          {"type": "urn:ietf:params:acme:error:rejectedIdentifier",
           "detail": "This CA will not issue for \"example.net\"",
           "identifier": {"type": "dns", "value": "example.net"}}
        ]})",
                                 403);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->short_type(), "rejectedIdentifier");
    EXPECT_EQ(p->status, 400);
    ASSERT_EQ(p->subproblems.size(), 2u);
    EXPECT_EQ(p->describe(),
              "rejectedIdentifier: Some of the identifiers requested were rejected; _example.org: "
              "malformed: Invalid underscore in DNS name \"_example.org\"; example.net: "
              "rejectedIdentifier: This CA will not issue for \"example.net\"");
    EXPECT_FALSE(parse_problem("<html>502</html>", 502).has_value());
    EXPECT_FALSE(parse_problem(R"({"detail":"no type"})", 400).has_value());
    Problem r;
    r.type = "urn:ietf:params:acme:error:rateLimited";
    r.detail = "too many certificates";
    r.retry_after = std::chrono::seconds(3600);
    EXPECT_EQ(r.describe(), "rateLimited: too many certificates (retry after 1h)");
    Problem other;
    other.type = "https://ca.example/problems/custom";
    EXPECT_EQ(other.short_type(), "https://ca.example/problems/custom");
}

TEST(AcmeParse, RetryAfter) {
    const auto now = std::chrono::system_clock::from_time_t(784111777);  // 1994-11-06 08:49:37
    EXPECT_EQ(parse_retry_after("120", now), std::chrono::seconds(120));
    EXPECT_EQ(parse_retry_after("0", now), std::chrono::seconds(0));
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", now), std::chrono::seconds(120));
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), std::chrono::seconds(0));
    EXPECT_FALSE(parse_retry_after("soon", now).has_value());
    EXPECT_FALSE(parse_retry_after("-5", now).has_value());
    EXPECT_FALSE(parse_retry_after("99999999999999", now).has_value());
}

TEST(AcmeParse, LinkHeaders) {
    const std::vector<std::string> h{
        R"(<https://ca.example/cert/1/alt/1>;rel="alternate", <https://ca.example/dir>;rel="index")",
        R"(<https://ca.example/cert/1/alt/2>; rel=alternate)",
        R"(<https://ca.example/a,b>;rel="alternate";title="x, y")",
        R"(<https://ca.example/up>;rel="up")"};
    EXPECT_EQ(
        link_targets(h, "alternate"),
        (std::vector<std::string>{"https://ca.example/cert/1/alt/1",
                                  "https://ca.example/cert/1/alt/2", "https://ca.example/a,b"}));
    EXPECT_EQ(link_targets(h, "index"), std::vector<std::string>{"https://ca.example/dir"});
    EXPECT_TRUE(link_targets({"garbage"}, "alternate").empty());
}

TEST(AcmeParse, Rfc3339) {
    using std::chrono::system_clock;
    const auto base = parse_rfc3339("2025-01-02T03:04:05Z");
    ASSERT_TRUE(base);
    EXPECT_EQ(system_clock::to_time_t(*base), 1735787045);
    EXPECT_EQ(parse_rfc3339("2025-01-02T04:04:05+01:00"), base);
    EXPECT_EQ(parse_rfc3339("2025-01-01T22:04:05-05:00"), base);
    const auto frac = parse_rfc3339("2025-01-02T03:04:05.250Z");
    ASSERT_TRUE(frac);
    EXPECT_EQ(*frac - *base, std::chrono::milliseconds(250));
    EXPECT_FALSE(parse_rfc3339("2025-01-02 03:04:05Z"));
    EXPECT_FALSE(parse_rfc3339("2025-13-02T03:04:05Z"));
    EXPECT_FALSE(parse_rfc3339("2025-01-02T03:04:05"));
    EXPECT_FALSE(parse_rfc3339("2025-01-02T03:04:05.Z"));
}

// A copy of `cert` with serial `serial_hex` and, unless `key_id` is empty,
// an authorityKeyIdentifier holding `key_id`; re-signed and re-parsed, so
// OpenSSL's cached extension data is fresh.
Certificate with_serial_and_akid(const Certificate& cert, const PrivateKey& key,
                                 const std::string& serial_hex, const Bytes& key_id) {
    X509* x = cert.get();
    BIGNUM* bn = nullptr;
    EXPECT_GT(BN_hex2bn(&bn, serial_hex.c_str()), 0);
    const ossl::BignumPtr serial(bn);
    const ossl::Asn1IntegerPtr ai(BN_to_ASN1_INTEGER(serial.get(), nullptr));
    EXPECT_EQ(X509_set_serialNumber(x, ai.get()), 1);
    for (int idx = X509_get_ext_by_NID(x, NID_authority_key_identifier, -1); idx >= 0;
         idx = X509_get_ext_by_NID(x, NID_authority_key_identifier, -1)) {
        X509_EXTENSION_free(X509_delete_ext(x, idx));
    }
    if (!key_id.empty()) {
        // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
        Bytes der{0x30, static_cast<std::uint8_t>(key_id.size() + 2), 0x80,
                  static_cast<std::uint8_t>(key_id.size())};
        der.insert(der.end(), key_id.begin(), key_id.end());
        ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(os, der.data(), static_cast<int>(der.size()));
        X509_EXTENSION* ext =
            X509_EXTENSION_create_by_NID(nullptr, NID_authority_key_identifier, 0, os);
        ASN1_OCTET_STRING_free(os);
        EXPECT_EQ(X509_add_ext(x, ext, -1), 1);
        X509_EXTENSION_free(ext);
    }
    EXPECT_GT(X509_sign(x, key.get(), EVP_sha256()), 0);
    const Bytes der = cert.der();
    return parse_certificates(std::string(der.begin(), der.end()), "test").front();
}

// RFC 9773 4.1's example: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:
// 7B:A0:AE:2C:DE:01:C8:D4 and serial 00:87:65:43:21.
TEST(AcmeAri, CertIdOfTheRfcExample) {
    const auto& key = test::cached_key(KeyAlgorithm::EcdsaP256);
    const auto now = std::chrono::system_clock::now();
    const Certificate cert =
        with_serial_and_akid(make_self_signed(key, {"mx1.example.test"}, 1, now), key, "87654321",
                             from_hex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4"));
    EXPECT_EQ(ari_cert_id(cert), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    // A serial without the top bit set needs no leading zero.
    const Certificate small = with_serial_and_akid(
        make_self_signed(key, {"mx1.example.test"}, 1, now), key, "0102", {0xAB});
    EXPECT_EQ(ari_cert_id(small), "qw.AQI");
    const Certificate none =
        with_serial_and_akid(make_self_signed(key, {"mx1.example.test"}, 1, now), key, "05", {});
    EXPECT_THROW(static_cast<void>(ari_cert_id(none)), Error);
}

TEST(AcmeAri, WindowParsedAndRenewalTimeInside) {
    const auto info = parse_renewal_info(
        R"({"suggestedWindow":{"start":"2030-01-01T00:00:00Z","end":"2030-01-03T00:00:00Z"},
            "explanationURL":"https://ca.example/ari"})");
    EXPECT_EQ(info.explanation_url, "https://ca.example/ari");
    EXPECT_EQ(info.window_end - info.window_start, std::chrono::hours(48));
    const auto before = info.window_start - std::chrono::hours(24 * 10);
    EXPECT_EQ(renewal_time(info, before, 0.0), info.window_start);
    EXPECT_EQ(renewal_time(info, before, 0.5), info.window_start + std::chrono::hours(24));
    // Inside the window past the draw: now; after it: at once (its end).
    const auto inside = info.window_start + std::chrono::hours(30);
    EXPECT_EQ(renewal_time(info, inside, 0.25), inside);
    EXPECT_EQ(renewal_time(info, info.window_end + std::chrono::hours(5), 0.9), info.window_end);
    EXPECT_THROW(static_cast<void>(parse_renewal_info("{}")), Error);
    EXPECT_THROW(
        static_cast<void>(parse_renewal_info(
            R"({"suggestedWindow":{"start":"2030-01-03T00:00:00Z","end":"2030-01-01T00:00:00Z"}})")),
        Error);
    EXPECT_THROW(static_cast<void>(parse_renewal_info(
                     R"({"suggestedWindow":{"start":"soon","end":"2030-01-01T00:00:00Z"}})")),
                 Error);
}

// leaf <- intermediate <- root, the root and intermediate named as given;
// returned as a CA sends it: leaf and intermediate.
std::vector<Certificate> chain_under(const std::string& root_cn, const std::string& int_cn) {
    const auto now = std::chrono::system_clock::now();
    const auto& root_key = test::cached_key(KeyAlgorithm::EcdsaP256, 1);
    const auto& int_key = test::cached_key(KeyAlgorithm::EcdsaP256, 2);
    const auto& leaf_key = test::cached_key(KeyAlgorithm::EcdsaP256, 0);
    const CertificateSpec ca_spec{root_cn, {}, true, now - 1h, now + 24h};
    const Certificate root =
        daneroll::issue_certificate(ca_spec, root_key.get(), root_key, nullptr);
    const CertificateSpec int_spec{int_cn, {}, true, now - 1h, now + 24h};
    const Certificate inter = daneroll::issue_certificate(int_spec, int_key.get(), root_key, &root);
    const CertificateSpec leaf_spec{
        "mx1.example.test", {"mx1.example.test"}, false, now - 1h, now + 24h};
    return {daneroll::issue_certificate(leaf_spec, leaf_key.get(), int_key, &inter), inter};
}

TEST(AcmeChain, PreferredIssuerChosen) {
    const std::vector<std::vector<Certificate>> chains{chain_under("Root X1", "Int R3"),
                                                       chain_under("Root X2", "Int R4"),
                                                       chain_under("Root X3", "Int R5")};
    EXPECT_EQ(issuer_common_name(chains[1].back()), "Root X2");
    EXPECT_EQ(choose_chain(chains, std::nullopt), 0u);
    EXPECT_EQ(choose_chain(chains, std::string("Root X2")), 1u);
    EXPECT_EQ(choose_chain(chains, std::string("Root X3")), 2u);
    // Not a top issuer but an issuer further down: still selects.
    EXPECT_EQ(choose_chain(chains, std::string("Int R5")), 2u);
    EXPECT_EQ(choose_chain(chains, std::string("nobody")), 0u);
}

TEST(AcmeWebroot, TokenFilesWithModesAndFullCleanup) {
    test::TempDir tmp;
    const fs::path root = tmp / "www";
    fs::create_directories(root);
    const mode_t old = ::umask(077);
    WebrootSolver solver(root);
    solver.present("mx1.example.test", "tok_en-1", "tok_en-1.thumb");
    solver.present("mail.example.test", "tok2", "tok2.thumb");
    ::umask(old);
    const fs::path dir = root / ".well-known" / "acme-challenge";
    EXPECT_EQ(read_file(dir / "tok_en-1"), "tok_en-1.thumb");
    struct stat st {};
    ASSERT_EQ(::stat((dir / "tok2").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0755u);
    ASSERT_EQ(::stat((root / ".well-known").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0755u);
    EXPECT_TRUE(solver.cleanup().empty());
    EXPECT_FALSE(fs::exists(root / ".well-known"));
    EXPECT_TRUE(fs::exists(root));

    // The operator's .well-known stays; tokens that could escape are refused.
    fs::create_directories(root / ".well-known");
    WebrootSolver again(root);
    EXPECT_THROW(again.present("x", "../../etc/evil", "v"), Error);
    EXPECT_THROW(again.present("x", "a/b", "v"), Error);
    again.present("x", "ok", "ok.v");
    EXPECT_TRUE(again.cleanup().empty());
    EXPECT_TRUE(fs::exists(root / ".well-known"));
    EXPECT_FALSE(fs::exists(root / ".well-known" / "acme-challenge"));
    EXPECT_THROW(WebrootSolver(tmp / "missing"), Error);
}

TEST(AcmeListener, ServesOnlyItsTokens) {
    HttpChallengeListener listener(config::Endpoint{"127.0.0.1", 0}, 30s);
    ASSERT_NE(listener.port(), 0);
    listener.add("tok-1", "tok-1.thumb");
    const std::string base =
        "http://127.0.0.1:" + std::to_string(listener.port()) + "/.well-known/acme-challenge/";
    HttpClient http;
    const auto ok = http.get(base + "tok-1");
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "tok-1.thumb");
    EXPECT_EQ(ok.content_type(), "text/plain");
    EXPECT_EQ(http.get(base + "tok-2").status, 404);
    EXPECT_EQ(http.get("http://127.0.0.1:" + std::to_string(listener.port()) + "/").status, 404);
    const auto head = http.head(base + "tok-1");
    EXPECT_EQ(head.status, 200);
    EXPECT_TRUE(head.body.empty());
    EXPECT_EQ(http.post(base + "tok-1", "x", "text/plain").status, 405);
    listener.remove("tok-1");
    EXPECT_EQ(http.get(base + "tok-1").status, 404);
    EXPECT_EQ(listener.tokens_served(), 2u);
    listener.stop();
    EXPECT_THROW(static_cast<void>(http.get(base + "tok-1")), Error);
    EXPECT_THROW(HttpChallengeListener(config::Endpoint{"mx1.example.test", 80}, 1s), Error);
}

TEST(AcmeListener, StopsAfterItsLifetime) {
    HttpChallengeListener listener(config::Endpoint{"127.0.0.1", 0}, 1s);
    const std::string url = "http://127.0.0.1:" + std::to_string(listener.port()) + "/";
    HttpOptions o;
    o.connect_timeout = 500ms;
    o.request_timeout = 500ms;
    HttpClient http(o);
    EXPECT_EQ(http.get(url).status, 404);
    // Bounded wait: the lifetime is 1 s.
    bool closed = false;
    for (int i = 0; i < 40 && !closed; ++i) {
        std::this_thread::sleep_for(100ms);
        try {
            static_cast<void>(http.get(url));
        } catch (const Error&) {
            closed = true;
        }
    }
    EXPECT_TRUE(closed);
}

TEST(AcmeHttp, ErrorsSayWhatHappened) {
    // A socket that accepts connections (the kernel completes the
    // handshake) but never answers: a time-out, not a hang.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    ASSERT_EQ(::listen(fd, 4), 0);
    socklen_t len = sizeof(sa);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
    const std::string silent = "http://127.0.0.1:" + std::to_string(ntohs(sa.sin_port)) + "/dir";
    HttpOptions o;
    o.connect_timeout = 300ms;
    o.request_timeout = 400ms;
    HttpClient http(o);
    const auto started = std::chrono::steady_clock::now();
    try {
        static_cast<void>(http.get(silent));
        ADD_FAILURE() << "no error from a silent server";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Network);
        EXPECT_NE(std::string(e.what()).find("curl error 28"), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
    ::close(fd);
    try {
        static_cast<void>(http.get(silent));
        ADD_FAILURE() << "no error from a closed port";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("nothing listens there"), std::string::npos)
            << e.what();
    }
}

TEST(AcmeAccount, KeyIsPrivateAndUrlsKeptPerDirectory) {
    test::TempDir tmp;
    config::Acme acme;
    acme.account_key = tmp / "acme" / "account.key";
    const auto files = account_files(acme);
    EXPECT_EQ(files.record, tmp / "acme" / "account.json");
    bool created = false;
    const AccountKey k1 = load_or_create_account_key(files.key, KeyAlgorithm::EcdsaP256, &created);
    EXPECT_TRUE(created);
    struct stat st {};
    ASSERT_EQ(::stat(files.key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat(files.key.parent_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    const AccountKey k2 = load_or_create_account_key(files.key, KeyAlgorithm::Rsa2048, &created);
    EXPECT_FALSE(created);
    EXPECT_EQ(k1.thumbprint(), k2.thumbprint());
    EXPECT_EQ(k2.alg(), "ES256");

    EXPECT_FALSE(stored_account_url(files, "https://a/dir").has_value());
    store_account_url(files, "https://a/dir", "https://a/acct/1");
    store_account_url(files, "https://b/dir", "https://b/acct/9");
    store_account_url(files, "https://a/dir", "https://a/acct/2");
    EXPECT_EQ(stored_account_url(files, "https://a/dir"), "https://a/acct/2");
    EXPECT_EQ(stored_account_url(files, "https://b/dir"), "https://b/acct/9");
    ASSERT_EQ(::stat(files.record.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    fs::permissions(files.key, fs::perms::owner_read | fs::perms::owner_write |
                                   fs::perms::group_read | fs::perms::others_read);
    EXPECT_THROW(static_cast<void>(load_or_create_account_key(files.key)), Error);
    config::Acme json_named;
    json_named.account_key = tmp / "key.json";
    EXPECT_EQ(account_files(json_named).record, tmp / "key.json.account.json");
    test::write_text(files.record, "not json");
    EXPECT_THROW(static_cast<void>(stored_account_url(files, "https://a/dir")), Error);
}

TEST(AcmeDns01, TxtValueIsHashOfKeyAuthorization) {
    const std::string ka =
        "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
    const Bytes digest = sha256(as_bytes(ka));
    EXPECT_EQ(dns01_txt_value(ka), base64url_encode(digest));
    EXPECT_EQ(dns01_txt_value(ka).size(), 43u);
}

}  // namespace
}  // namespace daneroll::acme
