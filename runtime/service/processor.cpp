#include "runtime/service/processor.hpp"

#include "runtime/engine/json_reader.hpp"
#include "runtime/engine/json_writer.hpp"
#include "stdlib/chrono.hpp"

#include <algorithm>
#include <iterator>
#include <limits>

namespace flow::service {

namespace {

using nlohmann::json;
using engine::JsonWriter;
constexpr auto replace = json::error_handler_t::replace;
constexpr auto compact = JsonWriter::Layout::Compact;
// Keys are stored and looked up as this exact text, so they keep nlohmann's serialization
// (databases written before hold it); the other documents are only ever parsed back.
std::string dump(const json& j) { return j.dump(-1, ' ', false, replace); }

JsonWriter& string_or_null(JsonWriter& w, const std::string& text) { return text.empty() ? w.null() : w.string(text); }

template <typename T>
store::Result<T> fail(store::StoreError e) {
    return store::Result<T>::failure(std::move(e));
}

// The answer to an event id seen before: what the inbox recorded, marked as a duplicate. A
// record that is not what flowd writes (a hand edit, a damaged page) is refused with the
// reason, where reading it would throw, on a thread that nothing catches on.
store::Result<EventResult> duplicate_of(const std::string& event_id, const std::string& recorded) {
    const json parsed = engine::read_stored_json(recorded);
    std::optional<EventResult> read = parsed.is_discarded() ? std::nullopt : EventResult::from_json(parsed, true);
    if (!read)
        return fail<EventResult>({store::StoreError::Kind::Corrupt,
                                  "the answer recorded for event '" + event_id + "' cannot be read: it is not what flowd records"});
    return store::Result<EventResult>::success(std::move(*read));
}

// Whether a pending timer names a timer of the workflow.
bool names_a_timer(const ir::Workflow& workflow, const engine::PendingTimer& timer) {
    if (timer.state < 0 || static_cast<std::size_t>(timer.state) >= workflow.states.size()) return false;
    return timer.timer >= 0 && static_cast<std::size_t>(timer.timer) < workflow.states[static_cast<std::size_t>(timer.state)].timers.size();
}

// Fits a stored instance to the program of its version: the indexes the engine runs it by. A
// row that does not fit it (a hand edit, a damaged page) is refused with the reason, where
// running it would read past the program's tables.
std::optional<std::string> resolve(const engine::Engine& engine, store::StoredInstance& stored) {
    int w = engine.program().workflow_index(stored.workflow);
    if (w < 0) return "its workflow is not in the program of its version";
    const ir::Workflow& workflow = engine.program().workflows[static_cast<std::size_t>(w)];
    stored.instance.workflow = w;
    stored.instance.state = stored.state.empty() ? -1 : workflow.state_index(stored.state);
    if (!stored.state.empty() && stored.instance.state < 0) return "its state '" + stored.state + "' is not one of the workflow's";
    if (stored.instance.status == engine::Status::Running && stored.instance.state < 0) return "it is running but in no state";
    if (stored.instance.vars.size() != workflow.vars.size())
        return "it holds " + std::to_string(stored.instance.vars.size()) + " variables where the workflow declares " +
               std::to_string(workflow.vars.size());
    if (auto misfit = engine.vars_misfit(stored.instance)) return misfit;
    for (const engine::PendingTimer& timer : stored.instance.timers)
        if (!names_a_timer(workflow, timer)) return "a pending timer of it names no timer of the workflow";
    for (engine::Command& c : stored.instance.compensations) {
        auto found = engine.program().record_by_name.find(c.type);
        c.record = found == engine.program().record_by_name.end() ? -1 : found->second;
    }
    return std::nullopt;
}

// The error of an instance whose version has no program in this flowd.
store::StoreError no_program_error(const std::string& workflow, int version) {
    return {store::StoreError::Kind::Corrupt, "no program for " + workflow + " version " + std::to_string(version) +
                                                  ": its sources no longer compile with this flowd, or compile to another "
                                                  "program (see the log at start)"};
}

// The error of an instance whose row does not fit its program.
store::StoreError misfit_error(const store::StoredInstance& stored, const std::string& why) {
    return {store::StoreError::Kind::Corrupt, "instance " + stored.instance.id + " (" + stored.workflow + " version " +
                                                  std::to_string(stored.instance.version) + ") cannot be run from the database: " + why};
}

// Whether a step left the pending timers as they were (each timer has its own sequence).
// Writes, as the member `name`, the timers of `timers` that `others` does not hold, leaving out
// the one fired: those a step started (its timers after against before) or cancelled (before
// against after). Nothing when there are none.
void write_timers_between(JsonWriter& w, std::string_view name, const ir::Workflow& workflow,
                          const std::vector<engine::PendingTimer>& timers, const std::vector<engine::PendingTimer>& others,
                          std::optional<std::uint64_t> fired) {
    bool any = false;
    for (const engine::PendingTimer& t : timers) {
        if (t.sequence == fired) continue;
        if (std::any_of(others.begin(), others.end(), [&](const engine::PendingTimer& o) { return o.sequence == t.sequence; }))
            continue;
        if (!any) w.key(name).begin_list();
        any = true;
        const ir::Timer& timer = workflow.states[static_cast<std::size_t>(t.state)].timers[static_cast<std::size_t>(t.timer)];
        w.item().open().key("timer").string(timer.kind == ir::Timer::Kind::After ? "after" : "at")
            .key("due").string(timestamp(t.due_ms)).close();
    }
    if (any) w.end_list();
}

bool same_timers(const std::vector<engine::PendingTimer>& a, const std::vector<engine::PendingTimer>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t n = 0; n < a.size(); ++n)
        if (a[n].sequence != b[n].sequence) return false;
    return true;
}

// Of the timers started since `sequence_from` and due at `now_ms`, the earliest due, then the
// first started; null when none is due.
const engine::PendingTimer* earliest_due(const std::vector<engine::PendingTimer>& timers, std::int64_t now_ms,
                                         std::uint64_t sequence_from) {
    const engine::PendingTimer* next = nullptr;
    for (const engine::PendingTimer& t : timers)
        if (t.sequence >= sequence_from && t.due_ms <= now_ms &&
            (!next || t.due_ms < next->due_ms || (t.due_ms == next->due_ms && t.sequence < next->sequence)))
            next = &t;
    return next;
}

std::string state_of(const engine::Engine& engine, const engine::Instance& i) {
    const std::string* name = engine.state_name(i);
    return name ? *name : std::string();
}

}  // namespace


