// `flowc simulate`: the examples' scenarios line for line, and the clock rules of docs/flowc.md.
#include "runtime/simulator/simulator.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

namespace fs = std::filesystem;
using namespace flow;
using nlohmann::json;

namespace {

struct Run {
    std::vector<json> lines;
    std::string error;
};

Run simulate(const std::shared_ptr<const ir::Program>& program, const std::string& scenario) {
    std::ostringstream out;
    sim::Simulator simulator(program, out);
    std::istringstream in(scenario);
    std::string line;
    Run run;
    int number = 0;
    while (std::getline(in, line)) {
        if (auto error = simulator.feed(line, ++number)) {
            run.error = *error;
            break;
        }
    }
    if (run.error.empty()) simulator.finish();
    std::istringstream printed(out.str());
    while (std::getline(printed, line)) run.lines.push_back(json::parse(line));
    return run;
}

Run simulate_text(const std::string& flow, const std::string& scenario) {
    Compilation c = test::compile_text(flow);
    INFO(test::summary(c));
    REQUIRE(c.program);
    return simulate(c.program, scenario);
}

std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

const std::string workflow_text = "event Go { id: string }\nevent Poke { id: string }\ncommand Log to log { text: string }\n"
                         "workflow W { key id: string start on Go { goto S }\n"
                         " state S { on Poke { emit Log { text: str(now()) } } after 1h { emit Log { text: \"timer \" + str(now()) } goto S } } }";

}  // namespace

TEST_CASE("every example with a scenario reproduces its expected output line for line") {
    int scenarios = 0;
    for (const auto& entry : fs::directory_iterator(test::source_dir() + "/examples")) {
        std::string name = entry.path().filename().string();
        if (name.size() < 13 || name.substr(name.size() - 13) != ".events.jsonl") continue;
        std::string stem = name.substr(0, name.size() - 13);
        CAPTURE(stem);
        DiskReader reader;
        Compilation c = compile({(entry.path().parent_path() / (stem + ".flow")).string()}, reader);
        REQUIRE(c.program);
        Run run = simulate(c.program, read(entry.path()));
        CHECK(run.error == "");
        std::vector<json> expected;
        std::istringstream lines(read(entry.path().parent_path() / (stem + ".expected.jsonl")));
        std::string line;
        while (std::getline(lines, line)) expected.push_back(json::parse(line));
        CHECK(run.lines == expected);
        ++scenarios;
    }
    CHECK(scenarios >= 4);
}

TEST_CASE("a time or duration in a list<json>, a json default, append or == takes its wire form, as straight into a json slot") {
    const std::string flow = R"(type Box { j: json, l: list<json> }
event T { id: string, d: duration, o?: json }
command Out to sink { id: string, payload: json, many: list<json>, box: Box }
workflow J {
  key id: string
  var xs: list<json> = [now()]
  var seen: list<bool> = []
  start on T as t {
    xs = append(xs, t.d)
    seen = [contains(xs, now()), (t.o ?? now()) == now(), t.o == now()]
    emit Out { id: key, payload: t.o ?? now(), many: [t.d], box: Box { j: t.d, l: [t.d] } }
    emit Out { id: key, payload: [now()], many: xs, box: Box { j: 0, l: append([], t.d) } }
    complete
  }
})";
    Run run = simulate_text(flow, R"({"id": "e1", "type": "T", "time": "2026-01-05T10:00:00Z", "data": {"id": "k", "d": "1h30m"}})");
    REQUIRE(run.error.empty());
    REQUIRE(run.lines.size() == 4);
    const json& first = run.lines[1]["data"];
    CHECK(first["payload"] == "2026-01-05T10:00:00Z");
    CHECK(first["many"] == json::array({"1h30m"}));
    CHECK(first["box"] == json({{"j", "1h30m"}, {"l", {"1h30m"}}}));
    const json& second = run.lines[2]["data"];
    CHECK(second["payload"] == json::array({"2026-01-05T10:00:00Z"}));
    CHECK(second["many"] == json::array({"2026-01-05T10:00:00Z", "1h30m"}));
    CHECK(second["box"]["l"] == json::array({"1h30m"}));
    const json& vars = run.lines[3]["vars"];
    CHECK(vars["xs"] == json::array({"2026-01-05T10:00:00Z", "1h30m"}));
    CHECK(vars["seen"] == json::array({true, true, false}));
}

