#include "stdlib/functions.hpp"
#include "stdlib/number_text.hpp"

#include "stdlib/chrono.hpp"
#include "stdlib/compare.hpp"
#include "stdlib/utf8.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

namespace flow::stdlib {

namespace {

using Args = std::span<const Value>;
using Types = std::span<const Type>;

constexpr std::int64_t int_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t int_min = std::numeric_limits<std::int64_t>::min();

// ---- Reading arguments (the checker guarantees their JSON kinds) ----

[[noreturn]] void internal_error(const std::string& what) {
    throw RuntimeError("internal error: " + what);
}

const std::string& string_value(const Value& value) {
    if (!value.is_string()) internal_error("expected a string value, got " + value.dump());
    return value.get_ref<const std::string&>();
}

std::int64_t int_value(const Value& value) {
    if (value.is_number_unsigned()) {
        const auto unsigned_value = value.get<std::uint64_t>();
        if (unsigned_value > static_cast<std::uint64_t>(int_max))
            throw RuntimeError("integer overflow: " + value.dump());
        return static_cast<std::int64_t>(unsigned_value);
    }
    if (!value.is_number_integer()) internal_error("expected an int value, got " + value.dump());
    return value.get<std::int64_t>();
}

double number_value(const Value& value) {
    if (!value.is_number()) internal_error("expected a number value, got " + value.dump());
    return value.get<double>();
}

const Value::array_t& list_value(const Value& value) {
    if (!value.is_array()) internal_error("expected a list value, got " + value.dump());
    return value.get_ref<const Value::array_t&>();
}

// ---- UTF-8 ----

using utf8::CodePoint;
using utf8::decode;
using utf8::encode;
using utf8::replacement_character;

std::int64_t count_code_points(std::string_view text) {
    std::int64_t count = 0;
    for (std::size_t pos = 0; pos < text.size(); pos += decode(text, pos).size) ++count;
    return count;
}

// The byte position `count` code points after `pos`, or the end of the text.
std::size_t advance(std::string_view text, std::size_t pos, std::int64_t count) {
    for (; count > 0 && pos < text.size(); --count) pos += decode(text, pos).size;
    return pos;
}

// Each code point of `text` with `map` applied; bytes of invalid sequences are kept.
std::string map_code_points(std::string_view text, char32_t (*map)(char32_t)) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t pos = 0; pos < text.size();) {
        const CodePoint cp = decode(text, pos);
        const char32_t mapped = map(cp.value);
        if (mapped == cp.value) out.append(text.substr(pos, cp.size));
        else encode(mapped, out);
        pos += cp.size;
    }
    return out;
}

// A text for messages: JSON-quoted, shortened to 60 code points.
std::string quote_text(std::string_view text) {
    const std::size_t cut = advance(text, 0, 60);
    std::string shown(text.substr(0, cut));
    if (cut < text.size()) shown += "...";
    return Value(shown).dump(-1, ' ', false, Value::error_handler_t::replace);
}

// ---- Case mapping and white space ----

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

char32_t to_upper(char32_t c) {
    if (c < 0x80) return c >= 'a' && c <= 'z' ? c - 0x20 : c;
    return mapped(upper_case_mappings, c);
}

char32_t to_lower(char32_t c) {
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 0x20 : c;
    return mapped(lower_case_mappings, c);
}

// Unicode White_Space.
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

// ---- Numbers ----

std::string format_double(double number) { return number_text(number); }

// A `number` value as text: integers exactly, doubles in their shortest round-trip form.
std::string format_number(const Value& value) {
    if (value.is_number_integer()) return value.dump();
    return format_double(number_value(value));
}

// The integer `value` (already integral) names, if it is in int64 range.
std::optional<std::int64_t> integral_to_int(double value) {
    constexpr double two_to_63 = 9223372036854775808.0;
    if (!(value >= -two_to_63 && value < two_to_63)) return std::nullopt;  // NaN fails too
    return static_cast<std::int64_t>(value);
}

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

