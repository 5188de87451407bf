// Applies events, due timers and cancellations to stored instances with the engine, inside
// a store transaction: the instance, its timers, its history, the event's inbox row and the
// outgoing commands are written together. Knows neither HTTP nor SQL.
#pragma once

#include "runtime/service/timestamp.hpp"
#include "runtime/service/deployment.hpp"
#include "runtime/store/store.hpp"

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace flow::service {

// An event as it arrived, before it is decoded against its declaration.
struct IncomingEvent {
    std::string id;
    std::string type;
    Value data;
    std::string time;  // the event's own time (CloudEvents `time`), kept in the history
};

// Why an event is refused before anything is written: the field and what is wrong with it.
struct Rejection {
    std::string field;
    std::string message;
};

struct Delivery {
    std::string workflow;
    Value key;
    std::string instance;  // empty when no instance was reached
    std::string outcome;
    Value state;
};

struct EventResult {
    std::string id;
    bool duplicate = false;
    std::vector<Delivery> deliveries;
    int timers_fired = 0;  // deadlines already passed, fired right after their handler (for /metrics)
    // The response body, and what the inbox keeps for duplicates: compact JSON.
    std::string to_text() const;
    // What to_text() wrote, read back; nothing when `recorded` is not of its shape.
    static std::optional<EventResult> from_json(const Value& recorded, bool duplicate);
};

// The outcome of an outside cancellation.
enum class CancelOutcome { Cancelled, NotFound, NotRunning };

class Processor {
public:
    using IdGenerator = std::function<std::string()>;
    Processor(const Deployment& deployment, IdGenerator new_id) : deployment_(deployment), new_id_(std::move(new_id)) {}

    // Checks the event against the current declarations; nothing is written.
    std::optional<Rejection> validate(const IncomingEvent& event) const;

    // The answer recorded for an event id accepted before, read outside the writer (nothing
    // when the id is new).
    store::Result<std::optional<EventResult>> recorded(store::Store& store, const std::string& event_id) const;
    // Handles one event within `tx`: a duplicate id answers what was recorded the first time.
    store::Result<EventResult> handle(store::Transaction& tx, const IncomingEvent& event, std::int64_t now_ms,
                                      std::uint64_t& timer_sequence);
    // Fires a due timer, if the instance still has it pending. False when it had gone. The handler's
    // now() is the timer's due time; what is written down (updated_at, the history, the commands'
    // created_at) is stamped `now_ms`, when it actually fired: a deadline already past, or one
    // that fell due while flowd was stopped, does not date the records back. Timers it starts
    // already past at its due time fire right after it, in `tx`; `overdue_fired`, when given,
    // counts them. Those due at its due time or later, by `now_ms` or not, are left to the timer
    // loop, which fires every instance's in due order; `pending_after`, when given, receives the
    // instance's pending timers after it (none once it has ended), and is left as it was when
    // the timer did not fire or the firing failed.
    store::Result<bool> fire(store::Transaction& tx, const store::DueTimer& due, std::int64_t now_ms, std::uint64_t& timer_sequence,
                             int* overdue_fired = nullptr, std::vector<engine::PendingTimer>* pending_after = nullptr);
    // Cancels a running instance, after the timers due by `now_ms` (counted in `timers_fired`).
    store::Result<CancelOutcome> cancel(store::Transaction& tx, const std::string& instance_id, std::int64_t now_ms,
                                        std::uint64_t& timer_sequence, int& timers_fired);

    // Ends a running instance `cancelled` at its operator's word without running anything of it:
    // no `on cancel`, no timer (even one due), no compensation. Its pending timers are dropped
    // and nothing else of its row is rewritten; the history's `terminate` entry lists the timers
    // dropped and the compensations still owed. The commands it sent before stay in the outbox.
    // Needs no program, so it also ends an instance that cannot be run (cannot_run): the way out
    // for one whose version no longer compiles, or whose row no longer fits it.
    store::Result<CancelOutcome> terminate(store::Transaction& tx, const std::string& instance_id, std::int64_t now_ms);

    // Deletes a dead command for good, at its operator's word, and records in its instance's
    // history what was deleted (`command_deleted`); NotFound, or Conflict when it is not dead.
    store::Result<store::OutboxCommand> delete_dead_command(store::Transaction& tx, const std::string& command_id,
                                                            std::int64_t now_ms);
    // Deletes a page of dead commands, as delete_dead_command deletes one: those after
    // `after_row`, oldest first, of `target` unless it is empty, at most `limit`.
    struct DeadDeleted {
        int deleted = 0;
        std::int64_t next_after_row = 0;  // the row of the last deleted when more remain after it, else 0
    };
    store::Result<DeadDeleted> delete_dead_commands(store::Transaction& tx, const std::string& target, std::int64_t after_row,
                                                    int limit, std::int64_t now_ms);

    // Why a running instance cannot be run from its row, as its events, cancellation and timers
    // would fail: its version has no program on this flowd, or the row does not fit that
    // program (a hand edit, a damaged page). Nothing when it can, or when it has ended.
    std::optional<std::string> cannot_run(const store::StoredInstance& stored) const;

    // Whether a step since the last call started a timer (for waking the timer loop only then).
    bool take_timers_started() { return timers_started_.exchange(false); }

private:
    // The instance as it was before a step: its state ("" for a new instance), status and timers.
    struct Before {
        std::string state;
        engine::Status status = engine::Status::Running;
        std::vector<engine::PendingTimer> timers;
        std::int64_t row = 0;     // the stored instance's bookkeeping, kept as it was
        std::string created_at;   // (none for a new instance)
        std::optional<std::uint64_t> fired;  // the sequence of the timer the step fired, if one did
    };
    // One timer, without what it starts. `pending_after`: the instance's pending timers after
    // it, when it fired and the instance still runs (else empty).
    store::Result<bool> fire_one(store::Transaction& tx, const store::DueTimer& due, std::int64_t now_ms, std::uint64_t& timer_sequence,
                                 std::vector<engine::PendingTimer>& pending_after);
    // Fires, in the same transaction, the instance's timers started since `sequence_before` that
    // are already due at `due_by_ms`, the now() of the handler that started them: a deadline that
    // had passed when its state was entered fires right after the handler that entered it, and
    // so does what that timer enters in turn (at most `max_overdue_firings`; any left are the
    // timer loop's). Records are stamped `now_ms`. Adds the timers fired to `fired`, and leaves
    // the instance's pending timers in `timers`. (A timer loop ends in the engine:
    // Engine::max_timer_chain.)
    store::Status fire_overdue(store::Transaction& tx, const std::string& instance_id, std::vector<engine::PendingTimer>& timers,
                               std::uint64_t sequence_before, std::int64_t due_by_ms, std::int64_t now_ms,
                               std::uint64_t& timer_sequence, int& fired);
    static constexpr int max_overdue_firings = 100;
    // Whether one of the timers is due at `now_ms` and continues a chain (PendingTimer::chain):
    // the instance is in the middle of a chain that max_overdue_firings cut.
    static bool in_timer_chain(const std::vector<engine::PendingTimer>& timers, std::int64_t now_ms);
    // Fires the instance's due timers, in due order, while one continues a chain: the rest of a
    // chain cut by max_overdue_firings, before an event reaches the instance. Adds to `fired`.
    store::Status finish_timer_chain(store::Transaction& tx, const std::string& instance_id, std::vector<engine::PendingTimer> timers,
                                     std::int64_t now_ms, std::uint64_t& timer_sequence, int& fired);
    // Before an event or a cancellation reaches a running instance, at `now_ms`: ends the chain
    // of timers it is in the middle of, then fires a timer due by now that the timer loop has not
    // fired yet (with the overdue ones it starts, up to max_overdue_firings), as `flowc simulate`
    // fires every timer due by a line's time before the line. Adds to `fired`; whether any timer
    // was looked at, in which case the caller reads the instance again.
    store::Result<bool> catch_up_timers(store::Transaction& tx, const std::string& instance_id,
                                        const std::vector<engine::PendingTimer>& timers, std::int64_t now_ms,
                                        std::uint64_t& timer_sequence, int& fired);
    // What the three above share: fires the instance's timers started since `sequence_from` and
    // due at `due_by_ms`, earliest first, at most `rounds` of them (with `while_chained`, only
    // while one continues a chain), stamping the records `now_ms`; leaves the instance's pending
    // timers in `timers`.
    store::Status fire_due_timers(store::Transaction& tx, const std::string& instance_id, std::vector<engine::PendingTimer>& timers,
                                  std::uint64_t sequence_from, std::int64_t due_by_ms, std::int64_t now_ms,
                                  std::uint64_t& timer_sequence, int& fired, std::size_t rounds, bool while_chained);
    // How long a due timer of a version this binary cannot compile waits before it is looked at again.
    static constexpr std::int64_t uncompiled_version_retry_ms = 60'000;
    // Writes the step's instance, its commands and history (one history row per step).
    store::Status save_step(store::Transaction& tx, const engine::Engine& engine, const engine::Step& step,
                            bool is_new, std::int64_t now_ms, const store::HistoryEntry& cause, const Before& before);

    const Deployment& deployment_;
    IdGenerator new_id_;
    std::atomic<bool> timers_started_{false};
};


}  // namespace flow::service
