// The TLS that flowd serves its address with: the context made from the configured certificate
// chain and key, and what is worth a warning about the certificate at start.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace flow::http {

// TLS 1.2 or later; in TLS 1.2 only suites with forward secrecy and authenticated encryption
// (ECDHE with AES-GCM or ChaCha20-Poly1305), as TLS 1.3 has them all. The certificate chain and
// the key are PEM files; a key protected by a pass phrase is refused (flowd asks no one for it).
// The error names the file and the reason.
std::variant<std::unique_ptr<boost::asio::ssl::context>, std::string> server_tls_context(const std::string& certificate_file,
                                                                                          const std::string& private_key_file);

// "has expired (…)" or "is not valid before …" when the context's certificate is not valid at
// `now`: served all the same (the operator may be renewing it), but worth a warning.
std::optional<std::string> certificate_validity_problem(boost::asio::ssl::context& context, std::time_t now);

}  // namespace flow::http
