// Statements and transitions: what a handler does to its working copy of the instance.
#include "runtime/engine/execution.hpp"
#include "stdlib/chrono.hpp"

#include <algorithm>

namespace flow::engine {

Execution::Locals Execution::locals_for(const ir::Handler& handler, const Value* event) {
    return Locals(static_cast<std::size_t>(std::max(handler.locals, handler.binding + 1)), handler.binding, event);
}

bool Execution::guard_holds(const ir::Handler& handler, const Value* event) {
    if (!handler.guard) return true;
    Locals locals = locals_for(handler, event);
    return eval(*handler.guard, locals).get<bool>();
}

void Execution::initialize_vars() {
    Locals locals(static_cast<std::size_t>(workflow_.initializer_locals));
    instance_.vars.assign(workflow_.vars.size(), Value());
    for (std::size_t v = 0; v < workflow_.vars.size(); ++v)
        instance_.vars[v] = fitted(eval(workflow_.vars[v].initializer, locals), workflow_.vars[v].initializer.type, workflow_.vars[v].type);
}

Execution::SavedVar* Execution::saved_for(std::size_t slot) {
    auto saved = std::find_if(saved_vars_.begin(), saved_vars_.end(), [&](const SavedVar& v) { return v.slot == slot; });
    return saved == saved_vars_.end() ? nullptr : &*saved;
}

void Execution::append_to(std::size_t slot, Value element) {
    Value& list = instance_.vars[slot];
    if (!saved_for(slot)) saved_vars_.push_back({slot, Value(), list.size()});
    list.push_back(std::move(element));
}

void Execution::assign(std::size_t slot, Value value) {
    Value& var = instance_.vars[slot];
    SavedVar* saved = saved_for(slot);
    if (!saved) {
        saved_vars_.push_back({slot, std::move(var), replaced});
    } else if (saved->length != replaced) {
        // Appended to in place before: what it held is its first `length` elements.
        Value& list = var;
        list.get_ref<Value::array_t&>().resize(saved->length);
        saved->before = std::move(list);
        saved->length = replaced;
    }
    var = std::move(value);
}

void Execution::undo_vars() {
    for (SavedVar& saved : saved_vars_) {
        Value& var = instance_.vars[saved.slot];
        if (saved.length == replaced)
            var = std::move(saved.before);
        else
            var.get_ref<Value::array_t&>().resize(saved.length);
    }
    saved_vars_.clear();
}

void Execution::run(const ir::Handler& handler, const Value* event) {
    Locals locals = locals_for(handler, event);
    goto_state_ = -1;
    if (block(handler.body, locals) == Flow::Goto) enter(goto_state_);
}

void Execution::run_cancel_handler(const ir::Handler& handler) {
    Locals locals = locals_for(handler, nullptr);
    goto_state_ = -1;
    (void)block(handler.body, locals);
    goto_state_ = -1;
}

Execution::Flow Execution::block(const ir::Block& statements, Locals& locals) {
    for (const ir::Stmt& s : statements) {
        Flow flow = statement(s, locals);
        if (flow != Flow::Continue) return flow;
    }
    return Flow::Continue;
}

Command Execution::make_command(int record, Value data) {
    const ir::Record& r = program_.records[static_cast<std::size_t>(record)];
    return Command{record, r.name, r.target, codec_.encode(std::move(data), r)};
}

Execution::Flow Execution::statement(const ir::Stmt& s, Locals& locals) {
    using K = ir::Stmt::Kind;
    switch (s.kind) {
    case K::Assign: {
        if (appended_in_place(s, locals)) return Flow::Continue;
        const auto slot = static_cast<std::size_t>(s.slot);
        const Type& declared = workflow_.vars[slot].type;
        assign(slot, fitted(eval(s.value, locals), s.value.type, declared));
        return Flow::Continue;
    }
    case K::Let: locals.slots[static_cast<std::size_t>(s.slot)] = eval(s.value, locals); return Flow::Continue;
    case K::Emit: commands_.push_back(make_command(s.slot, eval(s.value, locals))); return Flow::Continue;
    case K::CompensateWith: instance_.compensations.push_back(make_command(s.slot, eval(s.value, locals))); return Flow::Continue;
    case K::Compensate:
        for (auto c = instance_.compensations.rbegin(); c != instance_.compensations.rend(); ++c) commands_.push_back(std::move(*c));
        instance_.compensations.clear();
        return Flow::Continue;
    case K::If:
        for (const ir::Branch& branch : s.branches)
            if (eval(branch.condition, locals).get<bool>()) return block(branch.body, locals);
        return s.otherwise ? block(*s.otherwise, locals) : Flow::Continue;
    case K::Goto: goto_state_ = s.slot; return Flow::Goto;
    case K::Complete: end(Status::Completed); return Flow::Ended;
    case K::Fail: {
        std::string reason = eval(s.value, locals).get<std::string>();
        end(Status::Failed);
        instance_.error = std::move(reason);
        return Flow::Ended;
    }
    case K::Cancel: end(Status::Cancelled); return Flow::Ended;
    }
    return Flow::Continue;
}

void Execution::end(Status status) {
    if (!transition_at_) transition_at_ = commands_.size();
    instance_.status = status;
    instance_.timers.clear();
    instance_.compensations.clear();
}

// Leaves the current state (its timers are cancelled), enters `state`, runs its entry block
// and starts its timers, in source order.
void Execution::enter(int state) {
    if (!transition_at_) transition_at_ = commands_.size();  // the entry block's commands come after
    entered_ = true;
    instance_.timers.clear();
    instance_.state = state;
    const ir::State& s = workflow_.states[static_cast<std::size_t>(state)];
    if (!s.entry.body.empty()) {
        Locals locals = locals_for(s.entry, nullptr);
        block(s.entry.body, locals);
    }
    for (std::size_t t = 0; t < s.timers.size(); ++t) {
        Locals locals(static_cast<std::size_t>(s.timers[t].handler.locals));
        std::int64_t when = eval(s.timers[t].when, locals).get<std::int64_t>();
        std::int64_t due = when;
        // A due time RFC 3339 cannot write (past year 9999) would reach the timer's now() clamped.
        if (s.timers[t].kind == ir::Timer::Kind::After &&
            (__builtin_add_overflow(clock_.now_ms, when, &due) || !chrono::in_rfc3339_range(due)))
            throw PositionedError{"timer overflow", s.timers[t].when.position};
        std::uint64_t sequence = clock_.timer_sequence ? (*clock_.timer_sequence)++ : 0;
        PendingTimer started{state, static_cast<int>(t), due, sequence};
        if (fired_by_) {
            // Started by a timer: a link of its chain unless due later than all of that chain.
            const std::int64_t latest =
                fired_by_->chain > 0 ? std::max(fired_by_->chain_latest_ms, fired_by_->due_ms) : fired_by_->due_ms;
            if (due <= latest) {
                started.chain = fired_by_->chain + 1;
                started.chain_latest_ms = latest;
            }
        }
        instance_.timers.push_back(started);
    }
}

}  // namespace flow::engine