TEST_CASE("a json compared inside a list, or looked for with contains, meets times, durations and records in their wire form") {
    const std::string flow = R"(type Slot { at: time }
event Seen { id: string, at: json, d: json, slot: json, ms: json }
workflow Check {
  key id: string
  var seen: list<bool> = []
  start on Seen as s {
    seen = [s.at == now(), [s.at] == [now()], [[s.at]] == [[now()]], contains([now()], s.at),
            [s.d] == [1h30m], contains([1h30m], s.d), [s.slot] == [Slot { at: now() }],
            contains([Slot { at: now() }], s.slot), [s.ms] == [now()], [s.at] != [now()]]
    complete
  }
})";
    Run run = simulate_text(flow, R"({"id": "e1", "type": "Seen", "time": "2026-01-05T10:00:00Z", "data": {"id": "x", )"
                                  R"("at": "2026-01-05T10:00:00Z", "d": "1h30m", "slot": {"at": "2026-01-05T10:00:00Z"}, "ms": 1767607200000}})");
    REQUIRE(run.error.empty());
    REQUIRE(run.lines.size() == 2);
    // Before, every comparison inside a list and every contains saw the times as milliseconds.
    CHECK(run.lines[1]["vars"]["seen"] == json::array({true, true, true, true, true, true, true, true, false, false}));
}

TEST_CASE("a list literal of mixed elements in a json slot travels as a JSON array, each element in its wire form") {
    const std::string flow = R"(event T { id: string, o: json }
command Out to sink { id: string, payload: json, many: list<json> }
workflow J {
  key id: string
  var xs: list<json> = [1, "one"]
  start on T as t {
    xs = [xs, 2.5, null, t.o]
    emit Out { id: key, payload: [1, "a", [true, 90s], now()], many: xs }
    complete
  }
})";
    Run run = simulate_text(flow, R"({"id": "e1", "type": "T", "time": "2026-01-05T10:00:00Z", "data": {"id": "k", "o": {"z": 1}}})");
    REQUIRE(run.error.empty());
    REQUIRE(run.lines.size() == 3);
    const json& data = run.lines[1]["data"];
    CHECK(data["payload"] == json::parse(R"([1, "a", [true, "1m30s"], "2026-01-05T10:00:00Z"])"));
    CHECK(data["many"] == json::parse(R"([[1, "one"], 2.5, null, {"z": 1}])"));
    CHECK(run.lines[2]["vars"]["xs"] == data["many"]);
}

TEST_CASE("fail with an empty reason leaves the instance failed with the error \"\", not with none") {
    Run run = simulate_text("event T { id: string, why: string }\nworkflow F { key id: string start on T as t { fail t.why } }",
                            R"({"id": "e1", "type": "T", "time": "2026-01-05T10:00:00Z", "data": {"id": "k", "why": ""}})");
    REQUIRE(run.error.empty());
    REQUIRE(run.lines.size() == 2);
    CHECK(run.lines[1]["status"] == "failed");
    CHECK(run.lines[1]["error"] == "");
}

TEST_CASE("a timer due exactly at an event's time fires before the event") {
    Run run = simulate_text(workflow_text, R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}}
{"id": "2", "type": "Poke", "time": "2026-01-01T01:00:00Z", "data": {"id": "a"}})");
    REQUIRE(run.lines.size() >= 4);
    CHECK(run.lines[1]["timer"] == "after");
    CHECK(run.lines[2]["data"]["text"] == "timer 2026-01-01T01:00:00Z");
    CHECK(run.lines[3]["event"] == "2");
}

TEST_CASE("advance fires every timer that falls due, in due order, each at its due time") {
    Run run = simulate_text(workflow_text, R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}}
{"id": "2", "type": "Go", "time": "2026-01-01T00:30:00Z", "data": {"id": "b"}}
{"advance": "2h"})");
    std::vector<std::string> texts;
    for (const json& l : run.lines)
        if (l["kind"] == "command") texts.push_back(l["key"].get<std::string>() + " " + l["data"]["text"].get<std::string>());
    CHECK(texts == std::vector<std::string>{"a timer 2026-01-01T01:00:00Z", "b timer 2026-01-01T01:30:00Z",
                                            "a timer 2026-01-01T02:00:00Z", "b timer 2026-01-01T02:30:00Z"});
}

