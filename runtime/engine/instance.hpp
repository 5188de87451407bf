// The state of one workflow instance, as the engine reads and returns it. Plain data: the
// store persists it, the simulator keeps it in memory.
#pragma once

#include "stdlib/value.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace flow::engine {

enum class Status { Running, Completed, Failed, Cancelled };

const char* status_name(Status status);

// A timer started when its state was entered; it fires at `due_ms` unless the instance
// leaves the state first.
struct PendingTimer {
    int state = -1;
    int timer = -1;               // index into the state's timers
    std::int64_t due_ms = 0;
    std::uint64_t sequence = 0;   // start order: timers due at the same instant fire in this order
    // A timer loop's measure: how many timers fired one after another before this one without
    // the instance's time moving on, each started by the one before it and due no later than
    // the latest due time among them (`after 0s { goto Same }`). 0 for a timer an event started,
    // or one due later than every timer of its chain.
    std::uint32_t chain = 0;
    std::int64_t chain_latest_ms = 0;  // that latest due time, when chain > 0
};

// A command as it leaves: its record, and its data already encoded for the wire.
struct Command {
    int record = -1;
    std::string type;
    std::string target;
    Value data;
};

struct Instance {
    std::string id;
    int workflow = -1;            // index into the program's workflows
    int version = 1;
    Value key;
    int state = -1;               // the last state entered; -1 before any
    Status status = Status::Running;
    std::vector<Value> vars;      // by the workflow's var index, in the engine's representation
    std::vector<Command> compensations;  // registered, oldest first
    std::vector<PendingTimer> timers;
    std::string error;            // why it failed, or the runtime error its `on cancel` hit
    std::uint64_t uuid_counter = 0;
};

// Whether the instance has an error to show: a failed one always (its reason, `fail ""`
// included), another only the runtime error its `on cancel` hit.
inline bool has_error(const Instance& instance) { return instance.status == Status::Failed || !instance.error.empty(); }

}  // namespace flow::engine
