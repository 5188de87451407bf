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

// The delay of an `after` when it is written out: a literal, or literals (durations and integers)
// combined by unary minus, `+`, `-` and `*` (`-1s`, `0s * (1 + 1)`). Nothing when it reads a
// value, divides, or would overflow.
std::optional<std::int64_t> constant_delay(const ir::Expr& e) {
    auto both = [&](auto combine) -> std::optional<std::int64_t> {
        if (e.args.size() != 2) return std::nullopt;
        auto a = constant_delay(e.args[0]), b = constant_delay(e.args[1]);
        std::int64_t out = 0;
        if (!a || !b || combine(*a, *b, &out)) return std::nullopt;
        return out;
    };
    switch (e.op) {
    case ir::Op::Literal:
        if (!e.literal.is_number_integer()) return std::nullopt;
        return e.literal.get<std::int64_t>();
    case ir::Op::NegateDuration:
    case ir::Op::NegateInt: {
        auto v = e.args.size() == 1 ? constant_delay(e.args[0]) : std::nullopt;
        if (!v || *v == INT64_MIN) return std::nullopt;
        return -*v;
    }
    case ir::Op::AddDuration: return both([](std::int64_t a, std::int64_t b, std::int64_t* r) { return __builtin_add_overflow(a, b, r); });
    case ir::Op::SubDuration: return both([](std::int64_t a, std::int64_t b, std::int64_t* r) { return __builtin_sub_overflow(a, b, r); });
    case ir::Op::AddInt: return both([](std::int64_t a, std::int64_t b, std::int64_t* r) { return __builtin_add_overflow(a, b, r); });
    case ir::Op::SubInt: return both([](std::int64_t a, std::int64_t b, std::int64_t* r) { return __builtin_sub_overflow(a, b, r); });
    case ir::Op::MulDurationInt:
    case ir::Op::MulInt:
        return both([](std::int64_t a, std::int64_t b, std::int64_t* r) { return __builtin_mul_overflow(a, b, r); });
    default: return std::nullopt;
    }
}

// The timers of a state that are due as soon as it is entered, in the order they fire (the
// shortest delay first, equal ones in the order they started: as written), when that is known
// without running anything: every timer is an `after` whose delay is written out.
std::optional<std::vector<std::size_t>> due_at_once(const ir::State& state) {
    std::vector<std::pair<std::int64_t, std::size_t>> due;
    for (std::size_t i = 0; i < state.timers.size(); ++i) {
        const ir::Timer& t = state.timers[i];
        auto delay = t.kind == ir::Timer::Kind::After ? constant_delay(t.when) : std::nullopt;
        if (!delay) return std::nullopt;
        if (*delay <= 0) due.emplace_back(*delay, i);
    }
    std::stable_sort(due.begin(), due.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::size_t> order;
    for (const auto& [delay, timer] : due) order.push_back(timer);
    return order;
}

// What certainly happens once a state is entered, before anything else can: its timers due at
// once fire in turn until one whose every path ends in a goto (`timer`, entering one of
// `enters`), each earlier one having fallen through on every path that did not go to one of
// `enters` either. Nothing when a path ends the instance, or every due timer may fall through.
struct EnteredAtOnce {
    std::size_t timer = 0;
    std::set<int> enters;
};
std::optional<EnteredAtOnce> entered_at_once(const ir::State& state) {
    auto due = due_at_once(state);
    if (!due) return std::nullopt;
    EnteredAtOnce out;
    for (std::size_t timer : *due) {
        const PathsEnd end = paths_end(state.timers[timer].handler.body, out.enters);
        if (end == PathsEnd::Ends) return std::nullopt;
        if (end == PathsEnd::InGoto) {
            out.timer = timer;
            return out;
        }
    }
    return std::nullopt;
}

}  // namespace

