#include "stdlib/functions.hpp"

#include "stdlib/arguments.hpp"
#include "stdlib/chrono.hpp"
#include "stdlib/compare.hpp"
#include "stdlib/derived_uuid.hpp"
#include "stdlib/display_text.hpp"
#include "stdlib/number_parsing.hpp"
#include "stdlib/unicode_text.hpp"
#include "stdlib/utf8.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

namespace flow::stdlib {

namespace {

using utf8::CodePoint;
using utf8::decode;

using Args = std::span<const Value>;
using Types = std::span<const Type>;

constexpr std::int64_t int_min = std::numeric_limits<std::int64_t>::min();

// A `number` rounded to an int by `rounding` (an int value passes unchanged).
Value rounded_to_int(const Value& value, double (*rounding)(double), std::string_view function) {
    if (value.is_number_integer()) return int_value(value);
    const double number = number_value(value);
    const auto result = integral_to_int(rounding(number));
    if (!result)
        throw RuntimeError("out of the int range: " + std::string(function) + "(" + format_double(number) + ")");
    return *result;
}

// ---- Implementations: one per overload ----

Value len_string(Args args, Types, CallContext&) {
    return count_code_points(string_value(args[0]));
}

Value len_list(Args args, Types, CallContext&) {
    return static_cast<std::int64_t>(list_value(args[0]).size());
}

Value str(Args args, Types types, CallContext& context) {
    std::string text = to_text(args[0], types.empty() ? Type::json() : types[0], context.records);
    check_string_size(text.size());
    return text;
}

Value int_from_string(Args args, Types, CallContext&) {
    return parse_int_text(string_value(args[0]));
}

Value int_from_int(Args args, Types, CallContext&) {
    return int_value(args[0]);
}

Value int_from_number(Args args, Types, CallContext&) {
    return rounded_to_int(args[0], [](double x) { return std::trunc(x); }, "int");
}

Value number_from_string(Args args, Types, CallContext&) {
    return parse_number_text(string_value(args[0]));
}

Value number_from_number(Args args, Types, CallContext&) {
    return number_value(args[0]);
}

Value upper(Args args, Types, CallContext&) {
    std::string text = map_code_points(string_value(args[0]), to_upper);
    check_string_size(text.size());
    return text;
}

Value lower(Args args, Types, CallContext&) {
    std::string text = map_code_points(string_value(args[0]), to_lower);
    check_string_size(text.size());
    return text;
}

Value trim(Args args, Types, CallContext&) {
    const std::string_view text = string_value(args[0]);
    std::size_t begin = text.size(), end = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        const CodePoint cp = decode(text, pos);
        if (!is_white_space(cp.value)) {
            begin = std::min(begin, pos);
            end = pos + cp.size;
        }
        pos += cp.size;
    }
    return begin < end ? std::string(text.substr(begin, end - begin)) : std::string();
}

Value contains_string(Args args, Types, CallContext&) {
    return string_value(args[0]).find(string_value(args[1])) != std::string::npos;
}

Value contains_list(Args args, Types, CallContext&) {
    for (const Value& element : list_value(args[0]))
        if (values_equal(element, args[1])) return true;
    return false;
}

Value starts_with(Args args, Types, CallContext&) {
    return std::string_view(string_value(args[0])).starts_with(string_value(args[1]));
}

Value ends_with(Args args, Types, CallContext&) {
    return std::string_view(string_value(args[0])).ends_with(string_value(args[1]));
}

Value substr(Args args, Types, CallContext&) {
    const std::string_view text = string_value(args[0]);
    const std::int64_t start = int_value(args[1]);
    const std::int64_t length = int_value(args[2]);
    if (length <= 0) return "";
    const std::size_t begin = advance(text, 0, std::max<std::int64_t>(start, 0));
    const std::size_t end = advance(text, begin, length);
    return std::string(text.substr(begin, end - begin));
}

Value replace(Args args, Types, CallContext&) {
    const std::string& text = string_value(args[0]);
    const std::string& from = string_value(args[1]);
    const std::string& to = string_value(args[2]);
    if (from.empty()) return text;
    std::size_t occurrences = 0;
    for (std::size_t found = text.find(from); found != std::string::npos; found = text.find(from, found + from.size()))
        ++occurrences;
    check_string_size(text.size() - occurrences * from.size() + occurrences * to.size());  // before it is built
    std::string out;
    std::size_t pos = 0;
    for (std::size_t found; (found = text.find(from, pos)) != std::string::npos; pos = found + from.size()) {
        out.append(text, pos, found - pos);
        out += to;
    }
    out.append(text, pos);
    return out;
}

Value split(Args args, Types, CallContext&) {
    const std::string_view text = string_value(args[0]);
    const std::string_view separator = string_value(args[1]);
    Value parts = Value::array();
    if (separator.empty()) {
        for (std::size_t pos = 0, size = 0; pos < text.size(); pos += size) {
            size = decode(text, pos).size;
            check_list_size(parts.size() + 1);
            parts.push_back(std::string(text.substr(pos, size)));
        }
        return parts;
    }
    std::size_t pos = 0;
    for (std::size_t found; (found = text.find(separator, pos)) != std::string_view::npos;
         pos = found + separator.size()) {
        check_list_size(parts.size() + 2);  // this part and the last
        parts.push_back(std::string(text.substr(pos, found - pos)));
    }
    parts.push_back(std::string(text.substr(pos)));
    return parts;
}

Value join(Args args, Types, CallContext&) {
    const std::string& separator = string_value(args[1]);
    const Value::array_t& parts = list_value(args[0]);
    std::size_t bytes = parts.empty() ? 0 : (parts.size() - 1) * separator.size();
    for (const Value& part : parts) bytes += string_value(part).size();
    check_string_size(bytes);  // before it is built
    std::string out;
    out.reserve(bytes);
    bool first = true;
    for (const Value& part : list_value(args[0])) {
        if (!first) out += separator;
        out += string_value(part);
        first = false;
    }
    return out;
}

Value append(Args args, Types, CallContext&) {
    check_list_size(list_value(args[0]).size() + 1);
    Value list = list_value(args[0]);
    list.push_back(args[1]);
    return list;
}

Value abs_int(Args args, Types, CallContext&) {
    const std::int64_t value = int_value(args[0]);
    if (value == int_min) throw RuntimeError("integer overflow: abs(" + std::to_string(value) + ")");
    return value < 0 ? -value : value;
}

Value abs_number(Args args, Types, CallContext&) {
    return std::fabs(number_value(args[0]));
}

Value min_int(Args args, Types, CallContext&) {
    return std::min(int_value(args[0]), int_value(args[1]));
}

Value min_number(Args args, Types, CallContext&) {
    return std::min(number_value(args[0]), number_value(args[1]));
}

Value max_int(Args args, Types, CallContext&) {
    return std::max(int_value(args[0]), int_value(args[1]));
}

Value max_number(Args args, Types, CallContext&) {
    return std::max(number_value(args[0]), number_value(args[1]));
}

Value round(Args args, Types, CallContext&) {
    return rounded_to_int(args[0], [](double x) { return std::round(x); }, "round");
}

Value floor(Args args, Types, CallContext&) {
    return rounded_to_int(args[0], [](double x) { return std::floor(x); }, "floor");
}

Value ceil(Args args, Types, CallContext&) {
    return rounded_to_int(args[0], [](double x) { return std::ceil(x); }, "ceil");
}

Value now(Args, Types, CallContext& ctx) {
    return ctx.now_ms;
}

Value format_time(Args args, Types, CallContext&) {
    return chrono::format_time(int_value(args[0]), string_value(args[1]));
}

Value parse_time(Args args, Types, CallContext&) {
    const std::string& text = string_value(args[0]);
    const auto time = chrono::parse_rfc3339(text);
    if (!time) throw RuntimeError("not an RFC 3339 time: " + quote_text(text));
    return *time;
}

// `count` units of `unit_ms` milliseconds as a duration.
Value duration_of(const Value& count, std::int64_t unit_ms, std::string_view function) {
    const auto out_of_range = [&](const std::string& shown) {
        return RuntimeError("out of the duration range: " + std::string(function) + "(" + shown + ")");
    };
    if (count.is_number_integer()) {
        const std::int64_t units = int_value(count);
        std::int64_t ms = 0;
        if (__builtin_mul_overflow(units, unit_ms, &ms)) throw out_of_range(std::to_string(units));
        return ms;
    }
    const double units = number_value(count);
    const auto ms = integral_to_int(std::round(units * static_cast<double>(unit_ms)));
    if (!ms) throw out_of_range(format_double(units));
    return *ms;
}

Value seconds(Args args, Types, CallContext&) {
    return duration_of(args[0], 1000, "seconds");
}

Value minutes(Args args, Types, CallContext&) {
    return duration_of(args[0], 60 * 1000, "minutes");
}

Value hours(Args args, Types, CallContext&) {
    return duration_of(args[0], 60 * 60 * 1000, "hours");
}

Value days(Args args, Types, CallContext&) {
    return duration_of(args[0], 24 * 60 * 60 * 1000, "days");
}

Value uuid(Args, Types, CallContext& ctx) {
    if (ctx.uuid_counter == nullptr) internal_error("uuid() called without a counter");
    return derived_uuid(ctx.instance_id, (*ctx.uuid_counter)++);
}

// ---- Signatures ----

enum class Param {
    String,
    Int,
    Number,      // int or number
    Time,
    Duration,
    List,        // list<T>: binds T
    Element,     // a value that shares a type with T, without making it optional
    StringList,  // list<string>
    Any,
};

enum class Result { String, Int, Number, Bool, Time, Duration, StringList, ElementList };

using Implementation = Value (*)(Args, Types, CallContext&);

struct Signature {
    std::string_view name;  // "function" or "function:variant"
    std::vector<Param> params;
    Result result;
    Implementation implementation;

