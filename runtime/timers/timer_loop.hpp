// Durable timers: fires every stored timer that has fallen due, through the writer, so that
// a fired timer is handled like an event (one transaction, history). Woken after each commit
// (a deadline already passed fires at once) and otherwise sleeps until the next due time.
#pragma once

#include "runtime/service/metrics.hpp"
#include "runtime/service/processor.hpp"
#include "runtime/service/writer.hpp"

#include "runtime/service/background_loop.hpp"

#include <functional>
#include <string>
#include <vector>

namespace flow::timers {

class TimerLoop {
public:
    TimerLoop(store::Store& store, service::Writer& writer, service::Processor& processor, service::Metrics& metrics,
              std::function<std::int64_t()> now_ms, std::uint64_t& timer_sequence);
    ~TimerLoop() { stop(); }
    void start() { loop_.start("flowd-timers", [this] { return round(); }); }
    void wake() { loop_.wake(); }
    void stop() { loop_.stop(); }

    // Fires what is due, in due order across the instances (DueOrder); returns how long to sleep.
    // The loop's thread calls it; public for the tests, which drive it with their own clock.
    std::chrono::milliseconds round();

private:
    // The timers read, and fired (give or take the last firing's chain), in one round.
    static constexpr int round_size = 1024;
    // After a round that failed as a whole: fires each timer on its own, in the same order, and
    // puts off those that fail by a minute, logging them; an error only when the database took
    // none of it.
    store::Status fire_one_by_one(const std::vector<store::DueTimer>& due, bool read_all, std::int64_t now, int& fired);
    // How long a timer that could not fire waits before it is tried again.
    static constexpr std::int64_t failed_timer_retry_ms = 60'000;
    // Logs why the timers do not fire, once for each new reason.
    void report_trouble(const std::string& what, const std::string& error);

    store::Store& store_;
    service::Writer& writer_;
    service::Processor& processor_;
    service::Metrics& metrics_;
    std::function<std::int64_t()> now_ms_;
    std::uint64_t& timer_sequence_;  // touched only inside writer jobs
    std::string trouble_;            // what the last log of trouble said; empty while timers fire
    service::BackgroundLoop loop_;   // last: stopped first, while the members it uses still exist
};

}  // namespace flow::timers
