#pragma once
// Text as the library's string functions see it: code points of UTF-8 (a byte that starts no
// valid sequence counts as one), Unicode's simple case mappings and its White_Space.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace flow::stdlib {

std::int64_t count_code_points(std::string_view text);
// The byte position `count` code points after `pos`, or the end of the text.
std::size_t advance(std::string_view text, std::size_t pos, std::int64_t count);
// Each code point of `text` with `map` applied; bytes of invalid sequences are kept.
std::string map_code_points(std::string_view text, char32_t (*map)(char32_t));
// A text for messages: JSON-quoted, shortened to 60 code points.
std::string quote_text(std::string_view text);

// Unicode's simple (one-to-one) case mappings.
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);
// Unicode White_Space.
bool is_white_space(char32_t c);
bool is_ascii_white_space(char c);
// The text without ASCII white space at either end.
std::string_view trim_ascii(std::string_view text);

}  // namespace flow::stdlib
