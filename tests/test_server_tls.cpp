// The TLS flowd serves with: the context from a certificate and key, a key with a pass phrase
// refused, the TLS 1.2 suites, and the certificate's validity looked at when it starts.
#include "runtime/http/server_tls.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>

using namespace flow;

namespace {

constexpr long day = 24 * 60 * 60;

// A self-signed certificate for 127.0.0.1, valid from now for a day, and its key, written as PEM
// files; the key protected by `pass_phrase` when one is given.
void write_certificate(const std::string& certificate_file, const std::string& key_file, const char* pass_phrase = nullptr) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    REQUIRE(key);
    std::unique_ptr<X509, decltype(&X509_free)> certificate(X509_new(), X509_free);
    REQUIRE(certificate);
    X509_set_version(certificate.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(certificate.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(certificate.get()), day);
    X509_NAME* name = X509_get_subject_name(certificate.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(certificate.get(), name);
    X509_set_pubkey(certificate.get(), key.get());
    REQUIRE(X509_sign(certificate.get(), key.get(), EVP_sha256()) > 0);
    FILE* out = std::fopen(certificate_file.c_str(), "w");
    REQUIRE(out);
    PEM_write_X509(out, certificate.get());
    std::fclose(out);
    out = std::fopen(key_file.c_str(), "w");
    REQUIRE(out);
    if (pass_phrase)
        PEM_write_PrivateKey(out, key.get(), EVP_aes_256_cbc(), reinterpret_cast<const unsigned char*>(pass_phrase),
                             static_cast<int>(std::strlen(pass_phrase)), nullptr, nullptr);
    else
        PEM_write_PrivateKey(out, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(out);
}

}  // namespace

TEST_CASE("the served TLS context: TLS 1.2 suites with forward secrecy and AEAD only, its certificate's validity looked at") {
    test::TempDir dir("flow-tls");
    const std::string certificate = (dir.path / "cert.pem").string(), key = (dir.path / "key.pem").string();
    write_certificate(certificate, key);
    auto made = http::server_tls_context(certificate, key);
    REQUIRE(std::holds_alternative<std::unique_ptr<boost::asio::ssl::context>>(made));
    auto& context = *std::get<std::unique_ptr<boost::asio::ssl::context>>(made);
    // Every suite offered below TLS 1.3 is an ECDHE one with AES-GCM or ChaCha20-Poly1305.
    STACK_OF(SSL_CIPHER)* suites = SSL_CTX_get_ciphers(context.native_handle());
    REQUIRE(suites);
    int tls12_suites = 0;
    for (int i = 0; i < sk_SSL_CIPHER_num(suites); ++i) {
        const std::string suite = SSL_CIPHER_get_name(sk_SSL_CIPHER_value(suites, i));
        CAPTURE(suite);
        if (suite.rfind("TLS_", 0) == 0) continue;  // TLS 1.3's, all AEAD with forward secrecy
        ++tls12_suites;
        CHECK(suite.rfind("ECDHE-", 0) == 0);
        CHECK((suite.find("GCM") != std::string::npos || suite.find("CHACHA20") != std::string::npos));
    }
    CHECK(tls12_suites > 0);

    const std::time_t now = std::time(nullptr);
    CHECK_FALSE(http::certificate_validity_problem(context, now).has_value());
    auto expired = http::certificate_validity_problem(context, now + 3 * day);
    REQUIRE(expired);
    CHECK(expired->rfind("has expired (", 0) == 0);
    auto early = http::certificate_validity_problem(context, now - 3 * day);
    REQUIRE(early);
    CHECK(early->rfind("is not valid before ", 0) == 0);
}

TEST_CASE("a served TLS key protected by a pass phrase is refused with that reason, not asked for") {
    test::TempDir dir("flow-tls");
    const std::string certificate = (dir.path / "cert.pem").string(), key = (dir.path / "key.pem").string();
    write_certificate(certificate, key, "a pass phrase");
    auto made = http::server_tls_context(certificate, key);
    REQUIRE(std::holds_alternative<std::string>(made));
    CHECK(std::get<std::string>(made).find("is protected by a pass phrase") != std::string::npos);

    auto missing = http::server_tls_context((dir.path / "missing.pem").string(), key);
    REQUIRE(std::holds_alternative<std::string>(missing));
    CHECK(std::get<std::string>(missing).rfind("cannot use the TLS certificate ", 0) == 0);
}