store::Result<CancelOutcome> Processor::terminate(store::Transaction& tx, const std::string& instance_id, std::int64_t now_ms) {
    auto found = tx.instance(instance_id);
    if (!found.ok()) return fail<CancelOutcome>(*found.error);
    if (!*found.value) return store::Result<CancelOutcome>::success(CancelOutcome::NotFound);
    const store::StoredInstance& stored = **found.value;
    if (stored.instance.status != engine::Status::Running) return store::Result<CancelOutcome>::success(CancelOutcome::NotRunning);
    const std::string at = timestamp(now_ms);
    // What was dropped, as the row held it: the timers by due time and sequence (naming their
    // kind would need the program, which an instance that cannot run may not have), and the
    // compensations still owed, for whoever must now make up for the steps by hand (their data
    // is kept in its wire form, as the command would have carried it).
    store::HistoryEntry cause{at, "terminate", {}};
    JsonWriter w(cause.detail, compact);
    w.open().key("status").string(engine::status_name(engine::Status::Cancelled)).key("timers_dropped").begin_list();
    for (const engine::PendingTimer& t : stored.instance.timers)
        w.item().open().key("due").string(timestamp(t.due_ms)).key("sequence").integer(static_cast<long long>(t.sequence)).close();
    w.end_list().key("compensations_discarded").begin_list();
    for (const engine::Command& c : stored.instance.compensations)
        w.item().open().key("type").string(c.type).key("target").string(c.target).key("data").value(c.data).close();
    w.end_list().close();
    std::string transition;
    JsonWriter tw(transition, compact);
    tw.open().key("from");
    string_or_null(tw, stored.state).key("to");
    string_or_null(tw, stored.state).key("status").string(engine::status_name(engine::Status::Cancelled)).close();
    if (auto e = tx.end_cancelled(stored, at)) return fail<CancelOutcome>(*e);
    if (auto e = tx.add_history(instance_id, {cause, {at, "transition", std::move(transition)}})) return fail<CancelOutcome>(*e);
    return store::Result<CancelOutcome>::success(CancelOutcome::Cancelled);
}