    std::string_view function() const { return name.substr(0, name.find(':')); }
};

// In resolution order: the first signature that fits the arguments is chosen.
const std::vector<Signature>& signatures() {
    using P = Param;
    using R = Result;
    static const std::vector<Signature> table = {
        {"len:string", {P::String}, R::Int, len_string},
        {"len:list", {P::List}, R::Int, len_list},
        {"str", {P::Any}, R::String, str},
        {"int:string", {P::String}, R::Int, int_from_string},
        {"int:int", {P::Int}, R::Int, int_from_int},
        {"int:number", {P::Number}, R::Int, int_from_number},
        {"number:string", {P::String}, R::Number, number_from_string},
        {"number:number", {P::Number}, R::Number, number_from_number},
        {"upper", {P::String}, R::String, upper},
        {"lower", {P::String}, R::String, lower},
        {"trim", {P::String}, R::String, trim},
        {"contains:string", {P::String, P::String}, R::Bool, contains_string},
        {"contains:list", {P::List, P::Element}, R::Bool, contains_list},
        {"starts_with", {P::String, P::String}, R::Bool, starts_with},
        {"ends_with", {P::String, P::String}, R::Bool, ends_with},
        {"substr", {P::String, P::Int, P::Int}, R::String, substr},
        {"replace", {P::String, P::String, P::String}, R::String, replace},
        {"split", {P::String, P::String}, R::StringList, split},
        {"join", {P::StringList, P::String}, R::String, join},
        {"append", {P::List, P::Element}, R::ElementList, append},
        {"abs:int", {P::Int}, R::Int, abs_int},
        {"abs:number", {P::Number}, R::Number, abs_number},
        {"min:int", {P::Int, P::Int}, R::Int, min_int},
        {"min:number", {P::Number, P::Number}, R::Number, min_number},
        {"max:int", {P::Int, P::Int}, R::Int, max_int},
        {"max:number", {P::Number, P::Number}, R::Number, max_number},
        {"round", {P::Number}, R::Int, round},
        {"floor", {P::Number}, R::Int, floor},
        {"ceil", {P::Number}, R::Int, ceil},
        {"now", {}, R::Time, now},
        {"format_time", {P::Time, P::String}, R::String, format_time},
        {"parse_time", {P::String}, R::Time, parse_time},
        {"seconds", {P::Number}, R::Duration, seconds},
        {"minutes", {P::Number}, R::Duration, minutes},
        {"hours", {P::Number}, R::Duration, hours},
        {"days", {P::Number}, R::Duration, days},
        {"uuid", {}, R::String, uuid},
    };
    return table;
}

std::string_view param_name(Param param) {
    switch (param) {
        case Param::String: return "string";
        case Param::Int: return "int";
        case Param::Number: return "number";
        case Param::Time: return "time";
        case Param::Duration: return "duration";
        case Param::List: return "list<T>";
        case Param::StringList: return "list<string>";
        case Param::Element:
        case Param::Any: return "T";
    }
    return "?";
}

Type result_type(Result result, const Type& element) {
    switch (result) {
        case Result::String: return Type::string();
        case Result::Int: return Type::integer();
        case Result::Number: return Type::number();
        case Result::Bool: return Type::boolean();
        case Result::Time: return Type::time();
        case Result::Duration: return Type::duration();
        case Result::StringList: return Type::list(Type::string());
        case Result::ElementList: return Type::list(element);
    }
    return Type::error();
}

// Whether `arg` may stand with the list's element type `element`; if so, `element`
// becomes the type they share.
bool fits_element(Type& element, const Type& arg) {
    Type shared;
    if (!unify(element, arg, shared)) return false;
    if (shared.is_optional() && !element.is_optional() && !element.is(Type::Kind::Never) && !element.is(Type::Kind::Null)) return false;
    element = shared;
    return true;
}

bool accepts(Param param, const Type& arg, Type& element) {
    using Kind = Type::Kind;
    switch (param) {
        case Param::String: return arg.is(Kind::String);
        case Param::Int: return arg.is(Kind::Int);
        case Param::Number: return arg.is_numeric();
        case Param::Time: return arg.is(Kind::Time);
        case Param::Duration: return arg.is(Kind::Duration);
        case Param::List:
            if (!arg.is(Kind::List)) return false;
            element = arg.element();
            return true;
        case Param::StringList:
            return arg.is(Kind::List) && (arg.element().is(Kind::String) || arg.element().is(Kind::Never));
        case Param::Element: return fits_element(element, arg);
        case Param::Any: return true;
    }
    return false;
}

// The result type when `signature` fits `args`.
std::optional<Type> match(const Signature& signature, Types args) {
    if (args.size() != signature.params.size()) return std::nullopt;
    Type element = Type::never();
    for (std::size_t i = 0; i < args.size(); ++i)
        if (!accepts(signature.params[i], args[i], element)) return std::nullopt;
    return result_type(signature.result, element);
}

std::vector<int> overloads_of(std::string_view function) {
    std::vector<int> ids;
    const auto& table = signatures();
    for (std::size_t id = 0; id < table.size(); ++id)
        if (table[id].function() == function) ids.push_back(static_cast<int>(id));
    return ids;
}

std::optional<Overload> first_match(const std::vector<int>& ids, Types args) {
    for (const int id : ids)
        if (auto result = match(signatures()[id], args)) return Overload{id, *result};
    return std::nullopt;
}

std::string parenthesized(std::span<const std::string> items) {
    std::string out = "(";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i > 0 ? ", " : "") + items[i];
    return out + ")";
}

