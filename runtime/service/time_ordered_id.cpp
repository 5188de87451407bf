#include "runtime/service/time_ordered_id.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>

namespace flow::service {

std::string time_ordered_id(std::int64_t now_ms) {
    static std::atomic<std::uint64_t> last_stamp{0};  // milliseconds << 12 | sequence
    const std::uint64_t now_stamp = static_cast<std::uint64_t>(std::max<std::int64_t>(now_ms, 0)) << 12;
    std::uint64_t stamp = last_stamp.load(std::memory_order_relaxed);
    std::uint64_t next;
    do {
        next = std::max(stamp + 1, now_stamp);
    } while (!last_stamp.compare_exchange_weak(stamp, next, std::memory_order_relaxed));

    // Random bytes are drawn from OpenSSL a few kilobytes at a time: one call per id showed as
    // 3 % of the writer thread's time in profiles (its locks and fork checks).
    thread_local unsigned char pool[4096];
    thread_local std::size_t used = sizeof pool;
    if (used + 16 > sizeof pool) {
        if (RAND_bytes(pool, sizeof pool) != 1) throw std::runtime_error("no randomness");
        used = 0;
    }
    unsigned char bytes[16];
    std::memcpy(bytes, pool + used, sizeof bytes);
    used += sizeof bytes;
    const std::uint64_t ms = next >> 12;
    for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
    bytes[6] = static_cast<unsigned char>(0x70 | ((next >> 8) & 0x0f));  // the version, then the sequence
    bytes[7] = static_cast<unsigned char>(next & 0xff);
    bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // the variant
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += hex[bytes[i] >> 4];
        out += hex[bytes[i] & 15];
    }
    return out;
}

}  // namespace flow::service
