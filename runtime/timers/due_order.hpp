// The order in which a round of the timer loop fires timers: due time first, then the order they
// were started, across every instance, as `flowc simulate` fires them when its clock moves on.
// A round starts from the due timers read from the database; a timer that one of its firings
// starts, already due by the round's time (the instance entered a state whose timer fell due
// while flowd was stopped), joins it in its turn, so that one instance's overdue timers do not
// all fire before another's.
#pragma once

#include "runtime/store/store.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace flow::timers {

class DueOrder {
public:
    // `read`: the due timers read, earliest first; `read_all`: whether they are every timer due
    // (the read was not cut at its limit).
    DueOrder(const std::vector<store::DueTimer>& read, bool read_all);

    // The next timer to fire, nothing once the round is done.
    std::optional<store::DueTimer> next();

    // An instance's pending timers after a firing: those due by `now_ms` join the round, unless
    // they come after the last timer read while more were left unread (those come first, next
    // round) or are in it already.
    void add_pending(const std::string& instance, const std::vector<engine::PendingTimer>& pending, std::int64_t now_ms);

private:
    using Place = std::pair<std::int64_t, std::uint64_t>;  // due time, start order
    std::map<Place, store::DueTimer> queue_;
    std::unordered_set<std::uint64_t> seen_;  // the sequences queued or fired this round
    bool read_all_ = true;
    Place last_read_{};
};

}  // namespace flow::timers
