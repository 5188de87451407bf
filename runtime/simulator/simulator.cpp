#include "runtime/simulator/simulator.hpp"

#include "stdlib/chrono.hpp"

namespace flow::sim {

using nlohmann::ordered_json;

namespace {

void write_json(const ordered_json& v, std::string& out) {
    if (v.is_object()) {
        out += '{';
        bool first = true;
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (!first) out += ", ";
            first = false;
            out += ordered_json(it.key()).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            out += ": ";
            write_json(it.value(), out);
        }
        out += '}';
    } else if (v.is_array()) {
        out += '[';
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i) out += ", ";
            write_json(v[i], out);
        }
        out += ']';
    } else {
        out += v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
}

ordered_json ordered(const Value& v) {
    if (v.is_object()) {
        ordered_json o = ordered_json::object();
        for (auto it = v.begin(); it != v.end(); ++it) o[it.key()] = ordered(it.value());
        return o;
    }
    if (v.is_array()) {
        ordered_json a = ordered_json::array();
        for (const Value& e : v) a.push_back(ordered(e));
        return a;
    }
    switch (v.type()) {
    case Value::value_t::string: return v.get_ref<const std::string&>();
    case Value::value_t::boolean: return v.get<bool>();
    case Value::value_t::number_integer: return v.get<std::int64_t>();
    case Value::value_t::number_unsigned: return v.get<std::uint64_t>();
    case Value::value_t::number_float: return v.get<double>();
    default: return nullptr;
    }
}

// Like ordered(), but records keep their declared field order, as users wrote them.
ordered_json ordered_as(const Value& v, const Type& type, const ir::Program& program) {
    if (type.is_optional()) return ordered_as(v, type.element(), program);
    if (type.is(Type::Kind::Record) && v.is_object()) {
        ordered_json o = ordered_json::object();
        if (const ir::Record* record = program.record(type.record_name()))
            for (const ir::FieldDecl& field : record->fields)
                if (auto found = v.find(field.name); found != v.end()) o[field.name] = ordered_as(*found, field.type, program);
        return o;
    }
    if (type.is(Type::Kind::List) && v.is_array()) {
        ordered_json a = ordered_json::array();
        for (const Value& e : v) a.push_back(ordered_as(e, type.element(), program));
        return a;
    }
    return ordered(v);
}

std::string timer_loop_message(std::size_t limit) {
    return "more than " + std::to_string(limit) +
           " timers fired for this line: a timer that keeps re-arming itself, or a clock move too far ahead";
}

std::string error_at(int line_number, const std::string& message) {
    return "line " + std::to_string(line_number) + ": " + message;
}

}  // namespace

std::string json_line(const ordered_json& value) {
    std::string out;
    write_json(value, out);
    return out;
}

Simulator::Simulator(std::shared_ptr<const ir::Program> program, std::ostream& out, std::size_t max_timer_firings)
    : engine_(std::move(program)), out_(out), created_per_workflow_(engine_.program().workflows.size(), 0),
      max_timer_firings_(max_timer_firings) {}

