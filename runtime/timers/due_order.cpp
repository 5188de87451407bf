#include "runtime/timers/due_order.hpp"

namespace flow::timers {

DueOrder::DueOrder(const std::vector<store::DueTimer>& read, bool read_all) : read_all_(read_all) {
    for (const store::DueTimer& due : read) {
        seen_.insert(due.timer.sequence);
        queue_.emplace(Place{due.timer.due_ms, due.timer.sequence}, due);
    }
    if (!read.empty()) last_read_ = {read.back().timer.due_ms, read.back().timer.sequence};
}

std::optional<store::DueTimer> DueOrder::next() {
    if (queue_.empty()) return std::nullopt;
    auto first = queue_.begin();
    store::DueTimer due = std::move(first->second);
    queue_.erase(first);
    return due;
}

void DueOrder::add_pending(const std::string& instance, const std::vector<engine::PendingTimer>& pending, std::int64_t now_ms) {
    for (const engine::PendingTimer& timer : pending) {
        const Place place{timer.due_ms, timer.sequence};
        if (timer.due_ms > now_ms || (!read_all_ && last_read_ < place)) continue;
        if (!seen_.insert(timer.sequence).second) continue;
        queue_.emplace(place, store::DueTimer{instance, timer});
    }
}

}  // namespace flow::timers
