// The engine, rule by rule ("How an event is handled" in docs/language.md), without the simulator.
#include "runtime/engine/engine.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <utility>

using namespace flow;
using engine::Outcome;
using engine::Status;

namespace {

struct Fixture {
    Compilation compilation;
    std::unique_ptr<engine::Engine> engine;
    std::uint64_t sequence = 0;

    explicit Fixture(const std::string& text) : compilation(test::compile_text(text)) {
        INFO(test::summary(compilation));
        REQUIRE(compilation.program);
        engine = std::make_unique<engine::Engine>(compilation.program);
    }
    engine::Event event(const std::string& type, const nlohmann::json& data) {
        auto decoded = engine->decode(type, data);
        REQUIRE(std::holds_alternative<engine::Event>(decoded));
        return std::get<engine::Event>(decoded);
    }
    engine::Clock at(std::int64_t ms) { return {ms, &sequence}; }
    engine::Step start(const std::string& type, const nlohmann::json& data, std::int64_t now = 1000) {
        engine::Event e = event(type, data);
        auto routes = engine->route(e);
        REQUIRE(routes.size() == 1);
        return engine->start(routes[0], e, "i-1", at(now));
    }
    engine::Step deliver(const engine::Instance& i, const std::string& type, const nlohmann::json& data, std::int64_t now = 2000) {
        return engine->deliver(i, event(type, data), at(now));
    }
    std::string state(const engine::Instance& i) { return i.state < 0 ? "" : *engine->state_name(i); }
};

std::vector<std::string> command_types(const engine::Step& step) {
    std::vector<std::string> types;
    for (const auto& c : step.commands) types.push_back(c.type);
    return types;
}

const std::string messages = "event Go { id: string, n: int }\n"
                             "event Poke { id: string, n: int }\n"
                             "event Stop { id: string }\n"
                             "command Log to log { text: string }\n";

}  // namespace

TEST_CASE("decoding: required, optional, undeclared fields and wire types") {
    Fixture f("event E { id: string, at: time, wait: duration, note?: string, tags: list<int> }\n"
              "workflow W { key id: string start on E { complete } }");
    auto ok = f.engine->decode("E", {{"id", "x"}, {"at", "2026-01-01T00:00:01Z"}, {"wait", "1h30m"}, {"tags", {1, 2}}, {"extra", true}});
    REQUIRE(std::holds_alternative<engine::Event>(ok));
    const auto& data = std::get<engine::Event>(ok).data;
    CHECK(data["at"] == 1767225601000);
    CHECK(data["wait"] == 5400000);
    CHECK_FALSE(data.contains("note"));
    CHECK_FALSE(data.contains("extra"));

    auto missing = f.engine->decode("E", {{"id", "x"}, {"wait", "1h"}, {"tags", nlohmann::json::array()}});
    REQUIRE(std::holds_alternative<engine::DecodeError>(missing));
    CHECK(std::get<engine::DecodeError>(missing).field == "data.at");
    auto wrong = f.engine->decode("E", {{"id", "x"}, {"at", "2026-01-01T00:00:00Z"}, {"wait", "1h"}, {"tags", {1, "two"}}});
    REQUIRE(std::holds_alternative<engine::DecodeError>(wrong));
    CHECK(std::get<engine::DecodeError>(wrong).field == "data.tags[1]");
    CHECK(std::get<engine::DecodeError>(wrong).message == "expected int, got string");
    auto bad_time = f.engine->decode("E", {{"id", "x"}, {"at", "yesterday"}, {"wait", "1h"}, {"tags", {1}}});
    REQUIRE(std::holds_alternative<engine::DecodeError>(bad_time));
    CHECK(std::get<engine::DecodeError>(bad_time).field == "data.at");
    auto unknown = f.engine->decode("Nope", nlohmann::json::object());
    CHECK(std::holds_alternative<engine::DecodeError>(unknown));
}

