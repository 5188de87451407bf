// Literals and the records of commands: numbers, text, times and durations, records and lists.
#include "dsl/checker.hpp"
#include "dsl/string_escapes.hpp"
#include "dsl/suggestion.hpp"
#include "stdlib/chrono.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <utility>

namespace flow {

namespace x3 = boost::spirit::x3;

namespace {

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

}  // namespace

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

}  // namespace flow