std::string Simulator::running_key(int workflow, const Value& key) const {
    return std::to_string(workflow) + "\n" + key.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<std::string> Simulator::feed(std::string_view text, int line_number) {
    std::size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return std::nullopt;  // blank lines are skipped
    fired_this_line_ = 0;
    Value line = Value::parse(text, nullptr, false);
    if (line.is_discarded()) return error_at(line_number, "not a JSON object");
    if (!line.is_object()) return error_at(line_number, "expected a JSON object");
    if (line.contains("advance")) return advance(line, line_number);
    if (line.contains("cancel")) return cancel(line, line_number);
    return event(line, line_number);
}

std::optional<std::string> Simulator::advance(const Value& line, int line_number) {
    const Value& by = line["advance"];
    std::optional<std::int64_t> ms = by.is_string() ? chrono::parse_duration(by.get<std::string>()) : std::nullopt;
    if (!ms || *ms < 0) return error_at(line_number, "\"advance\" takes a duration such as \"2h\"");
    if (!clock_) return error_at(line_number, "the clock starts at the first event's time: move it after an event");
    std::int64_t target = 0;
    if (__builtin_add_overflow(*clock_, *ms, &target)) return error_at(line_number, "the clock would overflow");
    if (!fire_due(target)) return error_at(line_number, timer_loop_message(max_timer_firings_));
    clock_ = target;
    return std::nullopt;
}

std::optional<std::string> Simulator::cancel(const Value& line, int line_number) {
    const Value& what = line["cancel"];
    if (!what.is_object() || !what.contains("workflow") || !what["workflow"].is_string() || !what.contains("key"))
        return error_at(line_number, "\"cancel\" takes {\"workflow\": W, \"key\": K}");
    int workflow = engine_.program().workflow_index(what["workflow"].get<std::string>());
    if (workflow < 0) return error_at(line_number, "unknown workflow '" + what["workflow"].get<std::string>() + "'");
    Value key = what["key"];
    auto found = running_.find(running_key(workflow, key));
    if (found == running_.end()) {
        ordered_json delivery = {{"kind", "delivery"}, {"event", nullptr}, {"timer", nullptr},
                                 {"workflow", what["workflow"]}, {"key", ordered(key)},
                                 {"outcome", "unmatched"}, {"state", nullptr}};
        out_ << json_line(delivery) << '\n';
        return std::nullopt;
    }
    std::uint64_t before = timer_sequence_;
    engine::Step step = engine_.cancel(instances_[found->second], {clock_.value_or(0), &timer_sequence_});
    apply(std::move(step), found->second, Value(), nullptr, before);
    return std::nullopt;
}

std::optional<std::string> Simulator::event(const Value& line, int line_number) {
    if (!line.contains("type") || !line["type"].is_string()) return error_at(line_number, "an event needs a \"type\" string");
    std::string type = line["type"].get<std::string>();
    Value id = line.contains("id") ? line["id"] : Value(std::to_string(line_number));
    if (!id.is_string()) return error_at(line_number, "an event's \"id\" must be a string");
    std::int64_t at = 0;
    if (line.contains("time")) {
        std::optional<std::int64_t> t =
            line["time"].is_string() ? chrono::parse_rfc3339(line["time"].get<std::string>()) : std::nullopt;
        if (!t) return error_at(line_number, "\"time\" must be an RFC 3339 time");
        at = clock_ ? std::max(*t, *clock_) : *t;
    } else {
        if (!clock_) return error_at(line_number, "the first event must carry a \"time\"");
        at = *clock_ + 1000;
    }
    Value data = line.contains("data") ? line["data"] : Value::object();
    auto decoded = engine_.decode(type, data);
    if (auto* error = std::get_if<engine::DecodeError>(&decoded)) {
        if (error->field == "type") return error_at(line_number, error->message);
        return error_at(line_number, "event '" + type + "': " + error->field + " " + error->message);
    }
    const engine::Event& event = std::get<engine::Event>(decoded);

    if (!fire_due(at)) return error_at(line_number, timer_loop_message(max_timer_firings_));
    clock_ = at;

    auto seen = seen_events_.find(id.get<std::string>());
    if (seen != seen_events_.end()) {
        ordered_json delivery = {{"kind", "delivery"}, {"event", id}, {"timer", nullptr},
                                 {"workflow", ordered(seen->second.workflow)}, {"key", ordered(seen->second.key)},
                                 {"outcome", "duplicate"}, {"state", nullptr}};
        out_ << json_line(delivery) << '\n';
        return std::nullopt;
    }
    std::vector<engine::Route> routes = engine_.route(event);
    Recorded first{nullptr, nullptr};
    if (routes.empty()) {
        ordered_json delivery = {{"kind", "delivery"}, {"event", id}, {"timer", nullptr}, {"workflow", nullptr},
                                 {"key", nullptr}, {"outcome", "unmatched"}, {"state", nullptr}};
        out_ << json_line(delivery) << '\n';
    }
    for (std::size_t r = 0; r < routes.size(); ++r) {
        const engine::Route& route = routes[r];
        const ir::Workflow& workflow = engine_.program().workflows[static_cast<std::size_t>(route.workflow)];
        if (r == 0) first = {workflow.name, route.key};
        std::uint64_t before = timer_sequence_;
        engine::Clock clock{at, &timer_sequence_};
        auto found = running_.find(running_key(route.workflow, route.key));
        if (found != running_.end()) {
            apply(engine_.deliver(instances_[found->second], event, clock), found->second, id, nullptr, before);
            continue;
        }
        std::size_t n = ++created_per_workflow_[static_cast<std::size_t>(route.workflow)];
        std::string instance_id = workflow.name + "-" + std::to_string(n);
        engine::Step step = engine_.start(route, event, instance_id, clock);
        if (step.outcome == engine::Outcome::Unmatched) {
            --created_per_workflow_[static_cast<std::size_t>(route.workflow)];
            ordered_json delivery = {{"kind", "delivery"}, {"event", id}, {"timer", nullptr},
                                     {"workflow", workflow.name}, {"key", ordered(route.key)},
                                     {"outcome", "unmatched"}, {"state", nullptr}};
            out_ << json_line(delivery) << '\n';
            continue;
        }
        apply(std::move(step), std::nullopt, id, nullptr, before);
    }
    seen_events_.emplace(id.get<std::string>(), std::move(first));
    // A deadline already passed when its state was entered fires right after the handler.
    if (!fire_due(at)) return error_at(line_number, timer_loop_message(max_timer_firings_));
    return std::nullopt;
}

bool Simulator::fire_due(std::int64_t until) {
    while (!timers_.empty() && timers_.top().due_ms <= until) {
        if (++fired_this_line_ > max_timer_firings_) return false;
        TimerEntry entry = timers_.top();
        timers_.pop();
        engine::Instance& instance = instances_[entry.instance];
        if (instance.status != engine::Status::Running) continue;
        bool pending = false;
        for (const engine::PendingTimer& t : instance.timers) pending = pending || t.sequence == entry.sequence;
        if (!pending) continue;  // cancelled when the instance left the state
        const ir::Timer& timer = engine_.program()
                                     .workflows[static_cast<std::size_t>(instance.workflow)]
                                     .states[static_cast<std::size_t>(entry.timer.state)]
                                     .timers[static_cast<std::size_t>(entry.timer.timer)];
        std::uint64_t before = timer_sequence_;
        clock_ = std::max(clock_.value_or(entry.due_ms), entry.due_ms);
        engine::Step step = engine_.fire(instance, entry.timer, {entry.due_ms, &timer_sequence_});
        apply(std::move(step), entry.instance, Value(), timer.kind == ir::Timer::Kind::After ? "after" : "at", before);
    }
    return true;
}

std::size_t Simulator::apply(engine::Step step, std::optional<std::size_t> index, const Value& event_id,
                             const char* timer_kind, std::uint64_t sequence_before) {
    std::size_t at = 0;
    if (index) {
        at = *index;
        instances_[at] = std::move(step.instance);
    } else {
        at = instances_.size();
        instances_.push_back(std::move(step.instance));
    }
    const engine::Instance& instance = instances_[at];
    const ir::Workflow& workflow = engine_.program().workflows[static_cast<std::size_t>(instance.workflow)];
    std::string running = running_key(instance.workflow, instance.key);
    if (instance.status == engine::Status::Running) running_[running] = at;
    else if (auto found = running_.find(running); found != running_.end() && found->second == at) running_.erase(found);
    for (const engine::PendingTimer& t : instance.timers)
        if (t.sequence >= sequence_before) timers_.push({t.due_ms, t.sequence, at, t});

    ordered_json delivery = {{"kind", "delivery"},
                             {"event", ordered(event_id)},
                             {"timer", timer_kind ? ordered_json(timer_kind) : ordered_json()},
                             {"workflow", workflow.name},
                             {"key", ordered(instance.key)},
                             {"outcome", engine::outcome_name(step.outcome)},
                             {"state", ordered(engine_.state_name(instance))}};
    out_ << json_line(delivery) << '\n';
    for (const engine::Command& command : step.commands) {
        ordered_json line = {{"kind", "command"}, {"workflow", workflow.name}, {"key", ordered(instance.key)},
                             {"type", command.type}, {"target", command.target},
                             {"data", ordered_as(command.data, Type::record(command.type), engine_.program())}};
        out_ << json_line(line) << '\n';
    }
    return at;
}

nlohmann::ordered_json Simulator::ordered_vars(const engine::Instance& instance) const {
    const ir::Workflow& workflow = engine_.program().workflows[static_cast<std::size_t>(instance.workflow)];
    Value wire = engine_.vars_to_wire(instance);
    ordered_json out = ordered_json::object();
    for (const ir::Var& var : workflow.vars) out[var.name] = ordered_as(wire[var.name], var.type, engine_.program());
    return out;
}

void Simulator::finish() {
    for (const engine::Instance& instance : instances_) {
        const ir::Workflow& workflow = engine_.program().workflows[static_cast<std::size_t>(instance.workflow)];
        bool failed = instance.status == engine::Status::Failed;
        ordered_json line = {{"kind", "instance"},
                             {"workflow", workflow.name},
                             {"version", instance.version},
                             {"key", ordered(instance.key)},
                             {"state", ordered(engine_.state_name(instance))},
                             {"status", engine::status_name(instance.status)},
                             {"error", failed ? ordered_json(instance.error) : ordered_json()},
                             {"vars", ordered_vars(instance)}};
        out_ << json_line(line) << '\n';
    }
    out_.flush();
}

}  // namespace flow::sim
