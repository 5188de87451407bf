#include "runtime/http/webhook_signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>

namespace flow::http {

namespace {

std::string base64(const unsigned char* data, std::size_t size) {
    std::string out(4 * ((size + 2) / 3), '\0');
    int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
    out.resize(static_cast<std::size_t>(written));
    return out;
}

// Each part is preceded by its length, so that no two different lists of parts join into the
// same text.
void add_length_prefixed(std::string& text, std::string_view part) {
    text += std::to_string(part.size());
    text += ':';
    text += part;
}

std::string sha256_hex(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * size);
    for (unsigned int i = 0; i < size; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out;
}

std::string unbase64(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0) return {};
    std::string out(3 * text.size() / 4, '\0');
    int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (written < 0) return {};
    std::size_t padding = text.size() >= 2 && text[text.size() - 1] == '=' ? (text[text.size() - 2] == '=' ? 2 : 1) : 0;
    out.resize(static_cast<std::size_t>(written) - padding);
    return out;
}

// The HMAC key of a secret, as the Standard Webhooks libraries read it: base64 after an optional
// `whsec_` prefix. A secret that is not base64 (say `s3cret`) is the key's bytes as written.
std::string key_of(std::string_view secret) {
    constexpr std::string_view prefix = "whsec_";
    std::string_view encoded = secret.substr(0, prefix.size()) == prefix ? secret.substr(prefix.size()) : secret;
    std::string key = unbase64(encoded);
    if (!key.empty()) return key;
    return std::string(secret);
}

std::string mac(std::string_view key, std::string_view message) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
         message.size(), digest, &size);
    return base64(digest, size);
}

}  // namespace

std::string sign_webhook(std::string_view secret, std::string_view id, std::int64_t timestamp, std::string_view body) {
    std::string message = std::string(id) + "." + std::to_string(timestamp) + "." + std::string(body);
    return "v1," + mac(key_of(secret), message);
}

SignatureCheck verify_webhook(const std::vector<std::string>& secrets, std::string_view id, std::string_view timestamp,
                              std::string_view signatures, std::string_view body, std::int64_t now_s,
                              std::int64_t tolerance_s) {
    if (id.empty() || timestamp.empty() || signatures.empty()) return SignatureCheck::Missing;
    std::int64_t sent = 0;
    auto [end, error] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), sent);
    const bool whole = end == timestamp.data() + timestamp.size();
    // Digits past 64 bits are a time too far away, not a timestamp that is no number.
    if (error == std::errc::result_out_of_range && whole) return SignatureCheck::Stale;
    if (error != std::errc() || !whole) return SignatureCheck::BadTimestamp;
    if (sent < now_s - tolerance_s || sent > now_s + tolerance_s) return SignatureCheck::Stale;
    std::string message = std::string(id) + "." + std::string(timestamp) + "." + std::string(body);
    bool valid = false;
    for (const std::string& secret : secrets) {
        std::string expected = mac(key_of(secret), message);
        std::size_t at = 0;
        while (at < signatures.size()) {
            std::size_t space = signatures.find(' ', at);
            std::string_view one = signatures.substr(at, space == std::string_view::npos ? std::string_view::npos : space - at);
            at = space == std::string_view::npos ? signatures.size() : space + 1;
            if (one.substr(0, 3) != "v1,") continue;
            std::string_view given = one.substr(3);
            // Every candidate is compared in full, so the time taken says nothing of where it differs.
            if (given.size() == expected.size() && CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0) valid = true;
        }
    }
    return valid ? SignatureCheck::Valid : SignatureCheck::Invalid;
}

std::string digest_of_parts(const std::vector<std::string_view>& parts) {
    std::string text;
    for (std::string_view part : parts) add_length_prefixed(text, part);
    return sha256_hex(text);
}

std::string signed_message_digest(std::string_view id, std::string_view body) { return digest_of_parts({id, body}); }

}  // namespace flow::http
