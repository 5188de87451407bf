// Expressions: precedence, name resolution, static typing and the choice of operator.
#include "dsl/checker.hpp"
#include "dsl/suggestion.hpp"

#include "dsl/string_escapes.hpp"
#include "stdlib/chrono.hpp"
#include "stdlib/functions.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <utility>

namespace flow {

namespace x3 = boost::spirit::x3;

namespace {

// Binding strength of the binary operators; `not` (4) and unary minus bind as documented.
int precedence(const std::string& op) {
    if (op == "??") return 1;
    if (op == "or") return 2;
    if (op == "and") return 3;
    if (op == "==" || op == "!=") return 5;
    if (op == "<" || op == "<=" || op == ">" || op == ">=") return 6;
    if (op == "+" || op == "-") return 7;
    return 8;  // * / %
}
constexpr int not_precedence = 4;

// "an int", "a string": a type's name with its article, for messages.
std::string with_article(const Type& type) {
    std::string name = type.to_string();
    bool vowel = !name.empty() && std::string("aeiouAEIOU").find(name[0]) != std::string::npos;
    return (vowel ? "an " : "a ") + name;
}

// Whether a duration literal's units come largest first, each once (`1d2h`, not `2h1d`): when
// they do and the literal is still refused, its value is too large.
bool units_in_order(const std::string& text) {
    static const std::array<std::string_view, 5> units = {"d", "h", "m", "s", "ms"};
    std::size_t at = 0, next_unit = 0;
    while (at < text.size()) {
        std::size_t digits = at;
        while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
        if (digits == at) return false;
        std::size_t unit = next_unit;
        // "ms" before "m", or "5ms" would read as 5 minutes and an "s".
        if (text.compare(digits, 2, "ms") == 0) unit = 4;
        else if (digits < text.size()) {
            for (unit = 0; unit < 4 && text.compare(digits, 1, units[unit]) != 0; ++unit) {}
            if (unit == 4) return false;
        }
        if (unit < next_unit) return false;
        next_unit = unit + 1;
        at = digits + units[unit].size();
    }
    return true;
}

ir::Expr typed_error(ir::Position at) {
    ir::Expr e;
    e.type = Type::error();
    e.position = at;
    return e;
}

}  // namespace

// `-9223372036854775808`, the least int, is written as '-' before a literal that alone does not
// fit in 64 bits; this tells whether a '-' stands before that literal, with nothing after it.
namespace {
bool is_minimum_int_magnitude(const ast::Postfix& p) {
    const auto* literal = boost::get<ast::IntLiteral>(&p.primary);
    return literal && p.suffixes.empty() && literal->digits == "9223372036854775808";
}
}  // namespace

// Folds the flat operator chain of an ast::Expression by precedence (precedence climbing).
class ExpressionFolder {
public:
    ExpressionFolder(const ast::Expression& e, std::function<ir::Expr(const ast::Unary&, std::size_t)> operand_at_prefix,
                     std::function<ir::Expr(const std::string&, ir::Expr, ir::Expr, const ast::Operation&)> combine,
                     std::function<ir::Expr(ir::Expr, const ast::Unary&)> apply_not,
                     std::function<ir::Expr(ir::Expr, const ast::Unary&)> apply_minus,
                     std::function<ir::Expr(const ast::Unary&)> minimum_int)
        : e_(e), operand_(std::move(operand_at_prefix)), combine_(std::move(combine)),
          not_(std::move(apply_not)), minus_(std::move(apply_minus)), minimum_int_(std::move(minimum_int)) {}

    ir::Expr fold() {
        std::size_t i = 0;
        return climb(i, 0, 0);
    }

private:
    const ast::Unary& unary_at(std::size_t i) const { return i == 0 ? e_.first : e_.rest[i - 1].operand; }

    ir::Expr operand(std::size_t& i, std::size_t prefix) {
        const ast::Unary& u = unary_at(i);
        if (prefix < u.operators.size()) {
            if (u.operators[prefix] == "not") return not_(climb(i, prefix + 1, not_precedence + 1), u);
            if (prefix + 1 == u.operators.size() && is_minimum_int_magnitude(u.operand)) return minimum_int_(u);
            return minus_(operand(i, prefix + 1), u);
        }
        return operand_(u, prefix);
    }