TEST_CASE("decoding: taking the values out of the wire gives what copying gives, errors included") {
    Fixture f("type Line { sku: string, qty: int, note?: string }\n"
              "event E { id: string, at: time, lines: list<Line>, meta: json, label?: string, big: int }\n"
              "workflow W { key id: string start on E { complete } }");
    nlohmann::json good = {{"id", "x"}, {"at", "2026-01-01T00:00:01Z"}, {"big", 9223372036854775807ull},
                           {"lines", {{{"sku", "a"}, {"qty", 1}, {"extra", 1}}, {{"sku", "b"}, {"qty", 2}, {"note", nullptr}}}},
                           {"meta", {{"any", {1, "two"}}}}, {"label", nullptr}, {"undeclared", "dropped"}};
    nlohmann::json wire = good;
    auto copied = f.engine->decode("E", static_cast<const nlohmann::json&>(good));
    auto taken = f.engine->decode("E", std::move(wire));
    REQUIRE(std::holds_alternative<engine::Event>(copied));
    REQUIRE(std::holds_alternative<engine::Event>(taken));
    const auto& data = std::get<engine::Event>(taken).data;
    CHECK(data == std::get<engine::Event>(copied).data);
    CHECK(data["at"] == 1767225601000);
    CHECK(data["lines"][0] == nlohmann::json{{"sku", "a"}, {"qty", 1}});
    // A whole number written as a float is an int (JSON Schema's "integer"); it is stored as one.
    nlohmann::json floats = good;
    floats["lines"][0]["qty"] = 3.0;
    floats["big"] = -1e3;
    auto whole = f.engine->decode("E", floats);
    REQUIRE(std::holds_alternative<engine::Event>(whole));
    CHECK(std::get<engine::Event>(whole).data["lines"][0]["qty"].is_number_integer());
    CHECK(std::get<engine::Event>(whole).data["lines"][0]["qty"] == 3);
    CHECK(std::get<engine::Event>(whole).data["big"] == -1000);
    CHECK_FALSE(data["lines"][1].contains("note"));
    CHECK(data["meta"]["any"][1] == "two");
    CHECK_FALSE(data.contains("label"));
    CHECK_FALSE(data.contains("undeclared"));

    std::vector<nlohmann::json> bad;
    auto with = [&](const char* field, nlohmann::json value) {
        nlohmann::json b = good;
        if (value.is_discarded()) b.erase(field); else b[field] = std::move(value);
        bad.push_back(std::move(b));
    };
    with("at", nlohmann::json(nlohmann::json::value_t::discarded));
    with("at", nullptr);
    with("at", "not a time");
    with("big", 9223372036854775808ull);
    with("lines", {{{"sku", "a"}, {"qty", "one"}}});
    with("lines", {{{"sku", "a"}, {"qty", 1}}, {{"qty", 2}}});
    with("lines", "not a list");
    with("id", 7);
    with("lines", {{{"sku", "a"}, {"qty", 2.5}}});
    const std::size_t fraction_at = bad.size() - 1;
    with("big", 1e19);
    const std::size_t huge_at = bad.size() - 1;
    // Past 2^53 a double no longer holds every whole number: 1234567890123456789.0 arrives as
    // ...768, and 12345678901234567.8 as a whole number it was not written as.
    with("big", 1234567890123456789.0);
    const std::size_t inexact_at = bad.size() - 1;
    with("big", -9007199254740992.0);
    for (const nlohmann::json& b : bad) {
        CAPTURE(b.dump());
        nlohmann::json moved = b;
        auto c = f.engine->decode("E", static_cast<const nlohmann::json&>(b));
        auto t = f.engine->decode("E", std::move(moved));
        REQUIRE(std::holds_alternative<engine::DecodeError>(c));
        REQUIRE(std::holds_alternative<engine::DecodeError>(t));
        CHECK(std::get<engine::DecodeError>(t).field == std::get<engine::DecodeError>(c).field);
        CHECK(std::get<engine::DecodeError>(t).message == std::get<engine::DecodeError>(c).message);
    }
    auto bad_time = f.engine->decode("E", nlohmann::json(bad[2]));
    CHECK(std::get<engine::DecodeError>(bad_time).field == "data.at");
    CHECK(std::get<engine::DecodeError>(bad_time).message == "is not an RFC 3339 time: \"not a time\"");
    auto absent = f.engine->decode("E", nlohmann::json(bad[0]));
    CHECK(std::get<engine::DecodeError>(absent).field == "data.at");
    CHECK(std::get<engine::DecodeError>(absent).message == "is missing");
    auto qty = f.engine->decode("E", nlohmann::json(bad[4]));
    CHECK(std::get<engine::DecodeError>(qty).field == "data.lines[0].qty");
    auto sku = f.engine->decode("E", nlohmann::json(bad[5]));
    CHECK(std::get<engine::DecodeError>(sku).field == "data.lines[1].sku");
    CHECK(std::get<engine::DecodeError>(sku).message == "is missing");
    auto fraction = f.engine->decode("E", nlohmann::json(bad[fraction_at]));
    CHECK(std::get<engine::DecodeError>(fraction).field == "data.lines[0].qty");
    CHECK(std::get<engine::DecodeError>(fraction).message == "expected int, got number");
    auto huge = f.engine->decode("E", nlohmann::json(bad[huge_at]));
    CHECK(std::get<engine::DecodeError>(huge).message == "int out of range");
    auto inexact = f.engine->decode("E", nlohmann::json(bad[inexact_at]));
    CHECK(std::get<engine::DecodeError>(inexact).field == "data.big");
    CHECK(std::get<engine::DecodeError>(inexact).message ==
          "int written with a fraction or an exponent must be below 2^53 in magnitude to be exact: write it with digits alone");
    // Just below 2^53, and the same number written with digits alone past it, are taken exactly.
    nlohmann::json edge = good;
    edge["big"] = 9007199254740991.0;
    auto below = f.engine->decode("E", edge);
    REQUIRE(std::holds_alternative<engine::Event>(below));
    CHECK(std::get<engine::Event>(below).data["big"] == 9007199254740991);
    // Exactly -2^63 as a double may be digits alone past 64 bits or a fraction within them: the
    // message says both.
    edge["big"] = nlohmann::json::parse("-9223372036854775809");
    REQUIRE(edge["big"].is_number_float());
    auto past = f.engine->decode("E", edge);
    REQUIRE(std::holds_alternative<engine::DecodeError>(past));
    CHECK(std::get<engine::DecodeError>(past).message ==
          "int out of range, or written with a fraction or an exponent at or above 2^53 in magnitude: write it with digits "
          "alone, within 64 bits");
    edge["big"] = nlohmann::json::parse("1234567890123456789");
    auto digits = f.engine->decode("E", edge);
    REQUIRE(std::holds_alternative<engine::Event>(digits));
    CHECK(std::get<engine::Event>(digits).data["big"] == 1234567890123456789);
}

TEST_CASE("events are found by their declared and their external name; keys come from correlation") {
    Fixture f("type Ref { order: string }\nevent P \"com.acme.paid\" { ref: Ref }\nevent O { orderId: string }\n"
              "workflow W { key orderId: string correlate P by ref.order start on O { goto S } state S { on P { complete } } }");
    for (const char* type : {"P", "com.acme.paid"}) {
        auto e = f.event(type, {{"ref", {{"order", "o-7"}}}});
        auto routes = f.engine->route(e);
        REQUIRE(routes.size() == 1);
        CHECK(*routes[0].key == "o-7");
    }
}

TEST_CASE("start: the first start handler whose guard holds; none means unmatched") {
    Fixture f(messages + "workflow W { key id: string var path: string = \"\"\n"
                         " start on Go as g when g.n > 10 { path = \"big\" goto S }\n"
                         " start on Go as g when g.n > 0 { path = \"small\" goto S }\n"
                         " state S { on Stop { emit Log { text: path } complete } } }");
    CHECK(f.start("Go", {{"id", "a"}, {"n", 50}}).instance.vars[0] == "big");
    CHECK(f.start("Go", {{"id", "a"}, {"n", 5}}).instance.vars[0] == "small");
    CHECK(f.start("Go", {{"id", "a"}, {"n", -1}}).outcome == Outcome::Unmatched);
}

TEST_CASE("handler choice: the state's handlers in order, then the workflow's, else ignored") {
    Fixture f(messages + "workflow W { key id: string\n start on Go { goto S }\n"
                         " state S { on Poke as p when p.n == 1 { emit Log { text: \"state\" } } on Stop { complete } }\n"
                         " on Poke { emit Log { text: \"workflow\" } } }");
    engine::Instance i = f.start("Go", {{"id", "a"}, {"n", 0}}).instance;
    auto chosen = f.deliver(i, "Poke", {{"id", "a"}, {"n", 1}});
    CHECK(chosen.outcome == Outcome::Handled);
    CHECK(chosen.commands.at(0).data["text"] == "state");
    auto fallback = f.deliver(i, "Poke", {{"id", "a"}, {"n", 2}});
    CHECK(fallback.commands.at(0).data["text"] == "workflow");
    Fixture g(messages + "workflow W { key id: string start on Go { goto S } state S { on Stop { complete } on Poke as p when p.n == 1 { complete } } }");
    engine::Instance j = g.start("Go", {{"id", "a"}, {"n", 0}}).instance;
    auto ignored = g.deliver(j, "Poke", {{"id", "a"}, {"n", 2}});
    CHECK(ignored.outcome == Outcome::Ignored);
    CHECK(ignored.commands.empty());
    CHECK(ignored.instance.status == Status::Running);
}

