#include "stdlib/compare.hpp"

#include <cmath>
#include <cstdint>

namespace flow::stdlib {

namespace {

// Wide enough for every JSON integer a value may hold (int64 and uint64 alike).
__extension__ typedef __int128 Wide;

Wide integer_of(const Value& v) {
    return v.is_number_unsigned() ? static_cast<Wide>(v.get<std::uint64_t>()) : static_cast<Wide>(v.get<std::int64_t>());
}

int sign_of(Wide difference) { return difference < 0 ? -1 : difference > 0 ? 1 : 0; }

// An integer against a finite double, without rounding either: the double's integer part
// first, then its fraction.
int compare_integer_double(Wide integer, double number) {
    constexpr double beyond_any_integer = 0x1p100;  // more than any uint64, exactly a Wide
    if (number >= beyond_any_integer) return -1;
    if (number <= -beyond_any_integer) return 1;
    const double whole = std::trunc(number);
    if (const int by_whole = sign_of(integer - static_cast<Wide>(whole))) return by_whole;
    const double fraction = number - whole;
    return fraction > 0 ? -1 : fraction < 0 ? 1 : 0;
}

bool lists_equal(const Value& a, const Value& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!values_equal(a[i], b[i])) return false;
    return true;
}

bool records_equal(const Value& a, const Value& b) {
    static const Value absent;
    for (const auto& [name, field] : a.items()) {
        const auto other = b.find(name);
        if (!values_equal(field, other == b.end() ? absent : *other)) return false;
    }
    for (const auto& [name, field] : b.items())
        if (!a.contains(name) && !field.is_null()) return false;
    return true;
}

}  // namespace

int compare_numbers(const Value& a, const Value& b) {
    const bool a_float = a.is_number_float(), b_float = b.is_number_float();
    if (a_float && b_float) {
        const double x = a.get<double>(), y = b.get<double>();
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (b_float) return compare_integer_double(integer_of(a), b.get<double>());
    if (a_float) return -compare_integer_double(integer_of(b), a.get<double>());
    return sign_of(integer_of(a) - integer_of(b));
}

bool values_equal(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) return compare_numbers(a, b) == 0;
    if (a.is_array() && b.is_array()) return lists_equal(a, b);
    if (a.is_object() && b.is_object()) return records_equal(a, b);
    return a == b;
}

}  // namespace flow::stdlib