    ir::Expr climb(std::size_t& i, std::size_t prefix, int min_precedence) {
        ir::Expr lhs = operand(i, prefix);
        while (i < e_.rest.size()) {
            const ast::Operation& operation = e_.rest[i];
            int p = precedence(operation.op);
            if (p < min_precedence) break;
            ++i;
            ir::Expr rhs = climb(i, 0, p + 1);
            lhs = combine_(operation.op, std::move(lhs), std::move(rhs), operation);
        }
        return lhs;
    }

    const ast::Expression& e_;
    std::function<ir::Expr(const ast::Unary&, std::size_t)> operand_;
    std::function<ir::Expr(const std::string&, ir::Expr, ir::Expr, const ast::Operation&)> combine_;
    std::function<ir::Expr(ir::Expr, const ast::Unary&)> not_;
    std::function<ir::Expr(ir::Expr, const ast::Unary&)> minus_;
    std::function<ir::Expr(const ast::Unary&)> minimum_int_;
};

// The most operations (operators, prefix operators, field accesses, indexes, calls) along one
// path through nested expressions: far beyond any real condition, well within the stack.
constexpr int max_expression_depth = 1000;

ir::Expr Checker::expression(const ast::Expression& e, Scope& scope) {
    int file = scope.file;
    std::size_t operations = e.rest.size();
    auto count_unary = [&](const ast::Unary& u) { operations += u.operators.size() + u.operand.suffixes.size(); };
    count_unary(e.first);
    for (const ast::Operation& o : e.rest) count_unary(o.operand);
    if (static_cast<std::size_t>(expression_depth_) + operations + 1 > static_cast<std::size_t>(max_expression_depth)) {
        diagnostics_.error(Span{&source(file), e.id_first, e.id_first + 1},
                           "this expression is too deep: " + std::to_string(max_expression_depth) +
                               " or more operations along one path; split it with 'let'");
        return typed_error(position(e, file));
    }
    struct Deeper {
        int& depth;
        int by;
        ~Deeper() { depth -= by; }
    } deeper{expression_depth_, static_cast<int>(operations + 1)};
    expression_depth_ += deeper.by;
    ExpressionFolder folder(
        e, [&](const ast::Unary& u, std::size_t) { return postfix(u.operand, scope); },
        [&](const std::string& op, ir::Expr lhs, ir::Expr rhs, const ast::Operation& at) {
            Span where{&source(file), at.id_first, at.id_first + static_cast<int>(op.size())};
            ir::Expr result = binary(op, std::move(lhs), std::move(rhs), where);
            result.position = position(at, file);
            return result;
        },
        [&](ir::Expr operand, const ast::Unary& u) {
            if (operand.type.is_error()) return operand;
            if (!operand.type.is(Type::Kind::Bool)) {
                diagnostics_.error(Span{&source(file), u.id_first, u.id_first + 3},
                                   "'not' needs a bool, got " + operand.type.to_string());
                return typed_error(operand.position);
            }
            ir::Expr out;
            out.op = ir::Op::Not;
            out.type = Type::boolean();
            out.position = position(u, file);
            out.args.push_back(std::move(operand));
            return out;
        },
        [&](ir::Expr operand, const ast::Unary& u) {
            if (operand.type.is_error()) return operand;
            ir::Expr out;
            out.type = operand.type;
            out.position = position(u, file);
            switch (operand.type.kind()) {
            case Type::Kind::Int: out.op = ir::Op::NegateInt; break;
            case Type::Kind::Number: out.op = ir::Op::NegateNumber; break;
            case Type::Kind::Duration: out.op = ir::Op::NegateDuration; break;
            default:
                diagnostics_.error(Span{&source(file), u.id_first, u.id_first + 1},
                                   "unary '-' needs an int, number or duration, got " + operand.type.to_string());
                return typed_error(operand.position);
            }
            out.args.push_back(std::move(operand));
            return out;
        },
        [&](const ast::Unary& u) {
            ir::Expr out;
            out.op = ir::Op::Literal;
            out.type = Type::integer();
            out.literal = std::numeric_limits<std::int64_t>::min();
            out.position = position(u, file);
            return out;
        });
    return folder.fold();
}

ir::Expr Checker::condition(const ast::Expression& e, Scope& scope, const char* what) {
    ir::Expr c = expression(e, scope);
    if (!c.type.is_error() && !c.type.is(Type::Kind::Bool)) {
        diagnostics_.error(span(e, scope.file), std::string(what) + " must be a bool, got " + c.type.to_string());
        return typed_error(c.position);
    }
    return c;
}

ir::Expr Checker::binary(const std::string& op, ir::Expr lhs, ir::Expr rhs, const Span& where) {
    const Type a = lhs.type;
    const Type b = rhs.type;
    if (a.is_error() || b.is_error()) return typed_error(lhs.position);
    ir::Expr out;
    out.operand_type = a;
    auto make = [&](ir::Op o, Type t, bool swap = false) {
        out.op = o;
        out.type = std::move(t);
        if (swap) std::swap(lhs, rhs);
        out.args.push_back(std::move(lhs));
        out.args.push_back(std::move(rhs));
        return std::move(out);
    };
    auto refuse = [&](std::string hint) {
        if (hint.empty() && (a.is_optional() || b.is_optional() || a.is(Type::Kind::Null) || b.is(Type::Kind::Null)))
            hint = ": a value that may be absent needs a default first (x ?? default)";
        diagnostics_.error(where, "operator '" + op + "' cannot combine " + a.to_string() + " and " + b.to_string() + hint);
        return typed_error(lhs.position);
    };
    auto both = [&](Type::Kind k) { return a.is(k) && b.is(k); };
    bool numeric = a.is_numeric() && b.is_numeric();
    using K = Type::Kind;

    if (op == "??") {
        Type left = a.required();
        if (a.is(K::Null)) return make(ir::Op::Coalesce, b);
        Type shared;
        if (!unify(left, b, shared))
            // `??` binds loosest of all: `x ?? 1 == 1` reads as `x ?? (1 == 1)`.
            return refuse(": the default must be " + std::string(left.is(K::Int) || left.is(K::Error) ? "an " : "a ") +
                          left.to_string() + (b.is(K::Bool) ? "; '?\?' binds last, so write (x ?? default) == y" : ""));
        return make(ir::Op::Coalesce, shared);
    }
    if (op == "and" || op == "or") {
        if (!both(K::Bool)) return refuse(": both sides must be bool");
        return make(op == "and" ? ir::Op::And : ir::Op::Or, Type::boolean());
    }
    if (op == "==" || op == "!=") {
        Type shared;
        if (!unify(a, b, shared)) return refuse("");
        out.operand_type = shared;
        return make(op == "==" ? ir::Op::Equal : ir::Op::NotEqual, Type::boolean());
    }
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
        bool ordered = numeric || both(K::String) || both(K::Time) || both(K::Duration);
        if (!ordered) {
            const auto orderable = [](const Type& t) {
                return t.is(K::Int) || t.is(K::Number) || t.is(K::String) || t.is(K::Time) || t.is(K::Duration);
            };
            if (a.is_optional() || b.is_optional()) return refuse("");
            if (orderable(a) && orderable(b)) return refuse(": only values of one kind are ordered (numbers with numbers, times with times, …)");
            return refuse(": only numbers, strings, times and durations are ordered");
        }
        out.operand_type = numeric ? (both(K::Int) ? Type::integer() : Type::number()) : a;
        ir::Op o = op == "<" ? ir::Op::Less : op == "<=" ? ir::Op::LessEqual : op == ">" ? ir::Op::Greater : ir::Op::GreaterEqual;
        return make(o, Type::boolean());
    }
    if (op == "+") {
        if (both(K::Int)) return make(ir::Op::AddInt, Type::integer());
        if (numeric) return make(ir::Op::AddNumber, Type::number());
        if (both(K::String)) return make(ir::Op::Concat, Type::string());
        if (a.is(K::Time) && b.is(K::Duration)) return make(ir::Op::AddTimeDuration, Type::time());
        if (a.is(K::Duration) && b.is(K::Time)) return make(ir::Op::AddTimeDuration, Type::time(), true);
        if (both(K::Duration)) return make(ir::Op::AddDuration, Type::duration());
        if (a.is(K::String) || b.is(K::String))
            return refuse(a.is_optional() || b.is_optional()
                              ? ""
                              : ": convert the " + (a.is(K::String) ? b : a).to_string() + " to a string with str()");
        return refuse("");
    }
    if (op == "-") {
        if (both(K::Int)) return make(ir::Op::SubInt, Type::integer());
        if (numeric) return make(ir::Op::SubNumber, Type::number());
        if (a.is(K::Time) && b.is(K::Duration)) return make(ir::Op::SubTimeDuration, Type::time());
        if (both(K::Time)) return make(ir::Op::SubTimes, Type::duration());
        if (both(K::Duration)) return make(ir::Op::SubDuration, Type::duration());
        return refuse("");
    }
    if (op == "*") {
        if (both(K::Int)) return make(ir::Op::MulInt, Type::integer());
        if (numeric) return make(ir::Op::MulNumber, Type::number());
        if (a.is(K::Duration) && b.is(K::Int)) return make(ir::Op::MulDurationInt, Type::duration());
        if (a.is(K::Int) && b.is(K::Duration)) return make(ir::Op::MulDurationInt, Type::duration(), true);
        return refuse("");
    }
    if (op == "/") {
        if (both(K::Int)) return make(ir::Op::DivInt, Type::integer());
        if (numeric) return make(ir::Op::DivNumber, Type::number());
        if (a.is(K::Duration) && b.is(K::Int)) return make(ir::Op::DivDurationInt, Type::duration());
        return refuse("");
    }
    // %
    if (both(K::Int)) return make(ir::Op::ModInt, Type::integer());
    if (numeric) return make(ir::Op::ModNumber, Type::number());
    return refuse("");
}