TEST_CASE("a handler without a transition stays in its state and keeps its timers") {
    Fixture f(messages + "workflow W { key id: string var pokes: int = 0 start on Go { goto S }\n"
                         " state S { on Poke { pokes = pokes + 1 } on Stop { emit Log { text: str(pokes) } complete } after 1h { complete } } }");
    engine::Instance i = f.start("Go", {{"id", "a"}, {"n", 0}}, 0).instance;
    REQUIRE(i.timers.size() == 1);
    auto poked = f.deliver(i, "Poke", {{"id", "a"}, {"n", 0}}, 10);
    CHECK(poked.instance.vars[0] == 1);
    REQUIRE(poked.instance.timers.size() == 1);
    CHECK(poked.instance.timers[0].sequence == i.timers[0].sequence);
    CHECK(poked.instance.timers[0].due_ms == 3600000);
}

TEST_CASE("goto runs entry on every entry, re-entry included, and restarts the state's timers") {
    Fixture f(messages + "workflow W { key id: string var entries: int = 0 start on Go { goto S }\n"
                         " state S { entry { entries = entries + 1 emit Log { text: str(entries) } }\n"
                         "   on Poke { goto S } on Stop { complete } after 10m { complete } at now() + 1h { complete } } }");
    engine::Step started = f.start("Go", {{"id", "a"}, {"n", 0}}, 0);
    CHECK(command_types(started) == std::vector<std::string>{"Log"});
    REQUIRE(started.instance.timers.size() == 2);
    CHECK(started.instance.timers[0].due_ms == 600000);
    CHECK(started.instance.timers[1].due_ms == 3600000);
    CHECK(started.instance.timers[0].sequence < started.instance.timers[1].sequence);
    engine::Step again = f.deliver(started.instance, "Poke", {{"id", "a"}, {"n", 0}}, 60000);
    CHECK(again.instance.vars[0] == 2);
    CHECK(again.commands.at(0).data["text"] == "2");
    REQUIRE(again.instance.timers.size() == 2);
    CHECK(again.instance.timers[0].due_ms == 660000);
    CHECK(again.instance.timers[0].sequence > started.instance.timers[1].sequence);
}

TEST_CASE("a timer fires with now() at its due time and is gone afterwards") {
    Fixture f(messages + "workflow W { key id: string start on Go { goto S }\n"
                         " state S { on Stop { complete } after 5m { emit Log { text: str(now()) } goto T } }\n"
                         " state T { on Stop { complete } } }");
    engine::Instance i = f.start("Go", {{"id", "a"}, {"n", 0}}, 0).instance;
    engine::Step fired = f.engine->fire(i, i.timers[0], f.at(300000));
    CHECK(fired.commands.at(0).data["text"] == "1970-01-01T00:05:00Z");
    CHECK(f.state(fired.instance) == "T");
    CHECK(fired.instance.timers.empty());
}

TEST_CASE("compensations: registered without sending, sent newest first, cleared, discarded at the end") {
    Fixture f(messages + "workflow W { key id: string start on Go { compensate with Log { text: \"undo 1\" } goto S }\n"
                         " state S { on Poke { compensate with Log { text: \"undo 2\" } }\n"
                         "   on Stop { compensate emit Log { text: \"after\" } compensate fail \"stopped\" } } }");
    engine::Step started = f.start("Go", {{"id", "a"}, {"n", 0}});
    CHECK(started.commands.empty());
    engine::Step poked = f.deliver(started.instance, "Poke", {{"id", "a"}, {"n", 0}});
    CHECK(poked.commands.empty());
    CHECK(poked.instance.compensations.size() == 2);
    engine::Step stopped = f.deliver(poked.instance, "Stop", {{"id", "a"}});
    REQUIRE(stopped.commands.size() == 3);
    CHECK(stopped.commands[0].data["text"] == "undo 2");
    CHECK(stopped.commands[1].data["text"] == "undo 1");
    CHECK(stopped.commands[2].data["text"] == "after");
    CHECK(stopped.instance.status == Status::Failed);
    CHECK(stopped.instance.error == "stopped");
    CHECK(stopped.instance.compensations.empty());
}

TEST_CASE("fail and cancel do not compensate by themselves") {
    Fixture f(messages + "workflow W { key id: string start on Go { compensate with Log { text: \"undo\" } goto S }\n"
                         " state S { on Stop { cancel } on Poke { fail \"no\" } } }");
    engine::Instance i = f.start("Go", {{"id", "a"}, {"n", 0}}).instance;
    CHECK(f.deliver(i, "Stop", {{"id", "a"}}).commands.empty());
    CHECK(f.deliver(i, "Poke", {{"id", "a"}, {"n", 0}}).commands.empty());
    CHECK(f.deliver(i, "Stop", {{"id", "a"}}).instance.status == Status::Cancelled);
}

TEST_CASE("a runtime error commits nothing of the handler and fails the instance with its place") {
    Fixture f(messages + "workflow W { key id: string var total: int = 10 start on Go { goto S }\n"
                         " state S { on Poke as p { total = 0 emit Log { text: \"x\" } total = 10 / p.n } on Stop { complete } } }");
    engine::Instance i = f.start("Go", {{"id", "a"}, {"n", 0}}).instance;
    engine::Step step = f.deliver(i, "Poke", {{"id", "a"}, {"n", 0}});
    CHECK(step.outcome == Outcome::Handled);
    CHECK(step.instance.status == Status::Failed);
    CHECK(step.instance.error == "division by zero at test.flow:6:71");
    CHECK(step.instance.vars[0] == 10);
    CHECK(step.commands.empty());
    CHECK(step.instance.timers.empty());
    CHECK(f.state(step.instance) == "S");
}

TEST_CASE("a failing delivery, timer or cancellation leaves the instance as it was, copied or moved in; "
          "an error in on cancel ends it cancelled") {
    Fixture f(messages + "workflow W { key id: string var total: int = 10 var tag: string = \"\"\n"
                         " start on Go { compensate with Log { text: \"undo\" } goto S }\n"
                         " state S { on Poke as p when uuid() != \"\" and p.n > 100 { complete }\n"
                         "   on Poke { tag = uuid() total = 0 goto T }\n"
                         "   after 1m { total = 1 tag = uuid() let x = 1 / (total - 1) emit Log { text: str(x) } } }\n"
                         " state T { entry { total = 10 / total } on Stop { complete } }\n"
                         " on cancel { total = 5 tag = uuid() let y = 1 / (total - 5) emit Log { text: str(y) } } }");
    engine::Instance before = f.start("Go", {{"id", "a"}, {"n", 0}}).instance;
    REQUIRE(before.status == Status::Running);
    REQUIRE(before.compensations.size() == 1);
    REQUIRE(before.timers.size() == 1);
    auto check_unchanged = [&](const engine::Step& step, Status ends = Status::Failed) {
        CHECK(step.instance.status == ends);
        CHECK(step.instance.error.find("division by zero") == 0);
        CHECK(f.state(step.instance) == "S");
        CHECK(step.instance.vars == before.vars);
        CHECK(step.instance.uuid_counter == before.uuid_counter);
        CHECK(step.instance.id == before.id);
        CHECK(step.instance.key == before.key);
        CHECK(step.instance.compensations.empty());
        CHECK(step.instance.timers.empty());
        CHECK(step.commands.empty());
    };
    for (bool moved : {false, true}) {
        CAPTURE(moved);
        engine::Instance copy = before;
        engine::Event poke = f.event("Poke", {{"id", "a"}, {"n", 0}});
        check_unchanged(moved ? f.engine->deliver(std::move(copy), poke, f.at(2000)) : f.engine->deliver(copy, poke, f.at(2000)));
        copy = before;
        check_unchanged(moved ? f.engine->fire(std::move(copy), before.timers[0], f.at(61000))
                              : f.engine->fire(copy, before.timers[0], f.at(61000)));
        copy = before;
        check_unchanged(moved ? f.engine->cancel(std::move(copy), f.at(3000)) : f.engine->cancel(copy, f.at(3000)),
                        Status::Cancelled);
    }
}

