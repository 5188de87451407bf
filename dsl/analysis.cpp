// Whole-workflow checks on the lowered form: states nothing can leave, states nothing
// reaches, states from which the instance can never end; and declarations never used.
#include "dsl/checker.hpp"

#include <deque>

namespace flow {

namespace {

struct Exits {
    std::set<int> gotos;
    bool ends = false;  // complete, fail or cancel somewhere
};

void collect_exits(const ir::Block& block, Exits& exits) {
    for (const ir::Stmt& s : block) {
        switch (s.kind) {
        case ir::Stmt::Kind::Goto:
            if (s.slot >= 0) exits.gotos.insert(s.slot);
            break;
        case ir::Stmt::Kind::Complete:
        case ir::Stmt::Kind::Fail:
        case ir::Stmt::Kind::Cancel:
            exits.ends = true;
            break;
        case ir::Stmt::Kind::If:
            for (const ir::Branch& b : s.branches) collect_exits(b.body, exits);
            if (s.otherwise) collect_exits(*s.otherwise, exits);
            break;
        default:
            break;
        }
    }
}

}  // namespace

void Checker::analyse_states(const ast::Workflow& syntax, const ir::Workflow& w, int file) {
    std::map<std::string, const ast::State*> state_syntax;
    for (const ast::WorkflowMember& member : syntax.members)
        if (const auto* s = boost::get<ast::State>(&member)) state_syntax.emplace(s->name.text, s);

    Exits global;
    for (const ir::Handler& h : w.handlers) collect_exits(h.body, global);
    Exits start;
    for (const ir::Handler& h : w.starts) collect_exits(h.body, start);

    std::size_t n = w.states.size();
    std::vector<Exits> exits(n);
    std::vector<bool> dead_end(n, false);
    for (std::size_t i = 0; i < n; ++i) {
        const ir::State& s = w.states[i];
        for (const ir::Handler& h : s.handlers) collect_exits(h.body, exits[i]);
        for (const ir::Timer& t : s.timers) collect_exits(t.handler.body, exits[i]);
        exits[i].gotos.insert(global.gotos.begin(), global.gotos.end());
        exits[i].ends = exits[i].ends || global.ends;
        if (s.handlers.empty() && s.timers.empty() && w.handlers.empty()) {
            dead_end[i] = true;
            diagnostics_.error(span(state_syntax.at(s.name)->name, file),
                               "nothing can leave state '" + s.name +
                                   "': it has no handler and no timer, and the workflow has no workflow-level handler");
        }
    }

    // Reachable: from the start handlers' gotos, through every state's gotos.
    std::vector<bool> reached(n, false);
    std::deque<int> queue(start.gotos.begin(), start.gotos.end());
    for (int s : queue) reached[static_cast<std::size_t>(s)] = true;
    while (!queue.empty()) {
        int s = queue.front();
        queue.pop_front();
        for (int next : exits[static_cast<std::size_t>(s)].gotos) {
            if (!reached[static_cast<std::size_t>(next)]) {
                reached[static_cast<std::size_t>(next)] = true;
                queue.push_back(next);
            }
        }
    }
    // Can end: the state itself ends, or a successor can. Walked backwards from the states that
    // end, so that a long chain of states costs its length, not its length squared.
    std::vector<std::vector<int>> entered_from(n);
    for (std::size_t i = 0; i < n; ++i)
        for (int next : exits[i].gotos) entered_from[static_cast<std::size_t>(next)].push_back(static_cast<int>(i));
    std::vector<bool> can_end(n, false);
    std::vector<int> ending;
    for (std::size_t i = 0; i < n; ++i)
        if (exits[i].ends) can_end[i] = true, ending.push_back(static_cast<int>(i));
    while (!ending.empty()) {
        int s = ending.back();
        ending.pop_back();
        for (int before : entered_from[static_cast<std::size_t>(s)]) {
            if (can_end[static_cast<std::size_t>(before)]) continue;
            can_end[static_cast<std::size_t>(before)] = true;
            ending.push_back(before);
        }
    }
    const bool graph_is_known = !goto_to_unknown_state_ && !w.starts.empty();
    for (std::size_t i = 0; i < n && graph_is_known; ++i) {
        const ir::State& s = w.states[i];
        Span where = span(state_syntax.at(s.name)->name, file);
        if (!reached[i])
            diagnostics_.warning(where, "state '" + s.name + "' is never entered: no goto from a start handler or a reachable state leads to it");
        if (!can_end[i] && !dead_end[i])
            diagnostics_.warning(where, "no path from state '" + s.name + "' reaches complete, fail or cancel");
    }
}

void Checker::report_unused() {
    // What the workflows use, then what the fields of used records name, transitively.
    std::vector<std::string> reached;
    for (const auto& [name, declared] : declared_)
        if (declared.used) reached.push_back(name);
    while (!reached.empty()) {
        std::string name = std::move(reached.back());
        reached.pop_back();
        auto named = field_records_.find(name);
        if (named == field_records_.end()) continue;
        for (const std::string& inner : named->second) {
            auto it = declared_.find(inner);
            if (it != declared_.end() && !it->second.used) {
                it->second.used = true;
                reached.push_back(inner);
            }
        }
    }
    std::vector<bool> has_workflow(loaded_.files.size(), false);
    for (const auto& [syntax, file] : workflow_syntax_) has_workflow[static_cast<std::size_t>(file)] = true;
    for (const auto& [name, declared] : declared_) {
        if (declared.used || declared.kind != Declared::Kind::Record) continue;
        if (!has_workflow[static_cast<std::size_t>(declared.file)]) continue;
        const ir::Record& record = program_.records[static_cast<std::size_t>(declared.index)];
        const char* kind = record.kind == ir::Record::Kind::Event ? "event" : record.kind == ir::Record::Kind::Command ? "command" : "type";
        diagnostics_.warning(declared.span, std::string(kind) + " '" + name + "' is declared but never used");
    }
}

}  // namespace flow