std::optional<std::string> Processor::cannot_run(const store::StoredInstance& stored) const {
    if (stored.instance.status != engine::Status::Running) return std::nullopt;
    const engine::Engine* engine = deployment_.engine_for(stored.workflow, stored.instance.version);
    if (!engine) return no_program_error(stored.workflow, stored.instance.version).message;
    store::StoredInstance copy = stored;  // resolve() fills in the indexes it would run by
    if (auto why = resolve(*engine, copy)) return misfit_error(copy, *why).message;
    return std::nullopt;
}

std::string EventResult::to_text() const {
    std::string text;
    JsonWriter w(text, compact);
    w.open().key("id").string(id).key("duplicate").boolean(duplicate).key("deliveries").begin_list();
    for (const Delivery& d : deliveries) {
        w.item().open().key("workflow");
        string_or_null(w, d.workflow).key("key").value(d.key).key("instance");
        string_or_null(w, d.instance).key("outcome").string(d.outcome).key("state").value(d.state).close();
    }
    w.end_list().close();
    return text;
}

namespace {

// A member's value; null when it is absent.
const json& member(const json& object, const char* name) {
    static const json absent;
    auto found = object.find(name);
    return found == object.end() ? absent : *found;
}

// A member that holds a string or nothing: its text, empty for nothing; false when it holds
// something else.
bool optional_text(const json& object, const char* name, std::string& out) {
    const json& value = member(object, name);
    if (value.is_null()) return true;
    if (!value.is_string()) return false;
    out = value.get<std::string>();
    return true;
}

}  // namespace

std::optional<EventResult> EventResult::from_json(const Value& recorded, bool duplicate) {
    if (!recorded.is_object()) return std::nullopt;
    EventResult r;
    r.duplicate = duplicate;
    if (!optional_text(recorded, "id", r.id)) return std::nullopt;
    const json& deliveries = member(recorded, "deliveries");
    if (!deliveries.is_null() && !deliveries.is_array()) return std::nullopt;
    if (deliveries.is_null()) return r;
    for (const json& d : deliveries) {
        if (!d.is_object()) return std::nullopt;
        Delivery delivery{"", member(d, "key"), "", "", member(d, "state")};
        if (!optional_text(d, "workflow", delivery.workflow) || !optional_text(d, "instance", delivery.instance) ||
            !optional_text(d, "outcome", delivery.outcome))
            return std::nullopt;
        r.deliveries.push_back(std::move(delivery));
    }
    return r;
}

std::optional<Rejection> Processor::validate(const IncomingEvent& event) const {
    auto decoded = deployment_.current().decode(event.type, event.data);
    if (auto* error = std::get_if<engine::DecodeError>(&decoded)) return Rejection{error->field, error->message};
    return std::nullopt;
}

store::Result<std::optional<EventResult>> Processor::recorded(store::Store& store, const std::string& event_id) const {
    auto found = store.recorded_event(event_id);
    if (!found.ok()) return fail<std::optional<EventResult>>(*found.error);
    if (!*found.value) return store::Result<std::optional<EventResult>>::success(std::nullopt);
    auto duplicate = duplicate_of(event_id, **found.value);
    if (!duplicate.ok()) return fail<std::optional<EventResult>>(*duplicate.error);
    return store::Result<std::optional<EventResult>>::success(std::move(*duplicate.value));
}

