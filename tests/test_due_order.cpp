// The order of a timer loop's round: due time, then start order, across instances; timers
// started during the round join it in their turn when nothing unread can come before them.
#include "runtime/timers/due_order.hpp"

#include <doctest/doctest.h>

using namespace flow;

namespace {

store::DueTimer due(const std::string& instance, std::int64_t due_ms, std::uint64_t sequence) {
    engine::PendingTimer timer;
    timer.due_ms = due_ms;
    timer.sequence = sequence;
    return {instance, timer};
}

// Takes every timer left, as "instance@due/sequence".
std::vector<std::string> drain(timers::DueOrder& order) {
    std::vector<std::string> taken;
    while (auto next = order.next())
        taken.push_back(next->instance + "@" + std::to_string(next->timer.due_ms) + "/" + std::to_string(next->timer.sequence));
    return taken;
}

}  // namespace

TEST_CASE("a round fires by due time, then by start order") {
    timers::DueOrder order({due("a", 10, 5), due("b", 10, 7), due("c", 20, 1)}, true);
    CHECK(drain(order) == std::vector<std::string>{"a@10/5", "b@10/7", "c@20/1"});
}

TEST_CASE("a timer started during the round joins it in its turn, once") {
    timers::DueOrder order({due("x", 2, 1), due("y", 4, 2), due("z", 9, 3)}, true);
    REQUIRE(order.next()->instance == "x");
    // x's firing started two timers due by the round's time (8) and one due after it; y's timer,
    // still pending, is in the round already.
    order.add_pending("x", {due("x", 4, 10).timer, due("x", 3, 11).timer, due("x", 30, 12).timer}, 8);
    order.add_pending("y", {due("y", 4, 2).timer}, 8);
    CHECK(drain(order) == std::vector<std::string>{"x@3/11", "y@4/2", "x@4/10", "z@9/3"});
}

TEST_CASE("when the read was cut at its limit, a timer started after the last one read waits for the next round") {
    // Unread timers due between 5 and 8 may exist: one due at 6 must not pass them.
    timers::DueOrder order({due("a", 1, 1), due("b", 5, 2)}, false);
    REQUIRE(order.next()->instance == "a");
    order.add_pending("a", {due("a", 4, 10).timer, due("a", 6, 11).timer, due("a", 5, 12).timer}, 8);
    CHECK(drain(order) == std::vector<std::string>{"a@4/10", "b@5/2"});
}
