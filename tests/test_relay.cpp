// The relay's pure parts: the body a command goes out with, and the backoff schedule.
#include "runtime/relay/relay.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <nlohmann/json.hpp>

using nlohmann::json;

namespace {

flow::store::OutboxCommand command(std::string id, std::string type, std::string workflow, std::string instance, std::string key,
                                   std::string payload) {
    flow::store::OutboxCommand c;
    c.id = std::move(id);
    c.type = std::move(type);
    c.workflow = std::move(workflow);
    c.instance = std::move(instance);
    c.key = std::move(key);
    c.payload = std::move(payload);
    return c;
}

}  // namespace

TEST_CASE("a command's wire body splices the stored key and data and escapes the strings") {
    auto c = command("cmd-1", "Reserve\"Stock", "Order\\Flow", "inst-1", R"("A-1")", R"({"orderId":"A-1","lines":[1,2],"note":"caf\u00e9"})");
    json body = json::parse(flow::relay::Relay::wire_body(c));
    CHECK(body == json{{"id", "cmd-1"},
                       {"type", "Reserve\"Stock"},
                       {"workflow", "Order\\Flow"},
                       {"instance", "inst-1"},
                       {"key", "A-1"},
                       {"data", {{"orderId", "A-1"}, {"lines", {1, 2}}, {"note", "caf\u00e9"}}}});
    CHECK(body.size() == 6);

    c.key = "42";  // an int key stays a number
    CHECK(json::parse(flow::relay::Relay::wire_body(c))["key"] == 42);
}

TEST_CASE("a command's wire body copies plain names as they are and escapes any other text as the JSON library does") {
    auto c = command("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "ReserveStock", "OrderFulfillment", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c",
                     R"("A-1")", R"({"n":1})");
    CHECK(flow::relay::Relay::wire_body(c) ==
          R"({"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","type":"ReserveStock","workflow":"OrderFulfillment",)"
          R"("instance":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c","key":"A-1","data":{"n":1}})");

    // A control character, DEL, UTF-8 and a byte that is no UTF-8: the library's own text.
    for (std::string odd : {std::string("tab\there"), std::string("del\x7f"), std::string("caf\xc3\xa9"), std::string("bad\xff")}) {
        c.type = odd;
        const std::string body = flow::relay::Relay::wire_body(c);
        const std::string expected = json(odd).dump(-1, ' ', false, json::error_handler_t::replace);
        CHECK(body.find(",\"type\":" + expected + ",") != std::string::npos);
        json parsed;
        CHECK_NOTHROW(parsed = json::parse(body));
    }
    c.key.clear();  // no key and no data: null
    c.payload.clear();
    CHECK(json::parse(flow::relay::Relay::wire_body(c))["key"].is_null());
    CHECK(json::parse(flow::relay::Relay::wire_body(c))["data"].is_null());
}

TEST_CASE("backoff doubles from the initial delay with jitter, is capped, and Retry-After wins up to the cap unless it is zero") {
    flow::service::RetryPolicy policy{12, 1000, 8000};
    std::mt19937_64 random(7);
    for (int i = 0; i < 200; ++i) {
        std::int64_t first = flow::relay::Relay::backoff_ms(policy, 1, std::nullopt, random);
        CHECK(first >= 500);
        CHECK(first <= 1000);
        std::int64_t third = flow::relay::Relay::backoff_ms(policy, 3, std::nullopt, random);
        CHECK(third >= 2000);
        CHECK(third <= 4000);
        std::int64_t late = flow::relay::Relay::backoff_ms(policy, 30, std::nullopt, random);
        CHECK(late >= 4000);
        CHECK(late <= 8000);
    }
    CHECK(flow::relay::Relay::backoff_ms(policy, 1, 3000, random) == 3000);
    CHECK(flow::relay::Relay::backoff_ms(policy, 1, 60000, random) == 8000);
    // A Retry-After of 0 (or a date already past) names no wait: the backoff stands.
    for (int i = 0; i < 50; ++i) {
        std::int64_t now = flow::relay::Relay::backoff_ms(policy, 3, 0, random);
        CHECK(now >= 2000);
        CHECK(now <= 4000);
    }
}

TEST_CASE("a backoff of zero retries at once, whatever the attempt and whatever Retry-After asks") {
    std::mt19937_64 random(7);
    for (int attempts : {1, 2, 30, 1000000}) {
        CHECK(flow::relay::Relay::backoff_ms({12, 0, 0}, attempts, std::nullopt, random) == 0);
        CHECK(flow::relay::Relay::backoff_ms({12, 0, 8000}, attempts, std::nullopt, random) == 0);
    }
    CHECK(flow::relay::Relay::backoff_ms({12, 0, 0}, 1, 3000, random) == 0);  // cut to the cap
    CHECK(flow::relay::Relay::backoff_ms({12, 0, 8000}, 1, 3000, random) == 3000);
}

TEST_CASE("Retry-After in seconds is read whatever its size, and never overflows") {
    using flow::relay::parse_retry_after;
    constexpr std::int64_t longest = std::numeric_limits<std::int64_t>::max();
    CHECK(parse_retry_after("120", 0) == 120000);
    CHECK(parse_retry_after("0", 0) == 0);
    CHECK(parse_retry_after("10000000000000000", 0) == longest);  // * 1000 would overflow
    CHECK(parse_retry_after("99999999999999999999999", 0) == longest);  // past 64 bits
    CHECK(parse_retry_after("-5", 0) == 0);
    CHECK_FALSE(parse_retry_after("", 0));
    CHECK_FALSE(parse_retry_after("soon", 0));
    CHECK(parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 4000) == 6000);
    // The obsolete forms of an HTTP date, which a recipient must read too (RFC 9110 5.6.7).
    CHECK(parse_retry_after("Thursday, 01-Jan-70 00:00:10 GMT", 4000) == 6000);
    CHECK(parse_retry_after("Thu Jan  1 00:00:10 1970", 4000) == 6000);
    CHECK_FALSE(parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT and more", 4000));
    // Cut to the policy's longest wait by the relay.
    flow::service::RetryPolicy policy{12, 1000, 8000};
    std::mt19937_64 random(7);
    CHECK(flow::relay::Relay::backoff_ms(policy, 1, parse_retry_after("10000000000000000", 0), random) == 8000);
}