store::Status Processor::save_step(store::Transaction& tx, const engine::Engine& engine, const engine::Step& step,
                                   bool is_new, std::int64_t now_ms, const store::HistoryEntry& cause, const Before& before) {
    const engine::Instance& i = step.instance;
    const ir::Workflow& workflow = engine.program().workflows[static_cast<std::size_t>(i.workflow)];
    const std::string state = state_of(engine, i);
    std::string updated_at = timestamp(now_ms);
    std::string created_at = is_new ? updated_at : before.created_at;
    store::Transaction::InstanceChanges changes{is_new, is_new || i.status != before.status,
                                                is_new || !same_timers(before.timers, i.timers)};
    if (auto e = tx.save_instance({i, workflow.name, state, before.row, std::move(created_at), std::move(updated_at)}, changes))
        return e;
    if (step.entered && !i.timers.empty()) timers_started_ = true;
    std::vector<store::HistoryEntry> history{cause};
    // The history holds what happened in the order it happened: the commands sent before the
    // handler's goto, complete, fail or cancel, then the transition (and the error that ended the
    // instance, if one did), then the commands of the entered state's `entry` block.
    std::vector<store::HistoryEntry> transition_entries;
    // A transition: the instance was created, entered a state (re-entry included) or ended.
    if (is_new || step.entered || i.status != engine::Status::Running || state != before.state) {
        std::string transition;
        JsonWriter w(transition, compact);
        w.open().key("from");
        string_or_null(w, before.state).key("to");
        string_or_null(w, state).key("status").string(engine::status_name(i.status));
        write_timers_between(w, "timers_started", workflow, i.timers, before.timers, before.fired);
        write_timers_between(w, "timers_cancelled", workflow, before.timers, i.timers, before.fired);
        w.close();
        transition_entries.push_back({cause.at, "transition", std::move(transition)});
    }
    // Why it failed (`fail`, an empty reason included, or a runtime error), or the runtime error
    // its `on cancel` hit (ended cancelled all the same).
    if (i.status != engine::Status::Running && engine::has_error(i)) {
        std::string error;
        JsonWriter(error, compact).open().key("error").string(i.error).close();
        transition_entries.push_back({cause.at, "error", std::move(error)});
    }
    auto add_transition = [&] { std::move(transition_entries.begin(), transition_entries.end(), std::back_inserter(history)); };
    std::string key = step.commands.empty() ? std::string() : dump(i.key);
    for (std::size_t n = 0; n < step.commands.size(); ++n) {
        if (n == step.commands_before_transition) add_transition();
        const engine::Command& c = step.commands[n];
        store::OutboxCommand command;
        command.id = new_id_();
        command.instance = i.id;
        command.workflow = workflow.name;
        command.key = key;
        command.type = c.type;
        command.target = c.target;
        JsonWriter(command.payload, compact).value(c.data);
        command.next_attempt_ms = now_ms;
        command.created_at = cause.at;
        command.first_of_instance = is_new && n == 0;
        if (auto e = tx.add_command(command)) return e;
        std::string detail;
        JsonWriter(detail, compact).open().key("id").string(command.id).key("type").string(c.type).key("target").string(c.target)
            .key("data").raw(command.payload).close();
        history.push_back({cause.at, "command", std::move(detail)});
    }
    if (step.commands_before_transition >= step.commands.size()) add_transition();
    return tx.add_history(i.id, history);
}