TEST_CASE("the clock never goes back, ids default to the line number, times to the clock plus one second") {
    Run run = simulate_text(workflow_text, R"({"id": "1", "type": "Go", "time": "2026-01-01T00:10:00Z", "data": {"id": "a"}}
{"id": "2", "type": "Poke", "time": "2025-01-01T00:00:00Z", "data": {"id": "a"}}
{"type": "Poke", "data": {"id": "a"}})");
    REQUIRE(run.lines.size() >= 5);
    CHECK(run.lines[2]["data"]["text"] == "2026-01-01T00:10:00Z");
    CHECK(run.lines[3]["event"] == "3");
    CHECK(run.lines[4]["data"]["text"] == "2026-01-01T00:10:01Z");
}

TEST_CASE("duplicates, unmatched events and events no workflow handles") {
    Run run = simulate_text(workflow_text + "\nevent Other { id: string }\nworkflow V { key id: string start on Other { complete } }",
                            R"({"id": "e", "type": "Poke", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}}
{"id": "f", "type": "Go", "data": {"id": "a"}}
{"id": "f", "type": "Go", "data": {"id": "a"}})");
    REQUIRE(run.lines.size() >= 3);
    CHECK(run.lines[0] == json::parse(R"({"kind": "delivery", "event": "e", "timer": null, "workflow": "W", "key": "a", "outcome": "unmatched", "state": null})"));
    CHECK(run.lines[1]["outcome"] == "started");
    CHECK(run.lines[2] == json::parse(R"({"kind": "delivery", "event": "f", "timer": null, "workflow": "W", "key": "a", "outcome": "duplicate", "state": null})"));
}

TEST_CASE("invalid input stops the run and names the line; the output so far stands") {
    Run bad_json = simulate_text(workflow_text, "{\"id\": \"1\", \"type\": \"Go\", \"time\": \"2026-01-01T00:00:00Z\", \"data\": {\"id\": \"a\"}}\nnot json");
    CHECK(bad_json.error == "line 2: not a JSON object: syntax error at byte 1");
    CHECK(bad_json.lines.size() == 1);
    Run unknown = simulate_text(workflow_text, R"({"id": "1", "type": "Nope", "time": "2026-01-01T00:00:00Z", "data": {}})");
    CHECK(unknown.error == "line 1: unknown event type 'Nope'");
    Run mismatch = simulate_text(workflow_text, R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": 5}})");
    CHECK(mismatch.error == "line 1: event 'Go': data.id expected string, got int");
    // A null `data` reads as absent, as flowd reads it.
    Run null_data = simulate_text(workflow_text, R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": null})");
    CHECK(null_data.error == "line 1: event 'Go': data.id is missing");
    Run no_time = simulate_text(workflow_text, R"({"id": "1", "type": "Go", "data": {"id": "a"}})");
    CHECK(no_time.error == "line 1: the first event must carry a \"time\"");
    // What the event is comes before its time: an unknown type or bad data are named first.
    CHECK(simulate_text(workflow_text, R"({"type": "Nope", "data": {}})").error == "line 1: unknown event type 'Nope'");
    CHECK(simulate_text(workflow_text, R"({"type": "Go", "data": {"id": 5}})").error == "line 1: event 'Go': data.id expected string, got int");
    CHECK(simulate_text(workflow_text, R"({"type": "Go", "time": "yesterday", "data": {"id": 5}})").error ==
          "line 1: event 'Go': data.id expected string, got int");
    // Lines are strict JSON, nested at most 512 deep, with numbers a double can hold.
    std::string deep = "{\"id\": \"1\", \"type\": \"Go\", \"time\": \"2026-01-01T00:00:00Z\", \"data\": {\"id\": \"a\", \"x\": " +
                       std::string(600, '[') + std::string(600, ']') + "}}";
    CHECK(simulate_text(workflow_text, deep).error == "line 1: not a JSON object: nested more than 512 deep");
    CHECK(simulate_text(workflow_text, R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a", "x": 1e400}})").error ==
          "line 1: not a JSON object: a number too large");
    CHECK(simulate_text(workflow_text, R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"},})").error ==
          "line 1: not a JSON object: syntax error at byte 79");
    CHECK(simulate_text(workflow_text, "{\"id\": \"1\", \"type\": \"Go\", \"time\": \"2026-01-01T00:00:00Z\", \"data\": {\"id\": \"\xff\"}}").error ==
          "line 1: not a JSON object: invalid UTF-8 at byte 75");
    CHECK(simulate_text(workflow_text, "[1, 2]").error == "line 1: expected a JSON object");
    CHECK(simulate_text(workflow_text, "\"Go\"").error == "line 1: expected a JSON object");
    // A repeated member counts once, the last one, as a JSON object holds it.
    Run repeated = simulate_text(workflow_text, R"({"id": "1", "type": "Nope", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "x"}, "data": {"id": "a"}})");
    CHECK(repeated.error.empty());
    REQUIRE(!repeated.lines.empty());
    CHECK(repeated.lines[0]["key"] == "a");
}

