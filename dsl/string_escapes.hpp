// The escapes of a string literal's body: `\" \\ \n \t`, and `\u{…}` with 1 to 6 hex digits that
// name a Unicode scalar value. The grammar lets a backslash take any character but the end of
// the line; which escapes are bad is read here, so that the parser reports every one of them
// with the other syntax errors and goes on.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flow {

struct BadEscape {
    std::size_t offset = 0;  // of its backslash, in the body
    std::size_t length = 0;  // of the whole escape
    std::string message;
};

// Every escape of the body that is none (`\q`) or names no Unicode scalar value, in order.
std::vector<BadEscape> bad_escapes(std::string_view body);

// The body with its escapes decoded; nothing when one is bad.
std::optional<std::string> unescape(std::string_view body);

}  // namespace flow
