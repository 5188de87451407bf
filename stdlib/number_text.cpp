#include "stdlib/number_text.hpp"

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace flow::stdlib {

void append_number_text(std::string& out, double value) {
    if (value == 0) {
        out += '0';
        return;
    }
    // The shortest round-trip digits, in scientific form: [-]d[.ddd]e(+|-)XX.
    char buffer[40];
    const auto written = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
    std::string_view text(buffer, static_cast<std::size_t>(written.ptr - buffer));
    if (text.front() == '-') {
        out += '-';
        text.remove_prefix(1);
    }
    const std::size_t e = text.find('e');
    std::string digits;
    for (char c : text.substr(0, e))
        if (c != '.') digits += c;
    std::string_view exponent_text = text.substr(e + 1);
    if (exponent_text.front() == '+') exponent_text.remove_prefix(1);
    int exponent = 0;
    std::from_chars(exponent_text.data(), exponent_text.data() + exponent_text.size(), exponent);

    // ECMAScript's layout: k digits, the decimal point after n of them.
    const int k = static_cast<int>(digits.size());
    const int n = exponent + 1;
    if (k <= n && n <= 21) {
        out += digits;
        out.append(static_cast<std::size_t>(n - k), '0');
    } else if (0 < n && n <= 21) {
        out.append(digits, 0, static_cast<std::size_t>(n)).append(1, '.').append(digits, static_cast<std::size_t>(n));
    } else if (-6 < n && n <= 0) {
        out.append("0.").append(static_cast<std::size_t>(-n), '0').append(digits);
    } else {
        out += digits[0];
        if (k > 1) out.append(1, '.').append(digits, 1);
        out.append(n - 1 < 0 ? "e-" : "e+").append(std::to_string(std::abs(n - 1)));
    }
}

}  // namespace flow::stdlib
