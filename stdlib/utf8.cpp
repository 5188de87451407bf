#include "stdlib/utf8.hpp"

namespace flow::utf8 {

std::size_t first_invalid(std::string_view text) {
    for (std::size_t pos = 0; pos < text.size();) {
        const CodePoint cp = decode(text, pos);
        if (cp.value == replacement_character && cp.size == 1) return pos;  // a real U+FFFD takes 3 bytes
        pos += cp.size;
    }
    return std::string_view::npos;
}

}  // namespace flow::utf8