store::Result<EventResult> Processor::handle(store::Transaction& tx, const IncomingEvent& incoming, std::int64_t now_ms,
                                             std::uint64_t& timer_sequence) {
    auto recorded = tx.recorded_event(incoming.id);
    if (!recorded.ok()) return fail<EventResult>(*recorded.error);
    if (*recorded.value) return duplicate_of(incoming.id, **recorded.value);

    const engine::Engine& current = deployment_.current();
    auto decoded = current.decode(incoming.type, incoming.data);
    if (auto* error = std::get_if<engine::DecodeError>(&decoded))
        return fail<EventResult>({store::StoreError::Kind::Conflict, error->field + " " + error->message});
    const engine::Event& event = std::get<engine::Event>(decoded);
    std::string at = timestamp(now_ms);

    EventResult result;
    result.id = incoming.id;
    for (const engine::Route& route : current.route(event)) {
        const std::string& name = current.program().workflows[static_cast<std::size_t>(route.workflow)].name;
        Delivery delivery{name, *route.key, "", "unmatched", Value()};
        const std::string key = dump(*route.key);
        auto running = tx.running_instance(name, key);
        if (!running.ok()) return fail<EventResult>(*running.error);
        if (*running.value) {
            const std::string id = (**running.value).instance.id;
            auto caught_up = catch_up_timers(tx, id, (**running.value).instance.timers, now_ms, timer_sequence,
                                             result.timers_fired);
            if (!caught_up.ok()) return fail<EventResult>(*caught_up.error);
            if (*caught_up.value) {
                running = tx.running_instance(name, key);  // as the timers left it, if it still runs
                if (!running.ok()) return fail<EventResult>(*running.error);
            }
        }
        engine::Step step;
        const engine::Engine* engine = &current;
        const std::uint64_t sequence_before = timer_sequence;
        bool is_new = false;
        Before before;
        if (*running.value) {
            store::StoredInstance& stored = **running.value;
            before = {stored.state, stored.instance.status, stored.instance.timers, stored.row, stored.created_at, std::nullopt};
            engine = deployment_.engine_for(name, stored.instance.version);
            if (!engine) return fail<EventResult>(no_program_error(name, stored.instance.version));
            if (auto why = resolve(*engine, stored)) return fail<EventResult>(misfit_error(stored, *why));
            if (engine == &current) {
                step = engine->deliver(std::move(stored.instance), event, {now_ms, &timer_sequence});
            } else {
                // An instance of an older version reads the event with that version's declarations.
                auto old = engine->decode(incoming.type, incoming.data);
                if (auto* e = std::get_if<engine::Event>(&old)) step = engine->deliver(std::move(stored.instance), *e, {now_ms, &timer_sequence});
                else step = {engine::Outcome::Ignored, std::move(stored.instance), {}};
            }
        } else {
            step = current.start(route, event, new_id_(), {now_ms, &timer_sequence});
            is_new = true;
        }
        delivery.outcome = engine::outcome_name(step.outcome);
        if (step.outcome != engine::Outcome::Unmatched) {
            delivery.instance = step.instance.id;
            if (const std::string* state = engine->state_name(step.instance)) delivery.state = *state;
            store::HistoryEntry cause{at, "delivery", {}};
            JsonWriter w(cause.detail, compact);
            w.open().key("event").string(incoming.id).key("type").string(incoming.type).key("outcome").string(delivery.outcome)
                .key("state").value(delivery.state).key("event_time");
            string_or_null(w, incoming.time).close();
            if (auto e = save_step(tx, *engine, step, is_new, now_ms, cause, before)) return fail<EventResult>(*e);
            if (step.instance.status == engine::Status::Running)
                if (auto e = fire_overdue(tx, step.instance.id, step.instance.timers, sequence_before, now_ms, now_ms,
                                          timer_sequence, result.timers_fired))
                    return fail<EventResult>(*e);
        }
        result.deliveries.push_back(std::move(delivery));
    }
    if (result.deliveries.empty()) result.deliveries.push_back({"", Value(), "", "unmatched", Value()});
    if (auto e = tx.record_event(incoming.id, incoming.type, result.to_text(), at)) return fail<EventResult>(*e);
    return store::Result<EventResult>::success(std::move(result));
}