TEST_CASE("runtime errors in guards and initializers, and integer overflow") {
    Fixture guard(messages + "workflow W { key id: string start on Go as g when 1 / g.n > 0 { complete } }");
    engine::Step failed = guard.start("Go", {{"id", "a"}, {"n", 0}});
    CHECK(failed.outcome == Outcome::Started);
    CHECK(failed.instance.status == Status::Failed);
    CHECK(failed.instance.state == -1);
    CHECK(failed.instance.error.rfind("division by zero at test.flow:5:", 0) == 0);

    Fixture init(messages + "workflow W { key id: string var big: int = 9223372036854775807 + 1 start on Go { complete } }");
    engine::Step overflow = init.start("Go", {{"id", "a"}, {"n", 0}});
    CHECK(overflow.instance.status == Status::Failed);
    CHECK(overflow.instance.error.rfind("integer overflow at test.flow:5:", 0) == 0);

    Fixture index(messages + "workflow W { key id: string var xs: list<int> = [1] start on Go as g { let x = xs[g.n] complete } }");
    CHECK(index.start("Go", {{"id", "a"}, {"n", 3}}).instance.error.rfind("index 3 out of range for a list of 1", 0) == 0);
}

TEST_CASE("the initializers run before the first guard that reads a variable, else once a start handler is chosen") {
    // 10 / (len(key) - 1) divides by zero for a one-letter key.
    const std::string vars = "workflow W { key id: string var ratio: int = 10 / (len(key) - 1) var seen: int = ratio + 1\n";
    Fixture plain(messages + vars + " start on Go as g when g.n > 0 { complete } }");
    engine::Step refused = plain.start("Go", {{"id", "a"}, {"n", 0}});
    CHECK(refused.outcome == Outcome::Unmatched);  // no handler takes it: nothing is created, nothing fails
    engine::Step taken = plain.start("Go", {{"id", "a"}, {"n", 1}});
    CHECK(taken.outcome == Outcome::Started);
    CHECK(taken.instance.status == Status::Failed);
    CHECK(taken.instance.error.starts_with("division by zero at test.flow:5:"));
    engine::Step fine = plain.start("Go", {{"id", "abc"}, {"n", 1}});
    REQUIRE(fine.instance.vars.size() == 2);
    CHECK(fine.instance.vars[0] == 5);
    CHECK(fine.instance.vars[1] == 6);

    // A guard that reads a variable sees its initial value, so the initializers run first, and
    // their error fails the instance even when the guard would not have held.
    Fixture reading(messages + vars + " start on Go as g when g.n > 0 and seen > 0 { complete } }");
    engine::Step failed = reading.start("Go", {{"id", "a"}, {"n", 0}});
    CHECK(failed.outcome == Outcome::Started);
    CHECK(failed.instance.error.starts_with("division by zero at test.flow:5:"));
    CHECK(reading.start("Go", {{"id", "abc"}, {"n", 1}}).instance.status == Status::Completed);

    // The first of several start handlers whose guard reads no variable is passed over without
    // running them; the second reads one.
    Fixture second(messages + vars + " start on Go as g when g.n > 5 { complete }\n start on Go when seen == 0 { complete } }");
    CHECK(second.start("Go", {{"id", "a"}, {"n", 0}}).instance.error.starts_with("division by zero at test.flow:5:"));
    CHECK(second.start("Go", {{"id", "abc"}, {"n", 0}}).outcome == Outcome::Unmatched);
}

TEST_CASE("dividing by zero fails for number and duration too; the one int quotient past the range overflows") {
    // g.n is 0 at run time, so that no division is folded away before it runs.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"1.5 / (g.n * 1.0)", "division by zero at test.flow:6:27"},
        {"1.5 % (g.n * 1.0)", "division by zero at test.flow:6:27"},
        {"1.5 / g.n", "division by zero at test.flow:6:27"},
        {"1h / g.n", "division by zero at test.flow:6:26"},
        {"(-9223372036854775807 - 1 + g.n) / -1", "integer overflow at test.flow:6:56"},
        {"1.0e308 * (10.0 + g.n)", "number overflow at test.flow:6:31"},
    };
    for (const auto& entry : cases) {
        const auto& expression = std::get<0>(entry);
        const auto& error = std::get<1>(entry);
        Fixture f(messages + "workflow W { key id: string start on Go as g {\n emit Log { text: str(" + expression + ") } complete } }");
        engine::Step step = f.start("Go", {{"id", "a"}, {"n", 0}});
        CHECK_MESSAGE(step.instance.status == Status::Failed, expression);
        CHECK_MESSAGE(step.instance.error.starts_with(error), expression, ": ", step.instance.error);
        CHECK(step.commands.empty());
    }
    // The remainder of that quotient is 0, as it is for every division by -1.
    Fixture remainder(messages + "workflow W { key id: string start on Go as g {\n"
                                 " emit Log { text: str((-9223372036854775807 - 1 + g.n) % -1) } complete } }");
    CHECK(remainder.start("Go", {{"id", "a"}, {"n", 0}}).commands.at(0).data["text"] == "0");
}

TEST_CASE("int division truncates toward zero and % takes the dividend's sign") {
    Fixture f(messages + "workflow W { key id: string start on Go as g {\n"
                         " emit Log { text: str(-7 / 2) + \" \" + str(-7 % 2) + \" \" + str(7 % -2) + \" \" + str(7.0 / 2) } complete } }");
    CHECK(f.start("Go", {{"id", "a"}, {"n", 0}}).commands.at(0).data["text"] == "-3 -1 1 3.5");
}

