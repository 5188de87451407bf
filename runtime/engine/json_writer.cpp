#include "runtime/engine/json_writer.hpp"

#include "stdlib/number_text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace flow::engine {

namespace {

// Whether any of the eight bytes in `word` needs more than a copy: a control character, '"',
// '\\', or a byte of a multi-byte UTF-8 sequence (which is checked). The usual bit tricks
// for "has a zero byte" and "has a byte below n", applied to a word at a time.
bool needs_care(std::uint64_t word) {
    constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    auto has_zero = [&](std::uint64_t x) { return (x - ones) & ~x & highs; };
    std::uint64_t below_space = (word - ones * 0x20) & ~word & highs;
    return (below_space | has_zero(word ^ (ones * '"')) | has_zero(word ^ (ones * '\\')) | (word & highs)) != 0;
}

constexpr auto care_table = [] {
    std::array<bool, 256> table{};
    for (int c = 0; c < 256; ++c) table[static_cast<std::size_t>(c)] = c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
    return table;
}();
bool needs_care(unsigned char c) { return care_table[c]; }

// How many leading bytes of `text` can be copied as they are: whole words first, then the
// last few bytes one by one.
std::size_t plain_prefix(std::string_view text) {
    std::size_t i = 0;
    for (std::uint64_t word = 0; i + 8 <= text.size(); i += 8) {
        std::memcpy(&word, text.data() + i, 8);
        if (needs_care(word)) break;
    }
    while (i < text.size() && !needs_care(static_cast<unsigned char>(text[i]))) ++i;
    return i;
}

// Short pieces are put together on the stack and appended at once: one append instead of four.
constexpr std::size_t short_piece = 96;

char* put(char* at, std::string_view text) {
    std::memcpy(at, text.data(), text.size());
    return at + text.size();
}

}  // namespace

JsonWriter& JsonWriter::key(std::string_view name) {
    if (plain_prefix(name) == name.size()) return this->name(name);
    if (!first_) out_ += comma_;
    first_ = false;
    string(name);
    out_ += colon_;
    return *this;
}

JsonWriter& JsonWriter::name(std::string_view plain) {
    if (plain.size() > short_piece) {
        if (!first_) out_ += comma_;
        first_ = false;
        out_ += '"';
        out_ += plain;
        out_ += '"';
        out_ += colon_;
        return *this;
    }
    char buffer[short_piece + 8];
    char* end = separators_before(buffer);
    end = separators_after(put(end, plain));
    out_.append(buffer, end);
    return *this;
}

JsonWriter& JsonWriter::string(std::string_view text) {
    // Most text needs no escape: it is copied whole, and the rest looked at byte by byte.
    std::size_t i = plain_prefix(text);
    if (i == text.size() && text.size() <= short_piece) {
        char buffer[short_piece + 2];
        buffer[0] = '"';
        char* end = put(buffer + 1, text);
        *end++ = '"';
        out_.append(buffer, end);
        return *this;
    }
    out_ += '"';
    std::size_t plain_from = 0;
    for (; i < text.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') continue;
        out_.append(text.data() + plain_from, i - plain_from);
        if (c >= 0x80) {
            append_utf8(text, i);  // leaves i on the sequence's last byte
            plain_from = i + 1;
            continue;
        }
        plain_from = i + 1;
        switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default: {
            static const char* hex = "0123456789abcdef";
            out_ += "\\u00";
            out_ += hex[c >> 4];
            out_ += hex[c & 15];
        }
        }
    }
    out_.append(text.data() + plain_from, text.size() - plain_from);
    out_ += '"';
    return *this;
}