TEST_CASE("scenario lines: advance, cancel and event lines that are refused, and blank lines that still count") {
    const std::string go = R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}})";
    const std::vector<std::pair<std::string, std::string>> refused = {
        {R"({"advance": "1h"})" "\n" + go, "line 1: the clock starts at the first event's time: move it after an event"},
        {go + "\n" R"({"advance": "-1h"})", "line 2: \"advance\" moves the clock forward only: it takes a duration that is not negative, such as \"2h\""},
        {go + "\n" R"({"advance": "soon"})", "line 2: \"advance\" takes a duration such as \"2h\""},
        {go + "\n" R"({"cancel": "a"})", "line 2: \"cancel\" takes {\"workflow\": W, \"key\": K}"},
        {go + "\n" R"({"cancel": {"workflow": "W"}})", "line 2: \"cancel\" takes {\"workflow\": W, \"key\": K}"},
        {go + "\n" R"({"cancel": {"workflow": "Nope", "key": "a"}})", "line 2: unknown workflow 'Nope'"},
        {go + "\n" R"({"id": "2", "data": {}})", "line 2: an event needs a \"type\" string"},
        {go + "\n" R"({"id": "2", "type": "Go", "time": "yesterday", "data": {"id": "b"}})", "line 2: \"time\" must be an RFC 3339 time"},
        {go + "\n" R"({"id": "2", "type": "Go", "time": "2026-12-31T23:59:60Z", "data": {"id": "b"}})",
         "line 2: \"time\" must be an RFC 3339 time"},  // no leap second
        {"\n\n" + go + "\n\nnot json", "line 5: not a JSON object: syntax error at byte 1"},
        // A line is one thing: members of another kind are refused, not left unread.
        {go + "\n" R"({"advance": "1h", "type": "Poke", "data": {"id": "a"}})",
         "line 2: a line with \"advance\" is not an event: it cannot hold \"type\" too"},
        {go + "\n" R"({"id": "2", "type": "Poke", "data": {"id": "a"}, "cancel": {"workflow": "W", "key": "a"}})",
         "line 2: a line with \"cancel\" is not an event: it cannot hold \"id\" too"},
        {go + "\n" R"({"cancel": {"workflow": "W", "key": "a"}, "time": "2026-01-01T00:00:00Z"})",
         "line 2: a line with \"cancel\" is not an event: it cannot hold \"time\" too"},
        {go + "\n" R"({"advance": "1h", "data": null})", "line 2: a line with \"advance\" is not an event: it cannot hold \"data\" too"},
        {go + "\n" R"({"advance": "1h", "cancel": {"workflow": "W", "key": "a"}})",
         "line 2: a line holds either \"advance\" or \"cancel\", not both"},
    };
    for (const auto& entry : refused) {
        const auto& scenario = std::get<0>(entry);
        const auto& error = std::get<1>(entry);
        CAPTURE(scenario);
        Run run = simulate_text(workflow_text, scenario);
        CHECK(run.error == error);
    }
    // A cancel for a key with no running instance: unmatched, with no event.
    Run none = simulate_text(workflow_text, go + "\n" R"({"cancel": {"workflow": "W", "key": "b"}})");
    CHECK(none.error == "");
    REQUIRE(none.lines.size() >= 2);
    CHECK(none.lines[1] == json::parse(R"({"kind": "delivery", "event": null, "timer": null, "workflow": "W", "key": "b",
                                          "outcome": "unmatched", "state": null})"));
    // An event no workflow takes: one delivery with no workflow and no key.
    Run nobody = simulate_text("event Go { id: string }\nevent Lone { id: string }\n"
                               "workflow W { key id: string start on Go { complete } }",
                               R"({"id": "1", "type": "Lone", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}})");
    REQUIRE(!nobody.lines.empty());
    CHECK(nobody.lines[0] == json::parse(R"({"kind": "delivery", "event": "1", "timer": null, "workflow": null, "key": null,
                                            "outcome": "unmatched", "state": null})"));
}

