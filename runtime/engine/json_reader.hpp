// Reads JSON text into a Value. The lexing is Boost.JSON's `basic_parser` (strict RFC 8259,
// UTF-8 checked), which is several times faster than building the document through
// nlohmann's own parser; the values land directly in the engine's representation, with the
// same conventions as nlohmann's: an integer written without a minus sign is unsigned, one with
// it signed (`-0` included),
// the last of repeated keys wins, doubles are read exactly (std::from_chars), a number past a
// double's range is refused and one below it is zero, and a leading byte order mark is skipped.
// A fuzz target (tests/fuzz/fuzz_json_reader) holds it to accepting exactly what nlohmann accepts.
#pragma once

#include "stdlib/value.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flow::engine {

// Arrays and objects nested deeper than this are refused, which bounds every recursion over
// the value afterwards.
inline constexpr std::size_t max_json_depth = 512;

// The value of `text`, which must hold exactly one JSON value (whitespace around it allowed),
// or nullopt with the reason in `error` when given.
std::optional<Value> read_json(std::string_view text, std::string* error = nullptr);

// What flowd stores nests no deeper than this: values of at most max_json_depth inside a few
// levels of its own (a list of variables, a history entry, a command's payload).
inline constexpr std::size_t max_stored_json_depth = max_json_depth + 32;

// The value of JSON text read back from storage, or a discarded value (`is_discarded()`) when it
// is no JSON or nests deeper than max_stored_json_depth. flowd writes nothing deeper, but a hand
// edit may: nlohmann's parser takes any depth, and the recursions over such a value afterwards
// (its copies, its dumps) would exhaust the stack of the thread that reads it.
Value read_stored_json(std::string_view text);

// The members of a JSON object in their order, for a reader that takes the top level apart
// (a scenario line): no object is built for it. Repeated keys all stay; `member` finds the last
// one, which is the one nlohmann's parser would keep.
using JsonMembers = std::vector<std::pair<std::string, Value>>;
enum class ObjectRead { Ok, NotJson, NotAnObject };
// Appends the members of the object `text` holds to `members`; when the text is refused,
// `members` may hold those read before the error.
ObjectRead read_json_object(std::string_view text, JsonMembers& members, std::string* error = nullptr);
Value* member(JsonMembers& members, std::string_view key);

}  // namespace flow::engine