// Parses a decimal text (ASCII white space around it ignored) as a double.
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

// Parses a decimal text as an int, truncating a fraction toward zero.
std::int64_t parse_int_text(std::string_view original) {
    const std::string_view text = trim_ascii(original);
    bool is_integer = false;
    if (!is_decimal(text, is_integer)) throw RuntimeError("not a number: " + quote_text(original));
    const auto truncated = truncated_decimal(text);
    if (!truncated) throw RuntimeError("out of the int range: int(" + quote_text(original) + ")");
    return *truncated;
}

// A `number` rounded to an int by `rounding` (an int value passes unchanged).
Value rounded_to_int(const Value& value, double (*rounding)(double), std::string_view function) {
    if (value.is_number_integer()) return int_value(value);
    const double number = number_value(value);
    const auto result = integral_to_int(rounding(number));
    if (!result)
        throw RuntimeError("out of the int range: " + std::string(function) + "(" + format_double(number) + ")");
    return *result;
}

// ---- str ----

// A whole double below 2^53 as the integer it is, which prints without ".0"; any other value
// as it is.
Value whole_number_plain(const Value& value) {
    if (!value.is_number_float()) return value;
    const double number = value.get<double>();
    constexpr double two_to_53 = 9007199254740992.0;
    if (std::trunc(number) == number && std::fabs(number) < two_to_53) return static_cast<std::int64_t>(number);
    return value;
}

// A JSON value with every whole number in it written without ".0", as on the wire.
Value json_plain(const Value& value) {
    if (value.is_array()) {
        Value list = Value::array();
        for (const Value& element : value) list.push_back(json_plain(element));
        return list;
    }
    if (value.is_object()) {
        Value object = Value::object();
        for (const auto& [name, member] : value.items()) object[name] = json_plain(member);
        return object;
    }
    return whole_number_plain(value);
}

// The value as it reads in text, by its static type: times and durations as strings,
// whole numbers without ".0".
Value displayable(const Value& value, const Type& type, const RecordFields* records) {
    if (value.is_null()) return value;
    switch (type.required().kind()) {
        case Type::Kind::Time: return chrono::format_rfc3339(int_value(value));
        case Type::Kind::Duration: return chrono::format_duration(int_value(value));
        case Type::Kind::Number: return whole_number_plain(value);
        case Type::Kind::Json: return json_plain(value);
        case Type::Kind::List: {
            Value list = Value::array();
            for (const Value& element : list_value(value))
                list.push_back(displayable(element, type.required().element(), records));
            return list;
        }
        case Type::Kind::Record: {
            if (!records || !value.is_object()) return value;
            Value record = Value::object();
            for (const auto& [name, field] : value.items()) {
                const Type* field_type = records->field_type(type.required().record_name(), name);
                record[name] = field_type ? displayable(field, *field_type, records) : field;
            }
            return record;
        }
        default: return value;
    }
}

// Compact JSON, its numbers written as `str` writes a number (JavaScript's layout: `1e+23`,
// `2e-7`), as they are on the wire, rather than as the JSON library writes doubles.
void append_compact_json(const Value& value, std::string& out) {
    if (value.is_array()) {
        out += '[';
        bool first = true;
        for (const Value& element : value) {
            if (!first) out += ',';
            first = false;
            append_compact_json(element, out);
        }
        out += ']';
    } else if (value.is_object()) {
        out += '{';
        bool first = true;
        for (const auto& [name, member] : value.items()) {
            if (!first) out += ',';
            first = false;
            out += Value(name).dump(-1, ' ', false, Value::error_handler_t::replace);
            out += ':';
            append_compact_json(member, out);
        }
        out += '}';
    } else if (value.is_number_float()) {
        const double number = value.get<double>();
        out += std::isfinite(number) ? format_double(number) : "null";
    } else {
        out += value.dump(-1, ' ', false, Value::error_handler_t::replace);
    }
}

