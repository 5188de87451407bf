#pragma once
// What `uuid()` returns: a UUID derived from the instance and a counter it keeps, so that a
// run replayed gives the same ids (no randomness in the engine).
#include <cstdint>
#include <string>
#include <string_view>

namespace flow::stdlib {

// A version 4, variant 1 UUID whose 122 free bits hash the instance id and the counter.
std::string derived_uuid(std::string_view instance_id, std::uint64_t counter);

}  // namespace flow::stdlib
