// Equality and order of values: numbers by exact value, int and number mixed.
#include "stdlib/compare.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

using namespace flow;
using stdlib::compare_numbers;
using stdlib::values_equal;

namespace {
constexpr std::int64_t int_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t int_min = std::numeric_limits<std::int64_t>::min();
}  // namespace

TEST_CASE("an int and a number compare by their exact values") {
    CHECK(compare_numbers(Value(2), Value(2.0)) == 0);
    CHECK(compare_numbers(Value(2), Value(2.5)) < 0);
    CHECK(compare_numbers(Value(3), Value(2.5)) > 0);
    CHECK(compare_numbers(Value(-2), Value(-2.5)) > 0);
    CHECK(compare_numbers(Value(-3), Value(-2.5)) < 0);
    // 2^53 + 1 has no double: a double near it does not equal it.
    CHECK(compare_numbers(Value(9007199254740993), Value(9007199254740992.0)) > 0);
    CHECK(compare_numbers(Value(9007199254740992.0), Value(9007199254740993)) < 0);
    CHECK(compare_numbers(Value(9007199254740992), Value(9007199254740992.0)) == 0);
    // The int range's ends against 2^63 and -2^63, both exact doubles.
    CHECK(compare_numbers(Value(int_max), Value(9223372036854775808.0)) < 0);
    CHECK(compare_numbers(Value(int_min), Value(-9223372036854775808.0)) == 0);
    CHECK(compare_numbers(Value(int_min), Value(-9223372036854777856.0)) > 0);
    CHECK(compare_numbers(Value(0), Value(1e300)) < 0);
    CHECK(compare_numbers(Value(0), Value(-1e300)) > 0);
    CHECK(compare_numbers(Value(0), Value(-0.0)) == 0);
}

TEST_CASE("integers beyond int64 (a json value's) compare exactly too") {
    const Value big(std::uint64_t{18446744073709551615u});
    CHECK(compare_numbers(big, Value(int_max)) > 0);
    CHECK(compare_numbers(Value(int_min), big) < 0);
    CHECK(compare_numbers(big, Value(18446744073709551616.0)) < 0);
    CHECK(compare_numbers(Value(std::uint64_t{5}), Value(5)) == 0);
}

TEST_CASE("equality: numbers by value, lists by element, records with an absent field equal to null") {
    CHECK(values_equal(Value(1), Value(1.0)));
    CHECK_FALSE(values_equal(Value(9007199254740993), Value(9007199254740992.0)));
    CHECK(values_equal(Value::array({1, 2.0}), Value::array({1.0, 2})));
    CHECK_FALSE(values_equal(Value::array({1}), Value::array({1, 2})));
    CHECK(values_equal(Value{{"a", 1}}, Value{{"a", 1.0}, {"b", nullptr}}));
    CHECK_FALSE(values_equal(Value{{"a", 1}}, Value{{"a", 1}, {"b", 2}}));
    CHECK(values_equal(Value("x"), Value("x")));
    CHECK_FALSE(values_equal(Value("1"), Value(1)));
    CHECK(values_equal(Value(), Value()));
}
