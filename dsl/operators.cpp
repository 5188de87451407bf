// Expressions' operators: precedence, the typing and choice of each operator, and storing a
// value where a type is expected.
#include "dsl/checker.hpp"

#include <algorithm>
#include <functional>
#include <limits>
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

// `-9223372036854775808`, the least int, is written as '-' before a literal that alone does not
// fit in 64 bits; this tells whether a '-' stands before that literal, with nothing after it.
bool is_minimum_int_magnitude(const ast::Postfix& p) {
    const auto* literal = boost::get<ast::IntLiteral>(&p.primary);
    return literal && p.suffixes.empty() && literal->digits == "9223372036854775808";
}

// Where `u`'s prefix operator `index` starts: they are written one after another from the
// start of `u`, with white space or comments between (`not -x`, `- /* c */ -x`).
int prefix_operator_offset(std::string_view text, const ast::Unary& u, std::size_t index) {
    std::size_t at = static_cast<std::size_t>(std::max(u.id_first, 0));
    for (std::size_t k = 0; k < index; ++k) at = skip_blank(text, at + u.operators[k].size());
    return static_cast<int>(at);
}

// Folds the flat operator chain of an ast::Expression by precedence (precedence climbing).
class ExpressionFolder {
public:
    ExpressionFolder(const ast::Expression& e, std::function<ir::Expr(const ast::Unary&, std::size_t)> operand_at_prefix,
                     std::function<ir::Expr(const std::string&, ir::Expr, ir::Expr, const ast::Operation&)> combine,
                     std::function<ir::Expr(ir::Expr, const ast::Unary&, std::size_t)> apply_not,
                     std::function<ir::Expr(ir::Expr, const ast::Unary&, std::size_t)> apply_minus,
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
            if (u.operators[prefix] == "not") return not_(climb(i, prefix + 1, not_precedence + 1), u, prefix);
            if (prefix + 1 == u.operators.size() && is_minimum_int_magnitude(u.operand)) return minimum_int_(u);
            return minus_(operand(i, prefix + 1), u, prefix);
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
    std::function<ir::Expr(ir::Expr, const ast::Unary&, std::size_t)> not_;
    std::function<ir::Expr(ir::Expr, const ast::Unary&, std::size_t)> minus_;
    std::function<ir::Expr(const ast::Unary&)> minimum_int_;
};

// The most operations (operators, prefix operators, field accesses, indexes, calls) along one
// path through nested expressions: far beyond any real condition, well within the stack.
constexpr int max_expression_depth = 1000;

}  // namespace

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
        [&](ir::Expr operand, const ast::Unary& u, std::size_t prefix) {
            if (operand.type.is_error()) return operand;
            const int at = prefix_operator_offset(source(file).text(), u, prefix);
            if (!operand.type.is(Type::Kind::Bool)) {
                diagnostics_.error(Span{&source(file), at, at + 3}, "'not' needs a bool, got " + operand.type.to_string());
                return typed_error(operand.position);
            }
            ir::Expr out;
            out.op = ir::Op::Not;
            out.type = Type::boolean();
            out.position = position_at(at, file);
            out.args.push_back(std::move(operand));
            return out;
        },
        [&](ir::Expr operand, const ast::Unary& u, std::size_t prefix) {
            if (operand.type.is_error()) return operand;
            const int at = prefix_operator_offset(source(file).text(), u, prefix);
            ir::Expr out;
            out.type = operand.type;
            out.position = position_at(at, file);
            switch (operand.type.kind()) {
            case Type::Kind::Int: out.op = ir::Op::NegateInt; break;
            case Type::Kind::Number: out.op = ir::Op::NegateNumber; break;
            case Type::Kind::Duration: out.op = ir::Op::NegateDuration; break;
            default:
                diagnostics_.error(Span{&source(file), at, at + 1},
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

ir::Expr Checker::expression_as(const ast::Expression& e, const Type& expected, Scope& scope) {
    const bool list_alone = e.rest.empty() && e.first.operators.empty() && e.first.operand.suffixes.empty() &&
                            boost::get<x3::forward_ast<ast::ListLiteral>>(&e.first.operand.primary) != nullptr;
    const Type& wanted = expected.required();
    if (list_alone && (wanted.is(Type::Kind::Json) || wanted.is(Type::Kind::List))) list_context_ = &expected;
    ir::Expr out = expression(e, scope);  // with its depth limit; the literal takes list_context_ first
    list_context_ = nullptr;              // not taken when the expression was refused before it
    return out;
}

namespace {

// What `op` (a comparison or an arithmetic operator) is on operands of the types a and b: the
// operation, its result, the operands' common type, and whether they are swapped (`d + t` is
// `t + d`). Nothing when the language does not combine the two types.
struct Typing {
    ir::Op op;
    Type type;
    Type operand_type;
    bool swap = false;
};

std::optional<Typing> typing_of(const std::string& op, const Type& a, const Type& b) {
    using K = Type::Kind;
    const auto both = [&](K k) { return a.is(k) && b.is(k); };
    const bool numeric = a.is_numeric() && b.is_numeric();
    const Type numbers = both(K::Int) ? Type::integer() : Type::number();
    const auto of = [&](ir::Op o, Type t, bool swap = false) { return Typing{o, std::move(t), a, swap}; };
    if (op == "==" || op == "!=") {
        Type shared;
        if (!unify(a, b, shared)) return std::nullopt;
        return Typing{op == "==" ? ir::Op::Equal : ir::Op::NotEqual, Type::boolean(), shared};
    }
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
        if (!(numeric || both(K::String) || both(K::Time) || both(K::Duration))) return std::nullopt;
        const ir::Op o = op == "<" ? ir::Op::Less : op == "<=" ? ir::Op::LessEqual : op == ">" ? ir::Op::Greater : ir::Op::GreaterEqual;
        return Typing{o, Type::boolean(), numeric ? numbers : a};
    }
    if (op == "+") {
        if (both(K::Int)) return of(ir::Op::AddInt, Type::integer());
        if (numeric) return of(ir::Op::AddNumber, Type::number());
        if (both(K::String)) return of(ir::Op::Concat, Type::string());
        if (a.is(K::Time) && b.is(K::Duration)) return of(ir::Op::AddTimeDuration, Type::time());
        if (a.is(K::Duration) && b.is(K::Time)) return of(ir::Op::AddTimeDuration, Type::time(), true);
        if (both(K::Duration)) return of(ir::Op::AddDuration, Type::duration());
        return std::nullopt;
    }
    if (op == "-") {
        if (both(K::Int)) return of(ir::Op::SubInt, Type::integer());
        if (numeric) return of(ir::Op::SubNumber, Type::number());
        if (a.is(K::Time) && b.is(K::Duration)) return of(ir::Op::SubTimeDuration, Type::time());
        if (both(K::Time)) return of(ir::Op::SubTimes, Type::duration());
        if (both(K::Duration)) return of(ir::Op::SubDuration, Type::duration());
        return std::nullopt;
    }
    if (op == "*") {
        if (both(K::Int)) return of(ir::Op::MulInt, Type::integer());
        if (numeric) return of(ir::Op::MulNumber, Type::number());
        if (a.is(K::Duration) && b.is(K::Int)) return of(ir::Op::MulDurationInt, Type::duration());
        if (a.is(K::Int) && b.is(K::Duration)) return of(ir::Op::MulDurationInt, Type::duration(), true);
        return std::nullopt;
    }
    if (op == "/") {
        if (both(K::Int)) return of(ir::Op::DivInt, Type::integer());
        if (numeric) return of(ir::Op::DivNumber, Type::number());
        if (a.is(K::Duration) && b.is(K::Int)) return of(ir::Op::DivDurationInt, Type::duration());
        return std::nullopt;
    }
    // %
    if (both(K::Int)) return of(ir::Op::ModInt, Type::integer());
    if (numeric) return of(ir::Op::ModNumber, Type::number());
    return std::nullopt;
}

}  // namespace

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
    auto refuse = [&](const std::string& hint) {
        diagnostics_.error(where, "operator '" + op + "' cannot combine " + a.to_string() + " and " + b.to_string() + hint);
        return typed_error(lhs.position);
    };
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
        if (!(a.is(K::Bool) && b.is(K::Bool))) return refuse(": both sides must be bool");
        return make(op == "and" ? ir::Op::And : ir::Op::Or, Type::boolean());
    }
    if (auto typing = typing_of(op, a, b)) {
        out.operand_type = typing->operand_type;
        return make(typing->op, typing->type, typing->swap);
    }
    // Refused: say why, where there is more to say than the two types. A value that may be absent
    // is told to take a default only where its present value would do.
    if (a.is_optional() || b.is_optional()) {
        const bool would_do = !a.is(K::Null) && !b.is(K::Null) && typing_of(op, a.required(), b.required());
        return refuse(would_do ? ": a value that may be absent needs a default first (x ?? default)" : "");
    }
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
        const auto orderable = [](const Type& t) {
            return t.is(K::Int) || t.is(K::Number) || t.is(K::String) || t.is(K::Time) || t.is(K::Duration);
        };
        if (orderable(a) && orderable(b)) return refuse(": only values of one kind are ordered (numbers with numbers, times with times, …)");
        return refuse(": only numbers, strings, times and durations are ordered");
    }
    if (op == "+" && (a.is(K::String) || b.is(K::String)))
        return refuse(": convert the " + (a.is(K::String) ? b : a).to_string() + " to a string with str()");
    return refuse("");
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