TEST_CASE("precedence: not sits below ==, and a prefix operator may open a right operand") {
    Fixture f(messages + "workflow W { key id: string var len: int = 3 start on Go as g {\n"
                         " emit Log { text: str([not g.n == 2, true == not true or true, not false and false, -g.n * 2 == -4]) + \" \" +\n"
                         "   str([2 * -g.n, len + len(\"ab\"), g.n - -1]) } complete } }");
    CHECK(f.start("Go", {{"id", "a"}, {"n", 2}}).commands.at(0).data["text"] == "[false,true,false,true] [-4,5,3]");
}

TEST_CASE("int and number compare by exact value: neither is rounded to the other's type") {
    Fixture f(messages + "workflow W { key id: string start on Go as g {\n"
                         " emit Log { text: str([9007199254740993 == 9007199254740992.0, 9007199254740992.0 < 9007199254740993,\n"
                         "   [9007199254740993] == [9007199254740992.0], 9223372036854775807 == 9223372036854775808.0,\n"
                         "   9223372036854775807 < 9223372036854775808.0, 2 == 2.0, g.n < 2.5, g.n >= 2.0, -1 > -1.5]) } complete } }");
    CHECK(f.start("Go", {{"id", "a"}, {"n", 2}}).commands.at(0).data["text"] ==
          "[false,true,false,false,true,true,true,true,true]");
}

TEST_CASE("a literal's fields are evaluated in the order their command declares them, not as written") {
    Fixture f(messages + "command Pair to log { first: int, second: int }\n"
                         "workflow W { key id: string start on Go as g {\n"
                         " emit Pair { second: 1 / g.n, first: int(\"x\") } complete } }");
    engine::Step step = f.start("Go", {{"id", "a"}, {"n", 0}});
    CHECK(step.instance.status == Status::Failed);
    CHECK(step.instance.error.starts_with("not a number: \"x\""));
}

TEST_CASE("a required json field whose value is null at run time is a runtime error, not a missing field") {
    Fixture f(messages + "command J to log { v: json }\n"
                         "workflow W { key id: string var snapshot: json = null start on Go as g {\n"
                         " emit Log { text: \"before\" } emit J { v: snapshot.x } complete } }");
    engine::Step step = f.start("Go", {{"id", "a"}, {"n", 0}});
    CHECK(step.instance.status == Status::Failed);
    CHECK(step.instance.error == "field 'v' of 'J' is required, and its json value is null at test.flow:7:51");
    CHECK(step.commands.empty());
}

TEST_CASE("a time past the years RFC 3339 writes is a runtime error, not a value clamped on the wire") {
    Fixture f(messages + "workflow W { key id: string start on Go as g {\n"
                         " emit Log { text: str(now() + days(g.n)) } complete } }");
    CHECK(f.start("Go", {{"id", "a"}, {"n", 2932896}}, 0).commands.at(0).data["text"] == "9999-12-31T00:00:00Z");
    engine::Step past = f.start("Go", {{"id", "b"}, {"n", 2932897}}, 0);
    CHECK(past.instance.status == Status::Failed);
    CHECK(past.instance.error ==
          "time out of range: times run from 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z at test.flow:6:29");
    Fixture before(messages + "workflow W { key id: string start on Go as g {\n"
                              " emit Log { text: str(now() - days(g.n)) } complete } }");
    CHECK(before.start("Go", {{"id", "c"}, {"n", 719529}}, 0).instance.status == Status::Failed);
    CHECK(before.start("Go", {{"id", "d"}, {"n", 719528}}, 0).commands.at(0).data["text"] == "0000-01-01T00:00:00Z");
    // Even when the milliseconds would pass 64 bits on the way.
    Fixture far(messages + "workflow W { key id: string start on Go as g {\n"
                           " emit Log { text: str(now() + 9223372036854775807ms) + str(now() - 9223372036854775807ms) } complete } }");
    engine::Step beyond = far.start("Go", {{"id", "g"}, {"n", 0}}, 1000);
    CHECK(beyond.instance.status == Status::Failed);
    CHECK(beyond.instance.error.starts_with("time out of range: "));
    // So is a timer whose due time would pass that year: its now() could not be written.
    Fixture timer(messages + "workflow W { key id: string var n: int = 0 start on Go as g { n = g.n goto S }\n"
                             " state S { after days(n) { complete } on Stop { complete } on Poke { emit Log { text: \"\" } } } }");
    CHECK(timer.start("Go", {{"id", "e"}, {"n", 2932896}}, 0).instance.timers.at(0).due_ms == 253402214400000);
    engine::Step too_far = timer.start("Go", {{"id", "f"}, {"n", 2932897}}, 0);
    CHECK(too_far.instance.status == Status::Failed);
    CHECK(too_far.instance.error == "timer overflow at test.flow:6:18");
}

TEST_CASE("an int stored where a number is declared becomes the double it widens to") {
    Fixture f(messages + "command N to log { text: string, x: number }\n"
                         "workflow W { key id: string var n: number = 9007199254740993 var m: number = 0\n"
                         " start on Go as g { m = 9007199254740993 + g.n\n"
                         "  emit N { text: str(n) + \" \" + str(n == 9007199254740993) + \" \" + str(m) + \" \" + str(n % 2),"
                         " x: 9007199254740993 } complete } }");
    engine::Step step = f.start("Go", {{"id", "a"}, {"n", 0}});
    REQUIRE(step.commands.size() == 1);
    CHECK(step.commands[0].data["text"] == "9007199254740992 false 9007199254740992 0");
    CHECK(step.commands[0].data["x"].is_number_float());
    CHECK(step.commands[0].data["x"].get<double>() == 9007199254740992.0);
    // In a list<number> too, whichever way the int gets there, and as the default of `??`.
    Fixture lists(messages + "command L to log { text: string, xs: list<number> }\n"
                             "workflow W { key id: string var n: number = 9007199254740993 var xs: list<number> = [9007199254740993]\n"
                             " var m: number? = null\n"
                             " start on Go as g { let more = append(xs, 9007199254740993) let mixed = [9007199254740993, 0.5]\n"
                             "  emit L { text: str(xs[0] == n) + \" \" + str(more[1] == n) + \" \" + str(mixed[0] == n) + \" \" +"
                             " str((m ?? 9007199254740993) == n), xs: [9007199254740993, 1] } complete } }");
    engine::Step listed = lists.start("Go", {{"id", "b"}, {"n", 0}});
    REQUIRE(listed.commands.size() == 1);
    CHECK(listed.commands[0].data["text"] == "true true true true");
    CHECK(listed.commands[0].data["xs"][0].is_number_float());
    CHECK(listed.commands[0].data["xs"][1].is_number_float());
}