store::Result<bool> Processor::fire(store::Transaction& tx, const store::DueTimer& due, std::int64_t now_ms,
                                    std::uint64_t& timer_sequence, int* overdue_fired,
                                    std::vector<engine::PendingTimer>* pending_after) {
    const std::uint64_t sequence_before = timer_sequence;
    std::vector<engine::PendingTimer> pending;
    auto done = fire_one(tx, due, now_ms, timer_sequence, pending);
    if (!done.ok() || !*done.value) return done;
    // What the timer entered may hold a deadline already passed at the timer's own time, its
    // now(): it fires right after, as after an event. One due at that very instant (`after 0s`)
    // takes its turn among the timers due then, after those started before it, as in `flowc
    // simulate`; so does one due later, though before `now_ms` (flowd was stopped): the timer
    // loop fires them in due order across every instance.
    int fired = 0;
    const std::int64_t before_due = due.timer.due_ms > std::numeric_limits<std::int64_t>::min() ? due.timer.due_ms - 1 : due.timer.due_ms;
    if (auto e = fire_overdue(tx, due.instance, pending, sequence_before, before_due, now_ms, timer_sequence, fired))
        return fail<bool>(*e);
    if (overdue_fired) *overdue_fired += fired;
    if (pending_after) *pending_after = std::move(pending);
    return done;
}

store::Result<bool> Processor::fire_one(store::Transaction& tx, const store::DueTimer& due, std::int64_t now_ms,
                                        std::uint64_t& timer_sequence, std::vector<engine::PendingTimer>& pending_after) {
    pending_after.clear();
    auto found = tx.instance(due.instance);
    if (!found.ok()) return fail<bool>(*found.error);
    // A timer that can never fire (its instance gone or ended, or the timer no longer pending) is
    // dropped, so that it does not come due again and again.
    auto drop = [&]() -> store::Result<bool> {
        if (auto e = tx.drop_timer(due.instance, due.timer.sequence)) return fail<bool>(*e);
        return store::Result<bool>::success(false);
    };
    if (!*found.value) return drop();
    store::StoredInstance& stored = **found.value;
    const bool pending = std::any_of(stored.instance.timers.begin(), stored.instance.timers.end(),
                                     [&](const engine::PendingTimer& t) { return t.sequence == due.timer.sequence; });
    if (stored.instance.status != engine::Status::Running || !pending) return drop();
    const engine::Engine* engine = deployment_.engine_for(stored.workflow, stored.instance.version);
    if (!engine) {
        // Its version does not compile with this binary: the timer waits, looked at again every
        // minute, for a binary that runs it (it then fires late, with now() the last time it was
        // looked at, its due time since).
        if (auto e = tx.postpone_timer(due.instance, due.timer.sequence, now_ms + uncompiled_version_retry_ms))
            return fail<bool>(*e);
        return store::Result<bool>::success(false);
    }
    // A row that does not fit its program fails the firing, which is tried again later and
    // logged, rather than dropping the timer.
    if (auto why = resolve(*engine, stored)) return fail<bool>(misfit_error(stored, *why));
    const ir::Workflow& workflow = engine->program().workflows[static_cast<std::size_t>(stored.instance.workflow)];
    if (!names_a_timer(workflow, due.timer)) return fail<bool>(misfit_error(stored, "the timer due names no timer of the workflow"));
    const ir::Timer& timer = workflow.states[static_cast<std::size_t>(due.timer.state)].timers[static_cast<std::size_t>(due.timer.timer)];
    Before before{stored.state, stored.instance.status, stored.instance.timers, stored.row, stored.created_at, due.timer.sequence};
    engine::Step step = engine->fire(std::move(stored.instance), due.timer, {due.timer.due_ms, &timer_sequence});
    const std::int64_t fired_at = std::max(now_ms, due.timer.due_ms);
    store::HistoryEntry cause{timestamp(fired_at), "timer", {}};
    JsonWriter(cause.detail, compact).open().key("timer").string(timer.kind == ir::Timer::Kind::After ? "after" : "at")
        .key("due").string(timestamp(due.timer.due_ms)).key("state").string_or_null(engine->state_name(step.instance)).close();
    if (auto e = save_step(tx, *engine, step, false, fired_at, cause, before))
        return fail<bool>(*e);
    if (step.instance.status == engine::Status::Running) pending_after = std::move(step.instance.timers);
    return store::Result<bool>::success(true);
}

