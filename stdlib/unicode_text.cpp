#include "stdlib/unicode_text.hpp"

#include "stdlib/utf8.hpp"
#include "stdlib/value.hpp"

#include <algorithm>
#include <iterator>

namespace flow::stdlib {

namespace {

struct CaseMapping {
    char32_t from, to;
};
#include "stdlib/case_mappings.inc"

// Unicode's simple (one-to-one) case mapping of `c` in `table`, or `c` when it has none.
template <std::size_t N>
char32_t mapped(const CaseMapping (&table)[N], char32_t c) {
    auto found = std::lower_bound(std::begin(table), std::end(table), c,
                                  [](const CaseMapping& m, char32_t code) { return m.from < code; });
    return found != std::end(table) && found->from == c ? found->to : c;
}

}  // namespace

std::int64_t count_code_points(std::string_view text) {
    std::int64_t count = 0;
    for (std::size_t pos = 0; pos < text.size(); pos += utf8::decode(text, pos).size) ++count;
    return count;
}

std::size_t advance(std::string_view text, std::size_t pos, std::int64_t count) {
    for (; count > 0 && pos < text.size(); --count) pos += utf8::decode(text, pos).size;
    return pos;
}

std::string map_code_points(std::string_view text, char32_t (*map)(char32_t)) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t pos = 0; pos < text.size();) {
        const utf8::CodePoint cp = utf8::decode(text, pos);
        const char32_t mapped = map(cp.value);
        if (mapped == cp.value) out.append(text.substr(pos, cp.size));
        else utf8::encode(mapped, out);
        pos += cp.size;
    }
    return out;
}

std::string quote_text(std::string_view text) {
    const std::size_t cut = advance(text, 0, 60);
    std::string shown(text.substr(0, cut));
    if (cut < text.size()) shown += "...";
    return Value(shown).dump(-1, ' ', false, Value::error_handler_t::replace);
}

char32_t to_upper(char32_t c) {
    if (c < 0x80) return c >= 'a' && c <= 'z' ? c - 0x20 : c;
    return mapped(upper_case_mappings, c);
}

char32_t to_lower(char32_t c) {
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 0x20 : c;
    return mapped(lower_case_mappings, c);
}

bool is_white_space(char32_t c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

bool is_ascii_white_space(char c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0D);
}

std::string_view trim_ascii(std::string_view text) {
    while (!text.empty() && is_ascii_white_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_ascii_white_space(text.back())) text.remove_suffix(1);
    return text;
}

}  // namespace flow::stdlib