// "len expects (string) or (list<T>), got (int)"
std::string mismatch_message(std::string_view function, const std::vector<int>& ids, Types args) {
    std::string message = std::string(function) + " expects ";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i > 0) message += i + 1 == ids.size() ? " or " : ", ";
        std::vector<std::string> params;
        for (const Param param : signatures()[ids[i]].params) params.emplace_back(param_name(param));
        message += parenthesized(params);
    }
    std::vector<std::string> given;
    for (const Type& arg : args) given.push_back(arg.to_string());
    return message + ", got " + parenthesized(given);
}

// Whether the call would resolve with every optional argument made required.
bool fits_once_required(const std::vector<int>& ids, Types args) {
    std::vector<Type> required;
    bool any_optional = false;
    for (const Type& arg : args) {
        any_optional = any_optional || arg.is_optional();
        required.push_back(arg.required());
    }
    return any_optional && first_match(ids, required).has_value();
}

}  // namespace

bool is_function(std::string_view name) {
    return !overloads_of(name).empty();
}

std::variant<Overload, std::string> resolve(std::string_view name, std::span<const Type> args) {
    const std::vector<int> ids = overloads_of(name);
    if (ids.empty()) return "unknown function " + std::string(name);
    const bool any_error = std::any_of(args.begin(), args.end(), [](const Type& t) { return t.is_error(); });
    if (any_error) {
        for (const int id : ids)
            if (signatures()[id].params.size() == args.size()) return Overload{id, Type::error()};
    } else if (auto overload = first_match(ids, args)) {
        return *overload;
    }
    std::string message = mismatch_message(name, ids, args);
    if (!any_error && fits_once_required(ids, args))
        message += "; an optional value needs `??` to give it a default";
    return message;
}

std::string_view overload_name(int id) {
    const auto& table = signatures();
    return id >= 0 && static_cast<std::size_t>(id) < table.size() ? table[id].name : std::string_view();
}

int overload_by_name(std::string_view name) {
    const auto& table = signatures();
    for (std::size_t id = 0; id < table.size(); ++id)
        if (table[id].name == name) return static_cast<int>(id);
    return -1;
}

Value call(int id, std::span<const Value> args, std::span<const Type> arg_types, CallContext& ctx) {
    const std::string_view name = overload_name(id);
    if (name.empty()) internal_error("no function has the id " + std::to_string(id));
    const Signature& signature = signatures()[id];
    if (args.size() != signature.params.size())
        internal_error(std::string(name) + " called with " + std::to_string(args.size()) + " arguments");
    return signature.implementation(args, arg_types, ctx);
}

}  // namespace flow::stdlib
