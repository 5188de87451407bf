// Expression evaluation. Operators were chosen by the checker from the static types, so
// each case here knows the representation of its operands (see stdlib/value.hpp).
#include "runtime/engine/execution.hpp"
#include "runtime/engine/json_reader.hpp"

#include "stdlib/chrono.hpp"
#include "stdlib/compare.hpp"
#include "stdlib/functions.hpp"

#include <cmath>

namespace flow::engine {

namespace {

std::int64_t as_int(const Value& v) { return v.get<std::int64_t>(); }
double as_number(const Value& v) { return v.get<double>(); }

[[noreturn]] void fail_at(const ir::Expr& e, std::string message) { throw PositionedError{std::move(message), e.position}; }

// What a built value takes: how deep it nests arrays and objects, and about how many bytes it
// holds (each value and member name counted, strings by their length). The walk stops as soon as
// either is past its bound.
struct Measure {
    bool too_deep = false;
    std::size_t bytes = 0;
};

void measure(const Value& value, std::size_t levels, Measure& m) {
    m.bytes += sizeof(Value);
    if (value.is_string()) m.bytes += value.get_ref<const std::string&>().size();
    if (!value.is_structured() || m.too_deep || m.bytes > max_value_bytes) return;
    if (levels == 0) {
        m.too_deep = true;
        return;
    }
    if (value.is_object())
        for (const auto& [name, inner] : value.items()) {
            m.bytes += name.size();
            measure(inner, levels - 1, m);
            if (m.too_deep || m.bytes > max_value_bytes) return;
        }
    else
        for (const Value& inner : value) {
            measure(inner, levels - 1, m);
            if (m.too_deep || m.bytes > max_value_bytes) return;
        }
}

// A value a handler builds (a record or list literal, a `json` wrapping, a function's result)
// may hold an earlier value of itself: a record type that refers to itself, or `json`. Repeated,
// that nests without end, and every later copy, write or read of the value recurses as deep.
// Such a value is held to the depth an event's JSON may have (max_json_depth). Built from copies
// of itself (`[a, a]`, `append(xs, xs)`), it doubles at each step: it is held to
// max_value_bytes too.
void check_built(const ir::Expr& e, const Value& value, std::size_t levels = max_json_depth) {
    Measure m;
    measure(value, levels, m);
    if (m.too_deep)
        fail_at(e, "a value nested more than " + std::to_string(max_json_depth) +
                       " deep: a record or list that holds an earlier value of itself, again and again");
    if (m.bytes > max_value_bytes)
        fail_at(e, "a value larger than " + std::to_string(max_value_bytes) +
                       " bytes: a list or record built from copies of itself, again and again");
}

Value within_bounds(const ir::Expr& e, Value value) {
    if (value.is_structured()) check_built(e, value);
    return value;
}

// The operation's result, or a runtime error when it overflowed.
template <typename Operation>
std::int64_t checked(const ir::Expr& e, std::int64_t a, std::int64_t b, Operation operation) {
    std::int64_t result = 0;
    if (operation(a, b, &result)) fail_at(e, "integer overflow");
    return result;
}
constexpr auto add = [](std::int64_t a, std::int64_t b, std::int64_t* r) { return __builtin_add_overflow(a, b, r); };
constexpr auto subtract = [](std::int64_t a, std::int64_t b, std::int64_t* r) { return __builtin_sub_overflow(a, b, r); };
constexpr auto multiply = [](std::int64_t a, std::int64_t b, std::int64_t* r) { return __builtin_mul_overflow(a, b, r); };

[[noreturn]] void time_out_of_range(const ir::Expr& e) {
    fail_at(e, "time out of range: times run from 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z");
}

// A time that RFC 3339 can write, or a runtime error (never a value clamped on the wire).
std::int64_t writable_time(const ir::Expr& e, std::int64_t epoch_ms) {
    if (!chrono::in_rfc3339_range(epoch_ms)) time_out_of_range(e);
    return epoch_ms;
}

// `time ± duration`: a time past the range, even one past 64 bits of milliseconds, is out of it.
template <class Operation>
std::int64_t moved_time(const ir::Expr& e, std::int64_t time, std::int64_t duration, Operation operation) {
    std::int64_t result = 0;
    if (operation(time, duration, &result)) time_out_of_range(e);
    return writable_time(e, result);
}

double finite(const ir::Expr& e, double result) {
    if (!std::isfinite(result)) fail_at(e, "number overflow");
    return result;
}

}  // namespace

Value widened(Value value, const Type& to) {
    const Type slot = to.required();
    if (slot.is(Type::Kind::Number)) {
        if (value.is_number_integer())
            return value.is_number_unsigned() ? Value(static_cast<double>(value.get<std::uint64_t>()))
                                              : Value(static_cast<double>(value.get<std::int64_t>()));
    } else if (slot.is(Type::Kind::List) && value.is_array()) {
        for (Value& element : value) element = widened(std::move(element), slot.element());
    }
    return value;
}

bool may_widen(const Type& from, const Type& to) {
    if (from == to) return false;
    const Type slot = to.required();
    if (slot.is(Type::Kind::Number)) return true;
    return slot.is(Type::Kind::List) && may_widen(from.required().is(Type::Kind::List) ? from.required().element() : from,
                                                  slot.element());
}

bool takes_wire_form(const Type& from, const Type& to) {
    using K = Type::Kind;
    if (from == to) return false;
    const Type slot = to.required();
    const Type value = from.required();
    if (slot.is(K::Json)) return value.is(K::Time) || value.is(K::Duration) || value.is(K::Record) || value.is(K::List);
    return slot.is(K::List) && value.is(K::List) && takes_wire_form(value.element(), slot.element());
}

Value Execution::fitted(Value value, const Type& from, const Type& to) const {
    if (takes_wire_form(from, to)) return codec_.encode(std::move(value), from);
    return may_widen(from, to) ? widened(std::move(value), to) : std::move(value);
}

void Execution::fit_list_arguments(const ir::Expr& call, std::vector<Value>& args) const {
    static const int append = stdlib::overload_by_name("append");
    static const int contains = stdlib::overload_by_name("contains:list");
    if ((call.slot != append && call.slot != contains) || args.size() != 2) return;
    const Type list = call.slot == append ? call.type.required() : call.arg_types[0].required();
    if (!list.is(Type::Kind::List)) return;
    args[1] = fitted(std::move(args[1]), call.arg_types[1], list.element());
    if (call.slot == append) args[0] = fitted(std::move(args[0]), call.arg_types[0], list);
    // contains([now()], j) with j a json: the list's times are compared as j would hold them.
    if (call.slot == contains && takes_wire_form(list.element(), call.arg_types[1]))
        args[0] = codec_.encode(std::move(args[0]), list);
}

const Value* Execution::place(const ir::Expr& e, Locals& locals) {
    switch (e.op) {
    case ir::Op::Key: return &instance_.key;
    case ir::Op::Var: return &instance_.vars[static_cast<std::size_t>(e.slot)];
    case ir::Op::Local: {
        static const Value no_event;
        if (e.slot == locals.binding) return locals.event ? locals.event : &no_event;
        return &locals.slots[static_cast<std::size_t>(e.slot)];
    }
    case ir::Op::Field: {
        const Value* record = place(e.args[0], locals);
        if (!record || !record->is_object()) return nullptr;
        auto found = record->find(e.name);
        static const Value absent;
        return found == record->end() ? &absent : &*found;
    }
    default: return nullptr;
    }
}

bool Execution::appended_in_place(const ir::Stmt& assignment, Locals& locals) {
    static const int append = stdlib::overload_by_name("append");
    const ir::Expr& call = assignment.value;
    if (call.op != ir::Op::Call || call.slot != append || call.args[0].op != ir::Op::Var || call.args[0].slot != assignment.slot)
        return false;
    const auto slot = static_cast<std::size_t>(assignment.slot);
    if (!instance_.vars[slot].is_array()) return false;
    // As append() on a copy, then the assignment: the element takes the list's element type,
    // and the list may nest no deeper than a value may (the list itself is within that already).
    Value element = fitted(eval(call.args[1], locals), call.args[1].type, workflow_.vars[slot].type.required().element());
    if (element.is_structured()) check_built(call, element, max_json_depth - 1);
    if (instance_.vars[slot].size() + 1 > max_list_elements) fail_at(call, list_too_long(instance_.vars[slot].size() + 1));
    append_to(slot, std::move(element));
    return true;
}

Value Execution::eval(const ir::Expr& e, Locals& locals) {
    using O = ir::Op;
    switch (e.op) {
    case O::Literal: return e.literal;
    case O::Key:
    case O::Var:
    case O::Local: return *place(e, locals);
    case O::Field: {
        if (const Value* known = place(e, locals)) return *known;
        Value record = eval(e.args[0], locals);
        if (record.is_null()) return nullptr;
        if (!record.is_object()) fail_at(e, "cannot read field '" + e.name + "' of a JSON " + std::string(record.type_name()));
        auto found = record.find(e.name);
        return found == record.end() ? Value() : std::move(*found);
    }
    case O::Index: {
        Value container = eval(e.args[0], locals);
        Value index = eval(e.args[1], locals);
        if (index.is_string()) {
            if (container.is_null()) return nullptr;  // as `j.field` of null: a member of nothing
            if (!container.is_object()) fail_at(e, "cannot index a JSON " + std::string(container.type_name()) + " with a string");
            auto found = container.find(index.get<std::string>());
            return found == container.end() ? Value() : std::move(*found);
        }
        if (!container.is_array()) fail_at(e, "cannot index a JSON " + std::string(container.type_name()) + " with an int");
        std::int64_t i = as_int(index);
        if (i < 0 || static_cast<std::uint64_t>(i) >= container.size())
            fail_at(e, "index " + std::to_string(i) + " out of range for a list of " + std::to_string(container.size()));
        return std::move(container[static_cast<std::size_t>(i)]);
    }
    case O::Call: {
        std::vector<Value> args;
        args.reserve(e.args.size());
        for (const ir::Expr& a : e.args) args.push_back(eval(a, locals));
        fit_list_arguments(e, args);
        stdlib::CallContext context{clock_.now_ms, instance_.id, &instance_.uuid_counter, &codec_};
        try {
            Value result = stdlib::call(e.slot, args, e.arg_types, context);
            if (!result.is_structured()) return result;
            // append(list<number>, int) and the like: the int becomes the list's double.
            if (e.type.required().is(Type::Kind::List)) result = widened(std::move(result), e.type);
            return within_bounds(e, std::move(result));
        } catch (const RuntimeError& error) {
            fail_at(e, error.what());
        }
    }
    case O::MakeRecord: {
        Value out = Value::object();
        for (std::size_t i = 0; i < e.args.size(); ++i) {
            Value v = eval(e.args[i], locals);
            if (!v.is_null()) {
                if (v.is_number() || v.is_array()) {
                    // An int given for a number field (or in a list<number>) widens to the double it
                    // becomes; a time or duration in a list<json> takes its wire form.
                    const ir::Record* record = program_.record(e.name);
                    const ir::FieldDecl* field = record ? record->field(e.names[i]) : nullptr;
                    if (field) v = fitted(std::move(v), e.args[i].type, field->type);
                }
                out.emplace(e.names[i], std::move(v));
                continue;
            }
            // null leaves a field out; only a `json` value can be null where the field is
            // required (the checker refuses a null or optional type there).
            const ir::Record* record = program_.record(e.name);
            const ir::FieldDecl* field = record ? record->field(e.names[i]) : nullptr;
            if (field && !field->optional)
                fail_at(e.args[i], "field '" + e.names[i] + "' of '" + e.name + "' is required, and its json value is null");
        }
        return within_bounds(e, std::move(out));
    }
    case O::MakeList: {
        Value out = Value::array();
        const Type& element = e.type.required().element();
        for (const ir::Expr& a : e.args) {
            Value v = eval(a, locals);
            out.push_back(fitted(std::move(v), a.type, element));
        }
        return within_bounds(e, std::move(out));
    }
    case O::ToWire: {
        Value wire = codec_.encode(eval(e.args[0], locals), e.operand_type);
        if (!wire.is_structured()) return wire;
        return within_bounds(e, std::move(wire));
    }
    case O::Not: return !eval(e.args[0], locals).get<bool>();
    case O::And: return eval(e.args[0], locals).get<bool>() && eval(e.args[1], locals).get<bool>();
    case O::Or: return eval(e.args[0], locals).get<bool>() || eval(e.args[1], locals).get<bool>();
    case O::Coalesce: {
        Value first = eval(e.args[0], locals);
        // `i ?? 0.5` with i an int?: the int becomes the number it widens to, as the default would.
        if (!first.is_null()) return fitted(std::move(first), e.args[0].type, e.type);
        Value fallback = eval(e.args[1], locals);  // `n ?? 0` with n a number?: 0 is a number then
        return fitted(std::move(fallback), e.args[1].type, e.type);
    }
    case O::NegateInt:
    case O::NegateDuration: return checked(e, 0, as_int(eval(e.args[0], locals)), subtract);
    case O::NegateNumber: return -as_number(eval(e.args[0], locals));
    default: return binary(e, locals);
    }
}

bool Execution::compare(const ir::Expr& e, const Value& a, const Value& b) {
    using O = ir::Op;
    if (e.op == O::Equal) return stdlib::values_equal(a, b);
    if (e.op == O::NotEqual) return !stdlib::values_equal(a, b);
    // Strings, or numbers, times and durations (held as numbers): the checker allows no other.
    const int order = a.is_string() ? a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>())
                                    : stdlib::compare_numbers(a, b);
    switch (e.op) {
    case O::Less: return order < 0;
    case O::LessEqual: return order <= 0;
    case O::Greater: return order > 0;
    default: return order >= 0;
    }
}

