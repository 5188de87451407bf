// libFuzzer target: the JSON reader against nlohmann's parser, which it replaced on the
// simulator's input. Any bytes: both must accept or both refuse, and what they read must be
// the same value with the same text. Three differences are allowed, all where the reader is the
// stricter: nesting past max_json_depth; a NUL byte outside strings, where nlohmann stops reading
// as if the text ended (so it accepts `1<NUL>garbage`; RFC 8259 does not); and an exponent too
// long for Boost.JSON's parser (more than about nine digits: nlohmann reads 1e-99999999999 as 0).
#include "runtime/engine/json_reader.hpp"
#include "tests/same_kinds.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {


// Nesting depth of arrays and objects outside strings (enough to tell the limit apart).
std::size_t depth_of(std::string_view text) {
    std::size_t depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') in_string = true;
        else if (c == '[' || c == '{') deepest = std::max(deepest, ++depth);
        else if ((c == ']' || c == '}') && depth > 0) --depth;
    }
    return deepest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string error;
    std::optional<flow::Value> ours = flow::engine::read_json(text, &error);
    flow::Value theirs = flow::Value::parse(text, nullptr, false);
    if (theirs.is_discarded()) {
        if (ours) __builtin_trap();  // accepted what nlohmann refuses
        return 0;
    }
    if (!ours) {
        if (depth_of(text) > flow::engine::max_json_depth || text.find('\0') != std::string_view::npos ||
            error.rfind("exponent overflow", 0) == 0)
            return 0;
        __builtin_trap();  // refused what nlohmann accepts
    }
    if (!flow::test::same_kinds(*ours, theirs) || ours->dump() != theirs.dump()) __builtin_trap();

    flow::engine::JsonMembers members;
    flow::engine::ObjectRead read = flow::engine::read_json_object(text, members);
    if ((read == flow::engine::ObjectRead::Ok) != theirs.is_object()) __builtin_trap();
    if (read == flow::engine::ObjectRead::Ok) {
        flow::Value rebuilt = flow::Value::object();
        for (auto& [key, value] : members) rebuilt[key] = std::move(value);
        if (!(rebuilt == theirs)) __builtin_trap();
    }
    return 0;
}
