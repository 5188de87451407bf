// Test helper shared by the unit tests and the fuzz targets.
#pragma once

#include "stdlib/value.hpp"

namespace flow::test {

// Equal values of the same kinds all the way down (== and dump() do not tell a signed from an
// unsigned integer).
inline bool same_kinds(const Value& a, const Value& b) {
    if (a.type() != b.type() || a.size() != b.size()) return false;
    if (a.is_array())
        for (std::size_t i = 0; i < a.size(); ++i)
            if (!same_kinds(a[i], b[i])) return false;
    if (a.is_object())
        for (auto it = a.begin(); it != a.end(); ++it)
            if (!b.contains(it.key()) || !same_kinds(it.value(), b[it.key()])) return false;
    return a == b;
}

}  // namespace flow::test