Value Execution::binary(const ir::Expr& e, Locals& locals) {
    using O = ir::Op;
    Value a = eval(e.args[0], locals);
    Value b = eval(e.args[1], locals);
    if (e.op == O::Equal || e.op == O::NotEqual) {
        // `j == now()` with j a json: the time compares in its wire form, as j would hold it; so
        // it does at any depth (`[j] == [now()]`, a list<json> beside a list<time>). Numbers are
        // not widened: an int and a number compare by exact value.
        if (takes_wire_form(e.args[0].type, e.operand_type)) a = codec_.encode(std::move(a), e.args[0].type);
        if (takes_wire_form(e.args[1].type, e.operand_type)) b = codec_.encode(std::move(b), e.args[1].type);
    }
    switch (e.op) {
    case O::Equal:
    case O::NotEqual:
    case O::Less:
    case O::LessEqual:
    case O::Greater:
    case O::GreaterEqual: return compare(e, a, b);
    case O::AddTimeDuration: return moved_time(e, as_int(a), as_int(b), add);
    case O::SubTimeDuration: return moved_time(e, as_int(a), as_int(b), subtract);
    case O::AddInt:
    case O::AddDuration: return checked(e, as_int(a), as_int(b), add);
    case O::SubInt:
    case O::SubTimes:
    case O::SubDuration: return checked(e, as_int(a), as_int(b), subtract);
    case O::MulInt:
    case O::MulDurationInt: return checked(e, as_int(a), as_int(b), multiply);
    case O::AddNumber: return finite(e, as_number(a) + as_number(b));
    case O::SubNumber: return finite(e, as_number(a) - as_number(b));
    case O::MulNumber: return finite(e, as_number(a) * as_number(b));
    case O::Concat: {
        const std::string& left = a.get_ref<const std::string&>();
        const std::string& right = b.get_ref<const std::string&>();
        if (left.size() + right.size() > max_string_bytes) fail_at(e, string_too_long(left.size() + right.size()));
        return left + right;
    }
    case O::DivInt:
    case O::DivDurationInt:
    case O::ModInt: {
        std::int64_t x = as_int(a), y = as_int(b);
        if (y == 0) fail_at(e, "division by zero");
        if (x == INT64_MIN && y == -1) {
            if (e.op == O::ModInt) return std::int64_t{0};
            fail_at(e, "integer overflow");
        }
        return e.op == O::ModInt ? x % y : x / y;
    }
    case O::DivNumber:
    case O::ModNumber: {
        double y = as_number(b);
        if (y == 0) fail_at(e, "division by zero");
        return finite(e, e.op == O::DivNumber ? as_number(a) / y : std::fmod(as_number(a), y));
    }
    default: fail_at(e, "internal error: unknown operator");
    }
}

}  // namespace flow::engine
