#include "runtime/timers/timer_loop.hpp"

#include "runtime/service/log.hpp"
#include "runtime/timers/due_order.hpp"

#include <nlohmann/json.hpp>

namespace flow::timers {

TimerLoop::TimerLoop(store::Store& store, service::Writer& writer, service::Processor& processor, service::Metrics& metrics,
                     std::function<std::int64_t()> now_ms, std::uint64_t& timer_sequence)
    : store_(store), writer_(writer), processor_(processor), metrics_(metrics), now_ms_(std::move(now_ms)),
      timer_sequence_(timer_sequence) {}

std::chrono::milliseconds TimerLoop::round() {
    // Up to 1,024 timers fired per round (the last firing may add up to a hundred already past
    // that it starts), in one job of the writer: 100,000 due at once fired in
    // 5.0-5.6 s at 512 per round, 4.2-6.1 s at 1,024 and 3.9-4.3 s at 2,048. A round holds the
    // writer (about 40 ms at 1,024), and events waiting behind it, so the largest was not taken.
    const std::int64_t now = now_ms_();
    auto due = store_.due_timers(now, round_size);
    if (!due.ok()) {
        report_trouble("cannot read the timers due", due.error->message);
        return std::chrono::milliseconds(200);
    }
    if (due.value->empty()) {
        std::int64_t sleep_ms = 1000;
        auto next = store_.next_timer_due();
        if (next.ok() && *next.value) sleep_ms = std::clamp<std::int64_t>(**next.value - now_ms_(), 0, 1000);
        return std::chrono::milliseconds(sleep_ms);
    }
    const bool read_all = due.value->size() < static_cast<std::size_t>(round_size);
    int fired = 0;
    store::Status status = writer_.run([&](store::Transaction& tx) -> store::Status {
        fired = 0;
        DueOrder order(*due.value, read_all);
        for (int n = 0; n < round_size && fired < round_size; ++n) {
            std::optional<store::DueTimer> timer = order.next();
            if (!timer) break;
            std::vector<engine::PendingTimer> pending;
            auto r = processor_.fire(tx, *timer, now, timer_sequence_, &fired, &pending);  // counts those it starts already due
            if (!r.ok()) return r.error;
            fired += *r.value ? 1 : 0;
            order.add_pending(timer->instance, pending, now);
        }
        return std::nullopt;
    }, service::Writer::Admission::Always);
    if (status) status = fire_one_by_one(*due.value, read_all, now, fired);
    if (status) {
        report_trouble("cannot fire timers", status->message);
        return std::chrono::milliseconds(200);  // the database is in trouble: try again soon
    }
    for (int i = 0; i < fired; ++i) metrics_.timer_fired();
    if (!trouble_.empty()) {
        service::log(now_ms_(), "info", "timers fire again");
        trouble_.clear();
    }
    return std::chrono::milliseconds(0);  // more may be due
}

store::Status TimerLoop::fire_one_by_one(const std::vector<store::DueTimer>& due, bool read_all, std::int64_t now, int& fired) {
    // The round failed as a whole: each timer again, in the same order, under a savepoint of its
    // own, so that one that cannot fire (a write the database refuses) holds back none of the
    // others. It is tried again a minute later, as one of a version that does not compile is;
    // meanwhile the next round reads the timers after it.
    struct Failed {
        std::string instance;
        std::uint64_t sequence;
        std::string error;
    };
    std::vector<Failed> failed;
    store::Status status = writer_.run([&](store::Transaction& tx) -> store::Status {
        fired = 0;
        failed.clear();
        DueOrder order(due, read_all);
        for (int n = 0; n < round_size && fired < round_size; ++n) {
            std::optional<store::DueTimer> timer = order.next();
            if (!timer) break;
            if (auto e = tx.savepoint()) return e;
            int started_due = 0;
            std::vector<engine::PendingTimer> pending;
            store::Result<bool> r = store::Result<bool>::success(false);
            try {
                r = processor_.fire(tx, *timer, now, timer_sequence_, &started_due, &pending);
            } catch (const std::exception& e) {
                // A row that passed the processor's checks and still makes the engine throw:
                // this timer fails alone, like one whose write is refused.
                r = store::Result<bool>::failure({store::StoreError::Kind::Corrupt, std::string("the timer cannot fire: ") + e.what()});
            }
            if (!tx.intact()) return r.ok() ? store::StoreError{store::StoreError::Kind::Unavailable, "the database rolled the transaction back"}
                                            : *r.error;
            if (r.ok()) {
                if (auto e = tx.release_savepoint()) return e;
                fired += started_due + (*r.value ? 1 : 0);
                order.add_pending(timer->instance, pending, now);
                continue;
            }
            if (auto e = tx.rollback_to_savepoint()) return e;  // and released
            if (auto e = tx.postpone_timer(timer->instance, timer->timer.sequence, now + failed_timer_retry_ms))
                return e;
            failed.push_back({timer->instance, timer->timer.sequence, r.error->message});
        }
        return std::nullopt;
    }, service::Writer::Admission::Always);
    if (status || failed.empty()) return status;
    nlohmann::json timers = nlohmann::json::array();
    for (const Failed& timer : failed) {
        if (timers.size() == 10) break;
        timers.push_back({{"instance", timer.instance}, {"sequence", timer.sequence}, {"error", timer.error}});
    }
    service::log(now_ms_(), "error", "timers cannot fire; each is tried again in a minute, the others fire meanwhile",
                 {{"count", failed.size()}, {"timers", std::move(timers)}});
    return std::nullopt;
}

void TimerLoop::report_trouble(const std::string& what, const std::string& error) {
    // Once for each new reason, not once each 200 ms.
    if (trouble_ == what + ": " + error) return;
    trouble_ = what + ": " + error;
    service::log(now_ms_(), "error", what + "; trying again", {{"error", error}});
}

}  // namespace flow::timers