TEST_CASE("?? widens an int on its left to the number it stands for, as it widens its default") {
    Fixture f("event E { id: string, big?: int }\ncommand C to log { v: number, text: string }\n"
              "workflow W { key id: string var x: number = 0\n"
              " start on E as e { let v = e.big ?? 0.5 x = v\n"
              "  emit C { v: e.big ?? 1.5, text: str(v) + \" \" + str([v] == append([], v)) + \" \" + str(round(v) == 9007199254740992) }"
              " complete } }");
    engine::Step step = f.start("E", {{"id", "a"}, {"big", 9007199254740993}});
    REQUIRE(step.commands.size() == 1);
    CHECK(step.instance.vars[0].is_number_float());
    CHECK(step.instance.vars[0].get<double>() == 9007199254740992.0);
    CHECK(step.commands[0].data["v"].is_number_float());
    CHECK(step.commands[0].data["text"] == "9007199254740992 true true");
}

TEST_CASE("a handler that would build a string or a list past its bound fails, with the place") {
    // replace() of a short text full of placeholders by a long name: 32 GB, from an event of 880 KB.
    Fixture f("event Mail { id: string, template: string, name: string }\ncommand Send to mail { body: string }\n"
              "workflow Mailer { key id: string start on Mail as m {\n"
              "  emit Send { body: replace(m.template, \"{name}\", m.name) } complete } }");
    std::string placeholders;
    for (int i = 0; i < 80000; ++i) placeholders += "{name}";
    engine::Step step = f.start("Mail", {{"id", "a"}, {"template", placeholders}, {"name", std::string(400000, 'x')}});
    CHECK(step.instance.status == Status::Failed);
    CHECK(step.instance.error == "string too long: 32000000000 bytes, past the 16777216 a string may hold at test.flow:4:21");
    CHECK(step.commands.empty());
    // A value built from copies of itself doubles at each step: held to 64 MiB, whether built by
    // a literal or appended to itself in place.
    std::string doubling = "event Go { id: string, text: string }\nworkflow W { key id: string var xs: list<json> = []\n"
                           " start on Go as g {\n  let a0 = [g.text]\n";
    for (int i = 1; i <= 10; ++i) doubling += "  let a" + std::to_string(i) + " = [a" + std::to_string(i - 1) + ", a" + std::to_string(i - 1) + "]\n";
    doubling += "  complete } }";
    Fixture literal(doubling);
    engine::Step doubled = literal.start("Go", {{"id", "a"}, {"text", std::string(1 << 20, 'x')}});
    CHECK(doubled.instance.status == Status::Failed);
    CHECK(doubled.instance.error == "a value larger than 67108864 bytes: a list or record built from copies of itself, again and again "
                                    "at test.flow:10:12");  // a6: 64 copies of 1 MiB, with what holds them
    std::string appending = "event Go { id: string, text: string }\nworkflow W { key id: string var xs: list<json> = []\n"
                            " start on Go as g {\n  xs = [g.text]\n";
    for (int i = 1; i <= 10; ++i) appending += "  xs = append(xs, xs)\n";
    appending += "  complete } }";
    Fixture self_appended(appending);
    engine::Step appended = self_appended.start("Go", {{"id", "a"}, {"text", std::string(1 << 20, 'x')}});
    CHECK(appended.instance.status == Status::Failed);
    CHECK(appended.instance.error.starts_with("a value larger than 67108864 bytes"));
    CHECK(appended.instance.error.ends_with("at test.flow:11:8"));  // the 7th append: 64 copies appended
    // A list grown in place stops at its bound too.
    Fixture lists("event Go { id: string, text: string }\n"
                  "workflow W { key id: string var xs: list<string> = [] start on Go as g { xs = split(g.text, \"\") goto S }\n"
                  " state S { on Go { xs = append(xs, \"y\") } } }");
    engine::Step started = lists.start("Go", {{"id", "a"}, {"text", std::string(flow::max_list_elements - 1, 'x')}});
    REQUIRE(started.instance.status == Status::Running);
    engine::Step full = lists.deliver(started.instance, "Go", {{"id", "a"}, {"text", ""}});
    REQUIRE(full.instance.status == Status::Running);
    CHECK(full.instance.vars[0].size() == flow::max_list_elements);
    engine::Step past = lists.deliver(full.instance, "Go", {{"id", "a"}, {"text", ""}});
    CHECK(past.instance.status == Status::Failed);
    CHECK(past.instance.error == "list too long: 1048577 elements, past the 1048576 a list may hold at test.flow:3:25");
    CHECK(past.instance.vars[0].size() == flow::max_list_elements);
}

TEST_CASE("json: a member of null is null by either spelling, and str writes whole numbers without .0") {
    Fixture f(messages + "workflow W { key id: string var j: json = 2.0 var k: json = null\n"
                         " start on Go as g { emit Log { text: str(j) + \" \" + str(k.a) + \" \" + str(k[\"a\"]) + \" \" +"
                         " str(k[\"a\"][\"b\"]) + \" \" + str([2.0, 2.5]) } complete } }");
    CHECK(f.start("Go", {{"id", "a"}, {"n", 0}}).commands.at(0).data["text"] == "2 null null null [2,2.5]");
    // Every number in a list, record or json is written as str writes a number alone.
    Fixture layout(messages + "type R { x: number }\n"
                              "workflow W { key id: string var j: json = [1.0e23, 2.0e-7] start on Go as g {\n"
                              " emit Log { text: str(1.0e23) + \" \" + str(j) + \" \" + str([1.0e23, 2.0e-7]) + \" \" + str(R { x: 2.0e-7 }) }"
                              " complete } }");
    CHECK(layout.start("Go", {{"id", "b"}, {"n", 0}}).commands.at(0).data["text"] ==
          "1e+23 [1e+23,2e-7] [1e+23,2e-7] {\"x\":2e-7}");
    Fixture index(messages + "workflow W { key id: string var k: json = null\n"
                             " start on Go as g { emit Log { text: str(k[0]) } complete } }");
    engine::Step step = index.start("Go", {{"id", "a"}, {"n", 0}});
    CHECK(step.instance.status == Status::Failed);
    CHECK(step.instance.error.starts_with("cannot index a JSON null with an int"));
}

TEST_CASE("a value that holds itself again and again is refused past 512 levels, not copied until the stack ends") {
    // Each Poke wraps the list in 50 more levels; the eleventh passes 512.
    std::string wrap;
    for (int i = 0; i < 50; ++i) wrap += "[";
    wrap += "l";
    for (int i = 0; i < 50; ++i) wrap += "]";
    Fixture f(messages + "workflow W { key id: string var l: json = null start on Go { goto S }\n"
                         " state S { on Poke { l = " + wrap + " } on Stop { complete } } }");
    engine::Step step = f.start("Go", {{"id", "a"}, {"n", 0}});
    for (int poke = 1; poke <= 10; ++poke) {
        step = f.deliver(step.instance, "Poke", {{"id", "a"}, {"n", poke}});
        REQUIRE(step.instance.status == Status::Running);
    }
    step = f.deliver(step.instance, "Poke", {{"id", "a"}, {"n", 11}});
    CHECK(step.instance.status == Status::Failed);
    CHECK(step.instance.error.starts_with("a value nested more than 512 deep"));
    // So is a record type that refers to itself.
    Fixture chain(messages + "type Node { next?: Node }\n"
                             "workflow W { key id: string var n: Node = Node {} start on Go { goto S }\n"
                             " state S { on Poke { n = Node { next: n } } on Stop { complete } } }");
    engine::Step linked = chain.start("Go", {{"id", "b"}, {"n", 0}});
    int pokes = 0;
    while (linked.instance.status == Status::Running && pokes < 1000)
        linked = chain.deliver(linked.instance, "Poke", {{"id", "b"}, {"n", ++pokes}});
    CHECK(pokes == 512);  // Node {} is one level; the 512th Poke makes 513
    CHECK(linked.instance.error.starts_with("a value nested more than 512 deep"));
}

