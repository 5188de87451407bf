// The JSON writer behind the simulator's output and the documents flowd stores: both layouts,
// escapes, and text that is not valid UTF-8 (which must still give JSON that parses).
#include "runtime/engine/json_writer.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using flow::engine::JsonWriter;
using nlohmann::json;

namespace {

std::string compact_string(std::string_view text) {
    std::string out;
    JsonWriter(out, JsonWriter::Layout::Compact).string(text);
    return out;
}

}  // namespace

TEST_CASE("the two layouts: spaced for the simulator, compact for storage") {
    json v = json::parse(R"({"a": [1, 2.5, "x"], "b": {"c": null, "d": true}})");
    std::string spaced, compact;
    JsonWriter(spaced).value(v);
    JsonWriter(compact, JsonWriter::Layout::Compact).value(v);
    CHECK(spaced == R"({"a": [1, 2.5, "x"], "b": {"c": null, "d": true}})");
    CHECK(compact == R"({"a":[1,2.5,"x"],"b":{"c":null,"d":true}})");
    std::string built;
    JsonWriter w(built, JsonWriter::Layout::Compact);
    w.open().key("list").begin_list();
    for (int n = 0; n < 3; ++n) w.item().integer(n);
    w.end_list().key("raw").raw(R"({"kept":[1]})").key("flag").boolean(false).close();
    CHECK(built == R"({"list":[0,1,2],"raw":{"kept":[1]},"flag":false})");
    CHECK(json::parse(built)["raw"]["kept"][0] == 1);
}

TEST_CASE("strings: quotes, backslashes and control characters are escaped; valid UTF-8 is kept") {
    CHECK(compact_string("a\"b\\c\n\t\x01") == R"("a\"b\\c\n\t\u0001")");
    CHECK(compact_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    CHECK(json::parse(compact_string("caf\xc3\xa9")) == "caf\xc3\xa9");
}

TEST_CASE("strings: every byte that does not start a well-formed UTF-8 sequence becomes U+FFFD") {
    const std::string replacement = "\xef\xbf\xbd";
    // A lone continuation byte, a truncated sequence, an overlong form, a surrogate, past U+10FFFF.
    for (std::string bad : {std::string("\x80"), std::string("\xc3"), std::string("\xe2\x82"), std::string("\xc0\xaf"),
                            std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"), std::string("\xff")}) {
        CAPTURE(bad.size());
        std::string text = compact_string("a" + bad + "b");
        json parsed = json::parse(text);  // throws on invalid UTF-8
        std::string s = parsed.get<std::string>();
        CHECK(s.front() == 'a');
        CHECK(s.back() == 'b');
        CHECK(s.find(replacement) != std::string::npos);
        CHECK(s.find(bad) == std::string::npos);
    }
    // A truncated sequence at the very end does not read past the text.
    CHECK(json::parse(compact_string("x\xf0\x9f")) == "x" + replacement + replacement);
}

TEST_CASE("strings: the escape is found wherever it falls, in short text and past the stack buffer") {
    // The scan looks at eight bytes at a time, then at the rest one by one; text up to 96 bytes
    // is put together on the stack. Every length around those limits, with one quote at every place.
    for (std::size_t length : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 17u, 95u, 96u, 97u, 200u}) {
        std::string plain(length, 'x');
        CHECK(compact_string(plain) == "\"" + plain + "\"");
        for (std::size_t at = 0; at < length; ++at) {
            std::string text = plain;
            text[at] = '"';
            std::string written = compact_string(text);
            CAPTURE(length);
            CAPTURE(at);
            CHECK(written.size() == length + 3);
            CHECK(json::parse(written) == text);
        }
    }
}

TEST_CASE("keys: literals, identifiers and arbitrary keys give the same text") {
    for (auto layout : {JsonWriter::Layout::Spaced, JsonWriter::Layout::Compact}) {
        std::string by_literal, by_name, by_key;
        JsonWriter(by_literal, layout).open().key("first").integer(1).key("second_2").null().close();
        JsonWriter(by_name, layout).open().name("first").integer(1).name("second_2").null().close();
        JsonWriter(by_key, layout).open().key(std::string_view("first")).integer(1).key(std::string("second_2")).null().close();
        CHECK(by_literal == by_name);
        CHECK(by_literal == by_key);
        CHECK(json::parse(by_literal) == json{{"first", 1}, {"second_2", nullptr}});
    }
    std::string escaped;
    JsonWriter(escaped, JsonWriter::Layout::Compact).open().key(std::string_view("a\"b")).integer(1).close();
    CHECK(escaped == R"({"a\"b":1})");
    std::string long_name(150, 'k');
    std::string written;
    JsonWriter(written).open().name(long_name).boolean(true).key(long_name + "2").boolean(false).close();
    CHECK(json::parse(written) == json{{long_name, true}, {long_name + "2", false}});
}

TEST_CASE("numbers on the wire are written as str() writes them, and read back as the same double") {
    json v = json::array({100000.0, 0.0001, 1e-7, 1e21, 0.1 + 0.2, -0.0});
    std::string out;
    JsonWriter(out, JsonWriter::Layout::Compact).value(v);
    CHECK(out == "[100000,0.0001,1e-7,1e+21,0.30000000000000004,0]");
    json back = json::parse(out);
    for (std::size_t n = 0; n + 1 < v.size(); ++n) CHECK(back[n].get<double>() == v[n].get<double>());
}