// One UTF-8 sequence starting at text[i] (a byte of 0x80 or more), copied when it is well
// formed (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF), otherwise U+FFFD
// for its first byte.
void JsonWriter::append_utf8(std::string_view text, std::size_t& i) {
    auto byte = [&](std::size_t at) { return at < text.size() ? static_cast<unsigned char>(text[at]) : 0u; };
    unsigned char c = static_cast<unsigned char>(text[i]);
    auto continuation = [&](std::size_t at, unsigned lo = 0x80, unsigned hi = 0xbf) { return byte(at) >= lo && byte(at) <= hi; };
    std::size_t length = 0;
    if (c >= 0xc2 && c <= 0xdf) length = continuation(i + 1) ? 2 : 0;
    else if (c == 0xe0) length = continuation(i + 1, 0xa0) && continuation(i + 2) ? 3 : 0;
    else if (c == 0xed) length = continuation(i + 1, 0x80, 0x9f) && continuation(i + 2) ? 3 : 0;
    else if (c >= 0xe1 && c <= 0xef) length = continuation(i + 1) && continuation(i + 2) ? 3 : 0;
    else if (c == 0xf0) length = continuation(i + 1, 0x90) && continuation(i + 2) && continuation(i + 3) ? 4 : 0;
    else if (c >= 0xf1 && c <= 0xf3) length = continuation(i + 1) && continuation(i + 2) && continuation(i + 3) ? 4 : 0;
    else if (c == 0xf4) length = continuation(i + 1, 0x80, 0x8f) && continuation(i + 2) && continuation(i + 3) ? 4 : 0;
    if (length == 0) {
        out_ += "\xef\xbf\xbd";
        return;
    }
    out_.append(text.data() + i, length);
    i += length - 1;
}

JsonWriter& JsonWriter::integer(long long n) {
    char buffer[24];
    auto end = std::to_chars(buffer, buffer + sizeof buffer, n).ptr;
    out_.append(buffer, end);
    return *this;
}

JsonWriter& JsonWriter::value(const Value& v) {
    switch (v.type()) {
    case Value::value_t::null: return null();
    case Value::value_t::boolean: out_ += v.get<bool>() ? "true" : "false"; return *this;
    case Value::value_t::string: return string(v.get_ref<const std::string&>());
    case Value::value_t::number_integer: return integer(v.get<std::int64_t>());
    case Value::value_t::number_unsigned: out_ += std::to_string(v.get<std::uint64_t>()); return *this;
    case Value::value_t::number_float: {
        double d = v.get<double>();
        if (!std::isfinite(d)) return null();
        const std::size_t start = out_.size();
        if (mark_whole_numbers_ && d == 0 && std::signbit(d)) out_ += '-';  // the shortest form drops it
        stdlib::append_number_text(out_, d);
        if (mark_whole_numbers_ && out_.find_first_of(".eE", start) == std::string::npos) out_ += ".0";
        return *this;
    }
    case Value::value_t::array: {
        out_ += '[';
        bool first = true;
        for (const Value& e : v) {
            if (!first) out_ += comma_;
            first = false;
            value(e);
        }
        out_ += ']';
        return *this;
    }
    case Value::value_t::object: {
        open();
        for (auto it = v.begin(); it != v.end(); ++it) key(it.key()).value(it.value());
        return close();
    }
    default: return null();
    }
}

JsonWriter& JsonWriter::record(const Value& v, const ir::Record& record, const ir::Program& program) {
    if (!v.is_object()) return value(v);
    open();
    for (const ir::FieldDecl& field : record.fields)
        if (auto found = v.find(field.name); found != v.end()) name(field.name).value(*found, field.type, program);
    return close();
}

JsonWriter& JsonWriter::value(const Value& v, const Type& type, const ir::Program& program) {
    if (type.is_optional()) return value(v, type.element(), program);
    if (type.is(Type::Kind::Record) && v.is_object()) {
        const ir::Record* declared = program.record(type.record_name());
        return declared ? record(v, *declared, program) : value(v);
    }
    if (type.is(Type::Kind::List) && v.is_array()) {
        out_ += '[';
        bool first = true;
        for (const Value& e : v) {
            if (!first) out_ += comma_;
            first = false;
            value(e, type.element(), program);
        }
        out_ += ']';
        return *this;
    }
    return value(v);
}

}  // namespace flow::engine
