#include "runtime/engine/wire.hpp"

#include "stdlib/chrono.hpp"

#include <cmath>

namespace flow::engine {

namespace {

const char* wire_kind(const Value& v) {
    switch (v.type()) {
    case Value::value_t::null: return "null";
    case Value::value_t::boolean: return "bool";
    case Value::value_t::string: return "string";
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned: return "int";
    case Value::value_t::number_float: return "number";
    case Value::value_t::array: return "list";
    case Value::value_t::object: return "object";
    default: return "value";
    }
}

bool needs_encoding(const Type& type) {
    using K = Type::Kind;
    return type.is(K::Time) || type.is(K::Duration) || type.is(K::Record) || type.is(K::List) || type.is(K::Optional);
}

}  // namespace

// Where a value sits in the decoded document. Built on the stack as decoding descends, and
// spelled out ("data.lines[2].sku") only when there is an error to report.
struct WireCodec::Path {
    static constexpr std::size_t no_index = static_cast<std::size_t>(-1);
    const Path* parent = nullptr;
    const std::string* root = nullptr;
    std::string_view field;
    std::size_t index = no_index;

    std::string text() const {
        if (!parent) return *root;
        std::string out = parent->text();
        if (index != no_index) return out + "[" + std::to_string(index) + "]";
        if (out.empty()) return std::string(field);
        return out + "." + std::string(field);
    }
};

std::optional<DecodeError> WireCodec::decode(Value& wire, const ir::Record& record, const std::string& path,
                                             Value& out) const {
    return decode_record(wire, record, Path{nullptr, &path, {}, Path::no_index}, out);
}

std::optional<DecodeError> WireCodec::decode(Value& wire, const Type& type, const std::string& path, Value& out) const {
    return decode_value(wire, type, Path{nullptr, &path, {}, Path::no_index}, out);
}

std::optional<DecodeError> WireCodec::decode_value(Value& wire, const Type& type, const Path& path, Value& out) const {
    auto expected = [&](const std::string& what) {
        return DecodeError{path.text(), "expected " + what + ", got " + wire_kind(wire)};
    };
    auto keep = [&] {
        out = std::move(wire);
        return std::nullopt;
    };
    using K = Type::Kind;
    switch (type.kind()) {
    case K::Optional:
        if (wire.is_null()) {
            out = nullptr;
            return std::nullopt;
        }
        return decode_value(wire, type.element(), path, out);
    case K::String:
        if (!wire.is_string()) return expected("string");
        return keep();
    case K::Int:
        if (wire.is_number_unsigned()) {
            if (wire.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
                return DecodeError{path.text(), "int out of range"};
            out = static_cast<std::int64_t>(wire.get<std::uint64_t>());
            return std::nullopt;
        }
        if (wire.is_number_float()) {
            // A whole number written with a fraction or an exponent (`5.0`, `1e3`) is an int, as
            // JSON Schema's "integer" has it: JSON itself does not tell the two apart. Such a
            // number arrives as a double, which holds every whole number exactly only below 2^53:
            // past that, `12345678901234567.8` would be taken as ...568 and `9007199254740993e0`
            // as ...992, so a larger one must be written with digits alone.
            const double d = wire.get<double>();
            if (!std::isfinite(d) || d != std::trunc(d)) return expected("int");
            // Digits alone within 64 bits never arrive here (they are read as integers), so a
            // double strictly inside ±2^63 was written with a fraction or an exponent. Exactly
            // ±2^63 may be either: -9223372036854775809 rounds to -2^63, and so does
            // -9223372036854775808.0, which is in range.
            constexpr double exact_below = 9007199254740992.0;  // 2^53
            constexpr double two_to_63 = 9223372036854775808.0;
            if (!(d > -exact_below && d < exact_below)) {
                if (d > -two_to_63 && d < two_to_63)
                    return DecodeError{path.text(), "int written with a fraction or an exponent must be below 2^53 in "
                                                    "magnitude to be exact: write it with digits alone"};
                if (d == -two_to_63 || d == two_to_63)
                    return DecodeError{path.text(), "int out of range, or written with a fraction or an exponent at or above "
                                                    "2^53 in magnitude: write it with digits alone, within 64 bits"};
                return DecodeError{path.text(), "int out of range"};
            }
            out = static_cast<std::int64_t>(d);
            return std::nullopt;
        }
        if (!wire.is_number_integer()) return expected("int");
        return keep();
    case K::Number:
        if (!wire.is_number()) return expected("number");
        // A number is a double: an integer beyond 2^53 is rounded now, as JavaScript reads it,
        // not kept exact until some arithmetic rounds it.
        if (wire.is_number_integer()) {
            out = wire.get<double>();
            return std::nullopt;
        }
        return keep();
    case K::Bool:
        if (!wire.is_boolean()) return expected("bool");
        return keep();
    case K::Time: {
        if (!wire.is_string()) return expected("an RFC 3339 time string");
        const std::string& text = wire.get_ref<const std::string&>();
        auto ms = chrono::parse_rfc3339(text);
        if (!ms) return DecodeError{path.text(), "is not an RFC 3339 time: \"" + text + "\""};
        out = *ms;
        return std::nullopt;
    }
    case K::Duration: {
        if (!wire.is_string()) return expected("a duration string such as \"1h30m\"");
        const std::string& text = wire.get_ref<const std::string&>();
        auto ms = chrono::parse_duration(text);
        if (!ms) return DecodeError{path.text(), "is not a duration: \"" + text + "\""};
        out = *ms;
        return std::nullopt;
    }
    case K::Json: return keep();
    case K::List: {
        if (!wire.is_array()) return expected("list");
        out = Value::array();
        auto& list = out.get_ref<Value::array_t&>();
        list.reserve(wire.size());
        for (std::size_t i = 0; i < wire.size(); ++i) {
            Value element;
            if (auto error = decode_value(wire[i], type.element(), Path{&path, nullptr, {}, i}, element))
                return error;
            list.push_back(std::move(element));
        }
        return std::nullopt;
    }
    case K::Record:
        if (const ir::Record* record = program_.record(type.record_name()))
            return decode_record(wire, *record, path, out);
        [[fallthrough]];
    default: return DecodeError{path.text(), "has a type that cannot come from the wire"};
    }
}

// Decoded in place: declared fields are converted where they are, the rest dropped.
std::optional<DecodeError> WireCodec::decode_record(Value& wire, const ir::Record& record, const Path& path,
                                                    Value& out) const {
    if (!wire.is_object()) return DecodeError{path.text(), std::string("expected object, got ") + wire_kind(wire)};
    auto& object = wire.get_ref<Value::object_t&>();
    std::size_t kept = 0;
    for (const ir::FieldDecl& field : record.fields) {
        Path field_path{&path, nullptr, field.name, Path::no_index};
        auto found = object.find(field.name);
        if (found == object.end() || found->second.is_null()) {
            if (field.optional) {
                if (found != object.end()) object.erase(found);
                continue;
            }
            return DecodeError{field_path.text(), found == object.end() ? "is missing" : "is null, but the field is required"};
        }
        Value decoded;
        if (auto error = decode_value(found->second, field.type, field_path, decoded)) return error;
        if (decoded.is_null()) {
            object.erase(found);
            continue;
        }
        found->second = std::move(decoded);
        ++kept;
    }
    if (kept != object.size()) {
        for (auto it = object.begin(); it != object.end();)
            it = record.field(it->first) ? std::next(it) : object.erase(it);
    }
    out = std::move(wire);
    return std::nullopt;
}

const Type* WireCodec::field_type(const std::string& record, const std::string& field) const {
    const ir::Record* declared = program_.record(record);
    const ir::FieldDecl* decl = declared ? declared->field(field) : nullptr;
    return decl ? &decl->type : nullptr;
}

Value WireCodec::encode(const Value& value, const Type& type) const { return encode(Value(value), type); }

Value WireCodec::encode(Value&& value, const Type& type) const {
    using K = Type::Kind;
    if (value.is_null()) return nullptr;
    switch (type.kind()) {
    case K::Optional: return encode(std::move(value), type.element());
    case K::Time: return chrono::format_rfc3339(value.get<std::int64_t>());
    case K::Duration: return chrono::format_duration(value.get<std::int64_t>());
    case K::List: {
        const Type& element = type.element();
        if (needs_encoding(element) && value.is_array())
            for (Value& v : value) v = encode(std::move(v), element);
        return std::move(value);
    }
    case K::Record: return encode(std::move(value), *program_.record(type.record_name()));
    default: return std::move(value);
    }
}

Value WireCodec::encode(Value&& record_value, const ir::Record& record) const {
    if (!record_value.is_object()) return Value::object();
    auto& object = record_value.get_ref<Value::object_t&>();
    for (auto it = object.begin(); it != object.end();) {
        const ir::FieldDecl* field = record.field(it->first);
        if (!field || it->second.is_null()) {
            it = object.erase(it);
            continue;
        }
        it->second = encode(std::move(it->second), field->type);
        ++it;
    }
    return std::move(record_value);
}

namespace {

std::string kind_of(const Value& v) {
    if (v.is_null()) return "null";
    if (v.is_string()) return "a string";
    if (v.is_boolean()) return "a boolean";
    if (v.is_number_integer()) return "an integer";
    if (v.is_number()) return "a number";
    if (v.is_array()) return "a list";
    return "an object";
}

}  // namespace

std::optional<WireCodec::Misfit> WireCodec::misfit(const Value& value, const Type& type) const {
    using K = Type::Kind;
    auto refused = [&] { return Misfit{"", kind_of(value), type.to_string()}; };
    auto inside = [](std::string step, Misfit m) {
        m.path = step + m.path;
        return m;
    };
    switch (type.kind()) {
    case K::Error:
    case K::Null:
    case K::Never:
    case K::Json: return std::nullopt;
    case K::Optional: return value.is_null() ? std::nullopt : misfit(value, type.element());
    case K::String: return value.is_string() ? std::nullopt : std::optional(refused());
    case K::Bool: return value.is_boolean() ? std::nullopt : std::optional(refused());
    case K::Number: return value.is_number() ? std::nullopt : std::optional(refused());
    case K::Int:
    case K::Time:
    case K::Duration: return value.is_number_integer() ? std::nullopt : std::optional(refused());
    case K::List: {
        if (!value.is_array()) return refused();
        for (std::size_t n = 0; n < value.size(); ++n)
            if (auto m = misfit(value[n], type.element())) return inside("[" + std::to_string(n) + "]", std::move(*m));
        return std::nullopt;
    }
    case K::Record: {
        const ir::Record* record = program_.record(type.record_name());
        if (!value.is_object()) return refused();
        if (!record) return std::nullopt;
        for (const ir::FieldDecl& field : record->fields) {
            auto member = value.find(field.name);
            const bool absent = member == value.end() || member->is_null();
            // A required `json` field may be absent too: a record literal given a null there left
            // it out before 2026-12-03, and the engine reads it as null.
            if (absent && (field.optional || field.type.is_optional() || field.type.is(Type::Kind::Json))) continue;
            if (absent) return inside("." + field.name, {"", "nothing", field.type.to_string()});
            if (auto m = misfit(*member, field.type)) return inside("." + field.name, std::move(*m));
        }
        return std::nullopt;
    }
    }
    return std::nullopt;
}

}  // namespace flow::engine
