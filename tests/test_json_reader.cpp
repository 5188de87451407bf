// Reading JSON text into values: what the simulator reads each scenario line with. It must
// accept and refuse exactly what RFC 8259 does, and give the values nlohmann's parser would.
#include "runtime/engine/json_reader.hpp"
#include "tests/same_kinds.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <tuple>

using flow::Value;
using flow::engine::read_json;

namespace {

std::string refusal(std::string_view text) {
    std::string error;
    CHECK_FALSE(read_json(text, &error).has_value());
    return error;
}


std::string nested(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

}  // namespace

TEST_CASE("reading JSON: the same values as nlohmann's parser, types included") {
    const char* documents[] = {
        R"({"id": "a1", "type": "Paid", "data": {"n": 3, "price": 9.99, "ok": true, "none": null}})",
        R"([1, -1, 0, -0, -0.0, 18446744073709551615, -9223372036854775808, -9223372036854775809, 1.5e3, -0.25, 1e-7])",
        R"({"nested": {"list": [[], {}, [{"a": [1, {"b": "c"}]}]]}, "empty": ""})",
        R"("caf\u00e9 \ud83d\ude00 \"quoted\" \\ \/ \b\f\n\r\t")",
        "  \t\r\n {\"spaced\" : [ 1 , 2 ] }  \n",
        "true", "false", "null", "0", "\"\"",
    };
    for (const char* text : documents) {
        CAPTURE(text);
        std::optional<Value> read = read_json(text);
        REQUIRE(read.has_value());
        Value expected = Value::parse(text);
        CHECK(*read == expected);
        CHECK(flow::test::same_kinds(*read, expected));
        CHECK(read->dump() == expected.dump());
    }
}

TEST_CASE("reading JSON: integers keep nlohmann's kinds, doubles are read exactly") {
    CHECK(read_json("5")->is_number_unsigned());
    CHECK(read_json("-5")->is_number_integer());
    CHECK(read_json("-5")->get<std::int64_t>() == -5);
    CHECK(read_json("0")->is_number_unsigned());
    CHECK(read_json("-0")->is_number_integer());  // as nlohmann reads it
    CHECK(read_json("18446744073709551615")->get<std::uint64_t>() == std::numeric_limits<std::uint64_t>::max());
    CHECK(read_json("18446744073709551616")->is_number_float());  // past uint64: a double, as nlohmann reads it
    // Values where a multiply-by-a-power-of-ten conversion is off in the last place.
    for (const char* text : {"0.1", "2.2250738585072014e-308", "1.7976931348623157e308", "9007199254740993.0",
                             "0.30000000000000004", "123456789012345678901234567890e-10", "4.9e-324"}) {
        CAPTURE(text);
        CHECK(*read_json(text) == Value::parse(text));
    }
    CHECK(read_json("0.1")->get<double>() == 0.1);
}

TEST_CASE("reading JSON: the last of repeated keys wins, as with nlohmann") {
    Value v = *read_json(R"({"a": 1, "b": 2, "a": {"x": 3}})");
    CHECK(v.size() == 2);
    CHECK(v["a"]["x"] == 3);
}

TEST_CASE("reading JSON: anything but one strict JSON value is refused, with a reason") {
    for (const char* text : {"", "   ", "{", "{\"a\": }", "[1, 2,]", "{\"a\": 1,}", "{a: 1}", "'x'", "01", "1.", ".5",
                             "+1", "NaN", "Infinity", "[1] [2]", "{} x", "\"unterminated", "\"tab\there\"",
                             "\"\\q\"", "\"\\ud800\"", "// comment\n1", "tru", "nul"}) {
        CAPTURE(text);
        CHECK_FALSE(refusal(text).empty());
        CHECK_THROWS(std::ignore = Value::parse(text));  // nlohmann refuses the same text
    }
    CHECK(refusal("[1, 2] 3").find("at byte") != std::string::npos);
    CHECK(refusal("[1]x").ends_with(" at byte 4"));
    CHECK(refusal("\xEF\xBB\xBF[1]x").ends_with(" at byte 7"));  // counted from the text's start, mark included
}