TEST_CASE("on cancel runs, may emit and compensate, and ends the instance cancelled") {
    Fixture f(messages + "workflow W { key id: string start on Go { compensate with Log { text: \"undo\" } goto S }\n"
                         " state S { on Stop { complete } }\n on cancel { compensate emit Log { text: \"bye\" } } }");
    engine::Instance i = f.start("Go", {{"id", "a"}, {"n", 0}}).instance;
    engine::Step cancelled = f.engine->cancel(i, f.at(5000));
    CHECK(command_types(cancelled) == std::vector<std::string>{"Log", "Log"});
    CHECK(cancelled.commands[0].data["text"] == "undo");
    CHECK(cancelled.instance.status == Status::Cancelled);
    CHECK(cancelled.instance.timers.empty());
}

TEST_CASE("a transition in on cancel only ends the handler: no state entered, no entry run, no error kept") {
    Fixture f(messages + "workflow W { key id: string start on Go { goto S }\n"
                         " state S { on Stop { goto T } }\n state T { entry { emit Log { text: \"entered\" } } after 1h { complete } }\n"
                         " on cancel { emit Log { text: \"before\" } if key == \"a\" { goto T } else { fail \"no\" } } }");
    engine::Instance a = f.start("Go", {{"id", "a"}, {"n", 0}}).instance;
    engine::Step cancelled = f.engine->cancel(a, f.at(5000));
    CHECK(command_types(cancelled) == std::vector<std::string>{"Log"});
    CHECK(cancelled.commands[0].data["text"] == "before");
    CHECK(cancelled.instance.status == Status::Cancelled);
    CHECK(cancelled.instance.state == a.state);  // still S: T was not entered
    CHECK(cancelled.instance.timers.empty());
    engine::Instance b = f.start("Go", {{"id", "b"}, {"n", 0}}).instance;
    engine::Step failed_in_cancel = f.engine->cancel(b, f.at(5000));
    CHECK(failed_in_cancel.instance.status == Status::Cancelled);
    CHECK(failed_in_cancel.instance.error.empty());
}

TEST_CASE("str of a record writes its fields by their declared types, at any depth") {
    Fixture f("type Inner { at: time, x: number }\n"
              "type R { t: time, d: duration, x: number, n: int, note?: string, inner: Inner, list: list<Inner> }\n" +
              messages +
              "workflow W { key id: string start on Go {\n"
              " let i = Inner { at: now() + 1s, x: 0.5 }\n"
              " let r = R { t: now(), d: 90m, x: 2.0, n: 3, inner: i, list: [i] }\n"
              " emit Log { text: str(r) + \" \" + str([r.inner]) } complete } }");
    std::string text = f.start("Go", {{"id", "a"}, {"n", 0}}, 1767225600000).commands.at(0).data["text"].get<std::string>();
    const std::string inner = R"({"at":"2026-01-01T00:00:01Z","x":0.5})";
    CHECK(text == R"({"d":"1h30m","inner":)" + inner + R"(,"list":[)" + inner + R"(],"n":3,"t":"2026-01-01T00:00:00Z","x":2} [)" +
                      inner + "]");
}

TEST_CASE("now() and uuid() are reproducible") {
    Fixture f(messages + "workflow W { key id: string start on Go { emit Log { text: str(now()) + \" \" + uuid() + \" \" + uuid() } complete } }");
    auto first = f.start("Go", {{"id", "a"}, {"n", 0}}, 1767225600000).commands.at(0).data["text"].get<std::string>();
    auto second = f.start("Go", {{"id", "a"}, {"n", 0}}, 1767225600000).commands.at(0).data["text"].get<std::string>();
    CHECK(first == second);
    CHECK(first.rfind("2026-01-01T00:00:00Z ", 0) == 0);
    CHECK(first.substr(21, 36) != first.substr(58, 36));
}

TEST_CASE("commands and vars go out in wire form") {
    Fixture f("event Go { id: string, at: time }\ncommand Plan to p { at: time, wait: duration, extra: json }\n"
              "workflow W { key id: string var due: time? = null start on Go as g { due = g.at + 90m "
              "emit Plan { at: due ?? g.at, wait: 1h30m, extra: [g.at] } goto S } state S { on Go { complete } } }");
    engine::Step s = f.start("Go", {{"id", "a"}, {"at", "2026-01-01T00:00:00Z"}});
    CHECK(s.commands.at(0).data == nlohmann::json{{"at", "2026-01-01T01:30:00Z"}, {"wait", "1h30m"},
                                                  {"extra", {"2026-01-01T00:00:00Z"}}});
    CHECK(f.engine->vars_to_wire(s.instance) == nlohmann::json{{"due", "2026-01-01T01:30:00Z"}});
}

TEST_CASE("a start handler's runtime error keeps only the initial values of the vars") {
    Fixture f(messages + "workflow W { key id: string var x: int = 1 start on Go as g { x = 5 x = 10 / g.n complete } }");
    engine::Step step = f.start("Go", {{"id", "a"}, {"n", 0}});
    CHECK(step.instance.status == Status::Failed);
    CHECK(step.instance.vars[0] == 1);
    CHECK(step.commands.empty());
}

