// Durable timers: fires every stored timer that has fallen due, through the writer, so that
// a fired timer is handled like an event (one transaction, history). Woken after each commit
// (a deadline already passed fires at once) and otherwise sleeps until the next due time.
#pragma once

#include "runtime/service/metrics.hpp"
#include "runtime/service/processor.hpp"
#include "runtime/service/writer.hpp"

#include "runtime/service/background_loop.hpp"

#include <functional>

namespace flow::timers {

class TimerLoop {
public:
    TimerLoop(store::Store& store, service::Writer& writer, service::Processor& processor, service::Metrics& metrics,
              std::function<std::int64_t()> now_ms, std::uint64_t& timer_sequence);
    ~TimerLoop() { stop(); }
    void start() { loop_.start("flowd-timers", [this] { return round(); }); }
    void wake() { loop_.wake(); }
    void stop() { loop_.stop(); }

private:
    // Fires what is due; returns how long to sleep.
    std::chrono::milliseconds round();

    store::Store& store_;
    service::Writer& writer_;
    service::Processor& processor_;
    service::Metrics& metrics_;
    std::function<std::int64_t()> now_ms_;
    std::uint64_t& timer_sequence_;  // touched only inside writer jobs
    service::BackgroundLoop loop_;   // last: stopped first, while the members it uses still exist
};

}  // namespace flow::timers