ir::Expr Checker::postfix(const ast::Postfix& p, Scope& scope) {
    int file = scope.file;
    std::size_t first_suffix = 0;
    ir::Expr current;
    const ast::Name* callee = boost::get<ast::Name>(&p.primary);
    if (callee && !p.suffixes.empty() && boost::get<x3::forward_ast<ast::CallArguments>>(&p.suffixes[0])) {
        current = call(*callee, boost::get<x3::forward_ast<ast::CallArguments>>(p.suffixes[0]).get(), scope);
        first_suffix = 1;
    } else {
        current = primary(p.primary, scope);
    }
    for (std::size_t i = first_suffix; i < p.suffixes.size(); ++i) {
        if (current.type.is_error()) return current;
        const ast::Suffix& suffix = p.suffixes[i];
        if (const auto* access = boost::get<ast::FieldAccess>(&suffix)) {
            const Type& t = current.type;
            ir::Expr out;
            out.op = ir::Op::Field;
            out.name = access->field.text;
            out.position = position(access->field, file);
            if (t.is(Type::Kind::Json)) {
                out.type = Type::json();
            } else if (t.is(Type::Kind::Record)) {
                const ir::Record* record = program_.record(t.record_name());
                const ir::FieldDecl* field = record ? record->field(access->field.text) : nullptr;
                if (!field) {
                    diagnostics_.error(span(access->field, file),
                                       "unknown field: '" + t.record_name() + "' has no field '" + access->field.text + "'");
                    return typed_error(out.position);
                }
                out.type = field->type;
            } else if (t.is_optional()) {
                diagnostics_.error(span(access->field, file), "cannot read '." + access->field.text + "' of " +
                                                                  with_article(t) + " that may be absent: give a default with ?? first");
                return typed_error(out.position);
            } else {
                diagnostics_.error(span(access->field, file), with_article(t) + " has no fields ('." + access->field.text + "')");
                return typed_error(out.position);
            }
            out.args.push_back(std::move(current));
            current = std::move(out);
        } else if (const auto* index = boost::get<x3::forward_ast<ast::IndexAccess>>(&suffix)) {
            ir::Expr at = expression(index->get().index, scope);
            ir::Expr out;
            out.op = ir::Op::Index;
            out.position = position(index->get(), file);
            const Type& t = current.type;
            if (at.type.is_error()) return typed_error(out.position);
            // A list takes an int index; a json value an int or a string.
            auto indexable_by_at = [&](const Type& container) {
                return (container.is(Type::Kind::List) && at.type.is(Type::Kind::Int)) ||
                       (container.is(Type::Kind::Json) && (at.type.is(Type::Kind::Int) || at.type.is(Type::Kind::String)));
            };
            if (indexable_by_at(t)) {
                out.type = t.is(Type::Kind::List) ? t.element() : Type::json();
            } else if (t.is_optional() && indexable_by_at(t.required())) {
                // Only the `?` is wrong: said alone, so that the default given is the last fix.
                diagnostics_.error(span(index->get(), file), "cannot index " + with_article(t) +
                                                                 " that may be absent: give a default with ?? first");
                return typed_error(out.position);
            } else {
                diagnostics_.error(span(index->get(), file), "cannot index " + with_article(t) + " with " + with_article(at.type) +
                                                                 ": lists take an int index");
                return typed_error(out.position);
            }
            out.args.push_back(std::move(current));
            out.args.push_back(std::move(at));
            current = std::move(out);
        } else {
            const auto& args = boost::get<x3::forward_ast<ast::CallArguments>>(suffix).get();
            diagnostics_.error(span(args, file), "only functions can be called; this is " + with_article(current.type));
            return typed_error(current.position);
        }
    }
    return current;
}

