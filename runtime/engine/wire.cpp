#include "runtime/engine/wire.hpp"

#include "stdlib/chrono.hpp"

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

}  // namespace

std::optional<DecodeError> WireCodec::decode(const Value& wire, const Type& type, const std::string& path, Value& out) const {
    auto expected = [&](const std::string& what) {
        return DecodeError{path, "expected " + what + ", got " + wire_kind(wire)};
    };
    using K = Type::Kind;
    switch (type.kind()) {
    case K::Optional:
        if (wire.is_null()) {
            out = nullptr;
            return std::nullopt;
        }
        return decode(wire, type.element(), path, out);
    case K::String:
        if (!wire.is_string()) return expected("string");
        out = wire;
        return std::nullopt;
    case K::Int:
        if (wire.is_number_unsigned()) {
            if (wire.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) return DecodeError{path, "int out of range"};
            out = static_cast<std::int64_t>(wire.get<std::uint64_t>());
            return std::nullopt;
        }
        if (!wire.is_number_integer()) return expected("int");
        out = wire;
        return std::nullopt;
    case K::Number:
        if (!wire.is_number()) return expected("number");
        out = wire;
        return std::nullopt;
    case K::Bool:
        if (!wire.is_boolean()) return expected("bool");
        out = wire;
        return std::nullopt;
    case K::Time: {
        if (!wire.is_string()) return expected("an RFC 3339 time string");
        auto ms = chrono::parse_rfc3339(wire.get_ref<const std::string&>());
        if (!ms) return DecodeError{path, "is not an RFC 3339 time: \"" + wire.get<std::string>() + "\""};
        out = *ms;
        return std::nullopt;
    }
    case K::Duration: {
        if (!wire.is_string()) return expected("a duration string such as \"1h30m\"");
        auto ms = chrono::parse_duration(wire.get_ref<const std::string&>());
        if (!ms) return DecodeError{path, "is not a duration: \"" + wire.get<std::string>() + "\""};
        out = *ms;
        return std::nullopt;
    }
    case K::Json:
        out = wire;
        return std::nullopt;
    case K::List: {
        if (!wire.is_array()) return expected("list");
        out = Value::array();
        auto& list = out.get_ref<Value::array_t&>();
        list.reserve(wire.size());
        for (std::size_t i = 0; i < wire.size(); ++i) {
            Value element;
            if (auto error = decode(wire[i], type.element(), path + "[" + std::to_string(i) + "]", element)) return error;
            list.push_back(std::move(element));
        }
        return std::nullopt;
    }
    case K::Record: {
        const ir::Record* record = program_.record(type.record_name());
        if (!wire.is_object()) return expected("object");
        out = Value::object();
        for (const ir::FieldDecl& field : record->fields) {
            std::string field_path = path.empty() ? field.name : path + "." + field.name;
            auto found = wire.find(field.name);
            if (found == wire.end() || found->is_null()) {
                if (field.optional) continue;
                return DecodeError{field_path, found == wire.end() ? "is missing" : "is null, but the field is required"};
            }
            Value decoded;
            if (auto error = decode(*found, field.type, field_path, decoded)) return error;
            if (!decoded.is_null()) out.emplace(field.name, std::move(decoded));
        }
        return std::nullopt;
    }
    default:
        return DecodeError{path, "has a type that cannot come from the wire"};
    }
}

Value WireCodec::encode(const Value& value, const Type& type) const {
    using K = Type::Kind;
    if (value.is_null()) return nullptr;
    switch (type.kind()) {
    case K::Optional: return encode(value, type.element());
    case K::Time: return chrono::format_rfc3339(value.get<std::int64_t>());
    case K::Duration: return chrono::format_duration(value.get<std::int64_t>());
    case K::List: {
        const Type& element = type.element();
        if (element.is(K::Time) || element.is(K::Duration) || element.is(K::Record) || element.is(K::List) ||
            element.is(K::Optional)) {
            Value out = Value::array();
            for (const Value& v : value) out.push_back(encode(v, element));
            return out;
        }
        return value;
    }
    case K::Record: {
        const ir::Record* record = program_.record(type.record_name());
        Value out = Value::object();
        for (const ir::FieldDecl& field : record->fields) {
            auto found = value.find(field.name);
            if (found == value.end() || found->is_null()) continue;
            out.emplace(field.name, encode(*found, field.type));
        }
        return out;
    }
    default: return value;
    }
}

}  // namespace flow::engine
