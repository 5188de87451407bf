// Names and types: the declarations of all files, their visibility and their fields.
#include "dsl/checker.hpp"
#include "dsl/suggestion.hpp"
#include "dsl/parser.hpp"
#include "dsl/string_escapes.hpp"

#include <algorithm>
#include <functional>
#include <unordered_map>
#include <unordered_set>

namespace flow {

namespace {

const char* kind_word(ir::Record::Kind kind) {
    switch (kind) {
    case ir::Record::Kind::Type: return "type";
    case ir::Record::Kind::Event: return "event";
    case ir::Record::Kind::Command: return "command";
    }
    return "declaration";
}

const std::map<std::string, Type>& primitive_types() {
    static const std::map<std::string, Type> primitives = {
        {"string", Type::string()}, {"int", Type::integer()},   {"number", Type::number()},
        {"bool", Type::boolean()},  {"time", Type::time()},     {"duration", Type::duration()},
        {"json", Type::json()},
    };
    return primitives;
}

}  // namespace

ir::Position Checker::position(const boost::spirit::x3::position_tagged& node, int file) const {
    return position_at(node.id_first, file);
}

ir::Position Checker::position_at(int offset, int file) const {
    LineColumn at = source(file).locate(static_cast<std::size_t>(std::max(offset, 0)));
    return {at.line, at.column};
}

void Checker::compute_visibility() {
    std::size_t n = loaded_.files.size();
    visible_.assign(n, std::vector<bool>(n, false));
    for (std::size_t f = 0; f < n; ++f) {
        visible_[f][f] = true;
        for (int imported : loaded_.files[f].imports) visible_[f][static_cast<std::size_t>(imported)] = true;
    }
}

// Of two declarations of one name, the one kept is the first in dependency order (a file's
// imports before the file, then the files in the order given), so that the duplicate is
// reported in the file that imports the other, or in the later of two unrelated files.
std::map<std::string, std::pair<int, int>> Checker::first_declarations() const {
    std::vector<int> rank(loaded_.files.size(), -1);
    int next_rank = 0;
    std::vector<bool> entered(loaded_.files.size(), false);
    auto visit = [&](auto& self, int file) -> void {
        if (entered[static_cast<std::size_t>(file)]) return;
        entered[static_cast<std::size_t>(file)] = true;
        for (int imported : loaded_.files[static_cast<std::size_t>(file)].imports) self(self, imported);
        rank[static_cast<std::size_t>(file)] = next_rank++;
    };
    for (std::size_t f = 0; f < loaded_.files.size(); ++f) visit(visit, static_cast<int>(f));

    std::map<std::string, std::pair<int, int>> first;  // name -> (file, offset of its name)
    auto consider = [&](const ast::Name& name, int file) {
        auto [it, inserted] = first.emplace(name.text, std::pair{file, name.id_first});
        const auto [kept_file, kept_offset] = it->second;
        if (!inserted && std::pair{rank[static_cast<std::size_t>(file)], name.id_first} <
                             std::pair{rank[static_cast<std::size_t>(kept_file)], kept_offset})
            it->second = {file, name.id_first};
    };
    for (std::size_t f = 0; f < loaded_.files.size(); ++f) {
        for (const ast::Declaration& declaration : loaded_.files[f].syntax.declarations) {
            if (const auto* t = boost::get<ast::TypeDecl>(&declaration)) consider(t->name, static_cast<int>(f));
            else if (const auto* e = boost::get<ast::EventDecl>(&declaration)) consider(e->name, static_cast<int>(f));
            else if (const auto* c = boost::get<ast::CommandDecl>(&declaration)) consider(c->name, static_cast<int>(f));
            else if (const auto* w = boost::get<ast::Workflow>(&declaration)) consider(w->name, static_cast<int>(f));
        }
    }
    return first;
}

bool Checker::refused_here(const std::string& name, int file) const { return refused_declarations_.count({file, name}) > 0; }

void Checker::collect_declarations() {
    const FirstDeclarations first_of = first_declarations();
    // Where each event's external name is written: a clash of names is reported there.
    std::map<std::string, Span> external_name_spans;
    for (std::size_t f = 0; f < loaded_.files.size(); ++f) {
        const int file = static_cast<int>(f);
        for (const ast::Declaration& declaration : loaded_.files[f].syntax.declarations) {
            if (const auto* type = boost::get<ast::TypeDecl>(&declaration)) {
                add_record(type->name, ir::Record::Kind::Type, *type, file, first_of);
            } else if (const auto* event = boost::get<ast::EventDecl>(&declaration)) {
                ir::Record* record = add_record(event->name, ir::Record::Kind::Event, *event, file, first_of);
                if (record && event->external_name) {
                    std::optional<std::string> external = unescape(event->external_name->value);
                    // None when an escape names no character: the parser reported it.
                    if (external && external->empty())
                        diagnostics_.error(span(*event->external_name, file), "an event's external name cannot be empty");
                    else if (external) {
                        record->external_name = *external;
                        external_name_spans.emplace(record->name, span(*event->external_name, file));
                    }
                }
            } else if (const auto* command = boost::get<ast::CommandDecl>(&declaration)) {
                if (ir::Record* record = add_record(command->name, ir::Record::Kind::Command, *command, file, first_of))
                    record->target = command->target.text;
            } else if (const auto* workflow = boost::get<ast::Workflow>(&declaration)) {
                Declared entry{Declared::Kind::Workflow, static_cast<int>(workflow_syntax_.size()), file,
                               span(workflow->name, file), true};
                if (declare(workflow->name, entry, "workflow", first_of)) workflow_syntax_.emplace_back(workflow, file);
                else refused_workflow_syntax_.emplace_back(workflow, file);
            }
        }
    }
    check_external_names(external_name_spans);
    for (std::size_t i = 0; i < program_.records.size(); ++i) {
        const ir::Record& record = program_.records[i];
        if (record.kind != ir::Record::Kind::Event) continue;
        program_.event_by_type.emplace(record.name, static_cast<int>(i));
        if (!record.external_name.empty()) program_.event_by_type.emplace(record.external_name, static_cast<int>(i));
    }
}

bool Checker::declare(const ast::Name& name, Declared entry, const char* what, const FirstDeclarations& first_of) {
    const std::string article = std::string("aeiou").find(what[0]) != std::string::npos ? "an " : "a ";
    if (is_keyword(name.text)) {
        diagnostics_.error(entry.span, "'" + name.text + "' is a keyword and cannot name " + article + what);
        return false;
    }
    if (entry.kind == Declared::Kind::Record && (primitive_types().count(name.text) || name.text == "list")) {
        // It could never be referred to: `string` always means the built-in type.
        diagnostics_.error(entry.span, "'" + name.text + "' is a built-in type and cannot name " + article + what);
        return false;
    }
    const auto [first_file, first_offset] = first_of.at(name.text);
    if (first_file != entry.file || first_offset != name.id_first) {
        diagnostics_.error(entry.span, "duplicate " + std::string(what) + " '" + name.text + "': the name is already declared at " +
                                           source(first_file).place(static_cast<std::size_t>(first_offset)));
        refused_declarations_.insert({entry.file, name.text});
        return false;
    }
    declared_.emplace(name.text, entry);
    return true;
}

ir::Record* Checker::add_record(const ast::Name& name, ir::Record::Kind kind, const boost::spirit::x3::position_tagged& node, int file,
                                const FirstDeclarations& first_of) {
    Declared entry{Declared::Kind::Record, static_cast<int>(program_.records.size()), file, span(name, file), false};
    if (!declare(name, entry, kind_word(kind), first_of)) return nullptr;
    ir::Record record;
    record.kind = kind;
    record.name = name.text;
    record.file = source(file).name();
    record.position = position(node, file);
    program_.record_by_name[name.text] = entry.index;
    program_.records.push_back(std::move(record));
    return &program_.records.back();
}

void Checker::check_external_names(const std::map<std::string, Span>& external_name_spans) {
    auto declared_at = [&](const std::string& name) {
        const Span& at = declared_.at(name).span;
        return " (declared at " + at.source->place(static_cast<std::size_t>(at.begin)) + ")";
    };
    std::map<std::string, int> wire_owner;
    for (std::size_t i = 0; i < program_.records.size(); ++i) {
        const ir::Record& record = program_.records[i];
        if (record.kind != ir::Record::Kind::Event || record.external_name.empty()) continue;
        auto [it, inserted] = wire_owner.emplace(record.external_name, static_cast<int>(i));
        if (!inserted) {
            const std::string& first = program_.records[static_cast<std::size_t>(it->second)].name;
            diagnostics_.error(external_name_spans.at(record.name), "event '" + record.name + "' has the external name '" +
                                                                        record.external_name + "' of event '" + first + "'" +
                                                                        declared_at(first));
        }
    }
    for (const auto& [external, owner] : wire_owner) {
        auto other = program_.record_by_name.find(external);
        if (other == program_.record_by_name.end() || other->second == owner) continue;
        const ir::Record& clash = program_.records[static_cast<std::size_t>(other->second)];
        if (clash.kind != ir::Record::Kind::Event) continue;
        const ir::Record& record = program_.records[static_cast<std::size_t>(owner)];
        diagnostics_.error(external_name_spans.at(record.name), "event '" + record.name + "' takes the external name '" +
                                                                external + "', which is the name of event '" + external + "'" +
                                                                declared_at(external));
    }
}

Checker::Declared* Checker::lookup(const std::string& name, int file) {
    auto it = declared_.find(name);
    if (it == declared_.end()) return nullptr;
    if (!visible_[static_cast<std::size_t>(file)][static_cast<std::size_t>(it->second.file)]) return nullptr;
    return &it->second;
}

std::string Checker::suggest(const std::string& wanted, int file, std::vector<std::string_view> candidates,
                             const std::function<bool(const ir::Record&)>& fits) {
    for (const auto& [name, declared] : declared_)
        if (declared.kind == Declared::Kind::Record && fits(program_.records[static_cast<std::size_t>(declared.index)]) &&
            visible_[static_cast<std::size_t>(file)][static_cast<std::size_t>(declared.file)])
            candidates.push_back(name);
    std::string best = closest_name(wanted, candidates);
    if (auto it = declared_.find(best); it != declared_.end()) it->second.used = true;
    return did_you_mean(best);
}

std::string Checker::suggest_record(const std::string& wanted, int file, ir::Record::Kind kind) {
    return suggest(wanted, file, {}, [kind](const ir::Record& record) { return record.kind == kind; });
}

std::string Checker::suggest_type(const std::string& wanted, int file) {
    std::vector<std::string_view> built_in = {"list"};
    for (const auto& [name, type] : primitive_types()) built_in.push_back(name);
    return suggest(wanted, file, std::move(built_in), [](const ir::Record&) { return true; });
}

Type Checker::resolve_type(const ast::TypeRef& ref, int file) {
    Type base;
    if (ref.name == "list") {
        if (ref.arguments.size() != 1) {
            diagnostics_.error(span(ref, file), "'list' takes one element type: list<T>");
            return Type::error();
        }
        Type element = resolve_type(ref.arguments.front(), file);
        base = element.is_error() ? Type::error() : Type::list(element);
    } else if (!ref.arguments.empty()) {
        const bool known = primitive_types().count(ref.name) || declared_.count(ref.name) || refused_here(ref.name, file);
        diagnostics_.error(span(ref, file), known ? "'" + ref.name + "' takes no type arguments"
                                                  : "unknown type '" + ref.name + "'" + suggest_type(ref.name, file));
        return Type::error();
    } else if (auto primitive = primitive_types().find(ref.name); primitive != primitive_types().end()) {
        base = primitive->second;
    } else if (Declared* declared = lookup(ref.name, file);
               declared && declared->kind == Declared::Kind::Record) {
        if (!resolving_fields_) declared->used = true;
        base = Type::record(ref.name);
    } else if (refused_here(ref.name, file)) {
        return Type::error();  // this file's own declaration was refused as a duplicate: reported there
    } else {
        std::string message = "unknown type '" + ref.name + "'";
        if (declared_.count(ref.name) && declared_.at(ref.name).kind == Declared::Kind::Record)
            message += ": it is declared in " + declared_.at(ref.name).span.source->name() + ", which this file does not import";
        else
            message += suggest_type(ref.name, file);
        diagnostics_.error(Span{&source(file), ref.id_first, ref.id_first + static_cast<int>(ref.name.size())}, message);
        return Type::error();
    }
    return ref.optional ? Type::optional(base) : base;
}

void Checker::resolve_record_fields() {
    for (std::size_t f = 0; f < loaded_.files.size(); ++f) {
        int file = static_cast<int>(f);
        for (const ast::Declaration& declaration : loaded_.files[f].syntax.declarations) {
            const ast::Name* name = nullptr;
            const std::vector<ast::Field>* fields = nullptr;
            if (const auto* t = boost::get<ast::TypeDecl>(&declaration)) name = &t->name, fields = &t->fields;
            else if (const auto* e = boost::get<ast::EventDecl>(&declaration)) name = &e->name, fields = &e->fields;
            else if (const auto* c = boost::get<ast::CommandDecl>(&declaration)) name = &c->name, fields = &c->fields;
            if (!name) continue;
            auto it = declared_.find(name->text);
            if (it == declared_.end() || it->second.file != file || it->second.kind != Declared::Kind::Record) continue;
            if (it->second.span.begin != name->id_first) continue;  // a duplicate: skipped
            ir::Record& record = program_.records[static_cast<std::size_t>(it->second.index)];
            for (const ast::Field& field : *fields) {
                if (record.field(field.name.text)) {
                    diagnostics_.error(span(field.name, file), "duplicate field '" + field.name.text + "': it is declared twice in '" +
                                                                   record.name + "'");
                    continue;
                }
                resolving_fields_ = true;
                Type type = resolve_type(field.type, file);
                resolving_fields_ = false;
                for (const Type* t = &type;; t = &t->element()) {
                    if (t->is(Type::Kind::Record)) field_records_[record.name].push_back(t->record_name());
                    if (!t->is(Type::Kind::List) && !t->is(Type::Kind::Optional)) break;
                }
                if (type.is(Type::Kind::Record) && !field.optional)
                    required_record_fields_[record.name].push_back({field.name.text, type.record_name(), span(field.type, file)});
                // `e: SomeEvent?` is `e?: SomeEvent`: refused alike.
                if (const Type bare = type.required(); bare.is(Type::Kind::Record)) {
                    const ir::Record* inner = program_.record(bare.record_name());
                    if (inner && inner->kind != ir::Record::Kind::Type)
                        diagnostics_.error(span(field.type, file), "a field's type must be a 'type', not the " +
                                                                       std::string(kind_word(inner->kind)) + " '" +
                                                                       inner->name + "'");
                }
                bool optional = field.optional || type.is_optional();
                record.fields.push_back({field.name.text, optional ? Type::optional(type) : type, optional});
            }
        }
    }
}

namespace {

// The strongly connected components of a graph given as each node's successors (Tarjan's
// algorithm, with an explicit stack: the graph may be a chain of thousands of records).
// Returns each node's component id and each component's size.
template <class Successors>
std::pair<std::unordered_map<std::string, int>, std::vector<int>> strong_components(const std::vector<std::string>& nodes,
                                                                                     Successors successors) {
    std::unordered_map<std::string, int> component;
    std::vector<int> size;
    std::unordered_map<std::string, int> index, low;
    std::vector<std::string> stack;
    std::unordered_set<std::string> on_stack;
    int counter = 0;
    struct Frame {
        std::string node;
        std::size_t next = 0;
    };
    for (const std::string& root : nodes) {
        if (index.count(root)) continue;
        std::vector<Frame> frames;
        auto enter = [&](const std::string& node) {
            index[node] = low[node] = counter++;
            stack.push_back(node);
            on_stack.insert(node);
            frames.push_back({node, 0});
        };
        enter(root);
        while (!frames.empty()) {
            const std::vector<std::string>& next_nodes = successors(frames.back().node);
            if (frames.back().next < next_nodes.size()) {
                const std::string& to = next_nodes[frames.back().next++];
                if (!index.count(to)) enter(to);
                else if (on_stack.count(to)) low[frames.back().node] = std::min(low[frames.back().node], index[to]);
                continue;
            }
            const std::string node = std::move(frames.back().node);
            frames.pop_back();
            if (!frames.empty()) low[frames.back().node] = std::min(low[frames.back().node], low[node]);
            if (low[node] != index[node]) continue;
            const int id = static_cast<int>(size.size());
            size.push_back(0);
            for (bool last = false; !last;) {
                last = stack.back() == node;
                component[stack.back()] = id;
                on_stack.erase(stack.back());
                stack.pop_back();
                ++size.back();
            }
        }
    }
    return {std::move(component), std::move(size)};
}

}  // namespace

void Checker::report_record_cycles() {
    // A record can contain itself only through the records of its own strongly connected
    // component: the search below starts only from records of a component with a cycle, and
    // stays within it, so that a long chain of records that do not loop costs its length once.
    std::vector<std::string> names;
    std::unordered_map<std::string, std::vector<std::string>> successors;
    for (const auto& [name, fields] : required_record_fields_) {
        names.push_back(name);
        for (const RequiredRecordField& field : fields) successors[name].push_back(field.record);
    }
    static const std::vector<std::string> none;
    const auto components = strong_components(names, [&](const std::string& name) -> const std::vector<std::string>& {
        auto found = successors.find(name);
        return found == successors.end() ? none : found->second;
    });
    const std::unordered_map<std::string, int>& component = components.first;
    const std::vector<int>& component_size = components.second;
    auto component_of = [&component](const std::string& name) {
        auto found = component.find(name);
        return found == component.end() ? -1 : found->second;
    };
    auto can_loop = [&](const std::string& name) {
        const int id = component_of(name);
        if (id < 0) return false;
        if (component_size[static_cast<std::size_t>(id)] > 1) return true;
        const std::vector<std::string>& next = successors[name];
        return std::find(next.begin(), next.end(), name) != next.end();
    };

    // Depth-first from each record in program order; a cycle is reported at the field that
    // closes it, from the first of its records in program order (so each cycle once).
    std::set<std::string> in_a_reported_cycle;
    for (const ir::Record& start : program_.records) {
        if (in_a_reported_cycle.count(start.name) || !can_loop(start.name)) continue;
        const int start_component = component_of(start.name);
        std::vector<std::pair<std::string, std::size_t>> path{{start.name, 0}};  // record, next field to follow
        std::vector<const RequiredRecordField*> via;
        std::set<std::string> on_path{start.name}, finished;
        while (!path.empty()) {
            auto& [name, next] = path.back();
            const auto found = required_record_fields_.find(name);
            if (found == required_record_fields_.end() || next >= found->second.size()) {
                finished.insert(name);
                on_path.erase(name);
                path.pop_back();
                if (!via.empty()) via.pop_back();
                continue;
            }
            const RequiredRecordField& field = found->second[next++];
            if (field.record == start.name) {
                std::string route = start.name;
                for (const RequiredRecordField* step : via) route += "." + step->field + " → " + step->record;
                route += "." + field.field + " → " + start.name;
                std::string message = "'" + start.name + "' cannot contain itself";
                if (!via.empty()) message += " (" + route + ")";
                diagnostics_.error(field.type_span, message + ": a value of it would never end; make a field on the way "
                                                              "optional ('?') or a list");
                for (const auto& [on, unused] : path) in_a_reported_cycle.insert(on);
                continue;
            }
            if (component_of(field.record) != start_component) continue;  // cannot lead back to `start`
            if (on_path.count(field.record) || finished.count(field.record)) continue;  // a cycle not through `start`
            via.push_back(&field);
            on_path.insert(field.record);
            path.push_back({field.record, 0});
        }
    }
}

const ir::Record* Checker::find_record(const ast::Name& name, int file, ir::Record::Kind kind, const char* what) {
    Declared* declared = lookup(name.text, file);
    if (!declared && refused_here(name.text, file)) return nullptr;  // reported at the refused declaration
    if (!declared || declared->kind != Declared::Kind::Record) {
        std::string message = "unknown " + std::string(what) + " '" + name.text + "'";
        auto it = declared_.find(name.text);
        if (it != declared_.end() && it->second.kind == Declared::Kind::Record)
            message += ": it is declared in " + it->second.span.source->name() + ", which this file does not import";
        else if (it == declared_.end())
            message += suggest_record(name.text, file, kind);
        diagnostics_.error(span(name, file), message);
        return nullptr;
    }
    const ir::Record& record = program_.records[static_cast<std::size_t>(declared->index)];
    if (record.kind != kind && refused_here(name.text, file)) {
        // `type A` kept, `event A` refused as its duplicate: the use means the kept declaration
        // and brings no error of its own (the duplicate is reported).
        declared->used = true;
        return nullptr;
    }
    if (record.kind != kind) {
        auto article = [](ir::Record::Kind k) { return k == ir::Record::Kind::Event ? "an " : "a "; };
        diagnostics_.error(span(name, file), "'" + name.text + "' is " + article(record.kind) + kind_word(record.kind) +
                                                 ", not " + article(kind) + kind_word(kind));
        return nullptr;
    }
    declared->used = true;
    return &record;
}

}  // namespace flow