std::string to_text(const Value& value, const Type& type, const RecordFields* records) {
    if (value.is_null()) return "null";
    switch (type.required().kind()) {
        case Type::Kind::String: return string_value(value);
        case Type::Kind::Int: return std::to_string(int_value(value));
        case Type::Kind::Number: return format_number(value);
        case Type::Kind::Bool: return value.dump();
        case Type::Kind::Time: return chrono::format_rfc3339(int_value(value));
        case Type::Kind::Duration: return chrono::format_duration(int_value(value));
        default: {
            std::string out;
            append_compact_json(displayable(value, type, records), out);
            return out;
        }
    }
}

// ---- uuid ----

std::uint64_t fnv1a_64(std::uint64_t seed, std::string_view bytes) {
    constexpr std::uint64_t prime = 0x100000001b3;
    std::uint64_t hash = seed;
    for (const char byte : bytes) {
        hash ^= static_cast<unsigned char>(byte);
        hash *= prime;
    }
    return hash;
}

// Spreads every input bit over the whole word (the MurmurHash3 finalizer).
std::uint64_t avalanche(std::uint64_t hash) {
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccd;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53;
    hash ^= hash >> 33;
    return hash;
}

// A version 4, variant 1 UUID whose 122 free bits hash the instance id and the counter.
std::string derived_uuid(std::string_view instance_id, std::uint64_t counter) {
    std::string input(instance_id);
    for (int shift = 0; shift < 64; shift += 8) input += static_cast<char>((counter >> shift) & 0xFF);
    const std::array<std::uint64_t, 2> halves = {
        avalanche(fnv1a_64(0xcbf29ce484222325, input)),
        avalanche(fnv1a_64(0x84222325cbf29ce4, input)),
    };
    std::array<unsigned, 16> bytes{};
    for (std::size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = static_cast<unsigned>((halves[i / 8] >> (56 - 8 * (i % 8))) & 0xFF);
    bytes[6] = (bytes[6] & 0x0F) | 0x40;  // version 4
    bytes[8] = (bytes[8] & 0x3F) | 0x80;  // variant 1 (RFC 4122)
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += hex[bytes[i] >> 4];
        out += hex[bytes[i] & 0x0F];
    }
    return out;
}

// ---- Implementations: one per overload ----

Value len_string(Args args, Types, CallContext&) {
    return count_code_points(string_value(args[0]));
}

Value len_list(Args args, Types, CallContext&) {
    return static_cast<std::int64_t>(list_value(args[0]).size());
}

Value str(Args args, Types types, CallContext& context) {
    std::string text = to_text(args[0], types.empty() ? Type::json() : types[0], context.records);
    check_string_size(text.size());
    return text;
}

Value int_from_string(Args args, Types, CallContext&) {
    return parse_int_text(string_value(args[0]));
}

Value int_from_int(Args args, Types, CallContext&) {
    return int_value(args[0]);
}

Value int_from_number(Args args, Types, CallContext&) {
    return rounded_to_int(args[0], [](double x) { return std::trunc(x); }, "int");
}

Value number_from_string(Args args, Types, CallContext&) {
    return parse_number_text(string_value(args[0]));
}

Value number_from_number(Args args, Types, CallContext&) {
    return number_value(args[0]);
}

Value upper(Args args, Types, CallContext&) {
    std::string text = map_code_points(string_value(args[0]), to_upper);
    check_string_size(text.size());
    return text;
}

Value lower(Args args, Types, CallContext&) {
    std::string text = map_code_points(string_value(args[0]), to_lower);
    check_string_size(text.size());
    return text;
}

Value trim(Args args, Types, CallContext&) {
    const std::string_view text = string_value(args[0]);
    std::size_t begin = text.size(), end = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        const CodePoint cp = decode(text, pos);
        if (!is_white_space(cp.value)) {
            begin = std::min(begin, pos);
            end = pos + cp.size;
        }
        pos += cp.size;
    }
    return begin < end ? std::string(text.substr(begin, end - begin)) : std::string();
}