ir::Expr Checker::call(const ast::Name& function, const ast::CallArguments& arguments, Scope& scope) {
    ir::Expr out;
    out.op = ir::Op::Call;
    out.position = position(function, scope.file);
    bool failed = false;
    for (const ast::Expression& argument : arguments.arguments) {
        out.args.push_back(expression(argument, scope));
        out.arg_types.push_back(out.args.back().type);
        failed = failed || out.arg_types.back().is_error();
    }
    if (!stdlib::is_function(function.text)) {
        std::vector<std::string_view> functions;
        for (int id = 0; !stdlib::overload_name(id).empty(); ++id) {
            const std::string_view name = stdlib::overload_name(id);
            functions.push_back(name.substr(0, name.find(':')));
        }
        diagnostics_.error(span(function, scope.file),
                           "unknown function '" + function.text + "'" + did_you_mean(closest_name(function.text, functions)));
        return typed_error(out.position);
    }
    if (failed) return typed_error(out.position);
    auto resolved = stdlib::resolve(function.text, out.arg_types);
    if (const auto* message = std::get_if<std::string>(&resolved)) {
        // At the one argument whose type is at fault, when only one is (a value of any type
        // there would do); at the function's name otherwise (a wrong count, or several).
        std::vector<Type> candidates = {Type::string(), Type::integer(), Type::number(), Type::boolean(), Type::time(),
                                        Type::duration(), Type::json(), Type::list(Type::never())};
        for (const Type& t : out.arg_types) {
            candidates.push_back(t.required());
            candidates.push_back(Type::list(t.required()));
            if (t.required().is(Type::Kind::List)) candidates.push_back(t.required().element());
        }
        auto fixable_alone = [&](std::size_t i) {
            std::vector<Type> args = out.arg_types;
            for (const Type& candidate : candidates) {
                args[i] = candidate;
                if (std::holds_alternative<stdlib::Overload>(stdlib::resolve(function.text, args))) return true;
            }
            return false;
        };
        std::optional<std::size_t> culprit;
        for (std::size_t i = 0; i < out.arg_types.size(); ++i) {
            if (!fixable_alone(i)) continue;
            if (culprit) {
                culprit.reset();
                break;
            }
            culprit = i;
        }
        diagnostics_.error(culprit ? span(arguments.arguments[*culprit], scope.file) : span(function, scope.file), *message);
        return typed_error(out.position);
    }
    const auto& overload = std::get<stdlib::Overload>(resolved);
    // A layout written out that could only ever format "" is a mistake found now rather than
    // an empty string found in production. A warning, not an error: it runs without a fault, and
    // a version stored by an older flowd that holds one must still compile for its instances.
    if (function.text == "format_time" && out.args.size() == 2 && out.args[1].op == ir::Op::Literal &&
        out.args[1].literal.is_string()) {
        if (auto problem = chrono::layout_problem(out.args[1].literal.get_ref<const std::string&>()))
            diagnostics_.warning(span(arguments.arguments[1], scope.file), "format_time layout: " + *problem);
    }
    out.slot = overload.id;
    out.type = overload.result;
    out.name = function.text;
    return out;
}

