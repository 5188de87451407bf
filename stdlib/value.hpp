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

}  // namespace flow
