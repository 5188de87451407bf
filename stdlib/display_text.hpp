#pragma once
// A value as `str()` writes it: by its static type, times and durations as their text, whole
// numbers without ".0", records and lists as compact JSON with numbers laid out as on the wire.
#include "stdlib/functions.hpp"

#include <string>

namespace flow::stdlib {

// The text of `value`, of static type `type`; `records` gives the declared types of a record's
// fields (null: written as plain JSON).
std::string to_text(const Value& value, const Type& type, const RecordFields* records);

}  // namespace flow::stdlib