Value contains_string(Args args, Types, CallContext&) {
    return string_value(args[0]).find(string_value(args[1])) != std::string::npos;
}

Value contains_list(Args args, Types, CallContext&) {
    for (const Value& element : list_value(args[0]))
        if (values_equal(element, args[1])) return true;
    return false;
}

Value starts_with(Args args, Types, CallContext&) {
    return std::string_view(string_value(args[0])).starts_with(string_value(args[1]));
}

Value ends_with(Args args, Types, CallContext&) {
    return std::string_view(string_value(args[0])).ends_with(string_value(args[1]));
}

Value substr(Args args, Types, CallContext&) {
    const std::string_view text = string_value(args[0]);
    const std::int64_t start = int_value(args[1]);
    const std::int64_t length = int_value(args[2]);
    if (length <= 0) return "";
    const std::size_t begin = advance(text, 0, std::max<std::int64_t>(start, 0));
    const std::size_t end = advance(text, begin, length);
    return std::string(text.substr(begin, end - begin));
}

Value replace(Args args, Types, CallContext&) {
    const std::string& text = string_value(args[0]);
    const std::string& from = string_value(args[1]);
    const std::string& to = string_value(args[2]);
    if (from.empty()) return text;
    std::size_t occurrences = 0;
    for (std::size_t found = text.find(from); found != std::string::npos; found = text.find(from, found + from.size()))
        ++occurrences;
    check_string_size(text.size() - occurrences * from.size() + occurrences * to.size());  // before it is built
    std::string out;
    std::size_t pos = 0;
    for (std::size_t found; (found = text.find(from, pos)) != std::string::npos; pos = found + from.size()) {
        out.append(text, pos, found - pos);
        out += to;
    }
    out.append(text, pos);
    return out;
}

Value split(Args args, Types, CallContext&) {
    const std::string_view text = string_value(args[0]);
    const std::string_view separator = string_value(args[1]);
    Value parts = Value::array();
    if (separator.empty()) {
        for (std::size_t pos = 0, size = 0; pos < text.size(); pos += size) {
            size = decode(text, pos).size;
            check_list_size(parts.size() + 1);
            parts.push_back(std::string(text.substr(pos, size)));
        }
        return parts;
    }
    std::size_t pos = 0;
    for (std::size_t found; (found = text.find(separator, pos)) != std::string_view::npos;
         pos = found + separator.size()) {
        check_list_size(parts.size() + 2);  // this part and the last
        parts.push_back(std::string(text.substr(pos, found - pos)));
    }
    parts.push_back(std::string(text.substr(pos)));
    return parts;
}

Value join(Args args, Types, CallContext&) {
    const std::string& separator = string_value(args[1]);
    const Value::array_t& parts = list_value(args[0]);
    std::size_t bytes = parts.empty() ? 0 : (parts.size() - 1) * separator.size();
    for (const Value& part : parts) bytes += string_value(part).size();
    check_string_size(bytes);  // before it is built
    std::string out;
    out.reserve(bytes);
    bool first = true;
    for (const Value& part : list_value(args[0])) {
        if (!first) out += separator;
        out += string_value(part);
        first = false;
    }
    return out;
}

Value append(Args args, Types, CallContext&) {
    check_list_size(list_value(args[0]).size() + 1);
    Value list = list_value(args[0]);
    list.push_back(args[1]);
    return list;
}

Value abs_int(Args args, Types, CallContext&) {
    const std::int64_t value = int_value(args[0]);
    if (value == int_min) throw RuntimeError("integer overflow: abs(" + std::to_string(value) + ")");
    return value < 0 ? -value : value;
}

Value abs_number(Args args, Types, CallContext&) {
    return std::fabs(number_value(args[0]));
}