TEST_CASE("cancel from outside runs on cancel; a finished instance frees its key") {
    Run run = simulate_text(workflow_text + "\n", R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}}
{"cancel": {"workflow": "W", "key": "a"}}
{"cancel": {"workflow": "W", "key": "a"}}
{"id": "2", "type": "Go", "data": {"id": "a"}})");
    REQUIRE(run.lines.size() == 6);
    CHECK(run.lines[1]["outcome"] == "handled");
    CHECK(run.lines[2]["outcome"] == "unmatched");
    CHECK(run.lines[3]["outcome"] == "started");
    CHECK(run.lines[4]["status"] == "cancelled");
    CHECK(run.lines[5]["status"] == "running");
}

TEST_CASE("a cancel line's key must have the workflow key's type") {
    const std::string events = R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}}
)";
    Run wrong = simulate_text(workflow_text, events + R"({"cancel": {"workflow": "W", "key": 5}})");
    CHECK(wrong.error == "line 2: \"cancel\": the key of workflow 'W' is a string, got 5");
    const std::string int_keyed = "event Go { id: int }\nworkflow N { key id: int start on Go { goto S } state S { on Go { complete } } }";
    const std::string started = R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": 7}}
)";
    CHECK(simulate_text(int_keyed, started + R"({"cancel": {"workflow": "N", "key": "7"}})").error ==
          "line 2: \"cancel\": the key of workflow 'N' is an int, got \"7\"");
    Run whole = simulate_text(int_keyed, started + R"({"cancel": {"workflow": "N", "key": 7.0}})");
    REQUIRE(whole.error.empty());
    CHECK(whole.lines.back()["status"] == "cancelled");
}

TEST_CASE("a runtime error in on cancel ends the instance cancelled with the error; its commands are not sent") {
    Run run = simulate_text("event Go { id: string }\ncommand Log to log { text: string }\n"
                            "workflow W { key id: string var n: int = 0 start on Go { goto S } state S { on Go { complete } }\n"
                            " on cancel { emit Log { text: \"bye\" } n = 1 / n } }",
                            R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}}
{"cancel": {"workflow": "W", "key": "a"}})");
    REQUIRE(run.error.empty());
    REQUIRE(run.lines.size() == 3);
    CHECK(run.lines[1]["outcome"] == "handled");
    CHECK(run.lines[1]["state"] == "S");
    CHECK(run.lines[2]["kind"] == "instance");
    CHECK(run.lines[2]["status"] == "cancelled");
    CHECK(run.lines[2]["error"] == "division by zero at test.flow:4:45");
    CHECK(run.lines[2]["vars"]["n"] == 0);
}

TEST_CASE("a timer that re-arms itself without time moving on fails its instance instead of hanging") {
    // `after 0s` re-arms at the same instant; an `at` before now() re-arms ever earlier.
    for (const char* timer : {"after 0s", "at now() - 1h"}) {
        CAPTURE(timer);
        Run run = simulate_text(std::string("event Go { id: string }\nworkflow W { key id: string var n: int = 0 start on Go { goto S }\n"
                                            " state S { ") + timer + " { n = n + 1 goto S } on Go { complete } } }",
                                R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}})"
                                "\n"
                                R"({"id": "2", "type": "Go", "data": {"id": "b"}})");
        CHECK(run.error == "");  // the run goes on
        REQUIRE(run.lines.size() == 2 * 10002 + 2);
        const json& stopped = run.lines[10001];
        CHECK(stopped["timer"] == (timer[0] == 'a' && timer[1] == 'f' ? "after" : "at"));
        CHECK(stopped["outcome"] == "handled");
        CHECK(stopped["state"] == "S");  // a failed instance keeps its last state
        const json& a = run.lines[run.lines.size() - 2];
        CHECK(a["key"] == "a");
        CHECK(a["status"] == "failed");
        CHECK(a["vars"]["n"] == 10000);
        CHECK(a["error"] == "timer loop: 10000 timers fired one after another without time moving on, each already due "
                           "when started at test.flow:3:12");
    }
}

