// Two small services every part of flowd uses: the log line's shape, and the time-ordered ids
// given to instances and commands.
#include "runtime/service/log.hpp"
#include "runtime/service/time_ordered_id.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

using namespace flow;
using nlohmann::json;

namespace {

bool is_version_7(const std::string& id) {
    if (id.size() != 36) return false;
    for (std::size_t i = 0; i < id.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (id[i] == '-')) return false;
        if (!dash && !std::isxdigit(static_cast<unsigned char>(id[i]))) return false;
        if (!dash && std::isupper(static_cast<unsigned char>(id[i]))) return false;
    }
    return id[14] == '7' && std::string("89ab").find(id[19]) != std::string::npos;
}

// The milliseconds an id's first 48 bits hold.
std::int64_t milliseconds_of(const std::string& id) {
    return std::stoll(id.substr(0, 8) + id.substr(9, 4), nullptr, 16);
}

}  // namespace

TEST_CASE("a log line: one JSON object, its time, level and message set, bad UTF-8 replaced") {
    const std::string line = service::log_line(1'780'000'000'123, "warn", "command dead", {{"target", "pay"}, {"msg", "overwritten"}});
    REQUIRE(line.back() == '\n');
    CHECK(std::count(line.begin(), line.end(), '\n') == 1);
    const json parsed = json::parse(line);
    CHECK(parsed == json({{"ts", "2026-05-28T20:26:40.123Z"}, {"level", "warn"}, {"msg", "command dead"}, {"target", "pay"}}));

    const std::string bad = service::log_line(0, "error", "cannot fire", {{"error", std::string("caf\xe9")}});
    CHECK(json::parse(bad)["error"] == "caf\xef\xbf\xbd");  // U+FFFD for the byte that is not UTF-8
    CHECK(json::parse(bad)["ts"] == "1970-01-01T00:00:00.000Z");
    CHECK(json::parse(service::log_line(0, "info", "x", json::array({1})))  // fields that are no object are dropped
          == json({{"ts", "1970-01-01T00:00:00.000Z"}, {"level", "info"}, {"msg", "x"}}));
}

TEST_CASE("the log: lines written by several threads at once stay whole") {
    test::CapturedLog captured;
    {
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([t] {
                for (int i = 0; i < 200; ++i) service::log(0, "info", "line", {{"thread", t}, {"i", i}, {"pad", std::string(200, 'x')}});
            });
        for (std::thread& t : threads) t.join();
    }
    std::istringstream lines(captured.text.str());
    std::set<std::pair<int, int>> seen;
    for (std::string line; std::getline(lines, line);) {
        const json parsed = json::parse(line);  // throws on a line cut into another
        seen.insert({parsed["thread"].get<int>(), parsed["i"].get<int>()});
    }
    CHECK(seen.size() == 800);
}

TEST_CASE("time-ordered ids: version 7, the time in their first bits, each greater than the last") {
    // Far in the future, past every other test's time (the next one's included, whatever the
    // order the tests run in), so that no id made before in this process stands ahead of it.
    const std::int64_t at = 7'258'118'400'000;  // 2200-01-01
    const std::string first = service::time_ordered_id(at);
    CHECK(is_version_7(first));
    CHECK(milliseconds_of(first) == at);

    // 5,000 in one millisecond: past the 4,096 the sequence holds, the time runs ahead, in order.
    std::vector<std::string> ids{first};
    for (int i = 0; i < 5000; ++i) ids.push_back(service::time_ordered_id(at));
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
    CHECK(milliseconds_of(ids.back()) == at + 1);
    CHECK(std::all_of(ids.begin(), ids.end(), is_version_7));

    // A clock that steps back still gives greater ids.
    const std::string after_step_back = service::time_ordered_id(at - 60'000);
    CHECK(after_step_back > ids.back());
    CHECK(is_version_7(after_step_back));

    // The random part differs from id to id.
    std::set<std::string> tails;
    for (const std::string& id : ids) tails.insert(id.substr(24));
    CHECK(tails.size() == ids.size());
}

TEST_CASE("time-ordered ids: made on several threads at once, all distinct and each thread's in order") {
    constexpr std::int64_t at = 4'102'444'900'000;
    std::vector<std::vector<std::string>> made(4);
    std::vector<std::thread> threads;
    for (auto& list : made)
        threads.emplace_back([&list] {
            for (int i = 0; i < 2000; ++i) list.push_back(service::time_ordered_id(at));
        });
    for (std::thread& t : threads) t.join();
    std::set<std::string> all;
    for (const auto& list : made) {
        CHECK(std::is_sorted(list.begin(), list.end()));
        all.insert(list.begin(), list.end());
    }
    CHECK(all.size() == 8000);
}