bool Processor::in_timer_chain(const std::vector<engine::PendingTimer>& timers, std::int64_t now_ms) {
    return std::any_of(timers.begin(), timers.end(),
                       [&](const engine::PendingTimer& t) { return t.chain > 0 && t.due_ms <= now_ms; });
}

store::Status Processor::finish_timer_chain(store::Transaction& tx, const std::string& instance_id,
                                            std::vector<engine::PendingTimer> timers, std::int64_t now_ms,
                                            std::uint64_t& timer_sequence, int& fired) {
    // At most the chain's length: the engine fails the instance past it.
    return fire_due_timers(tx, instance_id, timers, 0, now_ms, now_ms, timer_sequence, fired,
                           engine::Engine::max_timer_chain + 1, true);
}

store::Result<bool> Processor::catch_up_timers(store::Transaction& tx, const std::string& instance_id,
                                                const std::vector<engine::PendingTimer>& timers, std::int64_t now_ms,
                                                std::uint64_t& timer_sequence, int& fired) {
    std::vector<engine::PendingTimer> after_chain;
    const std::vector<engine::PendingTimer>* pending = &timers;
    if (in_timer_chain(timers, now_ms)) {
        // Its chain of timers goes on past what one transaction fires: it ends first.
        if (auto e = finish_timer_chain(tx, instance_id, timers, now_ms, timer_sequence, fired)) return fail<bool>(*e);
        auto found = tx.instance(instance_id);  // as the chain left it
        if (!found.ok()) return fail<bool>(*found.error);
        if (!*found.value || (**found.value).instance.status != engine::Status::Running)
            return store::Result<bool>::success(true);
        after_chain = std::move((**found.value).instance.timers);
        pending = &after_chain;
    }
    if (earliest_due(*pending, now_ms, 0)) {
        // A timer due by now that the timer loop has not fired yet (it wakes a moment after the
        // due time), and the overdue ones it starts, up to the bound.
        std::vector<engine::PendingTimer> due = *pending;
        if (auto e = fire_due_timers(tx, instance_id, due, 0, now_ms, now_ms, timer_sequence, fired, max_overdue_firings, false))
            return fail<bool>(*e);
        return store::Result<bool>::success(true);
    }
    return store::Result<bool>::success(pending != &timers);
}

store::Status Processor::fire_overdue(store::Transaction& tx, const std::string& instance_id, std::vector<engine::PendingTimer>& timers,
                                      std::uint64_t sequence_before, std::int64_t due_by_ms, std::int64_t now_ms,
                                      std::uint64_t& timer_sequence, int& fired) {
    return fire_due_timers(tx, instance_id, timers, sequence_before, due_by_ms, now_ms, timer_sequence, fired,
                           max_overdue_firings, false);
}

store::Status Processor::fire_due_timers(store::Transaction& tx, const std::string& instance_id,
                                         std::vector<engine::PendingTimer>& timers, std::uint64_t sequence_from,
                                         std::int64_t due_by_ms, std::int64_t now_ms, std::uint64_t& timer_sequence, int& fired,
                                         std::size_t rounds, bool while_chained) {
    for (std::size_t round = 0; round < rounds; ++round) {
        if (while_chained && !in_timer_chain(timers, due_by_ms)) break;
        const engine::PendingTimer* next = earliest_due(timers, due_by_ms, sequence_from);
        if (!next) break;
        std::vector<engine::PendingTimer> pending_after;
        auto done = fire_one(tx, {instance_id, *next}, now_ms, timer_sequence, pending_after);
        if (!done.ok()) return *done.error;
        if (!*done.value) break;  // it did not fire (its version cannot run here): the instance is as it was
        ++fired;
        timers = std::move(pending_after);  // none once the instance has ended
    }
    return std::nullopt;
}