void Checker::report_timer_loops(const StateSyntax& state_syntax, const ir::Workflow& w, const std::vector<bool>& reached, int file) {
    // A state loops when, once it is entered, its timers due at once certainly enter a state that
    // loops: nothing else can run in between (an event waits for a chain of due timers to end),
    // so the timers fire for ever without time moving on. The looping states are what is left
    // after taking away, again and again, every candidate that can enter a state that is no
    // candidate. (A runtime error in a body or an `entry` would end such a loop sooner: the check
    // runs no expression, so it cannot tell.)
    const std::size_t n = w.states.size();
    std::vector<std::optional<EnteredAtOnce>> at_once(n);
    std::vector<bool> loops(n, false);
    std::vector<std::vector<int>> entered_from(n);
    for (std::size_t i = 0; i < n; ++i) {
        at_once[i] = entered_at_once(w.states[i]);
        loops[i] = at_once[i].has_value();
        if (loops[i])
            for (int next : at_once[i]->enters) entered_from[static_cast<std::size_t>(next)].push_back(static_cast<int>(i));
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

    for (std::size_t i = 0; i < n; ++i) {
        if (!loops[i] || !reached[i]) continue;  // a state never entered has its own warning
        const ir::State& s = w.states[i];
        // The timer's `after` in the source: timers are lowered in source order.
        const ast::After* after = nullptr;
        std::size_t seen = 0;
        for (const ast::StateMember& member : state_syntax.at(s.name)->members) {
            const bool is_timer = boost::get<ast::After>(&member) || boost::get<ast::At>(&member);
            if (is_timer && seen++ == at_once[i]->timer) after = boost::get<ast::After>(&member);
        }
        if (!after) continue;
        const std::set<int>& enters = at_once[i]->enters;
        std::string entered;
        if (enters.size() == 1 && static_cast<std::size_t>(*enters.begin()) == i) {
            entered = "'" + s.name + "' again";
        } else {
            for (int next : enters) entered += (entered.empty() ? "'" : ", '") + w.states[static_cast<std::size_t>(next)].name + "'";
            entered = "a state where the same holds (" + entered + ")";
        }
        diagnostics_.warning(Span{&source(file), after->id_first, after->id_first + 5},
                             "this timer is due as soon as state '" + s.name + "' is entered, and every path of its body enters " +
                                 entered + ": it would fire for ever without time moving on, until the runtime fails the instance (timer loop)");
    }
}

void Checker::report_unchosen_workflow_handlers(const ast::Workflow& syntax, const ir::Workflow& w, const std::vector<bool>& reached,
                                                int file) {
    // Among the states an instance can be in: those a goto reaches (all, where the graph is
    // not known).
    if (std::none_of(reached.begin(), reached.end(), [](bool r) { return r; })) return;
    std::size_t index = 0;  // workflow-level handlers are lowered in source order, each one
    for (const ast::WorkflowMember& member : syntax.members) {
        const auto* h = boost::get<ast::Handler>(&member);
        if (!h || index >= w.handlers.size()) continue;
        const int event = w.handlers[index++].event;
        if (event < 0) continue;
        bool every_state = true;
        for (std::size_t i = 0; i < w.states.size() && every_state; ++i)
            every_state = !reached[i] || w.states[i].takes_every(event);
        const bool every_state_reached = std::all_of(reached.begin(), reached.end(), [](bool r) { return r; });
        if (every_state)
            diagnostics_.warning(Span{&source(file), h->id_first, h->id_first + 2},
                                 "this workflow-level handler for '" + h->event.text + "' is never chosen: every state " +
                                     (every_state_reached ? "" : "a goto reaches ") + "has a handler for '" + h->event.text +
                                     "' with no guard, which is chosen first");
    }
}

void Checker::analyse_states(const ast::Workflow& syntax, const ir::Workflow& w, int file) {
    StateSyntax state_syntax;
    for (const ast::WorkflowMember& member : syntax.members)
        if (const auto* s = boost::get<ast::State>(&member)) state_syntax.emplace(s->name.text, s);

    std::vector<Exits> global(w.handlers.size());  // each workflow-level handler's
    for (std::size_t h = 0; h < w.handlers.size(); ++h) collect_exits(w.handlers[h].body, global[h]);
    Exits start;
    for (const ir::Handler& h : w.starts) collect_exits(h.body, start);

    std::size_t n = w.states.size();
    std::vector<Exits> exits(n);
    std::vector<bool> dead_end(n, false);
    for (std::size_t i = 0; i < n; ++i) {
        const ir::State& s = w.states[i];
        for (const ir::Handler& h : s.handlers) collect_exits(h.body, exits[i]);
        for (const ir::Timer& t : s.timers) collect_exits(t.handler.body, exits[i]);
        for (std::size_t h = 0; h < w.handlers.size(); ++h) {
            // Never chosen in a state with a handler of its own for the event and no guard.
            const int event = w.handlers[h].event;
            if (event >= 0 && s.takes_every(event)) continue;
            exits[i].gotos.insert(global[h].gotos.begin(), global[h].gotos.end());
            exits[i].ends = exits[i].ends || global[h].ends;
        }
        if (s.handlers.empty() && s.timers.empty() && w.handlers.empty()) {
            dead_end[i] = true;
            diagnostics_.error(span(state_syntax.at(s.name)->name, file),
                               "nothing can leave state '" + s.name +
                                   "' (a dead end): it has no handler and no timer, and the workflow has no workflow-level handler");
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
            diagnostics_.warning(where, "state '" + s.name + "' is unreachable: no goto from a start handler or a reachable state leads to it");
        if (!can_end[i] && !dead_end[i])
            diagnostics_.warning(where, "no path from state '" + s.name + "' reaches complete, fail or cancel");
    }
    if (graph_is_known) report_timer_loops(state_syntax, w, reached, file);
    report_unchosen_workflow_handlers(syntax, w, graph_is_known ? reached : std::vector<bool>(n, true), file);
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
    // A workflow refused as a duplicate counts: the file holds one, whose uses were checked.
    for (const auto& [syntax, file] : workflow_syntax_) has_workflow[static_cast<std::size_t>(file)] = true;
    for (const auto& [syntax, file] : refused_workflow_syntax_) has_workflow[static_cast<std::size_t>(file)] = true;
    for (const auto& [name, declared] : declared_) {
        if (declared.used || declared.kind != Declared::Kind::Record) continue;
        if (!has_workflow[static_cast<std::size_t>(declared.file)]) continue;
        const ir::Record& record = program_.records[static_cast<std::size_t>(declared.index)];
        const char* kind = record.kind == ir::Record::Kind::Event ? "event" : record.kind == ir::Record::Kind::Command ? "command" : "type";
        diagnostics_.warning(declared.span, "unused " + std::string(kind) + " '" + name + "': it is declared but never used");
    }
}

}  // namespace flow
