// Equality and order of Flow values, shared by the operators (`==`, `<`, ...) and `contains`.
// Numbers compare by their exact value, an `int` and a `number` mixed included: no side is
// rounded to the other's type, so 9007199254740993 and 9007199254740992.0 differ.
#pragma once

#include "value.hpp"

namespace flow::stdlib {

// Whether two values of a shared type are equal: numbers by exact value, strings, booleans,
// times and durations exactly, lists element by element, records field by field with an
// absent field equal to null (a `json` value is compared by its internal form the same way).
bool values_equal(const Value& a, const Value& b);

// The order of two numbers (int or number, as JSON integers or floats): negative, zero or
// positive as `a` is less than, equal to or greater than `b`, exactly.
int compare_numbers(const Value& a, const Value& b);

}  // namespace flow::stdlib
