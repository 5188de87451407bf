// The engine: a pure, deterministic executor of compiled workflows. Given an instance and an
// event, a due timer or a cancellation, it returns the new instance, the commands to send and
// the timers now pending. It has no clock (the caller passes `now`), does no I/O and keeps no
// state between calls, so the server and the simulator run exactly the same code.
#pragma once

#include "dsl/ir.hpp"
#include "runtime/engine/instance.hpp"
#include "runtime/engine/wire.hpp"

#include <boost/container/small_vector.hpp>

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace flow::engine {

// An event decoded against its declaration.
struct Event {
    int record = -1;       // the event's record in the program
    Value data;            // in the engine's representation
};

// A workflow that handles an event, and the key the event carries for it.
struct Route {
    int workflow = -1;
    // Points into the event's data (at a null value when the event lacks the key's field), so
    // it is valid as long as the event.
    const Value* key = nullptr;
};
using Routes = boost::container::small_vector<Route, 2>;

enum class Outcome { Started, Handled, Ignored, Unmatched };
const char* outcome_name(Outcome outcome);

struct Step {
    Outcome outcome = Outcome::Unmatched;
    Instance instance;              // the instance after the step (unset when Unmatched)
    std::vector<Command> commands;  // in the order sent, compensations included
    bool entered = false;           // a goto entered a state (re-entry included)
    // How many of `commands` were sent before the step's transition (its goto, complete, fail or
    // cancel; a cancellation's is after `on cancel`): those after it are the entered state's
    // `entry` block's. The history records them in that order.
    std::size_t commands_before_transition = 0;
};

// What a step may know of the world.
struct Clock {
    std::int64_t now_ms = 0;              // now(): the event's acceptance time or the timer's due time
    std::uint64_t* timer_sequence = nullptr;  // the next timer's start order; incremented per timer
};

class Engine {
public:
    explicit Engine(std::shared_ptr<const ir::Program> program);

    const ir::Program& program() const { return *program_; }
    const WireCodec& codec() const { return codec_; }

    // Decodes an event of the given wire type. Errors name the field ("data.total.amount").
    std::variant<Event, DecodeError> decode(std::string_view type, const Value& data) const;
    // The same, taking the event's values out of `data` instead of copying them.
    std::variant<Event, DecodeError> decode(std::string_view type, Value&& data) const;

    // Every workflow that handles the event (in a start, a state or the workflow body), in
    // program order, with the key derived from the event.
    Routes route(const Event& event) const;

    // Runs the first start handler for the event whose guard holds, creating an instance
    // with id `instance_id`; Unmatched when none holds.
    Step start(const Route& route, const Event& event, std::string instance_id, Clock clock) const;

    // The next three take the instance by value and return it in the step: move it in when
    // the caller keeps no use for it (a copy is made otherwise). A runtime error in a handler
    // gives a step with the instance as it was, failed; any other exception (out of memory)
    // leaves a moved-in instance unspecified.

    // Delivers an event to a running instance: Handled, or Ignored when no handler is chosen.
    Step deliver(Instance instance, const Event& event, Clock clock) const;

    // Fires a pending timer of a running instance (clock.now_ms is its due time), unless it
    // would go past max_timer_chain.
    Step fire(Instance instance, const PendingTimer& timer, Clock clock) const;

    // Runs `on cancel` and ends the instance cancelled.
    Step cancel(Instance instance, Clock clock) const;

    // The most timers of one instance that may fire one after another without time moving on
    // (PendingTimer::chain): `after 0s { goto Same }`, or an `at` before now() that re-enters its
    // state, would fire for ever. `fire` does not run the next one: the instance ends failed, as
    // by a runtime error of that timer ("timer loop: …").
    static constexpr std::uint32_t max_timer_chain = 10000;

    // The instance's variables on the wire: {"name": value, …}.
    Value vars_to_wire(const Instance& instance) const;
    // The first variable of `instance` that does not hold a value of its declared type (a row
    // edited by hand, a damaged page), said as "variable 'total.amount' holds a string where the
    // workflow declares number"; nothing when all fit. Its `workflow` must be resolved.
    std::optional<std::string> vars_misfit(const Instance& instance) const;
    // The name of the instance's state, or null before it entered one.
    const std::string* state_name(const Instance& instance) const;

private:
    std::shared_ptr<const ir::Program> program_;
    WireCodec codec_;
};

}  // namespace flow::engine
