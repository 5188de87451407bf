// UTF-8: decoding one code point at a time (invalid bytes read as U+FFFD, one byte each),
// encoding, and finding the first byte that starts no valid sequence. Shared by the standard
// library's string functions and the compiler's check that a source file is UTF-8 text.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace flow::utf8 {

constexpr char32_t replacement_character = 0xFFFD;

struct CodePoint {
    char32_t value;
    std::size_t size;  // bytes
};

// The code point starting at byte `pos`; a byte that starts no valid UTF-8 sequence (an overlong
// form, a surrogate, a value past U+10FFFF, a sequence cut short) is one replacement character
// of size 1. Inline: the string functions call it once per code point.
inline CodePoint decode(std::string_view text, std::size_t pos) {
    const auto byte_at = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned lead = byte_at(pos);
    if (lead < 0x80) return {lead, 1};
    std::size_t size = 0;
    char32_t value = 0;
    unsigned second_min = 0x80, second_max = 0xBF;  // excludes overlong forms and surrogates
    if (lead >= 0xC2 && lead <= 0xDF) {
        size = 2;
        value = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        size = 3;
        value = lead & 0x0F;
        if (lead == 0xE0) second_min = 0xA0;
        if (lead == 0xED) second_max = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        size = 4;
        value = lead & 0x07;
        if (lead == 0xF0) second_min = 0x90;
        if (lead == 0xF4) second_max = 0x8F;
    } else {
        return {replacement_character, 1};
    }
    if (pos + size > text.size()) return {replacement_character, 1};
    for (std::size_t i = 1; i < size; ++i) {
        const unsigned next = byte_at(pos + i);
        if (next < (i == 1 ? second_min : 0x80) || next > (i == 1 ? second_max : 0xBF))
            return {replacement_character, 1};
        value = (value << 6) | (next & 0x3F);
    }
    return {value, size};
}

inline void encode(char32_t c, std::string& out) {
    const auto byte = [](unsigned value) { return static_cast<char>(value); };
    if (c < 0x80) {
        out += byte(c);
    } else if (c < 0x800) {
        out += byte(0xC0 | (c >> 6));
        out += byte(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += byte(0xE0 | (c >> 12));
        out += byte(0x80 | ((c >> 6) & 0x3F));
        out += byte(0x80 | (c & 0x3F));
    } else {
        out += byte(0xF0 | (c >> 18));
        out += byte(0x80 | ((c >> 12) & 0x3F));
        out += byte(0x80 | ((c >> 6) & 0x3F));
        out += byte(0x80 | (c & 0x3F));
    }
}

// The offset of the first byte that starts no valid sequence, or npos when the text is UTF-8.
std::size_t first_invalid(std::string_view text);

}  // namespace flow::utf8