Value min_int(Args args, Types, CallContext&) {
    return std::min(int_value(args[0]), int_value(args[1]));
}

Value min_number(Args args, Types, CallContext&) {
    return std::min(number_value(args[0]), number_value(args[1]));
}

Value max_int(Args args, Types, CallContext&) {
    return std::max(int_value(args[0]), int_value(args[1]));
}

Value max_number(Args args, Types, CallContext&) {
    return std::max(number_value(args[0]), number_value(args[1]));
}

Value round(Args args, Types, CallContext&) {
    return rounded_to_int(args[0], [](double x) { return std::round(x); }, "round");
}

Value floor(Args args, Types, CallContext&) {
    return rounded_to_int(args[0], [](double x) { return std::floor(x); }, "floor");
}

Value ceil(Args args, Types, CallContext&) {
    return rounded_to_int(args[0], [](double x) { return std::ceil(x); }, "ceil");
}

Value now(Args, Types, CallContext& ctx) {
    return ctx.now_ms;
}

Value format_time(Args args, Types, CallContext&) {
    return chrono::format_time(int_value(args[0]), string_value(args[1]));
}

Value parse_time(Args args, Types, CallContext&) {
    const std::string& text = string_value(args[0]);
    const auto time = chrono::parse_rfc3339(text);
    if (!time) throw RuntimeError("not an RFC 3339 time: " + quote_text(text));
    return *time;
}

// `count` units of `unit_ms` milliseconds as a duration.
Value duration_of(const Value& count, std::int64_t unit_ms, std::string_view function) {
    const auto out_of_range = [&](const std::string& shown) {
        return RuntimeError("out of the duration range: " + std::string(function) + "(" + shown + ")");
    };
    if (count.is_number_integer()) {
        const std::int64_t units = int_value(count);
        std::int64_t ms = 0;
        if (__builtin_mul_overflow(units, unit_ms, &ms)) throw out_of_range(std::to_string(units));
        return ms;
    }
    const double units = number_value(count);
    const auto ms = integral_to_int(std::round(units * static_cast<double>(unit_ms)));
    if (!ms) throw out_of_range(format_double(units));
    return *ms;
}

Value seconds(Args args, Types, CallContext&) {
    return duration_of(args[0], 1000, "seconds");
}

Value minutes(Args args, Types, CallContext&) {
    return duration_of(args[0], 60 * 1000, "minutes");
}

Value hours(Args args, Types, CallContext&) {
    return duration_of(args[0], 60 * 60 * 1000, "hours");
}

Value days(Args args, Types, CallContext&) {
    return duration_of(args[0], 24 * 60 * 60 * 1000, "days");
}

Value uuid(Args, Types, CallContext& ctx) {
    if (ctx.uuid_counter == nullptr) internal_error("uuid() called without a counter");
    return derived_uuid(ctx.instance_id, (*ctx.uuid_counter)++);
}

// ---- Signatures ----

enum class Param {
    String,
    Int,
    Number,      // int or number
    Time,
    Duration,
    List,        // list<T>: binds T
    Element,     // a value that shares a type with T, without making it optional
    StringList,  // list<string>
    Any,
};

enum class Result { String, Int, Number, Bool, Time, Duration, StringList, ElementList };

using Implementation = Value (*)(Args, Types, CallContext&);

struct Signature {
    std::string_view name;  // "function" or "function:variant"
    std::vector<Param> params;
    Result result;
    Implementation implementation;

    std::string_view function() const { return name.substr(0, name.find(':')); }
};