ir::Expr Checker::name_reference(const ast::Name& n, Scope& scope) {
    ir::Expr out;
    out.position = position(n, scope.file);
    if (const Local* local = scope.locals.newest(n.text)) {
        out.op = ir::Op::Local;
        out.slot = local->slot;
        out.type = local->type;
        return out;
    }
    ir::Workflow& w = *scope.workflow;
    if (n.text == "key") {
        out.op = ir::Op::Key;
        out.type = w.key_type;
        return out;
    }
    int var = w.var_index(n.text);
    if (var >= 0 && (scope.context != Scope::Context::Initializer || var < scope.visible_vars)) {
        auto v = static_cast<std::size_t>(var);
        out.op = ir::Op::Var;
        out.slot = var;
        out.type = w.vars[v].type;
        if (v < var_read_.size()) var_read_[v] = true;
        return out;
    }
    std::string message = "unknown name '" + n.text + "'";
    if (var >= 0) {
        // An initializer that reads a variable declared after it: named as such, and the
        // variable counts as read (no "never read" warning on top of this error).
        message = var == scope.visible_vars
                      ? "variable '" + n.text + "' cannot read itself in its own initializer"
                      : "variable '" + n.text + "' is declared after this one: an initializer reads only the variables declared before it";
        if (static_cast<std::size_t>(var) < var_read_.size()) var_read_[static_cast<std::size_t>(var)] = true;
    } else if (stdlib::is_function(n.text)) message = "'" + n.text + "' is a function: call it as " + n.text + "(…)";
    else if (declared_.count(n.text)) message = "'" + n.text + "' is a declaration, not a value";
    diagnostics_.error(span(n, scope.file), message);
    return typed_error(out.position);
}

