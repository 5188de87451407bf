#pragma once
// Numbers as the library's conversions read and write them: `number("2.5")`, `int("42")`, and a
// `number` value as text.
#include "stdlib/value.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flow::stdlib {

// A double in its shortest round-trip form (number_text.hpp).
std::string format_double(double number);
// A `number` value as text: integers exactly, doubles in their shortest round-trip form.
std::string format_number(const Value& value);
// The integer `value` (already integral) names, if it is in int64 range.
std::optional<std::int64_t> integral_to_int(double value);
// Parses a decimal text (ASCII white space around it ignored) as a double; throws RuntimeError
// (`not a number: "…"`, `out of the number range: number("…")`) when it is not one.
double parse_number_text(std::string_view original);
// Parses a decimal text as an int, truncating a fraction toward zero (read from its digits, not
// through a double); throws RuntimeError when it is not a number or is out of the int range.
std::int64_t parse_int_text(std::string_view original);

}  // namespace flow::stdlib
