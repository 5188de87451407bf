#include "dsl/string_escapes.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace flow {

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// The `\u{…}` whose backslash is at `at`: its length and what it names, or why it names nothing.
struct UnicodeEscape {
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    std::string error;  // empty when it names a scalar value
};

UnicodeEscape read_unicode_escape(std::string_view body, std::size_t at) {
    const std::size_t close = body.find('}', at);
    if (at + 2 >= body.size() || body[at + 2] != '{' || close == std::string_view::npos)
        return {2, 0, "'\\u' takes hex digits in braces: \\u{…}"};
    UnicodeEscape escape{close - at + 1, 0, ""};
    const std::string text(body.substr(at, escape.length));
    const std::string_view hex = body.substr(at + 3, close - at - 3);
    if (hex.empty() || hex.size() > 6) {
        escape.error = "'" + text + "' has " + std::to_string(hex.size()) + " hex digits: a \\u{…} escape takes 1 to 6";
        return escape;
    }
    auto [end, error] = std::from_chars(hex.data(), hex.data() + hex.size(), escape.code_point, 16);
    if (error != std::errc() || end != hex.data() + hex.size())
        escape.error = "'" + text + "' takes hex digits only";
    else if (escape.code_point >= 0xD800 && escape.code_point <= 0xDFFF)
        escape.error = "'" + text + "' is a UTF-16 surrogate, which names no Unicode character";
    else if (escape.code_point > 0x10FFFF)
        escape.error = "'" + text + "' names no Unicode character";
    return escape;
}

}  // namespace

std::vector<BadEscape> bad_escapes(std::string_view body) {
    std::vector<BadEscape> out;
    for (std::size_t i = 0; i + 1 < body.size(); ++i) {
        if (body[i] != '\\') continue;
        if (body[i + 1] == 'u') {
            UnicodeEscape escape = read_unicode_escape(body, i);
            if (!escape.error.empty()) out.push_back({i, escape.length, std::move(escape.error)});
            i += escape.length - 1;
        } else if (body[i + 1] == '"' || body[i + 1] == '\\' || body[i + 1] == 'n' || body[i + 1] == 't') {
            ++i;
        } else {
            // `\q`: the escape is the backslash and the whole character after it.
            const auto lead = static_cast<unsigned char>(body[i + 1]);
            const std::size_t bytes = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            const std::size_t length = std::min(1 + bytes, body.size() - i);
            out.push_back({i, length, "invalid escape '" + std::string(body.substr(i, length)) + "': write \\\" \\\\ \\n \\t or \\u{hex}"});
            i += length - 1;
        }
    }
    return out;
}

std::optional<std::string> unescape(std::string_view body) {
    std::string out;
    out.reserve(body.size());
    for (std::size_t i = 0; i < body.size(); ++i) {
        char c = body[i];
        if (c != '\\' || i + 1 >= body.size()) {
            out += c;
            continue;
        }
        char e = body[i + 1];
        if (e == 'u') {
            UnicodeEscape escape = read_unicode_escape(body, i);
            if (!escape.error.empty()) return std::nullopt;
            append_utf8(out, escape.code_point);
            i += escape.length - 1;
            continue;
        }
        ++i;
        if (e == 'n') out += '\n';
        else if (e == 't') out += '\t';
        else if (e == '"' || e == '\\') out += e;
        else return std::nullopt;
    }
    return out;
}

}  // namespace flow
