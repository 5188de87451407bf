// Writes JSON text straight into a string, without building a document first: the simulator
// prints a line for every delivery and command, and flowd's writer stores several documents per
// event, so this is on both hot paths. Spaced is the layout `flowc simulate` documents
// (`{"a": 1, "b": [2, 3]}`); Compact has no spaces. Strings that are not valid UTF-8 get
// U+FFFD in place of each bad byte, so that the text always parses.
#pragma once

#include "dsl/ir.hpp"
#include "stdlib/value.hpp"

#include <cstring>
#include <string>
#include <string_view>

namespace flow::engine {

class JsonWriter {
public:
    enum class Layout { Spaced, Compact };
    explicit JsonWriter(std::string& out, Layout layout = Layout::Spaced)
        : out_(out), spaced_(layout == Layout::Spaced),
          comma_(spaced_ ? ", " : ","), colon_(spaced_ ? ": " : ":") {}

    JsonWriter& open() { out_ += '{'; first_ = true; return *this; }
    JsonWriter& close() { out_ += '}'; first_ = false; return *this; }
    // `"name": ` after a separator when needed.
    JsonWriter& key(std::string_view name);
    // A key that needs no escape, so none is looked for: a literal of the code (the overload
    // any string literal picks) or a Flow identifier (ASCII letters, digits and '_').
    template <std::size_t N>
    JsonWriter& key(const char (&literal)[N]) {
        // Put together on the stack with the separators, and appended at once.
        char buffer[N + 5];
        char* end = separators_before(buffer);
        std::memcpy(end, literal, N - 1);
        end = separators_after(end + N - 1);
        out_.append(buffer, static_cast<std::size_t>(end - buffer));
        return *this;
    }
    JsonWriter& name(std::string_view plain);
    JsonWriter& string(std::string_view text);
    JsonWriter& null() { out_ += "null"; return *this; }
    JsonWriter& string_or_null(const std::string* text) { return text ? string(*text) : null(); }
    JsonWriter& integer(long long n);
    JsonWriter& boolean(bool b) { out_ += b ? "true" : "false"; return *this; }
    // Text that is JSON already (stored documents spliced in as they are).
    JsonWriter& raw(std::string_view json) { out_ += json; return *this; }
    // A list: `begin_list`, then `item()` before each element, then `end_list`.
    JsonWriter& begin_list() { out_ += '['; first_ = true; return *this; }
    JsonWriter& item() { if (!first_) out_ += comma_; first_ = false; return *this; }
    JsonWriter& end_list() { out_ += ']'; first_ = false; return *this; }
    // Any value; records of `type` keep their declared field order.
    JsonWriter& value(const Value& v, const Type& type, const ir::Program& program);
    // A record's fields in their declared order.
    JsonWriter& record(const Value& v, const ir::Record& record, const ir::Program& program);
    JsonWriter& value(const Value& v);
    // From now on, a whole `number` is written with `.0` (`2.0`, `-0.0`), so that it reads back
    // as a number and not as an int: for documents that must read back as they were (the
    // store's), not for the wire, where `2` is the shortest form.
    JsonWriter& marking_whole_numbers() { mark_whole_numbers_ = true; return *this; }

private:
    void append_utf8(std::string_view text, std::size_t& i);
    // What goes around a key: `, "` before it (no comma for the first), `": ` after it.
    char* separators_before(char* at) {
        if (!first_) {
            *at++ = ',';
            if (spaced_) *at++ = ' ';
        }
        first_ = false;
        *at++ = '"';
        return at;
    }
    char* separators_after(char* at) const {
        *at++ = '"';
        *at++ = ':';
        if (spaced_) *at++ = ' ';
        return at;
    }

    std::string& out_;
    bool spaced_;
    std::string_view comma_;
    std::string_view colon_;
    bool first_ = true;
    bool mark_whole_numbers_ = false;
};

}  // namespace flow::engine
