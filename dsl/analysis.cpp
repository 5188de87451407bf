// Whole-workflow checks on the lowered form: states nothing can leave, states nothing
// reaches, states from which the instance can never end, timers that re-enter their state at
// once for ever, workflow-level handlers that no state leaves a chance; and declarations never
// used.
#include "dsl/checker.hpp"

#include <algorithm>
#include <deque>
#include <optional>

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

// How the paths through a block end, for the timer-loop warning.
enum class PathsEnd {
    InGoto,        // every path ends in a goto (to the states collected)
    FallThrough,   // some path reaches the block's end; the others end in a goto
    Ends,          // some path ends the instance (complete, fail, cancel) or names no state
};

PathsEnd paths_end(const ir::Block& block, std::set<int>& gotos) {
    for (const ir::Stmt& s : block) {
        switch (s.kind) {
        case ir::Stmt::Kind::Goto:
            if (s.slot < 0) return PathsEnd::Ends;
            gotos.insert(s.slot);
            return PathsEnd::InGoto;
        case ir::Stmt::Kind::Complete:
        case ir::Stmt::Kind::Fail:
        case ir::Stmt::Kind::Cancel:
            return PathsEnd::Ends;
        case ir::Stmt::Kind::If: {
            bool all_goto = s.otherwise.has_value();
            auto fold = [&](const ir::Block& body) {
                PathsEnd end = paths_end(body, gotos);
                if (end != PathsEnd::InGoto) all_goto = false;
                return end == PathsEnd::Ends;
            };
            for (const ir::Branch& b : s.branches)
                if (fold(b.body)) return PathsEnd::Ends;
            if (s.otherwise && fold(*s.otherwise)) return PathsEnd::Ends;
            if (all_goto) return PathsEnd::InGoto;
            break;  // the paths that fall through the `if` go on
        }
        default:
            break;
        }
    }
    return PathsEnd::FallThrough;
}

// The timer of a state that fires first once the state is entered, when that is known without
// running anything: every timer of the state is an `after` of a literal duration. The first of
// the shortest, as timers due together fire in the order they started.
std::optional<std::size_t> first_timer(const ir::State& state) {
    std::optional<std::size_t> first;
    std::int64_t shortest = 0;
    for (std::size_t i = 0; i < state.timers.size(); ++i) {
        const ir::Timer& t = state.timers[i];
        if (t.kind != ir::Timer::Kind::After || t.when.op != ir::Op::Literal || !t.when.literal.is_number_integer())
            return std::nullopt;
        const std::int64_t delay = t.when.literal.get<std::int64_t>();
        if (!first || delay < shortest) first = i, shortest = delay;
    }
    if (!first || shortest > 0) return std::nullopt;
    return first;
}

}  // namespace

void Checker::report_timer_loops(const ast::Workflow& syntax, const ir::Workflow& w, int file) {
    // A state loops when the timer that fires first on entering it is already due (`after 0s`),
    // and every path of its body enters a state that loops: nothing else can run in between
    // (an event waits for a chain of due timers to end), so the timers fire for ever without
    // time moving on. The looping states are what is left after taking away, again and again,
    // every candidate that can enter a state that is no candidate.
    const std::size_t n = w.states.size();
    std::vector<std::optional<std::size_t>> timer(n);
    std::vector<std::set<int>> enters(n);
    std::vector<bool> loops(n, false);
    std::vector<std::vector<int>> entered_from(n);
    for (std::size_t i = 0; i < n; ++i) {
        timer[i] = first_timer(w.states[i]);
        if (!timer[i]) continue;
        loops[i] = paths_end(w.states[i].timers[*timer[i]].handler.body, enters[i]) == PathsEnd::InGoto;
        if (loops[i])
            for (int next : enters[i]) entered_from[static_cast<std::size_t>(next)].push_back(static_cast<int>(i));
    }
    std::vector<int> taken_away;
    for (std::size_t i = 0; i < n; ++i)
        if (!loops[i]) taken_away.push_back(static_cast<int>(i));
    while (!taken_away.empty()) {
        const int s = taken_away.back();
        taken_away.pop_back();
        for (int before : entered_from[static_cast<std::size_t>(s)]) {
            if (!loops[static_cast<std::size_t>(before)]) continue;
            loops[static_cast<std::size_t>(before)] = false;
            taken_away.push_back(before);
        }
    }

    std::map<std::string, const ast::State*> state_syntax;
    for (const ast::WorkflowMember& member : syntax.members)
        if (const auto* s = boost::get<ast::State>(&member)) state_syntax.emplace(s->name.text, s);
    for (std::size_t i = 0; i < n; ++i) {
        if (!loops[i]) continue;
        const ir::State& s = w.states[i];
        // The timer's `after` in the source: timers are lowered in source order.
        const ast::After* after = nullptr;
        std::size_t seen = 0;
        for (const ast::StateMember& member : state_syntax.at(s.name)->members) {
            const bool is_timer = boost::get<ast::After>(&member) || boost::get<ast::At>(&member);
            if (is_timer && seen++ == *timer[i]) after = boost::get<ast::After>(&member);
        }
        if (!after) continue;
        std::string others;
        for (int next : enters[i])
            if (static_cast<std::size_t>(next) != i) others += (others.empty() ? "'" : ", '") + w.states[static_cast<std::size_t>(next)].name + "'";
        const bool only_itself = others.empty();
        diagnostics_.warning(Span{&source(file), after->id_first, after->id_first + 5},
                             "this timer is due as soon as state '" + s.name + "' is entered, and every path of its body enters " +
                                 (only_itself ? "'" + s.name + "' again"
                                              : "a state whose first timer does the same (" + others + ")") +
                                 ": it would fire for ever without time moving on, until the runtime fails the instance (timer loop)");
    }
}

void Checker::report_unchosen_workflow_handlers(const ast::Workflow& syntax, const ir::Workflow& w, int file) {
    if (w.states.empty()) return;
    auto state_takes_every = [](const ir::State& state, int event) {
        auto found = state.handlers_by_event.find(event);
        if (found == state.handlers_by_event.end()) return false;
        return std::any_of(found->second.begin(), found->second.end(),
                           [&](int h) { return !state.handlers[static_cast<std::size_t>(h)].guard; });
    };
    std::size_t index = 0;  // workflow-level handlers are lowered in source order, each one
    for (const ast::WorkflowMember& member : syntax.members) {
        const auto* h = boost::get<ast::Handler>(&member);
        if (!h || index >= w.handlers.size()) continue;
        const int event = w.handlers[index++].event;
        if (event < 0) continue;
        const bool every_state = std::all_of(w.states.begin(), w.states.end(),
                                             [&](const ir::State& s) { return state_takes_every(s, event); });
        if (every_state)
            diagnostics_.warning(Span{&source(file), h->id_first, h->id_first + 2},
                                 "this workflow-level handler for '" + h->event.text + "' is never chosen: every state has a handler for '" +
                                     h->event.text + "' with no guard, which is chosen first");
    }
}

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
    if (graph_is_known) report_timer_loops(syntax, w, file);
    report_unchosen_workflow_handlers(syntax, w, file);
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