ir::Expr Checker::primary(const ast::Primary& p, Scope& scope) {
    int file = scope.file;
    ir::Expr out;
    out.op = ir::Op::Literal;
    if (const auto* v = boost::get<ast::NullLiteral>(&p)) {
        out.type = Type::null();
        out.position = position(*v, file);
    } else if (const auto* b = boost::get<ast::BoolLiteral>(&p)) {
        out.type = Type::boolean();
        out.literal = b->value;
        out.position = position(*b, file);
    } else if (const auto* i = boost::get<ast::IntLiteral>(&p)) {
        std::int64_t value = 0;
        auto [end, error] = std::from_chars(i->digits.data(), i->digits.data() + i->digits.size(), value);
        out.position = position(*i, file);
        if (error != std::errc()) {
            diagnostics_.error(span(*i, file), "integer " + i->digits + " does not fit in 64 bits");
            return typed_error(out.position);
        }
        out.type = Type::integer();
        out.literal = value;
    } else if (const auto* d = boost::get<ast::NumberLiteral>(&p)) {
        double value = 0;
        // The nearest double, as number() reads a string; beyond the range either way (1.0e999,
        // or 1.0e-400, which would underflow to 0) is refused, as number() refuses it.
        auto [end, error] = std::from_chars(d->text.data(), d->text.data() + d->text.size(), value);
        out.position = position(*d, file);
        if (error != std::errc() || !std::isfinite(value)) {
            diagnostics_.error(span(*d, file), "number " + d->text + " is out of the number range (a 64-bit float)");
            return typed_error(out.position);
        }
        out.type = Type::number();
        out.literal = value;
    } else if (const auto* s = boost::get<ast::StringLiteral>(&p)) {
        out.position = position(*s, file);
        std::optional<std::string> text = unescape(s->value);
        if (!text) return typed_error(out.position);  // the parser reported the escape
        out.type = Type::string();
        out.literal = *text;
    } else if (const auto* du = boost::get<ast::DurationLiteral>(&p)) {
        out.position = position(*du, file);
        std::optional<std::int64_t> ms = chrono::parse_duration(du->text);
        if (!ms) {
            diagnostics_.error(span(*du, file), "invalid duration '" + du->text + "': " +
                                                    (units_in_order(du->text) ? "too large for 64-bit milliseconds"
                                                                              : "units (d h m s ms) go from largest to smallest, each once"));
            return typed_error(out.position);
        }
        out.type = Type::duration();
        out.literal = *ms;
    } else if (const auto* r = boost::get<x3::forward_ast<ast::RecordLiteral>>(&p)) {
        return record_literal(r->get(), scope);
    } else if (const auto* l = boost::get<x3::forward_ast<ast::ListLiteral>>(&p)) {
        return list_literal(l->get(), scope, std::exchange(list_context_, nullptr));
    } else if (const auto* inner = boost::get<x3::forward_ast<ast::Parenthesized>>(&p)) {
        return expression(inner->get().inner, scope);
    } else {
        return name_reference(boost::get<ast::Name>(p), scope);
    }
    return out;
}

