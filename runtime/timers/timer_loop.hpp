// Durable timers: fires every stored timer that has fallen due, through the writer, so that
// a fired timer is handled like an event (one transaction, history). Woken after each commit
// (a deadline already passed fires at once) and otherwise sleeps until the next due time.
#pragma once

#include "runtime/service/metrics.hpp"
#include "runtime/service/processor.hpp"
#include "runtime/service/writer.hpp"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace flow::timers {

class TimerLoop {
public:
    TimerLoop(store::Store& store, service::Writer& writer, service::Processor& processor, service::Metrics& metrics,
              std::function<std::int64_t()> now_ms, std::uint64_t& timer_sequence);
    ~TimerLoop();
    void start();
    void wake();
    void stop();

private:
    void loop();

    store::Store& store_;
    service::Writer& writer_;
    service::Processor& processor_;
    service::Metrics& metrics_;
    std::function<std::int64_t()> now_ms_;
    std::uint64_t& timer_sequence_;  // touched only inside writer jobs
    std::mutex mutex_;               // guards woken_ and stopping_
    std::condition_variable wake_;
    bool woken_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace flow::timers
