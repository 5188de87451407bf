#include "dsl/ir_json.hpp"

#include "stdlib/functions.hpp"

#include <cctype>
#include <cstdio>
#include <set>
#include <vector>

namespace flow {

using nlohmann::json;

namespace {

const char* op_name(ir::Op op) {
    switch (op) {
    case ir::Op::Literal: return "literal";
    case ir::Op::Key: return "key";
    case ir::Op::Var: return "var";
    case ir::Op::Local: return "local";
    case ir::Op::Field: return "field";
    case ir::Op::Index: return "index";
    case ir::Op::Call: return "call";
    case ir::Op::MakeRecord: return "record";
    case ir::Op::MakeList: return "list";
    case ir::Op::ToWire: return "to_json";
    case ir::Op::Not: return "not";
    case ir::Op::And: return "and";
    case ir::Op::Or: return "or";
    case ir::Op::Coalesce: return "coalesce";
    case ir::Op::Equal: return "eq";
    case ir::Op::NotEqual: return "ne";
    case ir::Op::Less: return "lt";
    case ir::Op::LessEqual: return "le";
    case ir::Op::Greater: return "gt";
    case ir::Op::GreaterEqual: return "ge";
    case ir::Op::NegateInt: return "neg_int";
    case ir::Op::NegateNumber: return "neg_number";
    case ir::Op::NegateDuration: return "neg_duration";
    case ir::Op::AddInt: return "add_int";
    case ir::Op::AddNumber: return "add_number";
    case ir::Op::Concat: return "concat";
    case ir::Op::AddTimeDuration: return "add_time_duration";
    case ir::Op::AddDuration: return "add_duration";
    case ir::Op::SubInt: return "sub_int";
    case ir::Op::SubNumber: return "sub_number";
    case ir::Op::SubTimeDuration: return "sub_time_duration";
    case ir::Op::SubTimes: return "sub_times";
    case ir::Op::SubDuration: return "sub_duration";
    case ir::Op::MulInt: return "mul_int";
    case ir::Op::MulNumber: return "mul_number";
    case ir::Op::MulDurationInt: return "mul_duration_int";
    case ir::Op::DivInt: return "div_int";
    case ir::Op::DivNumber: return "div_number";
    case ir::Op::DivDurationInt: return "div_duration_int";
    case ir::Op::ModInt: return "mod_int";
    case ir::Op::ModNumber: return "mod_number";
    }
    return "?";
}

json position(const ir::Position& p) { return json::array({p.line, p.column}); }

json expr(const ir::Expr& e) {
    json out = {{"op", op_name(e.op)}, {"type", e.type.to_string()}, {"at", position(e.position)}};
    switch (e.op) {
    case ir::Op::Literal: out["value"] = e.literal; break;
    case ir::Op::Var:
    case ir::Op::Local: out["slot"] = e.slot; break;
    case ir::Op::Field: out["field"] = e.name; break;
    case ir::Op::Call: out["function"] = std::string(stdlib::overload_name(e.slot)); break;
    case ir::Op::MakeRecord:
        out["record"] = e.name;
        out["fields"] = e.names;
        break;
    case ir::Op::Equal:
    case ir::Op::NotEqual:
    case ir::Op::Less:
    case ir::Op::LessEqual:
    case ir::Op::Greater:
    case ir::Op::GreaterEqual:
    case ir::Op::ToWire: out["operand_type"] = e.operand_type.to_string(); break;
    default: break;
    }
    if (!e.args.empty()) {
        json args = json::array();
        for (const ir::Expr& a : e.args) args.push_back(expr(a));
        out["args"] = std::move(args);
    }
    return out;
}

json block(const ir::Program& program, const ir::Workflow& w, const ir::Block& b);

json stmt(const ir::Program& program, const ir::Workflow& w, const ir::Stmt& s) {
    static const char* kinds[] = {"assign", "let", "emit", "compensate_with", "compensate",
                                  "if", "goto", "complete", "fail", "cancel"};
    json out = {{"stmt", kinds[static_cast<int>(s.kind)]}, {"at", position(s.position)}};
    switch (s.kind) {
    case ir::Stmt::Kind::Assign: out["var"] = s.slot; out["value"] = expr(s.value); break;
    case ir::Stmt::Kind::Let: out["slot"] = s.slot; out["value"] = expr(s.value); break;
    case ir::Stmt::Kind::Emit:
    case ir::Stmt::Kind::CompensateWith:
        out["command"] = s.slot >= 0 ? json(program.records[static_cast<std::size_t>(s.slot)].name) : json();
        out["value"] = expr(s.value);
        break;
    case ir::Stmt::Kind::Goto:
        out["state"] = s.slot >= 0 ? json(w.states[static_cast<std::size_t>(s.slot)].name) : json();
        break;
    case ir::Stmt::Kind::Fail: out["reason"] = expr(s.value); break;
    case ir::Stmt::Kind::If: {
        json branches = json::array();
        for (const ir::Branch& b : s.branches) branches.push_back({{"if", expr(b.condition)}, {"then", block(program, w, b.body)}});
        out["branches"] = std::move(branches);
        if (s.otherwise) out["else"] = block(program, w, *s.otherwise);
        break;
    }
    default: break;
    }
    return out;
}

json block(const ir::Program& program, const ir::Workflow& w, const ir::Block& b) {
    json out = json::array();
    for (const ir::Stmt& s : b) out.push_back(stmt(program, w, s));
    return out;
}

json handler(const ir::Program& program, const ir::Workflow& w, const ir::Handler& h) {
    json out = {{"at", position(h.position)}, {"locals", h.locals}, {"body", block(program, w, h.body)}};
    if (h.event >= 0) out["event"] = program.records[static_cast<std::size_t>(h.event)].name;
    if (h.binding >= 0) out["binding"] = h.binding;
    if (h.guard) out["guard"] = expr(*h.guard);
    return out;
}

json record(const ir::Record& r) {
    static const char* kinds[] = {"type", "event", "command"};
    json fields = json::array();
    for (const ir::FieldDecl& f : r.fields)
        fields.push_back({{"name", f.name}, {"type", f.type.to_string()}, {"optional", f.optional}});
    json out = {{"kind", kinds[static_cast<int>(r.kind)]}, {"name", r.name}, {"fields", std::move(fields)}};
    if (!r.external_name.empty()) out["external_name"] = r.external_name;
    if (!r.target.empty()) out["target"] = r.target;
    return out;
}

json workflow_body(const ir::Program& program, const ir::Workflow& w) {
    json vars = json::array();
    for (const ir::Var& v : w.vars) vars.push_back({{"name", v.name}, {"type", v.type.to_string()}, {"init", expr(v.initializer)}});
    json starts = json::array();
    for (const ir::Handler& h : w.starts) starts.push_back(handler(program, w, h));
    json handlers = json::array();
    for (const ir::Handler& h : w.handlers) handlers.push_back(handler(program, w, h));
    json states = json::array();
    for (const ir::State& s : w.states) {
        json state_handlers = json::array();
        for (const ir::Handler& h : s.handlers) state_handlers.push_back(handler(program, w, h));
        json timers = json::array();
        for (const ir::Timer& t : s.timers)
            timers.push_back({{"kind", t.kind == ir::Timer::Kind::After ? "after" : "at"},
                              {"when", expr(t.when)},
                              {"handler", handler(program, w, t.handler)}});
        states.push_back({{"name", s.name},
                          {"entry", handler(program, w, s.entry)},
                          {"handlers", std::move(state_handlers)},
                          {"timers", std::move(timers)}});
    }
    json correlation = json::object();
    for (const auto& [event, path] : w.key_paths) correlation[program.records[static_cast<std::size_t>(event)].name] = path;
    json out = {{"name", w.name},
                {"version", w.version},
                {"file", w.file},
                {"key", {{"name", w.key_name}, {"type", w.key_type.to_string()}}},
                {"correlation", std::move(correlation)},
                {"vars", std::move(vars)},
                {"initializer_locals", w.initializer_locals},
                {"starts", std::move(starts)},
                {"states", std::move(states)},
                {"handlers", std::move(handlers)},
                {"targets", w.targets}};
    if (w.on_cancel) out["on_cancel"] = handler(program, w, *w.on_cancel);
    return out;
}

std::uint64_t fnv1a(const std::string& text) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (unsigned char c : text) {
        hash ^= c;
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

}  // namespace

json to_json(const ir::Program& program, const ir::Workflow& w) {
    json out = workflow_body(program, w);
    out["hash"] = w.hash;
    return out;
}

json to_json(const ir::Program& program) {
    json records = json::array();
    for (const ir::Record& r : program.records) records.push_back(record(r));
    json workflows = json::array();
    for (const ir::Workflow& w : program.workflows) workflows.push_back(to_json(program, w));
    return {{"format", "flow-ir/1"}, {"records", std::move(records)}, {"workflows", std::move(workflows)}};
}

namespace {

// Source positions say where, not what: a comment added above a workflow changes no
// behaviour, so positions are left out of the hash.
void strip_positions(json& value) {
    if (value.is_object()) {
        value.erase("at");
        for (auto& [key, inner] : value.items()) strip_positions(inner);
    } else if (value.is_array()) {
        for (json& inner : value) strip_positions(inner);
    }
}

// Adds to `names` the records named in a string of the compiled form ("Money", "list<Line>",
// "PaymentRef?"), and, through their fields, the records those name. A work list rather than
// recursion: a chain of records, each holding the next, may be tens of thousands long.
void add_named_records(const ir::Program& program, const std::string& type_text, std::set<std::string>& names) {
    std::vector<std::string> to_read{type_text};
    while (!to_read.empty()) {
        const std::string text = std::move(to_read.back());
        to_read.pop_back();
        std::size_t i = 0;
        while (i < text.size()) {
            while (i < text.size() && !(std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_')) ++i;
            std::size_t start = i;
            while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_')) ++i;
            if (i == start) continue;
            const ir::Record* r = program.record(std::string_view(text).substr(start, i - start));
            if (!r || !names.insert(r->name).second) continue;
            for (const ir::FieldDecl& f : r->fields) to_read.push_back(f.type.to_string());
        }
    }
}

// The records a workflow's compiled form refers to: handled events, emitted commands, record
// literals and every type written in it.
void used_records(const ir::Program& program, const json& value, std::set<std::string>& names) {
    if (value.is_object()) {
        for (const auto& [key, inner] : value.items()) {
            if (inner.is_string() && (key == "event" || key == "command" || key == "record" || key == "type" ||
                                      key == "operand_type"))
                add_named_records(program, inner.get_ref<const std::string&>(), names);
            else
                used_records(program, inner, names);
        }
    } else if (value.is_array()) {
        for (const json& inner : value) used_records(program, inner, names);
    }
}

}  // namespace

std::string content_hash(const ir::Program& program, const ir::Workflow& w) {
    constexpr auto replace = json::error_handler_t::replace;
    json body = workflow_body(program, w);
    body.erase("file");  // moving a file does not change what it does
    strip_positions(body);
    std::string text = body.dump(-1, ' ', false, replace);
    std::set<std::string> names;
    used_records(program, body, names);
    for (const std::string& name : names) text += record(*program.record(name)).dump(-1, ' ', false, replace);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(text)));
    return hex;
}

}  // namespace flow