ir::Expr Checker::record_literal(const ast::RecordLiteral& r, Scope& scope) {
    const ir::Record* record = find_record(r.type, scope.file, ir::Record::Kind::Type, "type");
    if (!record) {
        for (const ast::FieldValue& field : r.fields) expression(field.value, scope);
        return typed_error(position(r, scope.file));
    }
    return field_values(*record, r.type, r.fields, scope);
}

ir::Expr Checker::expression_as(const ast::Expression& e, const Type& expected, Scope& scope) {
    const bool list_alone = e.rest.empty() && e.first.operators.empty() && e.first.operand.suffixes.empty() &&
                            boost::get<x3::forward_ast<ast::ListLiteral>>(&e.first.operand.primary) != nullptr;
    const Type& wanted = expected.required();
    if (list_alone && (wanted.is(Type::Kind::Json) || wanted.is(Type::Kind::List))) list_context_ = &expected;
    ir::Expr out = expression(e, scope);  // with its depth limit; the literal takes list_context_ first
    list_context_ = nullptr;              // not taken when the expression was refused before it
    return out;
}

ir::Expr Checker::list_literal(const ast::ListLiteral& l, Scope& scope, const Type* context) {
    ir::Expr out;
    out.op = ir::Op::MakeList;
    out.position = position(l, scope.file);
    // Where a json or a list<json> is expected, elements that share no type make a list<json>,
    // each stored as its JSON form. Elsewhere they share one type. (Elements that share one keep
    // it, so that a program valid before compiles to the same IR.)
    const Type element_context = !context                                  ? Type::never()
                                 : context->required().is(Type::Kind::Json) ? Type::json()
                                                                            : context->required().element();
    const bool any_elements = element_context.is(Type::Kind::Json);
    Type element = Type::never();
    bool failed = false;
    for (const ast::Expression& e : l.elements) {
        ir::Expr value = context ? expression_as(e, element_context, scope) : expression(e, scope);
        if (value.type.is_error()) {
            failed = true;
        } else {
            Type shared;
            if (unify(element, value.type, shared)) {
                element = shared;
            } else if (any_elements) {
                element = Type::json();
            } else {
                diagnostics_.error(span(e, scope.file), "the elements of a list share one type: this " +
                                                            value.type.to_string() + " follows " + element.to_string());
                failed = true;
            }
        }
        out.args.push_back(std::move(value));
    }
    if (failed) return typed_error(out.position);
    out.type = Type::list(element);
    return out;
}

