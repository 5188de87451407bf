#include "stdlib/number_parsing.hpp"

#include "stdlib/arguments.hpp"
#include "stdlib/number_text.hpp"
#include "stdlib/unicode_text.hpp"

#include <charconv>
#include <cmath>
#include <limits>

namespace flow::stdlib {

namespace {

// Whether `text` is a decimal number: [+-] digits [. digits] [e [+-] digits], digits
// allowed on either side of the point; `is_integer` tells whether it has neither point
// nor exponent.
bool is_decimal(std::string_view text, bool& is_integer) {
    std::size_t pos = 0;
    const auto digits = [&] {
        const std::size_t start = pos;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
        return pos - start;
    };
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
    std::size_t mantissa_digits = digits();
    is_integer = true;
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        mantissa_digits += digits();
        is_integer = false;
    }
    if (mantissa_digits == 0) return false;
    if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
        ++pos;
        if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
        if (digits() == 0) return false;
        is_integer = false;
    }
    return pos == text.size();
}

// from_chars reads no leading '+'.
std::string_view without_plus(std::string_view text) {
    return !text.empty() && text.front() == '+' ? text.substr(1) : text;
}

// The integer part of a decimal text (as is_decimal accepts it), read from its digits, not
// through a double: "2.9999999999999999" is 2 and "-0.99999999999999999" is 0. Nullopt when it
// is outside the int range.
std::optional<std::int64_t> truncated_decimal(std::string_view text) {
    const bool negative = !text.empty() && text.front() == '-';
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
    const std::size_t exponent_at = text.find_first_of("eE");
    std::string_view mantissa = text.substr(0, exponent_at);
    std::int64_t exponent = 0;
    if (exponent_at != std::string_view::npos) {
        std::string_view e = without_plus(text.substr(exponent_at + 1));
        const bool e_negative = !e.empty() && e.front() == '-';
        if (e_negative) e.remove_prefix(1);
        const auto read = std::from_chars(e.data(), e.data() + e.size(), exponent);
        // Beyond any number of digits a text can hold either way; clamped so that the sums below
        // cannot overflow.
        constexpr std::int64_t beyond_any_digits = 1'000'000'000'000;
        if (read.ec != std::errc() || exponent > beyond_any_digits) exponent = beyond_any_digits;
        if (e_negative) exponent = -exponent;
    }
    const std::size_t point = mantissa.find('.');
    std::string digits(mantissa.substr(0, point));
    if (point != std::string_view::npos) digits += mantissa.substr(point + 1);
    const std::int64_t before_point = static_cast<std::int64_t>(std::min(point, mantissa.size()));
    // Digits before the point once the exponent has moved it, zeros appended past the last.
    const std::size_t first_nonzero = std::min(digits.find_first_not_of('0'), digits.size());
    const std::int64_t integer_digits = before_point + exponent - static_cast<std::int64_t>(first_nonzero);
    if (first_nonzero == digits.size() || integer_digits <= 0) return 0;
    if (integer_digits > 19) return std::nullopt;  // at least 10^19
    std::string integer = digits.substr(first_nonzero, static_cast<std::size_t>(integer_digits));
    integer.resize(static_cast<std::size_t>(integer_digits), '0');
    std::uint64_t magnitude = 0;
    (void)std::from_chars(integer.data(), integer.data() + integer.size(), magnitude);  // 19 digits fit
    constexpr std::uint64_t int_max_magnitude = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (magnitude > int_max_magnitude + (negative ? 1 : 0)) return std::nullopt;
    if (negative) return magnitude == int_max_magnitude + 1 ? std::numeric_limits<std::int64_t>::min()
                                                            : -static_cast<std::int64_t>(magnitude);
    return static_cast<std::int64_t>(magnitude);
}

}  // namespace

std::string format_double(double number) { return number_text(number); }

std::string format_number(const Value& value) {
    if (value.is_number_integer()) return value.dump();
    return format_double(number_value(value));
}

std::optional<std::int64_t> integral_to_int(double value) {
    constexpr double two_to_63 = 9223372036854775808.0;
    if (!(value >= -two_to_63 && value < two_to_63)) return std::nullopt;  // NaN fails too
    return static_cast<std::int64_t>(value);
}

double parse_number_text(std::string_view original) {
    const std::string_view text = trim_ascii(original);
    bool is_integer = false;
    if (!is_decimal(text, is_integer)) throw RuntimeError("not a number: " + quote_text(original));
    const std::string_view digits = without_plus(text);
    double number = 0;
    const auto result = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (result.ec != std::errc() || !std::isfinite(number))
        throw RuntimeError("out of the number range: number(" + quote_text(original) + ")");
    return number;
}

std::int64_t parse_int_text(std::string_view original) {
    const std::string_view text = trim_ascii(original);
    bool is_integer = false;
    if (!is_decimal(text, is_integer)) throw RuntimeError("not a number: " + quote_text(original));
    const auto truncated = truncated_decimal(text);
    if (!truncated) throw RuntimeError("out of the int range: int(" + quote_text(original) + ")");
    return *truncated;
}

}  // namespace flow::stdlib
