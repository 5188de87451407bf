// `flowc simulate`: runs compiled workflows on a scenario of events, clock moves and
// cancellations, in memory, with the server's engine, and reports what happens as JSON lines.
#pragma once

#include "runtime/engine/engine.hpp"
#include "runtime/engine/json_reader.hpp"

#include <map>
#include <boost/unordered/unordered_flat_map.hpp>
#include <optional>
#include <ostream>
#include <queue>
#include <set>
#include <string>
#include <vector>

namespace flow::sim {

class Simulator {
public:
    // `max_firings_per_line`, when not 0, refuses a line that makes more timers fire (a bound
    // for fuzzing, where a clock move years past a short periodic timer would take too long).
    Simulator(std::shared_ptr<const ir::Program> program, std::ostream& out, std::size_t max_firings_per_line = 0);

    // Handles one scenario line (1-based number). Returns an error message naming the line
    // when the line is invalid; the run stops there, and what was printed stands.
    std::optional<std::string> feed(std::string_view line, int line_number);

    // Prints one `instance` line per instance, in creation order.
    void finish();

private:
    struct TimerEntry {
        std::int64_t due_ms;
        std::uint64_t sequence;
        std::size_t instance;
        engine::PendingTimer timer;
        bool operator>(const TimerEntry& o) const {
            return due_ms != o.due_ms ? due_ms > o.due_ms : sequence > o.sequence;
        }
    };
    struct Recorded {
        int workflow = -1;  // -1 when the event matched no workflow
        Value key;
    };

    // The line's members are in members_.
    std::optional<std::string> event(int line_number);
    std::optional<std::string> advance(const Value& by, int line_number);
    std::optional<std::string> cancel(const Value& what, int line_number);
    // Fires, in due order, every timer due at or before `until` (a timer loop fails its
    // instance: Engine::max_timer_chain). False past max_firings_per_line_.
    bool fire_due(std::int64_t until);
    std::string too_many_firings() const;
    // Applies a step to instance `index` (or creates it) and prints the delivery and commands.
    std::size_t apply(engine::Step step, std::optional<std::size_t> index, const std::string* event_id, const char* timer_kind,
                      std::uint64_t sequence_before);
    std::string running_key(int workflow, const Value& key) const;
    // A delivery line; null pointers print as null.
    void delivery_line(const std::string* event_id, const char* timer, const std::string* workflow, const Value& key,
                       const char* outcome, const std::string* state);

    engine::Engine engine_;
    std::ostream& out_;
    std::optional<std::int64_t> clock_;
    std::uint64_t timer_sequence_ = 0;
    std::vector<engine::Instance> instances_;
    // Open addressing (Boost 1.81): the lookups per event were a sixth of the simulation's time.
    boost::unordered_flat_map<std::string, std::size_t> running_;   // workflow + key -> instance index
    boost::unordered_flat_map<std::string, Recorded> seen_events_;  // event id -> its first delivery
    std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers_;
    std::vector<std::size_t> created_per_workflow_;
    engine::JsonMembers members_;  // the input line's members, reused
    std::string line_;  // the output line being written, reused
    std::size_t max_firings_per_line_;
    std::size_t fired_this_line_ = 0;
};


}  // namespace flow::sim