ir::Expr Checker::field_values(const ir::Record& record, const ast::Name& type_name,
                               const std::vector<ast::FieldValue>& fields, Scope& scope) {
    int file = scope.file;
    const char* kind = record.kind == ir::Record::Kind::Command ? "command" : "type";
    std::map<std::string, ir::Expr> given;
    bool failed = false;
    for (const ast::FieldValue& fv : fields) {
        const ir::FieldDecl* field = record.field(fv.name.text);
        ir::Expr value = field ? expression_as(fv.value, field->type, scope) : expression(fv.value, scope);
        if (!field) {
            diagnostics_.error(span(fv.name, file), "unknown field: " + std::string(kind) + " '" + record.name + "' has no field '" + fv.name.text + "'");
            failed = true;
            continue;
        }
        if (given.count(fv.name.text)) {
            diagnostics_.error(span(fv.name, file), "duplicate field '" + fv.name.text + "': it is given twice");
            failed = true;
            continue;
        }
        if (!field->optional && field->type.is(Type::Kind::Json) &&
            (value.type.is(Type::Kind::Null) || value.type.is_optional())) {
            // null leaves a field out: a required one would be missing from the value.
            diagnostics_.error(span(fv.value, file),
                               "field '" + fv.name.text + "' of '" + record.name + "' is required, and " +
                                   (value.type.is(Type::Kind::Null)
                                        ? std::string("null would leave it out: declare it '") + fv.name.text + "?: json'"
                                        : "this " + value.type.to_string() +
                                              " may be absent: give a default with ?? (x ?? default)"));
            failed = true;
            given.emplace(fv.name.text, typed_error(value.position));
            continue;
        }
        value = coerce(std::move(value), field->type, span(fv.value, file), "field '" + fv.name.text + "' of '" + record.name + "'");
        failed = failed || value.type.is_error();
        given.emplace(fv.name.text, std::move(value));
    }
    std::vector<std::string> missing;
    for (const ir::FieldDecl& field : record.fields)
        if (!field.optional && !given.count(field.name)) missing.push_back("'" + field.name + "'");
    if (!missing.empty()) {
        std::string list;
        for (std::size_t i = 0; i < missing.size(); ++i) list += (i ? ", " : "") + missing[i];
        diagnostics_.error(span(type_name, file), std::string(kind) + " '" + record.name + "' is missing the required field" +
                                                      (missing.size() > 1 ? "s " : " ") + list);
        failed = true;
    }
    ir::Expr out;
    out.position = position(type_name, file);
    if (failed) return typed_error(out.position);
    out.op = ir::Op::MakeRecord;
    out.type = Type::record(record.name);
    out.name = record.name;
    for (const ir::FieldDecl& field : record.fields) {
        auto it = given.find(field.name);
        if (it == given.end()) continue;
        out.names.push_back(field.name);
        out.args.push_back(std::move(it->second));
    }
    return out;
}

ir::Expr Checker::coerce(ir::Expr value, const Type& to, const Span& where, const std::string& what) {
    if (value.type.is_error() || to.is_error()) return value;
    if (!assignable(to, value.type)) {
        std::string message = "expected " + to.to_string() + " for " + what + ", got " + value.type.to_string();
        if (value.type.is_optional() && assignable(to, value.type.required()))
            message += ": it may be absent, so give a default with ?? (x ?? default)";
        else if (value.type.is(Type::Kind::Null))
            message += ": null fits only an optional type (" + to.to_string() + "?)";
        else if (to.is(Type::Kind::String) && !value.type.is(Type::Kind::String))
            message += ": convert it with str()";
        diagnostics_.error(where, message);
        return typed_error(value.position);
    }
    if (to.required().is(Type::Kind::Json) && !value.type.required().is(Type::Kind::Json) &&
        !value.type.is(Type::Kind::Null)) {
        ir::Expr wrapped;
        wrapped.op = ir::Op::ToWire;
        wrapped.type = Type::json();
        wrapped.position = value.position;
        wrapped.operand_type = value.type;
        wrapped.args.push_back(std::move(value));
        return wrapped;
    }
    return value;
}

}  // namespace flow
