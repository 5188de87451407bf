#include "runtime/simulator/simulator.hpp"

#include "runtime/engine/json_reader.hpp"
#include "runtime/engine/json_writer.hpp"
#include "stdlib/chrono.hpp"

namespace flow::sim {


namespace {

std::string error_at(int line_number, const std::string& message) {
    return "line " + std::to_string(line_number) + ": " + message;
}

}  // namespace

Simulator::Simulator(std::shared_ptr<const ir::Program> program, std::ostream& out, std::size_t max_firings_per_line)
    : engine_(std::move(program)), out_(out), created_per_workflow_(engine_.program().workflows.size(), 0),
      max_firings_per_line_(max_firings_per_line) {}

std::string Simulator::too_many_firings() const {
    return "more than " + std::to_string(max_firings_per_line_) + " timers fired for this line (the bound this run was given)";
}

std::string Simulator::running_key(int workflow, const Value& key) const {
    std::string id = std::to_string(workflow);
    id += key.is_string() ? '\n' : '#';
    id += key.is_string() ? key.get_ref<const std::string&>() : key.dump();
    return id;
}

void Simulator::delivery_line(const std::string* event_id, const char* timer, const std::string* workflow,
                              const Value& key, const char* outcome, const std::string* state) {
    line_.clear();
    engine::JsonWriter w(line_);
    w.open();
    w.key("kind").string("delivery");
    w.key("event").string_or_null(event_id);
    w.key("timer");
    if (timer) w.string(timer); else w.null();
    w.key("workflow").string_or_null(workflow);
    w.key("key").value(key);
    w.key("outcome").string(outcome);
    w.key("state").string_or_null(state);
    w.close();
    line_ += '\n';
    out_ << line_;
}

std::optional<std::string> Simulator::feed(std::string_view text, int line_number) {
    std::size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return std::nullopt;  // blank lines are skipped
    fired_this_line_ = 0;
    members_.clear();
    std::string why;
    switch (engine::read_json_object(text, members_, &why)) {
    case engine::ObjectRead::NotJson: return error_at(line_number, "not a JSON object: " + why);
    case engine::ObjectRead::NotAnObject: return error_at(line_number, "expected a JSON object");
    case engine::ObjectRead::Ok: break;
    }
    const Value* by = engine::member(members_, "advance");
    const Value* what = engine::member(members_, "cancel");
    // A line is one thing: a clock move, a cancellation or an event. One that holds members of
    // two would lose the other's meaning without a word, so it is refused.
    if (by || what) {
        const char* kind = by ? "advance" : "cancel";
        if (by && what) return error_at(line_number, "a line holds either \"advance\" or \"cancel\", not both");
        for (const char* event_member : {"id", "type", "time", "data"})
            if (engine::member(members_, event_member))
                return error_at(line_number, std::string("a line with \"") + kind + "\" is not an event: it cannot hold \"" +
                                                 event_member + "\" too");
    }
    if (by) return advance(*by, line_number);
    if (what) return cancel(*what, line_number);
    return event(line_number);
}

std::optional<std::string> Simulator::advance(const Value& by, int line_number) {
    std::optional<std::int64_t> ms = by.is_string() ? chrono::parse_duration(by.get<std::string>()) : std::nullopt;
    if (!ms) return error_at(line_number, "\"advance\" takes a duration such as \"2h\"");
    if (*ms < 0) return error_at(line_number, "\"advance\" moves the clock forward only: it takes a duration that is not negative, such as \"2h\"");
    if (!clock_) return error_at(line_number, "the clock starts at the first event's time: move it after an event");
    std::int64_t target = 0;
    if (__builtin_add_overflow(*clock_, *ms, &target) || !chrono::in_rfc3339_range(target))
        return error_at(line_number, "the clock would pass the end of year 9999");
    if (!fire_due(target)) return error_at(line_number, too_many_firings());
    clock_ = target;
    return std::nullopt;
}

std::optional<std::string> Simulator::cancel(const Value& what, int line_number) {
    if (!what.is_object() || !what.contains("workflow") || !what["workflow"].is_string() || !what.contains("key"))
        return error_at(line_number, "\"cancel\" takes {\"workflow\": W, \"key\": K}");
    int workflow = engine_.program().workflow_index(what["workflow"].get<std::string>());
    if (workflow < 0) return error_at(line_number, "unknown workflow '" + what["workflow"].get<std::string>() + "'");
    // The key is read as events carry it: a string, or an int (`5.0` reads as 5).
    const Type& key_type = engine_.program().workflows[static_cast<std::size_t>(workflow)].key_type;
    Value given = what["key"], key;
    if (engine_.codec().decode(given, key_type, "", key)) {
        const bool int_key = key_type.is(Type::Kind::Int);
        return error_at(line_number, "\"cancel\": the key of workflow '" + what["workflow"].get<std::string>() + "' is " +
                                         (int_key ? "an int" : "a string") + ", got " +
                                         what["key"].dump(-1, ' ', false, Value::error_handler_t::replace));
    }
    auto found = running_.find(running_key(workflow, key));
    if (found == running_.end()) {
        delivery_line(nullptr, nullptr, &what["workflow"].get_ref<const std::string&>(), key, "unmatched", nullptr);
        return std::nullopt;
    }
    std::uint64_t before = timer_sequence_;
    engine::Step step = engine_.cancel(std::move(instances_[found->second]), {clock_.value_or(0), &timer_sequence_});
    apply(std::move(step), found->second, nullptr, nullptr, before);
    return std::nullopt;
}

std::optional<std::string> Simulator::event(int line_number) {
    Value* type_field = engine::member(members_, "type");
    if (!type_field || !type_field->is_string()) return error_at(line_number, "an event needs a \"type\" string");
    const std::string& type = type_field->get_ref<const std::string&>();
    Value* id_field = engine::member(members_, "id");
    std::string id;
    if (!id_field || id_field->is_null()) id = std::to_string(line_number);  // absent or null, as for "time"
    else if (!id_field->is_string() || id_field->get_ref<const std::string&>().empty())
        return error_at(line_number, "an event's \"id\" must be a non-empty string");  // as flowd requires
    else id = std::move(id_field->get_ref<std::string&>());
    // What the event is comes first: an unknown type or data that do not match are named before
    // a missing time, on the first line too.
    Value data;
    if (Value* data_field = engine::member(members_, "data"); data_field && !data_field->is_null()) data = std::move(*data_field);
    else data = Value::object();  // absent or null, as flowd reads it
    auto decoded = engine_.decode(type, std::move(data));
    if (auto* error = std::get_if<engine::DecodeError>(&decoded)) {
        if (error->field == "type") return error_at(line_number, error->message);
        return error_at(line_number, "event '" + type + "': " + error->field + " " + error->message);
    }
    std::int64_t at = 0;
    if (const Value* time = engine::member(members_, "time"); time && !time->is_null()) {  // null: absent, as for "id"
        std::optional<std::int64_t> t =
            time->is_string() ? chrono::parse_rfc3339(time->get_ref<const std::string&>()) : std::nullopt;
        if (!t) return error_at(line_number, "\"time\" must be an RFC 3339 time");
        at = clock_ ? std::max(*t, *clock_) : *t;
    } else {
        if (!clock_) return error_at(line_number, "the first event must carry a \"time\"");
        at = *clock_ + 1000;
        if (!chrono::in_rfc3339_range(at))
            return error_at(line_number, "this event's time, the clock plus one second, would pass the end of year 9999");
    }
    const engine::Event& event = std::get<engine::Event>(decoded);

    if (!fire_due(at)) return error_at(line_number, too_many_firings());
    clock_ = at;

    auto seen = seen_events_.find(id);
    if (seen != seen_events_.end()) {
        const Recorded& recorded = seen->second;
        const std::string* workflow = recorded.workflow < 0
            ? nullptr : &engine_.program().workflows[static_cast<std::size_t>(recorded.workflow)].name;
        delivery_line(&id, nullptr, workflow, recorded.key, "duplicate", nullptr);
        return std::nullopt;
    }
    engine::Routes routes = engine_.route(event);
    Recorded first;
    if (routes.empty()) delivery_line(&id, nullptr, nullptr, Value(), "unmatched", nullptr);
    for (std::size_t r = 0; r < routes.size(); ++r) {
        const engine::Route& route = routes[r];
        const ir::Workflow& workflow = engine_.program().workflows[static_cast<std::size_t>(route.workflow)];
        if (r == 0) first = {route.workflow, *route.key};
        std::uint64_t before = timer_sequence_;
        engine::Clock clock{at, &timer_sequence_};
        auto found = running_.find(running_key(route.workflow, *route.key));
        if (found != running_.end()) {
            apply(engine_.deliver(std::move(instances_[found->second]), event, clock), found->second, &id, nullptr, before);
            // A deadline already passed when its state was entered fires right after the handler,
            // before the next workflow's delivery.
            if (!fire_due(at)) return error_at(line_number, too_many_firings());
            continue;
        }
        std::size_t n = ++created_per_workflow_[static_cast<std::size_t>(route.workflow)];
        std::string instance_id;
        instance_id.reserve(workflow.name.size() + 21);
        instance_id.append(workflow.name).append(1, '-').append(std::to_string(n));
        engine::Step step = engine_.start(route, event, std::move(instance_id), clock);
        if (step.outcome == engine::Outcome::Unmatched) {
            --created_per_workflow_[static_cast<std::size_t>(route.workflow)];
            delivery_line(&id, nullptr, &workflow.name, *route.key, "unmatched", nullptr);
            continue;
        }
        apply(std::move(step), std::nullopt, &id, nullptr, before);
        if (!fire_due(at)) return error_at(line_number, too_many_firings());
    }
    seen_events_.emplace(std::move(id), std::move(first));
    return std::nullopt;
}

bool Simulator::fire_due(std::int64_t until) {
    while (!timers_.empty() && timers_.top().due_ms <= until) {
        if (max_firings_per_line_ && ++fired_this_line_ > max_firings_per_line_) return false;
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
        // (A timer loop past Engine::max_timer_chain ends its instance failed instead of firing.)
        engine::Step step = engine_.fire(std::move(instance), entry.timer, {entry.due_ms, &timer_sequence_});
        apply(std::move(step), entry.instance, nullptr, timer.kind == ir::Timer::Kind::After ? "after" : "at", before);
    }
    return true;
}

std::size_t Simulator::apply(engine::Step step, std::optional<std::size_t> index, const std::string* event_id,
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

    delivery_line(event_id, timer_kind, &workflow.name, instance.key, engine::outcome_name(step.outcome),
                  engine_.state_name(instance));
    for (const engine::Command& command : step.commands) {
        line_.clear();
        engine::JsonWriter w(line_);
        w.open();
        w.key("kind").string("command");
        w.key("workflow").string(workflow.name);
        w.key("key").value(instance.key);
        w.key("type").string(command.type);
        w.key("target").string(command.target);
        w.key("data").record(command.data, engine_.program().records[static_cast<std::size_t>(command.record)], engine_.program());
        w.close();
        line_ += '\n';
        out_ << line_;
    }
    return at;
}

void Simulator::finish() {
    for (const engine::Instance& instance : instances_) {
        const ir::Workflow& workflow = engine_.program().workflows[static_cast<std::size_t>(instance.workflow)];
        line_.clear();
        engine::JsonWriter w(line_);
        w.open();
        w.key("kind").string("instance");
        w.key("workflow").string(workflow.name);
        w.key("version").integer(instance.version);
        w.key("key").value(instance.key);
        w.key("state").string_or_null(engine_.state_name(instance));
        w.key("status").string(engine::status_name(instance.status));
        w.key("error");
        if (engine::has_error(instance)) w.string(instance.error); else w.null();
        w.key("vars").open();
        for (std::size_t v = 0; v < workflow.vars.size() && v < instance.vars.size(); ++v) {
            const ir::Var& var = workflow.vars[v];
            w.name(var.name).value(engine_.codec().encode(instance.vars[v], var.type), var.type, engine_.program());
        }
        w.close().close();
        line_ += '\n';
        out_ << line_;
    }
    out_.flush();
}

}  // namespace flow::sim
