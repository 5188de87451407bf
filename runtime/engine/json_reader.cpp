#include "runtime/engine/json_reader.hpp"
#include "stdlib/utf8.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>

#include <charconv>
#include <cmath>
#include <vector>

namespace flow::engine {

namespace {

using boost::json::error_code;
using boost::json::string_view;

// Builds the Value as the parser reports what it reads. Open arrays and objects are kept on a
// stack of pointers; a container only grows after the ones inside it have closed, so the
// pointers stay valid. Given members, the top-level object's members go there instead (its
// place on the stack is a null pointer).
class ValueBuilder {
public:
    ValueBuilder() = default;
    explicit ValueBuilder(JsonMembers* members) : members_(members) {}

    static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

    Value& result() { return root_; }

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_array_begin(error_code&) {
        open_.push_back(&put(Value::array()));
        return true;
    }
    bool on_array_end(std::size_t, error_code&) {
        open_.pop_back();
        return true;
    }
    bool on_object_begin(error_code&) {
        open_.push_back(open_.empty() && members_ ? nullptr : &put(Value::object()));
        return true;
    }
    bool on_object_end(std::size_t, error_code&) {
        open_.pop_back();
        return true;
    }
    bool on_string_part(string_view s, std::size_t, error_code&) {
        text_.append(s.data(), s.size());
        return true;
    }
    bool on_string(string_view s, std::size_t, error_code&) {
        text_.append(s.data(), s.size());
        put(Value(std::move(text_)));
        text_.clear();
        return true;
    }
    bool on_key_part(string_view s, std::size_t, error_code&) {
        key_.append(s.data(), s.size());
        return true;
    }
    bool on_key(string_view s, std::size_t, error_code&) {
        key_.append(s.data(), s.size());
        return true;
    }
    bool on_number_part(string_view s, error_code&) {
        text_.append(s.data(), s.size());
        return true;
    }
    // Written without a minus sign, an integer is unsigned; with one, signed (`-0` too).
    bool on_int64(std::int64_t i, string_view s, error_code&) {
        bool minus = (text_.empty() ? s : string_view(text_)).starts_with('-');
        text_.clear();
        if (minus) put(Value(i));
        else put(Value(static_cast<std::uint64_t>(i)));
        return true;
    }
    bool on_uint64(std::uint64_t u, string_view, error_code&) {
        text_.clear();
        put(Value(u));
        return true;
    }
    // The parser's own conversion may be off by a unit in the last place; the text is read
    // again, exactly. As with nlohmann (strtod), a number too large for a double is refused and
    // one too small becomes zero, keeping its sign.
    bool on_double(double approximate, string_view s, error_code& ec) {
        text_.append(s.data(), s.size());
        double d = 0;
        auto [end, status] = std::from_chars(text_.data(), text_.data() + text_.size(), d);
        bool negative = !text_.empty() && text_.front() == '-';
        text_.clear();
        if (status == std::errc::result_out_of_range && std::isfinite(approximate) && std::fabs(approximate) < 1)
            d = negative ? -0.0 : 0.0;
        else if (status != std::errc() || !std::isfinite(d)) {
            number_too_large_ = true;
            ec = boost::json::error::exponent_overflow;
            return false;
        }
        put(Value(d));
        return true;
    }
    bool on_bool(bool b, error_code&) {
        put(Value(b));
        return true;
    }
    bool on_null(error_code&) {
        put(Value());
        return true;
    }
    bool on_comment_part(string_view, error_code&) { return true; }
    bool on_comment(string_view, error_code&) { return true; }

    bool number_too_large() const { return number_too_large_; }
    bool root_is_not_an_object() const { return root_is_not_an_object_; }

private:
    Value& put(Value v) {
        if (open_.empty()) {
            root_is_not_an_object_ = members_ != nullptr;
            root_ = std::move(v);
            return root_;
        }
        if (!open_.back()) {
            members_->emplace_back(std::move(key_), std::move(v));
            key_.clear();
            return members_->back().second;
        }
        Value& container = *open_.back();
        if (container.is_array()) {
            auto& array = container.get_ref<Value::array_t&>();
            array.push_back(std::move(v));
            return array.back();
        }
        auto& object = container.get_ref<Value::object_t&>();
        auto [at, inserted] = object.insert_or_assign(std::move(key_), std::move(v));
        key_.clear();
        return at->second;
    }

    Value root_;
    JsonMembers* members_ = nullptr;
    bool root_is_not_an_object_ = false;
    std::vector<Value*> open_;
    std::string key_;
    std::string text_;
    bool number_too_large_ = false;
};

boost::json::parse_options strict_options(std::size_t max_depth = max_json_depth) {
    boost::json::parse_options options;
    options.max_depth = max_depth;
    return options;
}

// Runs the parser over the whole text; false, with the reason, when it is not one JSON value.
// A UTF-8 byte order mark before the value is skipped, as nlohmann's parser skips it.
bool parse(boost::json::basic_parser<ValueBuilder>& parser, std::string_view text, std::string* error) {
    constexpr std::string_view bom = "\xEF\xBB\xBF";
    std::size_t skipped = text.substr(0, bom.size()) == bom ? bom.size() : 0;
    text.remove_prefix(skipped);
    error_code ec;
    std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
    if (!ec && used != text.size()) ec = boost::json::error::extra_data;
    if (!ec) return true;
    if (error) {
        if (parser.handler().number_too_large()) *error = "a number too large";
        else if (ec == boost::json::error::too_deep) *error = "nested more than " + std::to_string(max_json_depth) + " deep";
        else if (std::size_t bad = utf8::first_invalid(text); bad != std::string_view::npos && bad <= used)
            *error = "invalid UTF-8 at byte " + std::to_string(skipped + bad + 1);
        else *error = ec.message() + " at byte " + std::to_string(skipped + used + 1);
    }
    return false;
}

}  // namespace

std::optional<Value> read_json(std::string_view text, std::string* error) {
    boost::json::basic_parser<ValueBuilder> parser(strict_options());
    if (!parse(parser, text, error)) return std::nullopt;
    return std::move(parser.handler().result());
}

Value read_stored_json(std::string_view text) {
    boost::json::basic_parser<ValueBuilder> parser(strict_options(max_stored_json_depth));
    if (!parse(parser, text, nullptr)) return Value(Value::value_t::discarded);
    return std::move(parser.handler().result());
}

ObjectRead read_json_object(std::string_view text, JsonMembers& members, std::string* error) {
    boost::json::basic_parser<ValueBuilder> parser(strict_options(), &members);
    if (!parse(parser, text, error)) return ObjectRead::NotJson;
    if (parser.handler().root_is_not_an_object()) {
        if (error) *error = "not an object";
        return ObjectRead::NotAnObject;
    }
    return ObjectRead::Ok;
}

Value* member(JsonMembers& members, std::string_view key) {
    for (auto it = members.rbegin(); it != members.rend(); ++it)
        if (it->first == key) return &it->second;
    return nullptr;
}

}  // namespace flow::engine