TEST_CASE("x = append(x, v) grows the list in place, and a failing handler still changes none of it") {
    // p.n selects what the handler does after its appends: 0 divides by zero at once, 1 replaces
    // xs and appends again before dividing, 2 enters T, whose entry appends and divides, 3 succeeds.
    Fixture f(messages + "workflow W { key id: string var xs: list<int> = [1] var ys: list<number> = [] var zs: list<int> = []\n"
                         " start on Go { goto S }\n"
                         " state S { on Poke as p { xs = append(xs, p.n) ys = append(ys, p.n) zs = append(xs, 9)\n"
                         "   if p.n == 0 { xs = append(xs, 10 / p.n) }\n"
                         "   if p.n == 1 { xs = [7] xs = append(xs, 8) ys = [] let z = 1 / (p.n - 1) }\n"
                         "   if p.n == 2 { goto T } }\n"
                         "  on Stop { complete } }\n"
                         " state T { entry { xs = append(xs, 5) ys = append(ys, 0.5) xs = [0] xs = append(xs, 1 / (len(xs) - 1)) }\n"
                         "  on Stop { complete } } }");
    engine::Step started = f.start("Go", {{"id", "a"}, {"n", 0}});
    REQUIRE(started.instance.status == Status::Running);
    engine::Step grown = f.deliver(started.instance, "Poke", {{"id", "a"}, {"n", 3}});
    REQUIRE(grown.instance.status == Status::Running);
    CHECK(grown.instance.vars[0] == nlohmann::json::array({1, 3}));
    CHECK(grown.instance.vars[1].at(0).is_number_float());  // the int widened as the list's element
    CHECK(grown.instance.vars[2] == nlohmann::json::array({1, 3, 9}));  // appended to a copy: xs unchanged by it
    grown = f.deliver(grown.instance, "Poke", {{"id", "a"}, {"n", 4}});
    CHECK(grown.instance.vars[0] == nlohmann::json::array({1, 3, 4}));
    CHECK(grown.instance.vars[1] == nlohmann::json::array({3.0, 4.0}));
    for (int n : {0, 1, 2}) {
        CAPTURE(n);
        for (bool moved : {false, true}) {
            CAPTURE(moved);
            engine::Instance copy = grown.instance;
            engine::Event poke = f.event("Poke", {{"id", "a"}, {"n", n}});
            engine::Step failed = moved ? f.engine->deliver(std::move(copy), poke, f.at(3000)) : f.engine->deliver(copy, poke, f.at(3000));
            CHECK(failed.instance.status == Status::Failed);
            CHECK(failed.instance.error.find("division by zero") == 0);
            CHECK(failed.instance.vars == grown.instance.vars);
            CHECK(f.state(failed.instance) == "S");
        }
    }
    // A start that fails after appending keeps the initial values.
    Fixture starting(messages + "workflow W { key id: string var xs: list<int> = [1]\n"
                                " start on Go as g { xs = append(xs, 2) xs = append(xs, 10 / g.n) complete } }");
    engine::Step failed_start = starting.start("Go", {{"id", "a"}, {"n", 0}});
    CHECK(failed_start.instance.status == Status::Failed);
    CHECK(failed_start.instance.vars[0] == nlohmann::json::array({1}));
}

TEST_CASE("x = append(x, v) refuses a list nested past 512 levels exactly where a copy's append does") {
    // The same append into its own variable (grown in place) and into another (a new list).
    Fixture f(messages + "event Deep { id: string, v: json }\n"
                         "workflow W { key id: string var same: list<json> = [] var other: list<json> = [] start on Go { goto S }\n"
                         " state S { on Deep as d when d.id == \"same\" { same = append(same, d.v) }\n"
                         "  on Deep as d { other = append(same, d.v) } on Stop { complete } } }");
    engine::Step started = f.start("Go", {{"id", "k"}, {"n", 0}});
    REQUIRE(started.instance.status == Status::Running);
    for (int levels : {510, 511, 512}) {
        CAPTURE(levels);
        nlohmann::json deep = 1;
        for (int i = 0; i < levels; ++i) deep = nlohmann::json::array({deep});
        std::vector<engine::Step> steps;
        for (const char* id : {"same", "other"}) steps.push_back(f.deliver(started.instance, "Deep", {{"id", id}, {"v", deep}}));
        CHECK(steps[0].instance.status == steps[1].instance.status);
        CHECK(steps[0].instance.status == (levels < 512 ? Status::Running : Status::Failed));
        if (levels == 512) {
            for (const engine::Step& step : steps) CHECK(step.instance.error.starts_with("a value nested more than 512 deep"));
            CHECK(steps[0].instance.error.ends_with(" at test.flow:7:54"));  // the call's place, as for a copy
            CHECK(steps[0].instance.vars == started.instance.vars);
        }
    }
}

TEST_CASE("a step says whether a goto entered a state") {
    Fixture f(messages + "workflow W { key id: string start on Go { goto S }\n"
                         " state S { on Poke { goto S } on Stop { complete } on Go { } } }");
    engine::Step started = f.start("Go", {{"id", "a"}, {"n", 0}});
    CHECK(started.entered);
    CHECK(f.deliver(started.instance, "Poke", {{"id", "a"}, {"n", 0}}).entered);
    CHECK_FALSE(f.deliver(started.instance, "Go", {{"id", "a"}, {"n", 1}}).entered);
    CHECK_FALSE(f.deliver(started.instance, "Stop", {{"id", "a"}}).entered);
}

TEST_CASE("a stored value is checked against its declared type, at any depth, with where it does not fit") {
    Fixture f("type Snap { v: json, at: time, note?: string, n: int, x: number, tags: list<int> }\n"
              "event Go { id: string, s: Snap }\n"
              "workflow W { key id: string var s: Snap? = null start on Go as g { s = g.s complete } }");
    const engine::WireCodec& codec = f.engine->codec();
    const Type snap = Type::record("Snap");
    auto where = [&](const nlohmann::json& value, const Type& type) {
        auto m = codec.misfit(value, type);
        return m ? m->path + " holds " + m->found + " where " + m->expected : std::string("fits");
    };
    const nlohmann::json fitting = {{"at", 5}, {"n", 1}, {"x", 2}, {"tags", {1, 2}}};
    CHECK(where(fitting, snap) == "fits");  // `v`, a json field, absent (older rows hold it so)
    nlohmann::json whole = fitting;
    whole["x"] = 2.0;
    whole["v"] = {{"anything", nullptr}};
    whole["note"] = nullptr;
    whole["extra"] = "left by an older declaration";
    CHECK(where(whole, snap) == "fits");
    CHECK(where(nullptr, Type::optional(snap)) == "fits");
    nlohmann::json wrong = fitting;
    wrong["n"] = 2.0;
    CHECK(where(wrong, snap) == ".n holds a number where int");
    wrong = fitting;
    wrong["tags"] = {1, "a"};
    CHECK(where(wrong, snap) == ".tags[1] holds a string where int");
    wrong = fitting;
    wrong.erase("at");
    CHECK(where(wrong, snap) == ".at holds nothing where time");
    wrong = fitting;
    wrong["note"] = 5;
    CHECK(where(wrong, snap) == ".note holds an integer where string");
    CHECK(where(nlohmann::json::array(), snap) == " holds a list where Snap");
    CHECK(where("2026-01-01T00:00:00Z", Type::time()) == " holds a string where time");
    CHECK(where(nullptr, Type::integer()) == " holds null where int");
    CHECK(where(true, Type::json()) == "fits");
    CHECK(where(nlohmann::json::array(), Type::list(Type::never())) == "fits");
}
