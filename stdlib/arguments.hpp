#pragma once
// Reading a library function's arguments: the checker guarantees their JSON kinds, so a value of
// another kind is a bug of ours (an internal error), never the author's.
#include "stdlib/value.hpp"

#include <cstdint>
#include <limits>
#include <string>

namespace flow::stdlib {

[[noreturn]] inline void internal_error(const std::string& what) {
    throw RuntimeError("internal error: " + what);
}

inline const std::string& string_value(const Value& value) {
    if (!value.is_string()) internal_error("expected a string value, got " + value.dump());
    return value.get_ref<const std::string&>();
}

inline std::int64_t int_value(const Value& value) {
    if (value.is_number_unsigned()) {
        const auto unsigned_value = value.get<std::uint64_t>();
        if (unsigned_value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            throw RuntimeError("integer overflow: " + value.dump());
        return static_cast<std::int64_t>(unsigned_value);
    }
    if (!value.is_number_integer()) internal_error("expected an int value, got " + value.dump());
    return value.get<std::int64_t>();
}

inline double number_value(const Value& value) {
    if (!value.is_number()) internal_error("expected a number value, got " + value.dump());
    return value.get<double>();
}

inline const Value::array_t& list_value(const Value& value) {
    if (!value.is_array()) internal_error("expected a list value, got " + value.dump());
    return value.get_ref<const Value::array_t&>();
}

}  // namespace flow::stdlib