TEST_CASE("a string doubled at each firing fails its instance at the bound instead of exhausting memory") {
    Run run = simulate_text("event Go { id: string }\nworkflow W { key id: string var s: string = \"x\" var n: int = 0\n"
                            " start on Go { goto S }\n state S { after 0s { n = n + 1 s = s + s goto S } on Go { complete } } }",
                            R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}})");
    CHECK(run.error == "");
    REQUIRE(!run.lines.empty());
    const json& instance = run.lines.back();
    CHECK(instance["status"] == "failed");
    CHECK(instance["vars"]["n"] == 24);  // 2^24 bytes is the bound itself; the 25th doubling is past it
    CHECK(instance["vars"]["s"].get<std::string>().size() == std::size_t{1} << 24);
    CHECK(instance["error"] == "string too long: 33554432 bytes, past the 16777216 a string may hold at test.flow:4:39");
}

TEST_CASE("two deadlines in the past that enter each other's state are a timer loop too") {
    Run run = simulate_text("event Go { id: string }\nworkflow W { key id: string var n: int = 0 start on Go { goto X }\n"
                            " state X { at parse_time(\"2020-01-01T00:00:00Z\") { n = n + 1 goto Y } }\n"
                            " state Y { at parse_time(\"2020-01-01T00:00:00.001Z\") { n = n + 1 goto X } } }",
                            R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}})");
    CHECK(run.error == "");
    REQUIRE(!run.lines.empty());
    CHECK(run.lines.back()["status"] == "failed");
    // X's first deadline starts Y's, due later: the chain starts with Y's, one firing later.
    CHECK(run.lines.back()["vars"]["n"] == 10001);
}

TEST_CASE("a periodic timer that catches up moves time on at each firing: no loop") {
    Run run = simulate_text("event Go { id: string }\nworkflow W { key id: string var n: int = 0 start on Go { goto S }\n"
                            " state S { after 1ms { n = n + 1 goto S } } }",
                            R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}})"
                            "\n"
                            R"({"advance": "10500ms"})");
    CHECK(run.error == "");
    REQUIRE(!run.lines.empty());
    CHECK(run.lines.back()["status"] == "running");
    CHECK(run.lines.back()["vars"]["n"] == 10500);
}

TEST_CASE("timers each fired by another line are no loop, at the same instant as they may be") {
    // Every event re-enters the state, whose `after 0s` fires once: 10,001 firings at one
    // instant, none started by a timer.
    std::string events;
    for (int i = 0; i < 10001; ++i)
        events += R"({"id": "e)" + std::to_string(i) + R"(", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}})" "\n";
    Run run = simulate_text("event Go { id: string }\nworkflow W { key id: string var n: int = 0 start on Go { goto S }\n"
                            " state S { on Go { goto S } after 0s { n = n + 1 goto T } }\n state T { on Go { goto S } } }",
                            events);
    CHECK(run.error == "");
    REQUIRE(!run.lines.empty());
    CHECK(run.lines.back()["status"] == "running");
    CHECK(run.lines.back()["vars"]["n"] == 10001);
}

TEST_CASE("a clock move fires every timer it passes, however many") {
    // 108,000 firings of a one-second timer: once over a bound on the firings of a line (100,000).
    Compilation c = test::compile_text("event Go { id: string }\nworkflow W { key id: string var n: int = 0 start on Go { goto S }\n"
                                       " state S { after 1s { n = n + 1 goto S } } }");
    REQUIRE(c.program);
    std::ostringstream out;
    sim::Simulator simulator(c.program, out);
    CHECK(simulator.feed(R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}})", 1) == std::nullopt);
    CHECK(simulator.feed(R"({"advance": "30h"})", 2) == std::nullopt);
    simulator.finish();
    std::string text = out.str();
    CHECK(std::count(text.begin(), text.end(), '\n') == 1 + 108000 + 1);
    std::string last = text.substr(text.rfind('\n', text.size() - 2) + 1);
    CHECK(json::parse(last)["vars"]["n"] == 108000);
}

