#include "stdlib/derived_uuid.hpp"

#include <array>

namespace flow::stdlib {

namespace {

std::uint64_t fnv1a_64(std::uint64_t seed, std::string_view bytes) {
    constexpr std::uint64_t prime = 0x100000001b3;
    std::uint64_t hash = seed;
    for (const char byte : bytes) {
        hash ^= static_cast<unsigned char>(byte);
        hash *= prime;
    }
    return hash;
}

// Spreads every input bit over the whole word (the MurmurHash3 finalizer).
std::uint64_t avalanche(std::uint64_t hash) {
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccd;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53;
    hash ^= hash >> 33;
    return hash;
}

}  // namespace

std::string derived_uuid(std::string_view instance_id, std::uint64_t counter) {
    std::string input(instance_id);
    for (int shift = 0; shift < 64; shift += 8) input += static_cast<char>((counter >> shift) & 0xFF);
    const std::array<std::uint64_t, 2> halves = {
        avalanche(fnv1a_64(0xcbf29ce484222325, input)),
        avalanche(fnv1a_64(0x84222325cbf29ce4, input)),
    };
    std::array<unsigned, 16> bytes{};
    for (std::size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = static_cast<unsigned>((halves[i / 8] >> (56 - 8 * (i % 8))) & 0xFF);
    bytes[6] = (bytes[6] & 0x0F) | 0x40;  // version 4
    bytes[8] = (bytes[8] & 0x3F) | 0x80;  // variant 1 (RFC 4122)
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += hex[bytes[i] >> 4];
        out += hex[bytes[i] & 0x0F];
    }
    return out;
}

}  // namespace flow::stdlib
