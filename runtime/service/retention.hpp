// Retention: deletes what the config lets go, on a thread of its own, so that neither the relay
// nor the timer loop waits for it: commands delivered longer ago than `retention_hours`,
// instances ended longer ago than `instance_retention_hours`, each with its history, its timers
// and its delivered commands (the store says which it keeps), and the inbox's event ids
// accepted longer ago than `inbox_retention_hours`. A round once a minute; while rows remain to
// be looked at (a first prune after a long time, a burst a week ago), one a second. Each round
// looks at a bounded share of the rows, from where the last one stopped, in calls of the store
// short enough that a stop never waits long for the round in progress.
#pragma once

#include "runtime/service/config.hpp"
#include "runtime/service/metrics.hpp"
#include "runtime/store/store.hpp"

#include "runtime/service/background_loop.hpp"

#include <chrono>
#include <cstdint>
#include <functional>

namespace flow::service {

// Rows a round of Retention looks at, of each kind: per round, and per call of the store (some
// 20 ms of deleting, between two looks at whether to stop).
struct RetentionShares {
    std::int64_t commands_per_round = 50000;
    std::int64_t commands_per_call = 5000;
    std::int64_t instances_per_round = 10000;
    std::int64_t instances_per_call = 500;
    std::int64_t events_per_round = 50000;
    std::int64_t events_per_call = 5000;
};

class Retention {
public:
    Retention(store::Store& store, const Config& config, Metrics& metrics, std::function<std::int64_t()> now_ms,
              RetentionShares shares = {})
        : store_(store), config_(config), metrics_(metrics), now_ms_(std::move(now_ms)), shares_(shares) {}
    ~Retention() { stop(); }
    // Starts the thread, unless every retention is 0 (nothing is ever deleted).
    void start();
    void stop() { loop_.stop(); }

    // One round, as the thread runs them: how long to wait before the next.
    std::chrono::milliseconds round();

private:
    // Prunes one kind of row: `prune_rows(before, most_rows, from)` is the store's prune.
    struct Kind {
        const char* what;  // "commands", "instances" or "events", as metrics and logs name them
        std::int64_t hours;
        std::int64_t per_round;
        std::int64_t per_call;
        store::Store::PruneCursor& from;
    };
    struct Outcome {
        std::int64_t deleted = 0;
        bool more = false;  // rows remain to be looked at, and nothing failed
    };
    template <typename PruneRows>
    Outcome prune(const Kind& kind, std::int64_t now_ms, const PruneRows& prune_rows);

    store::Store& store_;
    const Config& config_;
    Metrics& metrics_;
    std::function<std::int64_t()> now_ms_;
    RetentionShares shares_;
    store::Store::PruneCursor commands_from_;  // where the next round goes on
    store::Store::PruneCursor instances_from_;
    store::Store::PruneCursor events_from_;  // unused by the store: every old entry goes
    BackgroundLoop loop_;  // last: stopped first, while the members it uses still exist
};

}  // namespace flow::service
