// One read shared by the callers that ask at once (the counts behind /metrics): at most one
// runs, no caller's thread waits for it, and no caller gets the answer of a read that began
// before it asked.
#include "runtime/service/coalesced_read.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

using flow::service::CoalescedRead;

namespace {

// A runner that keeps the work it is given, to run it when the test says.
struct HeldRunner {
    std::vector<std::function<void()>> held;
    CoalescedRead<int>::Run run() {
        return [this](std::function<void()> work) { held.push_back(std::move(work)); };
    }
    void run_held() {
        std::vector<std::function<void()>> now;
        now.swap(held);
        for (auto& work : now) work();
    }
};

}  // namespace

TEST_CASE("a caller alone is answered by a read of its own, one after the other") {
    auto shared = std::make_shared<CoalescedRead<int>>();
    int reads = 0;
    std::vector<int> answers;
    const auto at_once = [](std::function<void()> work) { work(); };
    for (int i = 0; i < 3; ++i) shared->get([&] { return ++reads; }, [&](const int& n) { answers.push_back(n); }, at_once);
    CHECK(answers == std::vector<int>{1, 2, 3});
    CHECK(shared->reads() == 3);
}

TEST_CASE("the callers that ask before a read starts share it; those that ask during it get the next") {
    auto shared = std::make_shared<CoalescedRead<int>>();
    HeldRunner runner;
    int reads = 0;
    std::vector<int> answers(4, 0);
    std::function<int()> read;
    read = [&] {
        ++reads;
        // A fourth caller asks while the first read runs.
        if (reads == 1) shared->get(read, [&](const int& n) { answers[3] = n; }, runner.run());
        return reads;
    };
    for (int caller = 0; caller < 3; ++caller) shared->get(read, [&, caller](const int& n) { answers[caller] = n; }, runner.run());
    // No caller waited for an answer, and one runner was asked for.
    CHECK(answers == std::vector<int>{0, 0, 0, 0});
    REQUIRE(runner.held.size() == 1);
    runner.run_held();
    CHECK(answers == std::vector<int>{1, 1, 1, 2});
    CHECK(shared->reads() == 2);
    CHECK(runner.held.empty());  // the fourth caller's read ran on the same runner
    // Once no caller waits, the next caller needs a runner again.
    shared->get(read, [&](const int& n) { answers[0] = n; }, runner.run());
    REQUIRE(runner.held.size() == 1);
    runner.run_held();
    CHECK(answers[0] == 3);
}

TEST_CASE("under callers on many threads, one read at a time, each begun after its caller asked") {
    auto shared = std::make_shared<CoalescedRead<int>>();
    std::atomic<int> started{0}, running{0}, most_running{0};
    std::atomic<int> stale{0}, answered{0};
    const auto read = [&] {
        const int now = ++running;
        int seen = most_running.load();
        while (now > seen && !most_running.compare_exchange_weak(seen, now)) {
        }
        const int number = ++started;
        std::this_thread::yield();
        --running;
        return number;
    };
    std::mutex runners_mutex;
    std::vector<std::thread> runners;
    const auto on_new_thread = [&](std::function<void()> work) {
        std::lock_guard lock(runners_mutex);
        runners.emplace_back(std::move(work));
    };
    std::vector<std::thread> callers;
    constexpr int callers_count = 8, asks = 200;
    for (int c = 0; c < callers_count; ++c) {
        callers.emplace_back([&] {
            for (int i = 0; i < asks; ++i) {
                const int begun_before = started.load();
                shared->get(read, [&, begun_before](const int& n) {
                    if (n <= begun_before) ++stale;
                    ++answered;
                }, on_new_thread);
            }
        });
    }
    for (auto& t : callers) t.join();
    for (;;) {
        std::vector<std::thread> now;
        {
            std::lock_guard lock(runners_mutex);
            now.swap(runners);
        }
        if (now.empty()) break;
        for (auto& t : now) t.join();
    }
    CHECK(answered.load() == callers_count * asks);
    CHECK(stale.load() == 0);
    CHECK(most_running.load() == 1);
    CHECK(shared->reads() == static_cast<std::uint64_t>(started.load()));
}

TEST_CASE("a runner that cannot take the work: the reads run on the caller's thread, and every caller is answered") {
    auto shared = std::make_shared<CoalescedRead<int>>();
    int reads = 0;
    std::vector<int> answers;
    const auto refusing = [](std::function<void()>) { throw std::runtime_error("no memory to queue it"); };
    shared->get([&] { return ++reads; }, [&](const int& n) { answers.push_back(n); }, refusing);
    CHECK(answers == std::vector<int>{1});
    // Not stuck: the next caller starts a runner again.
    const auto at_once = [](std::function<void()> work) { work(); };
    shared->get([&] { return ++reads; }, [&](const int& n) { answers.push_back(10 + n); }, at_once);
    CHECK(answers == std::vector<int>{1, 12});
}

TEST_CASE("a delivery that throws is its caller's alone: the others sharing the read are answered") {
    auto shared = std::make_shared<CoalescedRead<int>>();
    HeldRunner runner;
    std::vector<int> answers;
    shared->get([] { return 7; }, [&](const int& n) { answers.push_back(n); }, runner.run());
    shared->get([] { return 7; }, [](const int&) { throw std::runtime_error("the answer cannot be sent"); }, runner.run());
    shared->get([] { return 7; }, [&](const int& n) { answers.push_back(n); }, runner.run());
    REQUIRE(runner.held.size() == 1);
    runner.run_held();
    CHECK(answers == std::vector<int>{7, 7});
    CHECK(shared->reads() == 1);
    shared->get([] { return 8; }, [&](const int& n) { answers.push_back(n); }, runner.run());
    REQUIRE(runner.held.size() == 1);  // the runner's role was given back
}

TEST_CASE("a read that throws against the contract leaves its callers to the next runner, not stranded") {
    auto shared = std::make_shared<CoalescedRead<int>>();
    HeldRunner runner;
    std::vector<int> answers;
    shared->get([]() -> int { throw std::runtime_error("the read failed"); }, [&](const int& n) { answers.push_back(n); },
                runner.run());
    REQUIRE(runner.held.size() == 1);
    CHECK_THROWS_WITH(runner.run_held(), "the read failed");
    CHECK(answers.empty());
    // The next caller starts a runner, whose read answers the first caller too.
    shared->get([] { return 5; }, [&](const int& n) { answers.push_back(10 + n); }, runner.run());
    REQUIRE(runner.held.size() == 1);
    runner.run_held();
    CHECK(answers == std::vector<int>{5, 15});
}
