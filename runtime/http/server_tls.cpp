#include "runtime/http/server_tls.hpp"

#include <memory>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace flow::http {

namespace ssl = boost::asio::ssl;

std::variant<std::unique_ptr<ssl::context>, std::string> server_tls_context(const std::string& certificate_file,
                                                                            const std::string& private_key_file) {
    auto tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    if (SSL_CTX_set_cipher_list(tls->native_handle(), "ECDHE+AESGCM:ECDHE+CHACHA20") != 1)
        return std::string("cannot choose the TLS 1.2 cipher suites");
    boost::system::error_code ec;
    tls->use_certificate_chain_file(certificate_file, ec);
    ERR_clear_error();
    if (ec) return "cannot use the TLS certificate " + certificate_file + ": " + ec.message();
    // Without a callback OpenSSL would ask for a pass phrase on the terminal and wait. The
    // callback stays with the context: it shares what it records rather than point at this frame.
    auto asked_for_pass_phrase = std::make_shared<bool>(false);
    tls->set_password_callback([asked_for_pass_phrase](std::size_t, ssl::context::password_purpose) {
        *asked_for_pass_phrase = true;
        return std::string();
    });
    tls->use_private_key_file(private_key_file, ssl::context::pem, ec);
    ERR_clear_error();  // what is wrong is in `ec`
    if (ec && *asked_for_pass_phrase)
        return "cannot use the TLS private key " + private_key_file +
               ": it is protected by a pass phrase, which flowd does not ask for (write it out without one: "
               "openssl pkey -in KEY -out PLAIN_KEY, readable by flowd's user alone)";
    if (ec) return "cannot use the TLS private key " + private_key_file + ": " + ec.message();
    return tls;
}

std::optional<std::string> certificate_validity_problem(ssl::context& context, std::time_t now) {
    X509* certificate = SSL_CTX_get0_certificate(context.native_handle());
    if (!certificate) return std::nullopt;
    auto printed = [](const ASN1_TIME* time) {
        std::string text;
        if (BIO* bio = BIO_new(BIO_s_mem())) {
            if (ASN1_TIME_print(bio, time) == 1) {
                char* data = nullptr;
                const long size = BIO_get_mem_data(bio, &data);
                if (size > 0) text.assign(data, static_cast<std::size_t>(size));
            }
            BIO_free(bio);
        }
        return text;
    };
    if (X509_cmp_time(X509_get0_notAfter(certificate), &now) < 0)
        return "has expired (" + printed(X509_get0_notAfter(certificate)) + "): clients that verify it refuse the connection";
    if (X509_cmp_time(X509_get0_notBefore(certificate), &now) > 0)
        return "is not valid before " + printed(X509_get0_notBefore(certificate)) +
               ": clients that verify it refuse the connection until then";
    return std::nullopt;
}

}  // namespace flow::http
