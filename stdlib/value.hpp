// Runtime values. Typing is static, so a value carries no Flow type of its own:
// the checker knows it, and the engine passes it where it matters (wire encoding, `str`).
//
// Representation, by static type:
//   string   -> JSON string        int      -> JSON integer (int64)
//   number   -> JSON float or int  bool     -> JSON boolean
//   time     -> JSON integer: milliseconds since 1970-01-01T00:00:00Z (UTC)
//   duration -> JSON integer: milliseconds
//   list<T>  -> JSON array         record   -> JSON object (absent optional fields left out)
//   json     -> the JSON value     T? absent -> JSON null
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace flow {

using Value = nlohmann::json;

// A runtime error raised while evaluating an expression (division by zero, index out of
// range, overflow, a string that is no number). The engine catches it at the handler's
// boundary, commits nothing of the handler and fails the instance; it never escapes the engine.
class RuntimeError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The largest values an expression may build. Without bounds, one small event could make a
// handler build gigabytes (replace() of a short text full of placeholders by a long name, a
// string doubled by `+` at each firing of a timer) and take the whole process down; past
// them, the handler fails with a runtime error instead.
inline constexpr std::size_t max_string_bytes = 16 * 1024 * 1024;  // `+`, replace, join, str, upper, lower, format_time
inline constexpr std::size_t max_list_elements = 1024 * 1024;      // split, append
// A list or record a handler builds (a literal, a function's result, an element appended), about:
// each value and member name counted, strings by their length.
inline constexpr std::size_t max_value_bytes = 64 * 1024 * 1024;

// The runtime errors past them.
inline std::string string_too_long(std::size_t bytes) {
    return "string too long: " + std::to_string(bytes) + " bytes, past the " + std::to_string(max_string_bytes) +
           " a string may hold";
}
inline std::string list_too_long(std::size_t elements) {
    return "list too long: " + std::to_string(elements) + " elements, past the " + std::to_string(max_list_elements) +
           " a list may hold";
}
inline void check_string_size(std::size_t bytes) {
    if (bytes > max_string_bytes) throw RuntimeError(string_too_long(bytes));
}
inline void check_list_size(std::size_t elements) {
    if (elements > max_list_elements) throw RuntimeError(list_too_long(elements));
}

}  // namespace flow