store::Result<CancelOutcome> Processor::cancel(store::Transaction& tx, const std::string& instance_id, std::int64_t now_ms,
                                               std::uint64_t& timer_sequence, int& timers_fired) {
    auto found = tx.instance(instance_id);
    if (!found.ok()) return fail<CancelOutcome>(*found.error);
    if (!*found.value) return store::Result<CancelOutcome>::success(CancelOutcome::NotFound);
    if ((**found.value).instance.status == engine::Status::Running) {
        // A cancellation comes after the timers due by its time, as an event does.
        auto caught_up = catch_up_timers(tx, instance_id, (**found.value).instance.timers, now_ms, timer_sequence, timers_fired);
        if (!caught_up.ok()) return fail<CancelOutcome>(*caught_up.error);
        if (*caught_up.value) {
            found = tx.instance(instance_id);
            if (!found.ok()) return fail<CancelOutcome>(*found.error);
            if (!*found.value) return store::Result<CancelOutcome>::success(CancelOutcome::NotFound);
        }
    }
    store::StoredInstance& stored = **found.value;
    if (stored.instance.status != engine::Status::Running) return store::Result<CancelOutcome>::success(CancelOutcome::NotRunning);
    const engine::Engine* engine = deployment_.engine_for(stored.workflow, stored.instance.version);
    if (!engine) return fail<CancelOutcome>(no_program_error(stored.workflow, stored.instance.version));
    if (auto why = resolve(*engine, stored)) return fail<CancelOutcome>(misfit_error(stored, *why));
    Before before{stored.state, stored.instance.status, stored.instance.timers, stored.row, stored.created_at, std::nullopt};
    engine::Step step = engine->cancel(std::move(stored.instance), {now_ms, &timer_sequence});
    store::HistoryEntry cause{timestamp(now_ms), "cancel", {}};
    JsonWriter(cause.detail, compact).open().key("status").string(engine::status_name(step.instance.status)).close();
    if (auto e = save_step(tx, *engine, step, false, now_ms, cause, before))
        return fail<CancelOutcome>(*e);
    return store::Result<CancelOutcome>::success(CancelOutcome::Cancelled);
}

store::Result<store::OutboxCommand> Processor::delete_dead_command(store::Transaction& tx, const std::string& command_id,
                                                                   std::int64_t now_ms) {
    const std::string at = timestamp(now_ms);
    auto deleted = tx.delete_dead(command_id, at);
    if (!deleted.ok()) return deleted;
    const store::OutboxCommand& command = *deleted.value;
    store::HistoryEntry entry{at, "command_deleted", {}};
    JsonWriter w(entry.detail, compact);
    w.open().key("id").string(command.id).key("type").string(command.type).key("target").string(command.target);
    w.key("attempts").integer(command.attempts).key("last_error");
    string_or_null(w, command.last_error).close();
    if (auto e = tx.add_history(command.instance, {entry})) return fail<store::OutboxCommand>(*e);
    return deleted;
}

store::Result<Processor::DeadDeleted> Processor::delete_dead_commands(store::Transaction& tx, const std::string& target,
                                                                      std::int64_t after_row, int limit, std::int64_t now_ms) {
    auto page = tx.dead_commands(target, after_row, limit);
    if (!page.ok()) return fail<DeadDeleted>(*page.error);
    for (const std::string& id : page.value->ids)
        if (auto deleted = delete_dead_command(tx, id, now_ms); !deleted.ok()) return fail<DeadDeleted>(*deleted.error);
    return store::Result<DeadDeleted>::success({static_cast<int>(page.value->ids.size()), page.value->next_after_row});
}

}  // namespace flow::service
