// One run of a handler against a working copy of an instance. Internal to the engine:
// evaluate.cpp evaluates expressions, execute.cpp runs statements and transitions.
#pragma once

#include "dsl/ir.hpp"
#include "runtime/engine/engine.hpp"

#include <boost/container/small_vector.hpp>

#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace flow::engine {

// An `int` stored where the static type is `number` (a variable, a record field) becomes the
// double it widens to: a number holds no integer a double cannot (9007199254740993 is stored
// as 9007199254740992, as an event's number field is read).
// Lists of numbers are widened element by element.
Value widened(Value value, const Type& to);
// Whether a value of static type `from` stored as `to` may need widening.
bool may_widen(const Type& from, const Type& to);
// Whether a value of static type `from` put where `to` is expected must take its wire form: `to`
// holds `json` (itself, or as the elements of lists) where `from` holds a time, a duration, a
// record or a list, which a `json` value carries as the wire writes them (a time as RFC 3339,
// not as the milliseconds it is kept as). The checker converts a value put straight into a
// `json` slot; this covers the rest: `[now()]` into a list<json>, `o ?? now()` with `o` a json?,
// `append(js, d)`, `j == t`.
bool takes_wire_form(const Type& from, const Type& to);

// A runtime error with the place it happened; caught at the handler's boundary. A
// std::exception, so that a catch of those anywhere above would still name it.
struct PositionedError : std::exception {
    PositionedError(std::string message, ir::Position position) : message(std::move(message)), position(position) {}
    const char* what() const noexcept override { return message.c_str(); }

    std::string message;
    ir::Position position;
};

class Execution {
public:
    Execution(const ir::Program& program, const WireCodec& codec, const ir::Workflow& workflow, Instance& instance,
              Clock clock)
        : program_(program), codec_(codec), workflow_(workflow), instance_(instance), clock_(clock) {}

    // How a block ended.
    enum class Flow { Continue, Goto, Ended };

    // Runs a handler with the event (or null for timers and cancellation) bound to its
    // binding; a goto enters the new state. Throws PositionedError.
    void run(const ir::Handler& handler, const Value* event);
    // Runs `on cancel`: a transition in it only ends it (the instance ends cancelled all the same),
    // so a `goto` enters no state. Throws PositionedError.
    void run_cancel_handler(const ir::Handler& handler);
    // Whether the handler's guard holds for the event (true without a guard).
    bool guard_holds(const ir::Handler& handler, const Value* event);
    // Evaluates the variables' initializers into the instance.
    void initialize_vars();
    // Puts back the variables as they were before the handlers run so far (after the
    // initializers, in a start): a handler that fails changes none of them.
    void undo_vars();

    std::vector<Command>& commands() { return commands_; }
    bool entered() const { return entered_; }
    // How many commands were sent before the handler's goto, complete, fail or cancel (all of
    // them when it made none).
    std::size_t commands_before_transition() const { return transition_at_.value_or(commands_.size()); }
    // The timer whose handler runs: the timers it starts carry on its chain (PendingTimer::chain).
    void fired_by(const PendingTimer& timer) { fired_by_ = &timer; }

private:
    // A handler's local slots. The event binding is read-only (the checker refuses to assign
    // it), so it is read in place instead of being copied into its slot.
    struct Locals {
        explicit Locals(std::size_t size, int binding = -1, const Value* event = nullptr)
            : slots(size), binding(binding), event(event) {}
        boost::container::small_vector<Value, 4> slots;  // most handlers have a few
        int binding;
        const Value* event;
    };
    Value eval(const ir::Expr& e, Locals& locals);
    // The value an expression names without computing it (key, var, local, their fields), or null.
    const Value* place(const ir::Expr& e, Locals& locals);
    Value binary(const ir::Expr& e, Locals& locals);
    // A value of static type `from` as it is kept where `to` is expected: in its wire form where
    // that holds json (takes_wire_form), widened where it holds a number (may_widen).
    Value fitted(Value value, const Type& from, const Type& to) const;
    // append(list, v) and contains(list, v) where the list holds json: `v` takes its wire form
    // first (and a list of another element type passed to append, the form of its result).
    void fit_list_arguments(const ir::Expr& call, std::vector<Value>& args) const;
    bool compare(const ir::Expr& e, const Value& a, const Value& b);

    // Assigns a variable, keeping what it held for undo_vars.
    void assign(std::size_t slot, Value value);
    // Pushes onto a list variable, keeping its length for undo_vars.
    void append_to(std::size_t slot, Value element);
    // `x = append(x, v)` done in place: v is pushed onto x, not onto a copy of it, so that a
    // list grown one element at a time costs its length, not the square of it. False when the
    // statement is no such assignment.
    bool appended_in_place(const ir::Stmt& assignment, Locals& locals);

    Flow block(const ir::Block& block, Locals& locals);
    Flow statement(const ir::Stmt& s, Locals& locals);
    void enter(int state);
    void end(Status status);
    Command make_command(int record, Value data);
    Locals locals_for(const ir::Handler& handler, const Value* event);

    const ir::Program& program_;
    const WireCodec& codec_;
    const ir::Workflow& workflow_;
    Instance& instance_;
    Clock clock_;
    std::vector<Command> commands_;
    std::optional<std::size_t> transition_at_;  // commands_.size() at the transition
    int goto_state_ = -1;
    bool entered_ = false;
    const PendingTimer* fired_by_ = nullptr;
    // The first change of each variable, to undo: the value it replaced, or, for a list appended
    // to in place, the length it had (`length` is `replaced` otherwise). Moved out, not copied.
    struct SavedVar {
        std::size_t slot;
        Value before;
        std::size_t length;
    };
    static constexpr std::size_t replaced = static_cast<std::size_t>(-1);
    std::vector<SavedVar> saved_vars_;
    SavedVar* saved_for(std::size_t slot);  // null before the variable's first change
};

}  // namespace flow::engine
