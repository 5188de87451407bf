#pragma once
// The ids flowd gives instances and commands: UUIDs of version 7 (RFC 9562), whose first 48
// bits are the time in milliseconds. Ids made later sort later, so the indexes on instance and
// command ids grow at their end instead of at random pages, which keeps the pages a commit
// writes few.
#include <cstdint>
#include <string>

namespace flow::service {

// A new id, in the lower-case 8-4-4-4-12 form, made at `now_ms` (milliseconds since the epoch).
// Safe to call from any thread. Every id is greater, as text, than every id made before it in
// this process: within one millisecond a 12-bit sequence orders them (RFC 9562, 6.2, method 1);
// past 4,096 in one millisecond, or when the clock steps back, the time written runs a little
// ahead of the clock rather than out of order. The other 74 bits are random (OpenSSL); throws
// std::runtime_error if no randomness can be had.
std::string time_ordered_id(std::int64_t now_ms);

}  // namespace flow::service