TEST_CASE("the simulated clock does not pass the end of year 9999") {
    const char* flow = "event Go { id: string }\nworkflow W { key id: string start on Go { complete } }";
    Run advanced = simulate_text(flow, R"({"id": "1", "type": "Go", "time": "9999-12-31T00:00:00Z", "data": {"id": "a"}})"
                                       "\n"
                                       R"({"advance": "2d"})");
    CHECK(advanced.error == "line 2: the clock would pass the end of year 9999");
    Run defaulted = simulate_text(flow, R"({"id": "1", "type": "Go", "time": "9999-12-31T23:59:59.500Z", "data": {"id": "a"}})"
                                        "\n"
                                        R"({"type": "Go", "data": {"id": "b"}})");
    CHECK(defaulted.error == "line 2: this event's time, the clock plus one second, would pass the end of year 9999");
}

TEST_CASE("a deadline already passed, or a negative 'after', fires right after the handler that entered its state, "
          "before the next workflow's delivery") {
    for (const auto& entry : {std::tuple{"at now() - 1h", "at", "late 2025-12-31T23:00:00Z"},
                              std::tuple{"after -1s", "after", "late 2025-12-31T23:59:59Z"}}) {
        const auto& timer = std::get<0>(entry);
        const auto& kind = std::get<1>(entry);
        const auto& fired = std::get<2>(entry);
        Run run = simulate_text("event Go { id: string }\ncommand Log to log { text: string }\n"
                                "workflow A { key id: string start on Go { goto S }\n"
                                " state S { " + std::string(timer) + " { emit Log { text: \"late \" + str(now()) } complete } } }\n"
                                "workflow B { key id: string start on Go { emit Log { text: \"b\" } complete } }",
                                R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}})");
        CAPTURE(timer);
        CHECK(run.error == "");
        REQUIRE(run.lines.size() >= 5);
        CHECK(run.lines[0]["workflow"] == "A");
        CHECK(run.lines[0]["outcome"] == "started");
        CHECK(run.lines[1]["timer"] == kind);
        CHECK(run.lines[1]["workflow"] == "A");
        CHECK(run.lines[2]["data"]["text"] == fired);
        CHECK(run.lines[3]["workflow"] == "B");
        CHECK(run.lines[3]["event"] == "1");
        CHECK(run.lines[4]["data"]["text"] == "b");
    }
}

TEST_CASE("timers due at the same instant fire in the order they were started, not the order of their instances") {
    Run run = simulate_text("event Go { id: string, m: int }\nevent Poke { id: string, m: int }\ncommand Log to log { text: string }\n"
                            "workflow W { key id: string var m: int = 0\n"
                            " start on Go as g when g.m == 0 { goto Idle }\n"
                            " start on Go as g { m = g.m goto S }\n"
                            " state Idle { on Poke as p { m = p.m goto S } }\n"
                            " state S { after m * 1m { emit Log { text: key + \" \" + str(now()) } complete } } }",
                            R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a", "m": 0}}
{"id": "2", "type": "Go", "time": "2026-01-01T00:10:00Z", "data": {"id": "b", "m": 110}}
{"id": "3", "type": "Poke", "time": "2026-01-01T00:20:00Z", "data": {"id": "a", "m": 100}}
{"advance": "3h"})");
    CHECK(run.error == "");
    std::vector<std::string> texts;
    for (const json& l : run.lines)
        if (l["kind"] == "command") texts.push_back(l["data"]["text"].get<std::string>());
    CHECK(texts == std::vector<std::string>{"b 2026-01-01T02:00:00Z", "a 2026-01-01T02:00:00Z"});
}

TEST_CASE("a recursive record (through an optional field and a list) decodes, builds and travels in a command") {
    Run run = simulate_text("type Node { name: string, next?: Node, children: list<Node> }\n"
                            "event Built { id: string, tree: Node }\ncommand Echo to log { tree: Node, text: string }\n"
                            "workflow W { key id: string start on Built as b {\n"
                            "  let top = Node { name: \"top\", next: b.tree, children: [] }\n"
                            "  emit Echo { tree: top, text: (b.tree.next ?? top).name + \" \" + str(len(b.tree.children[0].children)) }\n"
                            "  complete } }",
                            R"({"id": "1", "type": "Built", "time": "2026-01-01T00:00:00Z", "data": {"id": "a", "tree": )"
                            R"({"name": "r", "next": {"name": "n", "children": []}, "children": [{"name": "c", "children": [{"name": "d", "children": []}]}]}}})");
    CHECK(run.error == "");
    REQUIRE(run.lines.size() >= 2);
    CHECK(run.lines[1]["data"]["text"] == "n 1");
    CHECK(run.lines[1]["data"]["tree"]["next"]["children"][0]["children"][0]["name"] == "d");
    CHECK(run.lines[1]["data"]["tree"]["next"]["next"]["name"] == "n");
}

