#include "dsl/graph.hpp"

#include "stdlib/chrono.hpp"

#include <cctype>
#include <set>
#include <tuple>
#include <vector>

namespace flow {

namespace {

// One arrow: from a state (or the start, -1) to a state, or to an end (-2 completed,
// -3 failed, -4 cancelled), labelled with what causes it.
struct Edge {
    int from;
    int to;
    std::string label;
    bool operator<(const Edge& o) const { return std::tie(from, to, label) < std::tie(o.from, o.to, o.label); }
};
constexpr int start_node = -1, completed_node = -2, failed_node = -3, cancelled_node = -4;

void exits(const ir::Block& block, std::vector<int>& out) {
    for (const ir::Stmt& s : block) {
        switch (s.kind) {
        case ir::Stmt::Kind::Goto: out.push_back(s.slot); break;
        case ir::Stmt::Kind::Complete: out.push_back(completed_node); break;
        case ir::Stmt::Kind::Fail: out.push_back(failed_node); break;
        case ir::Stmt::Kind::Cancel: out.push_back(cancelled_node); break;
        case ir::Stmt::Kind::If:
            for (const ir::Branch& b : s.branches) exits(b.body, out);
            if (s.otherwise) exits(*s.otherwise, out);
            break;
        default: break;
        }
    }
}

std::string event_label(const ir::Program& program, const ir::Handler& h) {
    std::string label = program.records[static_cast<std::size_t>(h.event)].name;
    return h.guard ? label + " [guarded]" : label;
}

std::string timer_label(const ir::Timer& t) {
    if (t.kind == ir::Timer::Kind::After && t.when.op == ir::Op::Literal && t.when.literal.is_number_integer())
        return "after " + chrono::format_duration(t.when.literal.get<std::int64_t>());
    return t.kind == ir::Timer::Kind::After ? "after timer" : "at deadline";
}

std::set<Edge> edges_of(const ir::Program& program, const ir::Workflow& w) {
    std::set<Edge> edges;
    auto add = [&](int from, const ir::Block& body, const std::string& label) {
        std::vector<int> targets;
        exits(body, targets);
        for (int to : targets) edges.insert({from, to, label});
    };
    for (const ir::Handler& h : w.starts) add(start_node, h.body, event_label(program, h));
    for (std::size_t i = 0; i < w.states.size(); ++i) {
        int from = static_cast<int>(i);
        for (const ir::Handler& h : w.states[i].handlers) add(from, h.body, event_label(program, h));
        for (const ir::Timer& t : w.states[i].timers) add(from, t.handler.body, timer_label(t));
        // A workflow-level handler is considered only when none of the state's own is chosen: an
        // unguarded one for the same event always is.
        for (const ir::Handler& h : w.handlers)
            if (!w.states[i].takes_every(h.event)) add(from, h.body, event_label(program, h) + " (any state)");
    }
    return edges;
}

bool is_state_name(const ir::Workflow& w, const std::string& name) {
    for (const ir::State& s : w.states)
        if (s.name == name) return true;
    return false;
}

// `name`, or with underscores added until no state of the workflow has it.
std::string unused_name(const ir::Workflow& w, std::string name) {
    while (is_state_name(w, name)) name += '_';
    return name;
}

// A Graphviz node's name: a state's, or one of the start and the ends that no state has.
std::string dot_node(const ir::Workflow& w, int node) {
    switch (node) {
    case start_node: return unused_name(w, "__start");
    case completed_node: return unused_name(w, "__completed");
    case failed_node: return unused_name(w, "__failed");
    case cancelled_node: return unused_name(w, "__cancelled");
    default: return w.states[static_cast<std::size_t>(node)].name;
    }
}

// Words Mermaid's state diagrams read as keywords wherever a state's id stands, whatever their
// case (checked against Mermaid 11's parser): a state named so needs an alias.
bool is_mermaid_keyword(const std::string& name) {
    static const std::set<std::string> keywords = {"accdescr", "acctitle", "class", "classdef", "click", "default",
                                                   "href", "note", "scale", "state", "statediagram", "style"};
    std::string lower;
    for (unsigned char c : name) lower += static_cast<char>(std::tolower(c));
    return keywords.count(lower) > 0;
}

std::string escape_dot(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

// A name Mermaid takes as a state's id: letters, digits and underscores.
std::string mermaid_id(const std::string& name) {
    std::string id;
    for (unsigned char c : name) id += std::isalnum(c) ? static_cast<char>(c) : '_';
    return id;
}

// The ids Mermaid gives, inside a composite state `X`, to its start and end (`[*]`): `X_start`
// and `X_end`; outside any, X is `root`. A state given one of them would be drawn as that point.
std::set<std::string> ids_mermaid_gives(const std::string& composite) {
    return {composite, composite + "_start", composite + "_end"};
}

// Ids given out once each: a state's own name where Mermaid can take it, else the name followed
// by underscores (or, for a workflow, `_2`, `_3`…) until it is free.
class MermaidIds {
public:
    MermaidIds() { taken_ = ids_mermaid_gives("root"); }
    bool free(const std::string& id) const { return !is_mermaid_keyword(id) && taken_.count(id) == 0; }
    void take(const std::string& id) { taken_.insert(id); }
    std::string underscored(std::string id) {
        while (!free(id)) id += '_';
        take(id);
        return id;
    }
    // Whether a composite state could have the id: it, its start's and its end's are free.
    bool free_composite(const std::string& id) const {
        for (const std::string& given : ids_mermaid_gives(id))
            if (!free(given)) return false;
        return true;
    }
    void take_composite(const std::string& id) {
        for (const std::string& given : ids_mermaid_gives(id)) take(given);
    }
    // A composite state's id when its name is not free: a keyword followed by underscores, any
    // other name by `_2`, `_3`…
    std::string composite(const std::string& name) {
        std::string id = name;
        if (is_mermaid_keyword(name)) {
            do id += '_'; while (!free_composite(id));
        } else {
            for (int n = 2; !free_composite(id); ++n) id = name + "_" + std::to_string(n);
        }
        take_composite(id);
        return id;
    }
    std::string numbered(std::string id) {
        if (!free(id)) {
            const std::string base = id;
            for (int n = 2; !free(id); ++n) id = base + "_" + std::to_string(n);
        }
        take(id);
        return id;
    }

private:
    std::set<std::string> taken_;
};

// One line per transition, each state drawn by its id in `state_ids` (by state index).
std::string mermaid_transitions(const ir::Program& program, const ir::Workflow& w, const std::string& indent,
                                const std::vector<std::string>& state_ids) {
    std::string out;
    for (const Edge& e : edges_of(program, w)) {
        auto id = [&](int node) { return node < 0 ? std::string("[*]") : state_ids[static_cast<std::size_t>(node)]; };
        std::string label = e.label;
        if (e.to == failed_node) label += " / fail";
        if (e.to == cancelled_node) label += " / cancel";
        out += indent + id(e.from) + " --> " + id(e.to) + " : " + label + "\n";
    }
    return out;
}

}  // namespace

std::string draw(const ir::Program& program, const ir::Workflow& w, GraphFormat format) {
    std::set<Edge> edges = edges_of(program, w);
    std::string out;
    if (format == GraphFormat::Dot) {
        out += "digraph \"" + escape_dot(w.name) + "\" {\n  rankdir=LR;\n";
        out += "  " + dot_node(w, start_node) + " [shape=point];\n";
        for (const ir::State& s : w.states) out += "  \"" + escape_dot(s.name) + "\" [shape=box, style=rounded];\n";
        std::set<int> ends;
        for (const Edge& e : edges) if (e.to < start_node) ends.insert(e.to);
        for (int end : ends) {
            std::string label = end == completed_node ? "completed" : end == failed_node ? "failed" : "cancelled";
            out += "  " + dot_node(w, end) + " [shape=doublecircle, label=\"" + label + "\"];\n";  // an identifier
        }
        for (const Edge& e : edges)
            out += "  \"" + escape_dot(dot_node(w, e.from)) + "\" -> \"" + escape_dot(dot_node(w, e.to)) +
                   "\" [label=\"" + escape_dot(e.label) + "\"];\n";
        out += "}\n";
        return out;
    }
    out = "stateDiagram-v2\n";
    // A state keeps its name as its id where Mermaid can take it; the others get a free one,
    // declared with `state "Name" as id`.
    MermaidIds ids;
    std::vector<bool> own_id;
    for (const ir::State& s : w.states) {
        own_id.push_back(ids.free(s.name));
        if (own_id.back()) ids.take(s.name);
    }
    std::vector<std::string> state_ids;
    for (std::size_t i = 0; i < w.states.size(); ++i) {
        const std::string& name = w.states[i].name;
        state_ids.push_back(own_id[i] ? name : ids.underscored(name + '_'));
        if (!own_id[i]) out += "    state \"" + name + "\" as " + state_ids.back() + "\n";
    }
    // A state no arrow touches is drawn only once declared.
    std::vector<bool> touched(w.states.size(), false);
    for (const Edge& e : edges)
        for (int node : {e.from, e.to})
            if (node >= 0) touched[static_cast<std::size_t>(node)] = true;
    for (std::size_t i = 0; i < w.states.size(); ++i)
        if (!touched[i] && state_ids[i] == w.states[i].name) out += "    " + state_ids[i] + "\n";
    return out + mermaid_transitions(program, w, "    ", state_ids);
}

std::string draw(const ir::Program& program, const std::vector<const ir::Workflow*>& workflows, GraphFormat format) {
    if (workflows.empty()) return format == GraphFormat::Mermaid ? "stateDiagram-v2\n" : "";  // Graphviz reads no graph from nothing
    if (workflows.size() == 1 || format == GraphFormat::Dot) {
        std::string out;  // Graphviz reads several graphs from one file
        for (const ir::Workflow* w : workflows) out += draw(program, *w, format);
        return out;
    }
    // Mermaid draws one diagram per block: each workflow becomes a composite state of it, its
    // states named after it so that two workflows' states of the same name stay apart.
    std::string out = "stateDiagram-v2\n";
    MermaidIds ids;
    // Each workflow keeps its name where it is free, and the others are given ids next.
    std::vector<std::string> composite_ids(workflows.size());
    for (std::size_t i = 0; i < workflows.size(); ++i) {
        const std::string id = mermaid_id(workflows[i]->name);
        if (ids.free_composite(id)) ids.take_composite(composite_ids[i] = id);
    }
    for (std::size_t i = 0; i < workflows.size(); ++i)
        if (composite_ids[i].empty()) composite_ids[i] = ids.composite(mermaid_id(workflows[i]->name));
    for (std::size_t i = 0; i < workflows.size(); ++i) {
        const ir::Workflow& w = *workflows[i];
        const std::string prefix = mermaid_id(w.name) + "__";  // no keyword once prefixed
        out += "    state \"" + w.name + "\" as " + composite_ids[i] + " {\n";
        std::vector<std::string> state_ids;
        for (const ir::State& s : w.states) {
            state_ids.push_back(ids.numbered(prefix + mermaid_id(s.name)));
            out += "        state \"" + s.name + "\" as " + state_ids.back() + "\n";
        }
        out += mermaid_transitions(program, w, "        ", state_ids);
        out += "    }\n";
    }
    return out;
}

}  // namespace flow
