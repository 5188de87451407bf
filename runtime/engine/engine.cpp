#include "runtime/engine/engine.hpp"

#include "runtime/engine/execution.hpp"

#include <algorithm>

namespace flow::engine {

const char* status_name(Status status) {
    switch (status) {
    case Status::Running: return "running";
    case Status::Completed: return "completed";
    case Status::Failed: return "failed";
    case Status::Cancelled: return "cancelled";
    }
    return "running";
}

const char* outcome_name(Outcome outcome) {
    switch (outcome) {
    case Outcome::Started: return "started";
    case Outcome::Handled: return "handled";
    case Outcome::Ignored: return "ignored";
    case Outcome::Unmatched: return "unmatched";
    }
    return "unmatched";
}

namespace {
const std::string data_path = "data";
}

Engine::Engine(std::shared_ptr<const ir::Program> program) : program_(std::move(program)), codec_(*program_) {}

std::variant<Event, DecodeError> Engine::decode(std::string_view type, const Value& data) const {
    return decode(type, Value(data));
}

std::variant<Event, DecodeError> Engine::decode(std::string_view type, Value&& data) const {
    const ir::Record* record = program_->event_for_type(type);
    if (!record) return DecodeError{"type", "unknown event type '" + std::string(type) + "'"};
    Event event;
    event.record = static_cast<int>(record - program_->records.data());
    if (auto error = codec_.decode(data, *record, data_path, event.data)) return *error;
    return event;
}

Routes Engine::route(const Event& event) const {
    static const Value no_key;
    Routes routes;
    for (std::size_t w = 0; w < program_->workflows.size(); ++w) {
        const ir::Workflow& workflow = program_->workflows[w];
        auto path = workflow.key_paths.find(event.record);
        if (path == workflow.key_paths.end()) continue;
        const Value* at = &event.data;
        for (const std::string& field : path->second) {
            auto found = at->find(field);
            if (found == at->end()) {
                at = nullptr;
                break;
            }
            at = &*found;
        }
        routes.push_back({static_cast<int>(w), at ? at : &no_key});
    }
    return routes;
}

namespace {

std::string where(const ir::Workflow& workflow, const ir::Position& position) {
    return workflow.file + ":" + std::to_string(position.line) + ":" + std::to_string(position.column);
}

// What a handler may change in an instance apart from its variables (the execution undoes
// those), kept so that a handler that fails changes nothing (its id, key and version never
// change; its timers and compensations are dropped on failure).
class Rollback {
public:
    explicit Rollback(const Instance& instance)
        : state_(instance.state), status_(instance.status), error_(instance.error), uuid_counter_(instance.uuid_counter) {}
    // The instance as it was, apart from its timers and compensations.
    Instance&& undo(Instance& instance, Execution& execution) {
        execution.undo_vars();
        instance.state = state_;
        instance.status = status_;
        instance.error = std::move(error_);
        instance.uuid_counter = uuid_counter_;
        return std::move(instance);
    }

private:
    int state_;
    Status status_;
    std::string error_;
    std::uint64_t uuid_counter_;
};

// A runtime error commits nothing of the handler: the instance is the one before it, ended
// with the error and its place: `failed`, or `cancelled` for an error in `on cancel`, since the
// instance ends cancelled whatever that handler does.
Step failed(Instance before, const ir::Workflow& workflow, const PositionedError& error, Outcome outcome,
            Status ends = Status::Failed) {
    Step step;
    step.outcome = outcome;
    before.status = ends;
    before.error = error.message + " at " + where(workflow, error.position);
    before.timers.clear();
    before.compensations.clear();
    step.instance = std::move(before);
    return step;
}

// Whether an expression reads an instance variable: a start handler's guard that does is
// evaluated after the initializers, one that does not before them (language.md, `var`).
bool reads_vars(const ir::Expr& expr) {
    return expr.op == ir::Op::Var || std::any_of(expr.args.begin(), expr.args.end(), reads_vars);
}

}  // namespace

Step Engine::start(const Route& route, const Event& event, std::string instance_id, Clock clock) const {
    const ir::Workflow& workflow = program_->workflows[static_cast<std::size_t>(route.workflow)];
    Step step;
    auto starts = workflow.starts_by_event.find(event.record);
    if (starts == workflow.starts_by_event.end()) return step;
    Instance working;
    working.id = std::move(instance_id);
    working.workflow = route.workflow;
    working.version = workflow.version;
    working.key = *route.key;
    bool initialized = false;
    Execution execution(*program_, codec_, workflow, working, clock);
    // The initializers run once, before the first guard that reads a variable, or else once a
    // handler is chosen: an event no start handler takes creates nothing, even when an
    // initializer would fail.
    auto initialize = [&] {
        if (initialized) return;
        execution.initialize_vars();
        initialized = true;
    };
    try {
        for (int index : starts->second) {
            const ir::Handler& handler = workflow.starts[static_cast<std::size_t>(index)];
            if (handler.guard && reads_vars(*handler.guard)) initialize();
            if (!execution.guard_holds(handler, &event.data)) continue;
            initialize();
            execution.run(handler, &event.data);
            step.outcome = Outcome::Started;
            step.entered = execution.entered();
            step.commands_before_transition = execution.commands_before_transition();
            step.commands = std::move(execution.commands());
            step.instance = std::move(working);
            return step;
        }
    } catch (const PositionedError& error) {
        Instance fresh;
        fresh.id = std::move(working.id);
        fresh.workflow = route.workflow;
        fresh.version = workflow.version;
        fresh.key = *route.key;
        if (initialized) execution.undo_vars();  // what a failed start keeps: the initial values only
        fresh.vars = std::move(working.vars);    // or, when an initializer failed, those before it
        fresh.vars.resize(workflow.vars.size());
        return failed(std::move(fresh), workflow, error, Outcome::Started);
    }
    return step;  // Unmatched: no start handler's guard holds
}

Step Engine::deliver(Instance working, const Event& event, Clock clock) const {
    const ir::Workflow& workflow = program_->workflows[static_cast<std::size_t>(working.workflow)];
    Rollback rollback(working);
    Execution execution(*program_, codec_, workflow, working, clock);
    Step step;
    try {
        // The first handler whose guard holds: the state's own, then the workflow's.
        auto first_chosen = [&](const std::unordered_map<int, std::vector<int>>& by_event,
                                const std::vector<ir::Handler>& handlers) -> const ir::Handler* {
            auto candidates = by_event.find(event.record);
            if (candidates == by_event.end()) return nullptr;
            for (int index : candidates->second) {
                const ir::Handler& h = handlers[static_cast<std::size_t>(index)];
                if (execution.guard_holds(h, &event.data)) return &h;
            }
            return nullptr;
        };
        const ir::Handler* chosen = nullptr;
        if (working.state >= 0) {
            const ir::State& state = workflow.states[static_cast<std::size_t>(working.state)];
            chosen = first_chosen(state.handlers_by_event, state.handlers);
        }
        if (!chosen) chosen = first_chosen(workflow.handlers_by_event, workflow.handlers);
        if (!chosen) {
            step.outcome = Outcome::Ignored;
            step.instance = rollback.undo(working, execution);  // a guard may have drawn a uuid()
            return step;
        }
        execution.run(*chosen, &event.data);
    } catch (const PositionedError& error) {
        return failed(rollback.undo(working, execution), workflow, error, Outcome::Handled);
    }
    step.outcome = Outcome::Handled;
    step.entered = execution.entered();
    step.commands_before_transition = execution.commands_before_transition();
    step.commands = std::move(execution.commands());
    step.instance = std::move(working);
    return step;
}

Step Engine::fire(Instance working, const PendingTimer& timer, Clock clock) const {
    const ir::Workflow& workflow = program_->workflows[static_cast<std::size_t>(working.workflow)];
    const ir::Timer& definition =
        workflow.states[static_cast<std::size_t>(timer.state)].timers[static_cast<std::size_t>(timer.timer)];
    auto pending = std::find_if(working.timers.begin(), working.timers.end(), [&](const PendingTimer& t) {
        return t.state == timer.state && t.timer == timer.timer && t.sequence == timer.sequence;
    });
    PendingTimer fired = pending != working.timers.end() ? *pending : timer;  // the instance's own holds its chain
    if (fired.chain >= max_timer_chain) {
        // A timer loop: this timer does not run, and the instance ends as by a runtime error of it.
        PositionedError loop{"timer loop: " + std::to_string(max_timer_chain) +
                                 " timers fired one after another without time moving on, each already due when started",
                             definition.handler.position};
        return failed(std::move(working), workflow, loop, Outcome::Handled);
    }
    Rollback rollback(working);
    if (pending != working.timers.end()) working.timers.erase(pending);
    Execution execution(*program_, codec_, workflow, working, clock);
    execution.fired_by(fired);
    try {
        execution.run(definition.handler, nullptr);
    } catch (const PositionedError& error) {
        return failed(rollback.undo(working, execution), workflow, error, Outcome::Handled);
    }
    Step step;
    step.outcome = Outcome::Handled;
    step.entered = execution.entered();
    step.commands_before_transition = execution.commands_before_transition();
    step.commands = std::move(execution.commands());
    step.instance = std::move(working);
    return step;
}

Step Engine::cancel(Instance working, Clock clock) const {
    const ir::Workflow& workflow = program_->workflows[static_cast<std::size_t>(working.workflow)];
    Rollback rollback(working);
    Execution execution(*program_, codec_, workflow, working, clock);
    try {
        if (workflow.on_cancel) execution.run_cancel_handler(*workflow.on_cancel);
    } catch (const PositionedError& error) {
        return failed(rollback.undo(working, execution), workflow, error, Outcome::Handled, Status::Cancelled);
    }
    working.status = Status::Cancelled;
    working.error.clear();
    working.timers.clear();
    working.compensations.clear();
    Step step;
    step.outcome = Outcome::Handled;
    step.commands = std::move(execution.commands());
    step.commands_before_transition = step.commands.size();  // it ends cancelled after `on cancel`
    step.instance = std::move(working);
    return step;
}

Value Engine::vars_to_wire(const Instance& instance) const {
    const ir::Workflow& workflow = program_->workflows[static_cast<std::size_t>(instance.workflow)];
    Value out = Value::object();
    for (std::size_t v = 0; v < workflow.vars.size() && v < instance.vars.size(); ++v)
        out[workflow.vars[v].name] = codec_.encode(instance.vars[v], workflow.vars[v].type);
    return out;
}

std::optional<std::string> Engine::vars_misfit(const Instance& instance) const {
    const ir::Workflow& workflow = program_->workflows[static_cast<std::size_t>(instance.workflow)];
    for (std::size_t v = 0; v < workflow.vars.size() && v < instance.vars.size(); ++v)
        if (auto m = codec_.misfit(instance.vars[v], workflow.vars[v].type))
            return "variable '" + workflow.vars[v].name + m->path + "' holds " + m->found + " where the workflow declares " +
                   m->expected;
    return std::nullopt;
}

const std::string* Engine::state_name(const Instance& instance) const {
    if (instance.state < 0) return nullptr;
    const ir::Workflow& workflow = program_->workflows[static_cast<std::size_t>(instance.workflow)];
    return &workflow.states[static_cast<std::size_t>(instance.state)].name;
}

}  // namespace flow::engine