TEST_CASE("reading JSON: text that is not UTF-8 is refused") {
    for (const char* text : {"\"\xff\"", "\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "{\"\xe2\x82\": 1}"}) {
        CAPTURE(text);
        CHECK_FALSE(read_json(text).has_value());
    }
    CHECK(*read_json("\"caf\xc3\xa9\"") == "caf\xc3\xa9");
}

TEST_CASE("reading JSON: numbers too large for a double are refused, too small ones are zero, as with nlohmann") {
    CHECK(refusal("1e400") == "a number too large");
    CHECK(refusal("[-1e999]") == "a number too large");
    CHECK_THROWS(std::ignore = Value::parse("1e400"));
    for (const char* text : {"1e-400", "-1e-400", "[0.1e-330, -2.5e-9999]"}) {
        CAPTURE(text);
        std::optional<Value> read = read_json(text);
        REQUIRE(read.has_value());
        CHECK(*read == Value::parse(text));
        CHECK(read->dump() == Value::parse(text).dump());  // the sign of a negative zero included
    }
    CHECK(std::signbit(read_json("-1e-400")->get<double>()));
    // Stricter than nlohmann, by decision: an exponent of ten digits or more does not fit the
    // parser, and a NUL byte outside strings is not the end of the text.
    CHECK(refusal("1e-99999999999").rfind("exponent overflow", 0) == 0);
    CHECK(Value::parse("1e-99999999999") == 0.0);
    CHECK_FALSE(read_json(std::string_view("1\0 x", 4)).has_value());
    CHECK(Value::parse(std::string_view("1\0 x", 4)) == 1);
}

TEST_CASE("reading JSON: a byte order mark before the value is skipped, as nlohmann skips it") {
    CHECK(*read_json("\xEF\xBB\xBF{\"a\": 1}") == Value::parse("\xEF\xBB\xBF{\"a\": 1}"));
    flow::engine::JsonMembers members;
    CHECK(flow::engine::read_json_object("\xEF\xBB\xBF {\"a\": 1}", members) == flow::engine::ObjectRead::Ok);
    CHECK_FALSE(read_json("\xEF\xBB").has_value());                // a broken mark is no mark
    CHECK_FALSE(read_json("1 \xEF\xBB\xBF").has_value());          // nor is one after the value
    CHECK_THROWS(std::ignore = Value::parse("1 \xEF\xBB\xBF"));
}

TEST_CASE("reading JSON: nesting is bounded, so that nothing after it recurses without limit") {
    CHECK(read_json(nested(flow::engine::max_json_depth)).has_value());
    CHECK(refusal(nested(flow::engine::max_json_depth + 1)).find("nested more than 512") != std::string::npos);
    CHECK(refusal(std::string(100000, '[')).find("nested more than 512") != std::string::npos);
}

TEST_CASE("reading an object's members: in order, nested values whole, the last repeated key found") {
    flow::engine::JsonMembers members;
    using flow::engine::ObjectRead;
    REQUIRE(flow::engine::read_json_object(R"({"type": "Go", "data": {"a": [1, {"b": [2, 3]}], "c": {}}, "type": "Stop", "n": -1})",
                                           members) == ObjectRead::Ok);
    REQUIRE(members.size() == 4);
    CHECK(members[0].first == "type");
    CHECK(members[1].second == Value::parse(R"({"a": [1, {"b": [2, 3]}], "c": {}})"));
    CHECK(*flow::engine::member(members, "type") == "Stop");
    CHECK(flow::engine::member(members, "n")->is_number_integer());
    CHECK(flow::engine::member(members, "missing") == nullptr);

    // Many members: the vector grows while values are added, and nested ones stay intact.
    std::string wide = "{";
    for (int i = 0; i < 100; ++i) wide += (i ? ", \"k" : "\"k") + std::to_string(i) + "\": {\"list\": [" + std::to_string(i) + "]}";
    wide += "}";
    members.clear();
    REQUIRE(flow::engine::read_json_object(wide, members) == ObjectRead::Ok);
    REQUIRE(members.size() == 100);
    CHECK((*flow::engine::member(members, "k73"))["list"][0] == 73);

    std::string error;
    members.clear();
    CHECK(flow::engine::read_json_object("[1, 2]", members, &error) == ObjectRead::NotAnObject);
    CHECK(error == "not an object");
    CHECK(flow::engine::read_json_object("\"text\"", members) == ObjectRead::NotAnObject);
    CHECK(flow::engine::read_json_object("{\"a\": 1", members, &error) == ObjectRead::NotJson);
    CHECK_FALSE(error.empty());
    CHECK(flow::engine::read_json_object("{} {}", members) == ObjectRead::NotJson);
}

TEST_CASE("reading stored JSON: what flowd writes reads back, what nests deeper than it writes is refused") {
    auto nested = [](std::size_t depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); };
    using flow::engine::max_stored_json_depth;
    using flow::engine::read_stored_json;
    // A variable nested as deep as a handler may build it, inside the list of variables.
    const Value vars = read_stored_json("[" + nested(flow::engine::max_json_depth) + "]");
    REQUIRE_FALSE(vars.is_discarded());
    CHECK(vars.dump() == "[" + nested(flow::engine::max_json_depth) + "]");
    CHECK_FALSE(read_stored_json(nested(max_stored_json_depth)).is_discarded());
    CHECK(read_stored_json(nested(max_stored_json_depth + 1)).is_discarded());
    CHECK(read_stored_json(std::string(100000, '[')).is_discarded());  // nlohmann takes it, and its copies recurse
    CHECK(read_stored_json("not json").is_discarded());
    CHECK(read_stored_json(R"({"a": [1, 2.5, "x", null]})") == Value::parse(R"({"a": [1, 2.5, "x", null]})"));
}