// In resolution order: the first signature that fits the arguments is chosen.
const std::vector<Signature>& signatures() {
    using P = Param;
    using R = Result;
    static const std::vector<Signature> table = {
        {"len:string", {P::String}, R::Int, len_string},
        {"len:list", {P::List}, R::Int, len_list},
        {"str", {P::Any}, R::String, str},
        {"int:string", {P::String}, R::Int, int_from_string},
        {"int:int", {P::Int}, R::Int, int_from_int},
        {"int:number", {P::Number}, R::Int, int_from_number},
        {"number:string", {P::String}, R::Number, number_from_string},
        {"number:number", {P::Number}, R::Number, number_from_number},
        {"upper", {P::String}, R::String, upper},
        {"lower", {P::String}, R::String, lower},
        {"trim", {P::String}, R::String, trim},
        {"contains:string", {P::String, P::String}, R::Bool, contains_string},
        {"contains:list", {P::List, P::Element}, R::Bool, contains_list},
        {"starts_with", {P::String, P::String}, R::Bool, starts_with},
        {"ends_with", {P::String, P::String}, R::Bool, ends_with},
        {"substr", {P::String, P::Int, P::Int}, R::String, substr},
        {"replace", {P::String, P::String, P::String}, R::String, replace},
        {"split", {P::String, P::String}, R::StringList, split},
        {"join", {P::StringList, P::String}, R::String, join},
        {"append", {P::List, P::Element}, R::ElementList, append},
        {"abs:int", {P::Int}, R::Int, abs_int},
        {"abs:number", {P::Number}, R::Number, abs_number},
        {"min:int", {P::Int, P::Int}, R::Int, min_int},
        {"min:number", {P::Number, P::Number}, R::Number, min_number},
        {"max:int", {P::Int, P::Int}, R::Int, max_int},
        {"max:number", {P::Number, P::Number}, R::Number, max_number},
        {"round", {P::Number}, R::Int, round},
        {"floor", {P::Number}, R::Int, floor},
        {"ceil", {P::Number}, R::Int, ceil},
        {"now", {}, R::Time, now},
        {"format_time", {P::Time, P::String}, R::String, format_time},
        {"parse_time", {P::String}, R::Time, parse_time},
        {"seconds", {P::Number}, R::Duration, seconds},
        {"minutes", {P::Number}, R::Duration, minutes},
        {"hours", {P::Number}, R::Duration, hours},
        {"days", {P::Number}, R::Duration, days},
        {"uuid", {}, R::String, uuid},
    };
    return table;
}

std::string_view param_name(Param param) {
    switch (param) {
        case Param::String: return "string";
        case Param::Int: return "int";
        case Param::Number: return "number";
        case Param::Time: return "time";
        case Param::Duration: return "duration";
        case Param::List: return "list<T>";
        case Param::StringList: return "list<string>";
        case Param::Element:
        case Param::Any: return "T";
    }
    return "?";
}

Type result_type(Result result, const Type& element) {
    switch (result) {
        case Result::String: return Type::string();
        case Result::Int: return Type::integer();
        case Result::Number: return Type::number();
        case Result::Bool: return Type::boolean();
        case Result::Time: return Type::time();
        case Result::Duration: return Type::duration();
        case Result::StringList: return Type::list(Type::string());
        case Result::ElementList: return Type::list(element);
    }
    return Type::error();
}

// Whether `arg` may stand with the list's element type `element`; if so, `element`
// becomes the type they share.
bool fits_element(Type& element, const Type& arg) {
    Type shared;
    if (!unify(element, arg, shared)) return false;
    if (shared.is_optional() && !element.is_optional() && !element.is(Type::Kind::Never) && !element.is(Type::Kind::Null)) return false;
    element = shared;
    return true;
}

bool accepts(Param param, const Type& arg, Type& element) {
    using Kind = Type::Kind;
    switch (param) {
        case Param::String: return arg.is(Kind::String);
        case Param::Int: return arg.is(Kind::Int);
        case Param::Number: return arg.is_numeric();
        case Param::Time: return arg.is(Kind::Time);
        case Param::Duration: return arg.is(Kind::Duration);
        case Param::List:
            if (!arg.is(Kind::List)) return false;
            element = arg.element();
            return true;
        case Param::StringList:
            return arg.is(Kind::List) && (arg.element().is(Kind::String) || arg.element().is(Kind::Never));
        case Param::Element: return fits_element(element, arg);
        case Param::Any: return true;
    }
    return false;
}

