// Retention: deletes what the config lets go, on a thread of its own, so that neither the relay
// nor the timer loop waits for it: commands delivered longer ago than `retention_hours`, and
// instances ended longer ago than `instance_retention_hours`, each with its history, its timers
// and its delivered commands (the store says which it keeps). A round once a minute; while rows
// remain to be looked at (a first prune after a long time, a burst a week ago), one a second,
// each looking at a bounded share from where the last one stopped, so that the writer, which
// shares the database's write lock, is held up for a few milliseconds at a time.
#pragma once

#include "runtime/service/config.hpp"
#include "runtime/service/metrics.hpp"
#include "runtime/store/store.hpp"

#include "runtime/service/background_loop.hpp"

#include <chrono>
#include <cstdint>
#include <functional>

namespace flow::service {

class Retention {
public:
    Retention(store::Store& store, const Config& config, Metrics& metrics, std::function<std::int64_t()> now_ms)
        : store_(store), config_(config), metrics_(metrics), now_ms_(std::move(now_ms)) {}
    ~Retention() { stop(); }
    // Starts the thread, unless both retentions are 0 (nothing is ever deleted).
    void start();
    void stop() { loop_.stop(); }

    // Rows looked at per round and kind, at most: about 100 ms of this thread.
    static constexpr std::int64_t commands_per_round = 50000;
    static constexpr std::int64_t instances_per_round = 10000;

private:
    std::chrono::milliseconds round();

    store::Store& store_;
    const Config& config_;
    Metrics& metrics_;
    std::function<std::int64_t()> now_ms_;
    store::Store::PruneCursor commands_from_;   // where the next round goes on
    store::Store::PruneCursor instances_from_;
    BackgroundLoop loop_;  // last: stopped first, while the members it uses still exist
};

}  // namespace flow::service