TEST_CASE("number literals are read to the nearest double, and the least int can be written") {
    // x3::double_ missed some of these by one unit in the last place: 9.109e-31 came back as
    // 9.109000000000001e-31, and 0.49999999999999994 equalled 0.5.
    Run run = simulate_text("event Go { id: string, n: number }\ncommand Log to log { text: string, n: number }\n"
                            "workflow W { key id: string start on Go as g {\n"
                            "  emit Log { text: str(9.109e-31) + \" \" + str(1.78e25) + \" \" + str(0.49999999999999994 == 0.5) + \" \" +\n"
                            "    str(round(0.49999999999999994)) + \" \" + str(-9223372036854775808) + \" \" +\n"
                            "    str(-9223372036854775808 + 1) + \" \" + str(g.n), n: g.n }\n"
                            "  complete } }",
                            R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a", "n": 9007199254740993}})");
    CHECK(run.error == "");
    REQUIRE(run.lines.size() >= 2);
    // A number is a double from the moment it is read: 2^53 + 1 arrives as 2^53.
    CHECK(run.lines[1]["data"]["text"] ==
          "9.109e-31 1.78e+25 false 0 -9223372036854775808 -9223372036854775807 9007199254740992");
    CHECK(run.lines[1]["data"]["n"].dump() == "9007199254740992");
}

TEST_CASE("the least int's negation still overflows at run time") {
    Run run = simulate_text("event Go { id: string }\n"
                            "workflow W { key id: string start on Go { fail str(abs(-9223372036854775808)) } }",
                            R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}})");
    REQUIRE(run.lines.size() >= 2);
    CHECK(run.lines[1]["status"] == "failed");
    CHECK(run.lines[1]["error"].get<std::string>().find("integer overflow") == 0);
}

TEST_CASE("an event's id: absent or null is the line number; empty is refused, as flowd refuses it") {
    const char* flow = "event Go { id: string }\nworkflow W { key id: string start on Go { complete } }";
    Run null_id = simulate_text(flow, R"({"id": null, "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}})");
    CHECK(null_id.error == "");
    REQUIRE(!null_id.lines.empty());
    CHECK(null_id.lines[0]["event"] == "1");
    Run empty_id = simulate_text(flow, R"({"id": "", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}})");
    CHECK(empty_id.error == "line 1: an event's \"id\" must be a non-empty string");
}

TEST_CASE("an event's time: null is absent, the clock plus one second; the first event still needs one") {
    const char* flow = "event Go { id: string }\nworkflow W { key id: string var seen: time? = null start on Go { seen = now() goto S }\n"
                       " state S { on Go { seen = now() } } }";
    Run run = simulate_text(flow, R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}})"
                                  "\n"
                                  R"({"id": "2", "type": "Go", "time": null, "data": {"id": "a"}})");
    CHECK(run.error == "");
    REQUIRE(!run.lines.empty());
    CHECK(run.lines.back()["vars"]["seen"] == "2026-01-01T00:00:01Z");
    Run first = simulate_text(flow, R"({"id": "1", "type": "Go", "time": null, "data": {"id": "a"}})");
    CHECK(first.error == "line 1: the first event must carry a \"time\"");
}

TEST_CASE("a bound on the timers one line may fire, for fuzzing, refuses the line past it") {
    Compilation c = test::compile_text("event Go { id: string }\nworkflow W { key id: string start on Go { goto S }\n"
                                       " state S { after 1s { goto S } } }");
    REQUIRE(c.program);
    std::ostringstream out;
    sim::Simulator simulator(c.program, out, 50);
    CHECK(simulator.feed(R"({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}})", 1) == std::nullopt);
    CHECK(simulator.feed(R"({"advance": "40s"})", 2) == std::nullopt);
    CHECK(simulator.feed(R"({"advance": "60s"})", 3) ==
          std::optional<std::string>("line 3: more than 50 timers fired for this line (the bound this run was given)"));
}
