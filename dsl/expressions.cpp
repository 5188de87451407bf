// Expressions' names, calls, field accesses and indexes.
#include "dsl/checker.hpp"
#include "dsl/suggestion.hpp"
#include "stdlib/chrono.hpp"
#include "stdlib/functions.hpp"

#include <optional>
#include <utility>

namespace flow {

namespace x3 = boost::spirit::x3;

namespace {

// "an int", "a string": a type's name with its article, for messages.
std::string with_article(const Type& type) {
    std::string name = type.to_string();
    bool vowel = !name.empty() && std::string("aeiouAEIOU").find(name[0]) != std::string::npos;
    return (vowel ? "an " : "a ") + name;
}

}  // namespace

ir::Expr Checker::postfix(const ast::Postfix& p, Scope& scope) {
    int file = scope.file;
    std::size_t first_suffix = 0;
    ir::Expr current;
    const ast::Name* callee = boost::get<ast::Name>(&p.primary);
    if (callee && !p.suffixes.empty() && boost::get<x3::forward_ast<ast::CallArguments>>(&p.suffixes[0])) {
        current = call(*callee, boost::get<x3::forward_ast<ast::CallArguments>>(p.suffixes[0]).get(), scope);
        first_suffix = 1;
    } else {
        const auto* access = p.suffixes.empty() ? nullptr : boost::get<ast::FieldAccess>(&p.suffixes[0]);
        const ir::Record* event = callee && access && !scope.unbound_event.empty() ? program_.record(scope.unbound_event) : nullptr;
        scope.reads_unbound_event_field = event && event->field(access->field.text);
        current = primary(p.primary, scope);
        scope.reads_unbound_event_field = false;
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
                // What would do instead: the index's type for a list or json value, another way
                // for a string, and what can be indexed for anything else.
                const Type& kind = t.is_optional() ? t.required() : t;
                std::string fix = kind.is(Type::Kind::List)   ? "a list takes an int index"
                                  : kind.is(Type::Kind::Json) ? "a json value takes an int or a string index"
                                  : kind.is(Type::Kind::String) ? "a string is not indexed: take a part of it with substr(s, start, length)"
                                                                : "only a list or a json value can be indexed";
                diagnostics_.error(span(index->get(), file), "cannot index " + with_article(t) + " with " + with_article(at.type) + ": " + fix);
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
    else if (scope.reads_unbound_event_field)
        // `on Shipped { tracking = s.number }`: the event is read through the name `as` gives it.
        message += ": the handler's event has no name; to read it, name it with 'as', as in 'on " + scope.unbound_event +
                   " as " + n.text + "'";
    diagnostics_.error(span(n, scope.file), message);
    return typed_error(out.position);
}

}  // namespace flow
