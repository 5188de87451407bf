// Writes JSON text straight into a string, in the layout `flowc simulate` documents
// (`{"a": 1, "b": [2, 3]}`), without building a document first: the simulator prints a
// line for every delivery and command, and this is on its hot path.
#pragma once

#include "dsl/ir.hpp"
#include "stdlib/value.hpp"

#include <string>
#include <string_view>

namespace flow::sim {

class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : out_(out) {}

    JsonWriter& open() { out_ += '{'; first_ = true; return *this; }
    JsonWriter& close() { out_ += '}'; first_ = false; return *this; }
    // `"name": ` after a separator when needed.
    JsonWriter& key(std::string_view name);
    JsonWriter& string(std::string_view text);
    JsonWriter& null() { out_ += "null"; return *this; }
    JsonWriter& integer(long long n);
    // Any value; records of `type` keep their declared field order.
    JsonWriter& value(const Value& v, const Type& type, const ir::Program& program);
    JsonWriter& value(const Value& v);

private:
    std::string& out_;
    bool first_ = true;
};

}  // namespace flow::sim