// The result type when `signature` fits `args`.
std::optional<Type> match(const Signature& signature, Types args) {
    if (args.size() != signature.params.size()) return std::nullopt;
    Type element = Type::never();
    for (std::size_t i = 0; i < args.size(); ++i)
        if (!accepts(signature.params[i], args[i], element)) return std::nullopt;
    return result_type(signature.result, element);
}

std::vector<int> overloads_of(std::string_view function) {
    std::vector<int> ids;
    const auto& table = signatures();
    for (std::size_t id = 0; id < table.size(); ++id)
        if (table[id].function() == function) ids.push_back(static_cast<int>(id));
    return ids;
}

std::optional<Overload> first_match(const std::vector<int>& ids, Types args) {
    for (const int id : ids)
        if (auto result = match(signatures()[id], args)) return Overload{id, *result};
    return std::nullopt;
}

std::string parenthesized(std::span<const std::string> items) {
    std::string out = "(";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i > 0 ? ", " : "") + items[i];
    return out + ")";
}

// "len expects (string) or (list<T>), got (int)"
std::string mismatch_message(std::string_view function, const std::vector<int>& ids, Types args) {
    std::string message = std::string(function) + " expects ";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i > 0) message += i + 1 == ids.size() ? " or " : ", ";
        std::vector<std::string> params;
        for (const Param param : signatures()[ids[i]].params) params.emplace_back(param_name(param));
        message += parenthesized(params);
    }
    std::vector<std::string> given;
    for (const Type& arg : args) given.push_back(arg.to_string());
    return message + ", got " + parenthesized(given);
}

// Whether the call would resolve with every optional argument made required.
bool fits_once_required(const std::vector<int>& ids, Types args) {
    std::vector<Type> required;
    bool any_optional = false;
    for (const Type& arg : args) {
        any_optional = any_optional || arg.is_optional();
        required.push_back(arg.required());
    }
    return any_optional && first_match(ids, required).has_value();
}

}  // namespace

bool is_function(std::string_view name) {
    return !overloads_of(name).empty();
}

std::variant<Overload, std::string> resolve(std::string_view name, std::span<const Type> args) {
    const std::vector<int> ids = overloads_of(name);
    if (ids.empty()) return "unknown function " + std::string(name);
    const bool any_error = std::any_of(args.begin(), args.end(), [](const Type& t) { return t.is_error(); });
    if (any_error) {
        for (const int id : ids)
            if (signatures()[id].params.size() == args.size()) return Overload{id, Type::error()};
    } else if (auto overload = first_match(ids, args)) {
        return *overload;
    }
    std::string message = mismatch_message(name, ids, args);
    if (!any_error && fits_once_required(ids, args))
        message += "; an optional value needs `??` to give it a default";
    return message;
}

std::string_view overload_name(int id) {
    const auto& table = signatures();
    return id >= 0 && static_cast<std::size_t>(id) < table.size() ? table[id].name : std::string_view();
}

int overload_by_name(std::string_view name) {
    const auto& table = signatures();
    for (std::size_t id = 0; id < table.size(); ++id)
        if (table[id].name == name) return static_cast<int>(id);
    return -1;
}

Value call(int id, std::span<const Value> args, std::span<const Type> arg_types, CallContext& ctx) {
    const std::string_view name = overload_name(id);
    if (name.empty()) internal_error("no function has the id " + std::to_string(id));
    const Signature& signature = signatures()[id];
    if (args.size() != signature.params.size())
        internal_error(std::string(name) + " called with " + std::to_string(args.size()) + " arguments");
    return signature.implementation(args, arg_types, ctx);
}

}  // namespace flow::stdlib
