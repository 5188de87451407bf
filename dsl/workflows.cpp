// Workflows: the key, correlation, variables, start handlers, states, timers and the
// workflow-level handlers, checked and lowered into ir::Workflow.
#include "dsl/checker.hpp"

#include <charconv>

namespace flow {

namespace x3 = boost::spirit::x3;

ir::Handler Checker::handler(const ast::Handler& h, Scope::Context context, ir::Workflow& w, int file) {
    ir::Handler out;
    out.position = position(h, file);
    Scope scope;
    scope.context = context;
    scope.workflow = &w;
    scope.file = file;
    const ir::Record* event = find_record(h.event, file, ir::Record::Kind::Event, "event");
    if (event) {
        out.event = program_.record_by_name.at(event->name);
        correlation(*event, h.event, w, file);
    }
    if (h.alias) {
        if (h.alias->text == "key" || w.var_index(h.alias->text) >= 0)
            diagnostics_.error(span(*h.alias, file), "'" + h.alias->text + "' is already a variable of the workflow");
        out.binding = scope.next_slot++;
        scope.max_slots = scope.next_slot;
        scope.locals.push({h.alias->text, out.binding, event ? Type::record(event->name) : Type::error()});
    } else if (event) {
        scope.unbound_event = event->name;
    }
    if (h.guard) out.guard = condition(*h.guard, scope, "a 'when' guard");
    last_handler_ends_ = block(h.body, out.body, scope);
    out.locals = scope.max_slots;
    return out;
}

ir::Handler Checker::body_only(const std::vector<ast::Statement>& body, Scope::Context context, ir::Workflow& w,
                               int file, const Span& where) {
    ir::Handler out;
    LineColumn at = source(file).locate(static_cast<std::size_t>(std::max(where.begin, 0)));
    out.position = {at.line, at.column};
    Scope scope;
    scope.context = context;
    scope.workflow = &w;
    scope.file = file;
    block(body, out.body, scope);
    out.locals = scope.max_slots;
    return out;
}

void Checker::correlation(const ir::Record& event, const ast::Name& at, ir::Workflow& w, int file) {
    int index = program_.record_by_name.at(event.name);
    if (w.key_paths.count(index) || w.key_type.is_error()) return;
    auto explicit_path = correlate_paths_.find(event.name);
    std::vector<std::string> path;
    if (explicit_path != correlate_paths_.end()) {
        path = explicit_path->second;
        if (path.empty()) return;  // already reported at the `correlate` line
    } else {
        const ir::FieldDecl* field = event.field(w.key_name);
        if (field && field->type.mentions_error()) return;  // its unknown type is reported already
        if (!field || field->type.is_optional() || !(field->type == w.key_type)) {
            std::string why = !field ? "it has no field '" + w.key_name + "' to give the key"
                                     : "its field '" + w.key_name + "' has type " + field->type.to_string() +
                                           ", but the key has type " + w.key_type.to_string();
            diagnostics_.error(span(at, file), "event '" + event.name + "' cannot be correlated: " + why +
                                                   "; add 'correlate " + event.name + " by <field>' to the workflow");
            return;
        }
        path = {w.key_name};
    }
    w.key_paths[index] = std::move(path);
}

void Checker::state(const ast::State& s, ir::Workflow& w, int file, ir::State& out) {
    bool has_entry = false;
    std::vector<HandlerAt> handlers;
    for (const ast::StateMember& member : s.members) {
        if (const auto* entry = boost::get<ast::Entry>(&member)) {
            if (has_entry) diagnostics_.error(Span{&source(file), entry->id_first, entry->id_first + 5},
                                              "state '" + s.name.text + "' has a second 'entry' block");
            has_entry = true;
            out.entry = body_only(entry->body, Scope::Context::Entry, w, file, span(*entry, file));
        } else if (const auto* h = boost::get<ast::Handler>(&member)) {
            handlers.emplace_back(h, h->id_first);
            ir::Handler lowered = handler(*h, Scope::Context::Handler, w, file);
            if (lowered.event >= 0) out.handlers_by_event[lowered.event].push_back(static_cast<int>(out.handlers.size()));
            out.handlers.push_back(std::move(lowered));
        } else if (const auto* after = boost::get<ast::After>(&member)) {
            out.timers.push_back(timer(ir::Timer::Kind::After, after->delay, after->body, *after, w, file));
        } else {
            const auto& at = boost::get<ast::At>(member);
            out.timers.push_back(timer(ir::Timer::Kind::At, at.deadline, at.body, at, w, file));
        }
    }
    check_shadowing(handlers, file, ("state '" + s.name.text + "'").c_str());
}

ir::Timer Checker::timer(ir::Timer::Kind kind, const ast::Expression& when, const std::vector<ast::Statement>& body,
                         const boost::spirit::x3::position_tagged& node, ir::Workflow& w, int file) {
    ir::Timer timer;
    timer.kind = kind;
    Scope scope;
    scope.context = Scope::Context::Timer;
    scope.workflow = &w;
    scope.file = file;
    bool after = kind == ir::Timer::Kind::After;
    timer.when = coerce(expression(when, scope), after ? Type::duration() : Type::time(), span(when, file),
                        after ? "an 'after' timer" : "an 'at' deadline");
    timer.handler = body_only(body, Scope::Context::Timer, w, file, span(node, file));
    timer.handler.locals = std::max(timer.handler.locals, scope.max_slots);
    return timer;
}

void Checker::check_shadowing(const std::vector<HandlerAt>& handlers, int file, const char* where) {
    std::map<std::string, int> unguarded;
    for (const auto& [h, report_at] : handlers) {
        auto earlier = unguarded.find(h->event.text);
        if (earlier != unguarded.end()) {
            LineColumn at = source(file).locate(static_cast<std::size_t>(earlier->second));
            std::size_t word_end = static_cast<std::size_t>(report_at);
            while (word_end < source(file).text().size() && std::isalpha(static_cast<unsigned char>(source(file).text()[word_end]))) ++word_end;
            diagnostics_.error(Span{&source(file), report_at, static_cast<int>(word_end)},
                               "this handler for '" + h->event.text + "' can never be chosen (it is shadowed): the handler at line " +
                                   std::to_string(at.line) + " in " + where + " has no guard and takes every '" +
                                   h->event.text + "'");
            continue;
        }
        if (!h->guard) unguarded.emplace(h->event.text, report_at);
    }
}

void Checker::workflow_header(const ast::Workflow& syntax, int file, ir::Workflow& w) {
    bool has_version = false;
    const ast::Key* key = nullptr;
    std::vector<const ast::Var*> var_syntax;  // the declarations kept in w.vars, in order
    for (const ast::WorkflowMember& member : syntax.members) {
        if (const auto* version = boost::get<ast::Version>(&member)) {
            int number = 0;
            auto [end, error] = std::from_chars(version->number.data(), version->number.data() + version->number.size(), number);
            if (error != std::errc() || number < 1) {
                // At the number, not at `version`: the number is what is wrong.
                Span at = span(*version, file);
                if (at.known() && at.end - at.begin > static_cast<int>(version->number.size()))
                    at.begin = at.end - static_cast<int>(version->number.size());
                diagnostics_.error(at, "a version is a whole number from 1 to 2147483647");
            }
            else if (has_version)
                diagnostics_.error(span(*version, file), "workflow '" + w.name + "' has a second 'version'");
            else
                w.version = number;
            has_version = true;
        } else if (const auto* k = boost::get<ast::Key>(&member)) {
            if (key) {
                diagnostics_.error(span(*k, file), "workflow '" + w.name + "' has a second 'key': it has exactly one");
                continue;
            }
            key = k;
            w.key_name = k->name.text;
            w.key_type = resolve_type(k->type, file);
            if (!w.key_type.is_error() && !w.key_type.is(Type::Kind::String) && !w.key_type.is(Type::Kind::Int)) {
                diagnostics_.error(span(k->type, file), "a key is a string or an int, not " + w.key_type.to_string());
                w.key_type = Type::error();
            }
        } else if (const auto* state = boost::get<ast::State>(&member)) {
            if (w.state_index(state->name.text) >= 0) {
                diagnostics_.error(span(state->name, file), "duplicate state '" + state->name.text + "': it is declared twice");
                continue;
            }
            ir::State s;
            s.name = state->name.text;
            s.position = position(state->name, file);
            w.state_by_name.emplace(s.name, static_cast<int>(w.states.size()));
            w.states.push_back(std::move(s));
        } else if (const auto* var = boost::get<ast::Var>(&member)) {
            const std::string& name = var->name.text;
            if (w.var_index(name) >= 0) {
                diagnostics_.error(span(var->name, file), "duplicate variable '" + name + "': it is declared twice");
                continue;
            }
            w.var_by_name.emplace(name, static_cast<int>(w.vars.size()));
            w.vars.push_back({name, resolve_type(var->type, file), {}});
            var_syntax.push_back(var);
        }
    }
    if (!key) {
        diagnostics_.error(span(syntax.name, file), "workflow '" + w.name + "' has no 'key': add one, such as 'key orderId: string'");
        w.key_type = Type::error();
    } else {
        // Reported at the later of the two, as every other name declared twice is.
        for (const ast::Var* var : var_syntax) {
            if (var->name.text != w.key_name) continue;
            const Span at_key = span(key->name, file), at_var = span(var->name, file);
            diagnostics_.error(at_var.begin > at_key.begin ? at_var : at_key, "'" + w.key_name + "' names both the key and a variable");
        }
    }
}

void Checker::workflow(const ast::Workflow& syntax, int file) {
    goto_to_unknown_state_ = false;
    ir::Workflow w;
    w.name = syntax.name.text;
    w.file = source(file).name();
    w.position = position(syntax.name, file);
    workflow_header(syntax, file, w);
    var_read_.assign(w.vars.size(), false);
    correlate_paths_.clear();

    const VarSyntax var_syntax = var_initializers(syntax, file, w);
    for (const ast::WorkflowMember& member : syntax.members)
        if (const auto* c = boost::get<ast::Correlate>(&member)) correlate(*c, file, w);
    workflow_handlers_and_states(syntax, file, w);
    warn_unused_correlations(syntax, file, w);
    for (std::size_t v = 0; v < w.vars.size(); ++v)
        if (!var_read_[v])
            diagnostics_.warning(span(var_syntax.at(w.vars[v].name)->name, file), "unused variable '" + w.vars[v].name + "': it is never read");
    w.targets = command_targets(w);
    analyse_states(syntax, w, file);
    program_.workflows.push_back(std::move(w));
}

Checker::VarSyntax Checker::var_initializers(const ast::Workflow& syntax, int file, ir::Workflow& w) {
    Scope init;
    init.context = Scope::Context::Initializer;
    init.workflow = &w;
    init.file = file;
    VarSyntax var_syntax;
    for (const ast::WorkflowMember& member : syntax.members) {
        const auto* var = boost::get<ast::Var>(&member);
        if (!var) continue;
        if (var_syntax.count(var->name.text)) {
            // Refused at its name as declared twice; its type and initializer are still checked,
            // seeing the variables declared before it, so that their own errors show too.
            init.visible_vars = static_cast<int>(var_syntax.size());
            const Type type = resolve_type(var->type, file);
            (void)coerce(expression_as(var->initializer, type, init), type, span(var->initializer, file),
                         "variable '" + var->name.text + "'");
            continue;
        }
        var_syntax[var->name.text] = var;
        int v = w.var_index(var->name.text);
        if (v < 0) continue;
        init.visible_vars = v;
        ir::Var& declared = w.vars[static_cast<std::size_t>(v)];
        declared.initializer = coerce(expression_as(var->initializer, declared.type, init), declared.type,
                                      span(var->initializer, file), "variable '" + var->name.text + "'");
    }
    w.initializer_locals = init.max_slots;
    return var_syntax;
}

void Checker::correlate(const ast::Correlate& c, int file, const ir::Workflow& w) {
    const ir::Record* event = find_record(c.event, file, ir::Record::Kind::Event, "event");
    if (!event) return;
    if (correlate_paths_.count(event->name)) {
        diagnostics_.error(span(c.event, file), "duplicate 'correlate': event '" + event->name + "' is correlated twice");
        return;
    }
    // Walk the path through the event's record fields to a value of the key's type.
    const ir::Record* record = event;
    Type type;
    std::vector<std::string> path;
    bool ok = true;
    for (std::size_t i = 0; i < c.path.size() && ok; ++i) {
        const ir::FieldDecl* field = record ? record->field(c.path[i].text) : nullptr;
        if (!field) {
            diagnostics_.error(span(c.path[i], file), "unknown field: '" + (record ? record->name : type.to_string()) +
                                                          "' has no field '" + c.path[i].text + "'");
            ok = false;
            break;
        }
        if (field->optional) {
            diagnostics_.error(span(c.path[i], file), "field '" + c.path[i].text + "' is optional, so it cannot always give the key");
            ok = false;
            break;
        }
        path.push_back(field->name);
        type = field->type;
        if (type.mentions_error()) {  // an unknown type, reported at its field already
            ok = false;
            break;
        }
        record = type.is(Type::Kind::Record) ? program_.record(type.record_name()) : nullptr;
    }
    if (ok && !w.key_type.is_error() && !(type == w.key_type)) {
        diagnostics_.error(span(c.path.back(), file), "'" + c.path.back().text + "' has type " + type.to_string() +
                                                          ", but the key '" + w.key_name + "' has type " + w.key_type.to_string());
        ok = false;
    }
    correlate_paths_[event->name] = ok ? path : std::vector<std::string>{};
}

void Checker::workflow_handlers_and_states(const ast::Workflow& syntax, int file, ir::Workflow& w) {
    std::vector<HandlerAt> starts, globals;
    std::set<std::string> states_seen;
    bool has_cancel = false;
    for (const ast::WorkflowMember& member : syntax.members) {
        if (const auto* start = boost::get<ast::StartHandler>(&member)) {
            starts.emplace_back(&start->handler, start->id_first);
            ir::Handler lowered = handler(start->handler, Scope::Context::Start, w, file);
            lowered.position = position(*start, file);
            if (!last_handler_ends_) diagnostics_.error(Span{&source(file), start->id_first, start->id_first + 5}, unended_start_message(*start, file));
            if (lowered.event >= 0) w.starts_by_event[lowered.event].push_back(static_cast<int>(w.starts.size()));
            w.starts.push_back(std::move(lowered));
        } else if (const auto* h = boost::get<ast::Handler>(&member)) {
            globals.emplace_back(h, h->id_first);
            ir::Handler lowered = handler(*h, Scope::Context::Handler, w, file);
            if (lowered.event >= 0) w.handlers_by_event[lowered.event].push_back(static_cast<int>(w.handlers.size()));
            w.handlers.push_back(std::move(lowered));
        } else if (const auto* cancel = boost::get<ast::CancelHandler>(&member)) {
            if (has_cancel)
                diagnostics_.error(span(*cancel, file), "workflow '" + w.name + "' has a second 'on cancel'");
            has_cancel = true;
            w.on_cancel = body_only(cancel->body, Scope::Context::Cancel, w, file, span(*cancel, file));
        } else if (const auto* s = boost::get<ast::State>(&member)) {
            if (states_seen.insert(s->name.text).second) {
                state(*s, w, file, w.states[static_cast<std::size_t>(w.state_index(s->name.text))]);
            } else {
                // Refused at its second name; its body is still checked, so that its own errors
                // show too, into a state that is then dropped.
                ir::State refused;
                state(*s, w, file, refused);
            }
        }
    }
    check_shadowing(starts, file, ("workflow '" + w.name + "'").c_str());
    check_shadowing(globals, file, ("workflow '" + w.name + "'").c_str());
    if (starts.empty())
        diagnostics_.error(span(syntax.name, file), "workflow '" + w.name + "' has no 'start on' handler, so no instance can start");
}

std::string Checker::unended_start_message(const ast::StartHandler& start, int file) {
    // The handler is at fault; an `if` without `else` at its end, the usual cause, is named.
    std::string message = "not every path through this start handler for '" + start.handler.event.text +
                          "' ends with a transition (goto, complete, fail or cancel)";
    if (!start.handler.body.empty())
        if (const auto* last = boost::get<x3::forward_ast<ast::If>>(&start.handler.body.back()))
            if (!last->get().else_block) {
                LineColumn at = source(file).locate(static_cast<std::size_t>(last->get().id_first));
                message += ": the 'if' at " + std::to_string(at.line) + ":" + std::to_string(at.column) + " has no 'else'";
            }
    return message;
}

void Checker::warn_unused_correlations(const ast::Workflow& syntax, int file, const ir::Workflow& w) {
    std::set<std::string> handled;
    for (const ast::WorkflowMember& member : syntax.members) {
        if (const auto* start = boost::get<ast::StartHandler>(&member)) handled.insert(start->handler.event.text);
        else if (const auto* h = boost::get<ast::Handler>(&member)) handled.insert(h->event.text);
        else if (const auto* s = boost::get<ast::State>(&member))
            for (const ast::StateMember& in_state : s->members)
                if (const auto* sh = boost::get<ast::Handler>(&in_state)) handled.insert(sh->event.text);
    }
    for (const ast::WorkflowMember& member : syntax.members) {
        const auto* c = boost::get<ast::Correlate>(&member);
        if (c && correlate_paths_.count(c->event.text) && !handled.count(c->event.text))
            diagnostics_.warning(span(c->event, file), "unused 'correlate': workflow '" + w.name + "' handles no '" +
                                                           c->event.text + "' event, so this line has no effect");
    }
}

std::vector<std::string> Checker::command_targets(const ir::Workflow& w) const {
    std::set<std::string> targets;
    auto collect = [&](auto&& self, const ir::Block& block) -> void {
        for (const ir::Stmt& s : block) {
            if (s.kind == ir::Stmt::Kind::Emit || s.kind == ir::Stmt::Kind::CompensateWith)
                targets.insert(program_.records[static_cast<std::size_t>(s.slot)].target);
            for (const ir::Branch& b : s.branches) self(self, b.body);
            if (s.otherwise) self(self, *s.otherwise);
        }
    };
    for (const ir::Handler& h : w.starts) collect(collect, h.body);
    for (const ir::Handler& h : w.handlers) collect(collect, h.body);
    if (w.on_cancel) collect(collect, w.on_cancel->body);
    for (const ir::State& s : w.states) {
        collect(collect, s.entry.body);
        for (const ir::Handler& h : s.handlers) collect(collect, h.body);
        for (const ir::Timer& t : s.timers) collect(collect, t.handler.body);
    }
    return {targets.begin(), targets.end()};
}

}  // namespace flow
