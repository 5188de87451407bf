// Values on the wire (JSON as users send and receive it) and in the engine's representation
// (see stdlib/value.hpp): times as RFC 3339 strings outside, milliseconds inside.
#pragma once

#include "dsl/ir.hpp"
#include "stdlib/functions.hpp"

#include <optional>
#include <string>

namespace flow::engine {

struct DecodeError {
    std::string field;    // "data.total.currency", "data.lines[2]"
    std::string message;  // "is missing", "expected int, got string"
};

// Also tells the standard library's str() the types of a record's fields.
class WireCodec : public stdlib::RecordFields {
public:
    explicit WireCodec(const ir::Program& program) : program_(program) {}

    const Type* field_type(const std::string& record, const std::string& field) const override;

    // Decodes `wire` as a value of `record`, taking what it can from it instead of copying
    // (strings, lists, nested JSON): `wire` is left valid but unspecified. Undeclared fields are
    // dropped; an absent or null optional field stays absent. `path` names the value in errors.
    std::optional<DecodeError> decode(Value& wire, const ir::Record& record, const std::string& path, Value& out) const;
    // The same for a value of `type` (a key given on its own, say).
    std::optional<DecodeError> decode(Value& wire, const Type& type, const std::string& path, Value& out) const;

    // Encodes a value of `type`: times and durations as strings, absent optional fields left out.
    Value encode(const Value& value, const Type& type) const;
    // The same, reusing `value`'s storage.
    Value encode(Value&& value, const Type& type) const;
    Value encode(Value&& record_value, const ir::Record& record) const;

    // Why a value in the engine's representation is not one of `type` (a row edited by hand, a
    // damaged page): where in it (`.amount`, `[2]`, empty for the value itself), what it holds
    // and what is declared there. Nothing when it fits. Undeclared members of a record are let
    // pass, as decoding drops them; so is an absent `json` field (see the definition).
    struct Misfit {
        std::string path;
        std::string found;     // "a string", "null", …
        std::string expected;  // the declared type, as users write it
    };
    std::optional<Misfit> misfit(const Value& value, const Type& type) const;

private:
    struct Path;
    std::optional<DecodeError> decode_value(Value& wire, const Type& type, const Path& path, Value& out) const;
    std::optional<DecodeError> decode_record(Value& wire, const ir::Record& record, const Path& path, Value& out) const;

    const ir::Program& program_;
};

}  // namespace flow::engine
