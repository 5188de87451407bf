// Standard Webhooks signatures: HMAC-SHA256 over "{id}.{timestamp}.{body}", sent as
// `webhook-signature: v1,<base64>` (several, space-separated, for rotation).
#pragma once

#include <cstdint>
#include <string>
#include <map>
#include <string_view>
#include <vector>

namespace flow::http {

// The signature `v1,<base64>` of a message with a secret (`whsec_<base64 key>`, or raw bytes).
std::string sign_webhook(std::string_view secret, std::string_view id, std::int64_t timestamp, std::string_view body);

enum class SignatureCheck { Valid, Missing, BadTimestamp, Stale, Invalid };

// Verifies the three headers against any of the secrets, comparing in constant time; the
// timestamp must be within `tolerance_s` of `now_s` either way.
SignatureCheck verify_webhook(const std::vector<std::string>& secrets, std::string_view id, std::string_view timestamp,
                              std::string_view signatures, std::string_view body, std::int64_t now_s,
                              std::int64_t tolerance_s = 300);

// A digest (SHA-256, hex) of a list of parts, each preceded by its length, so that no two
// different lists join into the same text.
std::string digest_of_parts(const std::vector<std::string_view>& parts);

// A digest of a signed message: its id and body, the parts of what the signature covers that
// stay the same when the sender signs it again later (a retry). Only the holder of a secret
// can make a new one; a replay, or any signed copy of the message, carries the same.
std::string signed_message_digest(std::string_view id, std::string_view body);

}  // namespace flow::http
