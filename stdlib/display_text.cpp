#include "stdlib/display_text.hpp"

#include "stdlib/arguments.hpp"
#include "stdlib/chrono.hpp"
#include "stdlib/number_parsing.hpp"

#include <cmath>

namespace flow::stdlib {

namespace {

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

}  // namespace

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

}  // namespace flow::stdlib
