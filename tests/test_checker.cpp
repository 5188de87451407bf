// The checks of "What flowc check proves", one by one, on sources held in strings.
#include "support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <utility>

using namespace flow;

namespace {

// A small valid prelude: events A and B keyed by `id`, a command C, used by `wrap`.
const std::string prelude = "event A { id: string, n: int, note?: string, at: time }\n"
                            "event B { id: string }\n"
                            "command C to t { id: string, n: int }\n";

// A workflow around a start handler body; the state S is left by B.
std::string wrap(const std::string& start_body, const std::string& extra = "") {
    return prelude + "workflow W {\n  key id: string\n" + extra + "  start on A as a {\n" + start_body +
           "\n  }\n  state S { on B { complete } }\n}\n";
}

std::string check(const std::string& text) { return test::summary(test::compile_text(text)); }

bool has(const std::string& summary, const std::string& needle) { return summary.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("a valid workflow has no diagnostics and compiles") {
    Compilation c = test::compile_text(wrap("emit C { id: key, n: a.n } goto S"));
    CHECK(test::summary(c) == "");
    REQUIRE(c.program);
    CHECK(c.program->workflows.size() == 1);
    CHECK(c.program->workflows[0].hash.size() == 16);
}

TEST_CASE("unknown names") {
    CHECK(has(check(wrap("emit Nope { id: key } goto S")), "7:6: error: unknown command 'Nope'"));
    CHECK(has(check(wrap("let x = nope goto S")), "7:9: error: unknown name 'nope'"));
    CHECK(has(check(wrap("let x = a.nope goto S")), "7:11: error: unknown field: 'A' has no field 'nope'"));
    CHECK(has(check(wrap("let x = frobnicate(1) goto S")), "7:9: error: unknown function 'frobnicate'"));
    CHECK(has(check(wrap("goto Nowhere")), "7:6: error: unknown state 'Nowhere'"));
    CHECK(has(check(prelude + "type T { m: Mony }\n"), "unknown type 'Mony'"));
    CHECK(has(check(wrap("emit C { id: key, n: 1, extra: 2 } goto S")), "7:25: error: unknown field: command 'C' has no field 'extra'"));
}

TEST_CASE("an unknown name read with a field of its handler's unnamed event hints at 'as'; any other unknown name does not") {
    const std::string unbound = prelude + "workflow W {\n  key id: string\n  start on A when o.n > 0 { emit C { id: key, n: o.n } goto S }\n"
                                          "  state S { on B { let x = b.id complete } }\n  on A { let y = e.at complete }\n}\n";
    const std::string summary = check(unbound);
    const std::string hint = ": the handler's event has no name; to read it, name it with 'as', as in ";
    CHECK(has(summary, "6:19: error: unknown name 'o'" + hint + "'on A as o'"));
    CHECK(has(summary, "6:50: error: unknown name 'o'" + hint + "'on A as o'"));
    CHECK(has(summary, "7:28: error: unknown name 'b'" + hint + "'on B as b'"));
    CHECK(has(summary, "8:18: error: unknown name 'e'" + hint + "'on A as e'"));
    // Not a field of the event (a misspelt variable, a let of another handler), alone, or in a
    // handler whose event has a name: only unknown.
    const std::pair<const char*, const char*> plain[] = {{"let x = cout + 1 goto S", "cout"}, {"let x = o.nope goto S", "o"}, {"let x = o goto S", "o"}};
    for (const auto& [body, name] : plain)
        CHECK(has(check(prelude + "workflow W {\n  key id: string\n  var count: int = 0\n  start on A { " + body +
                        " }\n  state S { on B { complete } }\n}\n"),
                  "error: unknown name '" + std::string(name) + "'\n"));
    CHECK(has(check(wrap("let x = o.n goto S")), "7:9: error: unknown name 'o'\n"));
}

TEST_CASE("a misspelled name suggests the declaration meant, which then gets no 'never used' warning") {
    CHECK(check("event Go { id: string }\ncommand Ship to t { id: string }\n"
                "workflow W { key id: string start on Go { emit Shp { id: key } complete } }\n") ==
          "3:48: error: unknown command 'Shp'; did you mean 'Ship'?\n");
    CHECK(check("event Placed { id: string }\nevent Go { id: string }\n"
                "workflow W { key id: string start on Go { goto S } state S { on Placd { complete } } }\n") ==
          "3:65: error: unknown event 'Placd'; did you mean 'Placed'?\n");
    CHECK(check("type Money { amount: int }\nevent Go { id: string, m: Mony }\nworkflow W { key id: string start on Go { complete } }\n") ==
          "2:27: error: unknown type 'Mony'; did you mean 'Money'?\n");
    CHECK(has(check(wrap("let x = uper(\"a\") goto S")), "7:9: error: unknown function 'uper'; did you mean 'upper'?"));
    // A type: a built-in one, list, or any record (an event may type a variable).
    CHECK(has(check(wrap("goto S", "  var s: strng = \"\"\n")), "error: unknown type 'strng'; did you mean 'string'?"));
    CHECK(has(check(wrap("goto S", "  var l: lst<int> = []\n")), "error: unknown type 'lst'; did you mean 'list'?"));
    CHECK(has(check("event Placed { id: string }\nevent Go { id: string }\nworkflow W { key id: string var p: Placd? = null\n"
                    " start on Go { goto S } state S { on Go { if p != null { complete } } } }\n"),
              "error: unknown type 'Placd'; did you mean 'Placed'?"));
    CHECK(has(check("event Go { id: string }\nevent A { id: string }\nworkflow W { key id: string start on Go { goto S }"
                    " state S { on Z { complete } } }\n"), "error: unknown event 'Z'\n"));  // no name kept: no suggestion
    // Names past 64 characters are not compared (each comparison costs the product of the lengths).
    const std::string long_name(70, 'E');
    CHECK(has(check("event " + long_name + " { id: string }\nevent Go { id: string }\nworkflow W { key id: string start on Go { goto S }"
                    " state S { on " + long_name + "X { complete } } }\n"), "error: unknown event '" + long_name + "X'\n"));
    // Nothing close: no suggestion, and the unrelated declaration is still unused.
    std::string far = check("event Go { id: string }\ncommand Ship to t { id: string }\n"
                            "workflow W { key id: string start on Go { emit Q { id: key } complete } }\n");
    CHECK(has(far, "3:48: error: unknown command 'Q'\n"));
    CHECK(has(far, "warning: unused command 'Ship': it is declared but never used"));
}

TEST_CASE("an initializer that reads a later variable, or itself, is told so, and that variable counts as read") {
    std::string later = check(wrap("goto S", "  var v: int = w\n  var w: int = 0\n"));
    CHECK(has(later, "6:16: error: variable 'w' is declared after this one: an initializer reads only the variables declared before it\n"));
    CHECK_FALSE(has(later, "unused variable 'w': it is never read"));
    CHECK(has(check(wrap("goto S", "  var v: int = v + 1\n")), "6:16: error: variable 'v' cannot read itself in its own initializer"));
}

TEST_CASE("each kind of diagnostic carries the words docs/language.md uses for it, beside the name at fault") {
    struct Case {
        std::string source;
        std::vector<std::string> words;
    };
    const std::string w = "workflow W {\n  key id: string\n";
    const std::vector<Case> cases = {
        {prelude + "event B { id: string }\n", {"error", "duplicate", "'B'"}},
        {wrap("goto S", "  var x: int = 1\n  var x: int = 2\n"), {"error", "duplicate", "'x'"}},
        {prelude + w + "  start on A { goto S }\n  state S { on B { complete } }\n  state S { on B { complete } }\n}\n",
         {"error", "duplicate", "'S'"}},
        {prelude + "type T { a: int, a: string }\n", {"error", "duplicate", "'a'"}},
        {wrap("emit C { id: key, n: 1, n: 2 } goto S"), {"error", "duplicate", "'n'"}},
        {wrap("goto Nowhere"), {"error", "unknown", "'Nowhere'"}},
        {wrap("let x = a.nope goto S"), {"error", "unknown field", "'nope'"}},
        {wrap("emit C { id: key } goto S"), {"error", "missing", "'n'"}},
        {wrap("emit C { id: key, n: 1, extra: 2 } goto S"), {"error", "unknown field", "'extra'"}},
        {prelude + w + "  start on A { goto S }\n  state S { }\n}\n", {"error", "leave", "dead end", "'S'"}},
        {prelude + w + "  start on A { goto S }\n  state S { on B { complete } on B { fail \"x\" } }\n}\n",
         {"error", "never be chosen", "shadowed", "'B'"}},
        {wrap("goto S complete"), {"error", "unreachable"}},
        {wrap("if a.n > 1 { goto S }"), {"error", "transition", "'A'"}},
        {prelude + w + "  start on A { goto S }\n  state S { entry { complete } on B { complete } }\n}\n",
         {"error", "entry", "transition", "'complete'"}},
        {prelude + w + "  state S { on B { complete } }\n}\n", {"error", "start on", "'W'"}},
        {"event A { order: string }\n" + w + "  start on A { complete }\n}\n", {"error", "cannot be correlated", "'A'", "'id'"}},
        {prelude + w + "  start on A { goto S }\n  state S { on B { complete } }\n  state T { on B { complete } }\n}\n",
         {"warning", "unreachable", "'T'"}},
        {prelude + "event Unused { id: string }\n" + w + "  start on A { emit C { id: key, n: 1 } goto S }\n"
                   "  state S { on B { complete } }\n}\n",
         {"warning", "unused", "never used", "'Unused'"}},
        {wrap("goto S", "  var idle: int = 0\n"), {"warning", "unused", "never read", "'idle'"}},
        {prelude + w + "  start on A { goto S }\n  state S { on B { goto S } }\n}\n", {"warning", "no path", "'S'"}},
    };
    for (const Case& c : cases) {
        const std::string summary = check(c.source);
        CAPTURE(c.source);
        CAPTURE(summary);
        for (const std::string& word : c.words) CHECK(has(summary, word));
    }
}

TEST_CASE("a correlate of an event that no handler of the workflow takes is warned about, at the event's name") {
    const std::string decls = "type Ref { orderId: string }\nevent Placed { orderId: string }\nevent Paid { ref: Ref }\n";
    const std::string leftover = decls + "workflow W {\n  key orderId: string\n  correlate Paid by ref.orderId\n"
                                         "  start on Placed { goto S }\n  state S { on Placed { complete } }\n}\n";
    CHECK(check(leftover) == "6:13: warning: unused 'correlate': workflow 'W' handles no 'Paid' event, so this line has no effect\n");
    // Handled anywhere (a start handler, a state, the workflow's own handlers): no warning.
    for (const std::string& handler : {std::string("  start on Paid { complete }\n"),
                                       std::string("  state T { on Paid { complete } }\n"),
                                       std::string("  on Paid { complete }\n")}) {
        const std::string used = decls + "workflow W {\n  key orderId: string\n  correlate Paid by ref.orderId\n"
                                         "  start on Placed { goto S }\n  state S { on Placed { complete } }\n" +
                                 handler + "}\n";
        CAPTURE(used);
        CHECK_FALSE(has(check(used), "unused 'correlate'"));
    }
}

TEST_CASE("duplicate names") {
    CHECK(has(check(prelude + "event B { id: string }\n"), "4:7: error: duplicate event 'B': the name is already declared at test.flow:2:7"));
    CHECK(has(check(prelude + "type C { a: int }\n"), "duplicate type 'C': the name is already declared"));
    CHECK(has(check(wrap("goto S", "  var x: int = 1\n  var x: int = 2\n")), "duplicate variable 'x': it is declared twice"));
    CHECK(has(check(prelude + "type T { a: int, a: string }\n"), "duplicate field 'a': it is declared twice in 'T'"));
    // One name for two kinds: only the duplicate is reported; the uses mean the kept declaration.
    CHECK(check("type A { id: string }\nevent A { id: string }\nworkflow W {\n  key id: string\n  start on A { complete }\n}\n") ==
          "2:7: error: duplicate event 'A': the name is already declared at test.flow:1:6\n");
    CHECK(check("event A { id: string }\ncommand A to t { id: string }\n"
                "workflow W { key id: string start on A { emit A { id: key } complete } }\n") ==
          "2:9: error: duplicate command 'A': the name is already declared at test.flow:1:7\n");
    std::string two_states = prelude + "workflow W { key id: string start on A { goto S } state S { on B { complete } } "
                                       "state S { on B { complete } } }";
    CHECK(has(check(two_states), "duplicate state 'S': it is declared twice"));
    // A workflow refused for its name is checked all the same: its own errors show too.
    CHECK(check("event A { id: string, n: int }\nworkflow W { key id: string start on A { complete } }\n"
                "workflow W { key id: string start on A as a { fail \"n \" + a.n } }\n") ==
          "3:10: error: duplicate workflow 'W': the name is already declared at test.flow:2:10\n"
          "3:57: error: operator '+' cannot combine string and int: convert the int to a string with str()\n");
}

TEST_CASE("type errors point at the operator or the value") {
    CHECK(has(check(wrap("let x = \"n=\" + a.n goto S")), "7:14: error: operator '+' cannot combine string and int"));
    CHECK(has(check(wrap("if a.n { complete } goto S")), "the condition of 'if' must be a bool, got int"));
    CHECK(has(check(wrap("fail 42")), "expected string for the reason of 'fail', got int"));
    CHECK(has(check(wrap("let x = a.n and true goto S")), "operator 'and' cannot combine int and bool"));
    CHECK(has(check(wrap("let x = a.note + \"!\" goto S")), "cannot combine string? and string"));
    CHECK(has(check(wrap("let x = [1, \"two\"] goto S")), "the elements of a list share one type"));
    CHECK(has(check(wrap("let x = len(5) goto S")), "error: len expects"));
    CHECK(has(check(wrap("let x = 1 < \"a\" goto S")), "operator '<' cannot combine int and string"));
}

TEST_CASE("a value that may be absent is told to take a default only where its present value would do") {
    const std::string hint = ": a value that may be absent needs a default first (x ?? default)";
    // The present value would do: the default is the fix.
    CHECK(has(check(wrap("let x = a.note + \"!\" goto S")), "operator '+' cannot combine string? and string" + hint));
    CHECK(has(check(wrap("let x = a.note < \"m\" goto S")), "operator '<' cannot combine string? and string" + hint));
    // It would not: a default would only move the error, so the two types are named alone.
    for (const auto& [expression, message] : std::vector<std::pair<std::string, std::string>>{
             {"a.note == a.n", "operator '==' cannot combine string? and int\n"},
             {"a.note != 1", "operator '!=' cannot combine string? and int\n"},
             {"a.note < a.n", "operator '<' cannot combine string? and int\n"},
             {"a.note + a.n", "operator '+' cannot combine string? and int\n"},
             {"a.note * 2", "operator '*' cannot combine string? and int\n"},
             {"null + 1", "operator '+' cannot combine null and int\n"},
         }) {
        const std::string summary = check(wrap("let x = " + expression + "\n goto S"));
        CHECK_MESSAGE(has(summary, message), expression, "\n", summary);
        CHECK_MESSAGE(!has(summary, "??"), expression, "\n", summary);
    }
    // Following the hint compiles.
    CHECK(!has(check(wrap("let x = (a.note ?? \"\") + \"!\" goto S")), "error"));
}

TEST_CASE("a list literal of mixed elements is a list<json> where a json or a list<json> is expected, nowhere else") {
    const std::string decls = "event A { id: string }\n"
                              "type Box { j: json, l: list<json> }\n"
                              "command C to t { j: json, l: list<json>, ll: list<list<json>>, ints: list<int> }\n";
    auto workflow = [&](const std::string& vars, const std::string& body) {
        return decls + "workflow W {\n  key id: string\n" + vars + "  start on A {\n" + body + "\n  }\n}\n";
    };
    const std::string taken =
        workflow("  var js: list<json> = [1, \"a\"]\n  var j: json = [true, 2.5, null]\n",
                 "js = [now(), 90s, [1, \"x\"]] j = [\"y\", js, j]\n"
                 "emit C { j: [1, \"a\"], l: [Box { j: 1, l: [\"b\", 2] }, 3], ll: [[1, \"a\"], [], [true]], ints: [1, 2] }\n"
                 "compensate with C { j: 1, l: [key, 1], ll: [], ints: [] }\n"
                 "complete");
    CHECK(check(taken) == "");

    // Where no json is expected the elements still share one type, and the position is the first
    // element that does not fit.
    CHECK(has(check(workflow("", "emit C { j: 1, l: [], ll: [], ints: [1, \"s\"] } complete")),
              "7:41: error: the elements of a list share one type: this string follows int"));
    CHECK(has(check(workflow("  var is: list<int> = [1, true]\n", "complete")),
              "6:27: error: the elements of a list share one type: this bool follows int"));
    CHECK(has(check(workflow("", "let x = [1, \"s\"] emit C { j: x, l: [], ll: [], ints: [] } complete")),
              "7:13: error: the elements of a list share one type: this string follows int"));
    CHECK(has(check(workflow("", "emit C { j: append([], [1, \"s\"]), l: [], ll: [], ints: [] } complete")),
              "error: the elements of a list share one type: this string follows int"));
    // A list in parentheses, or one operand of an expression, has no context to take.
    CHECK(has(check(workflow("", "emit C { j: ([1, \"s\"]), l: [], ll: [], ints: [] } complete")),
              "error: the elements of a list share one type"));
    // The elements of a list<list<int>> share their type inside each inner list too.
    CHECK(has(check(decls + "command D to t { m: list<list<int>> }\n" +
                    "workflow W { key id: string start on A { emit D { m: [[1, \"s\"]] } complete } }\n"),
              "error: the elements of a list share one type: this string follows int"));
}

TEST_CASE("a call with one argument of the wrong type is reported at that argument; otherwise at the function's name") {
    CHECK(has(check(wrap("let s = upper(a.n) goto S")), "7:15: error: upper expects (string), got (int)"));
    CHECK(has(check(wrap("let l = len(a.note) goto S")), "7:13: error: len expects (string) or (list<T>), got (string?)"));
    CHECK(has(check(wrap("let m = min(1, \"a\") goto S")), "7:16: error: min expects (int, int) or (number, number), got (int, string)"));
    CHECK(has(check(wrap("let t = format_time(a.at, 5) goto S")), "7:27: error: format_time expects (time, string), got (time, int)"));
    // A wrong count, both arguments wrong, or either of two that could be changed: the name.
    CHECK(has(check(wrap("let k = substr(\"abc\", 1) goto S")), "7:9: error: substr expects (string, int, int), got (string, int)"));
    CHECK(has(check(wrap("let f = format_time(a.n, 5) goto S")), "7:9: error: format_time expects (time, string), got (int, int)"));
    CHECK(has(check(wrap("let c = append([1], \"s\") goto S")), "7:9: error: append expects (list<T>, T), got (list<int>, string)"));
}

TEST_CASE("typing rules that hold") {
    CHECK(check(wrap("let t = a.at + 2h let d = t - a.at let m = d * 2 let ok = m > 1h and not (a.n == 0) "
                     "let s = \"n=\" + str(a.n) let f = 7 / 2 let g = 7.0 / 2 let r = -a.n % 3 "
                     "emit C { id: s + str(f) + str(g) + str(r) + str(ok), n: len(a.note ?? \"\") } goto S")) == "");
    // int widens to number; null fits an optional; [] takes the list type it needs.
    CHECK(check(wrap("total = a.n xs = [] maybe = null maybe = a.note total = total + 1 "
                     "emit C { id: (maybe ?? \"\") + str(len(xs)) + str(total), n: 1 } goto S",
                     "  var total: number = 0\n  var xs: list<int> = [1]\n  var maybe: string? = \"x\"\n")) == "");
}

TEST_CASE("a let needs a value of a known type: not null, not an empty list where nothing gives it a type") {
    CHECK(has(check(wrap("let x = null goto S")), "a 'let' needs a value of a known type, not null"));
    CHECK(has(check(wrap("let xs = [null] goto S")), "7:10: error: a 'let' needs a value of a known type, and a list of nothing but null"));
    CHECK(has(check(wrap("let xs = [[null], [null]] goto S")), "a list of nothing but null has none"));
    CHECK_FALSE(has(check(wrap("let xs = [null, 1] goto S")), "error"));  // a list<int?>
    const std::string empty = check(wrap("let xs = [] goto S"));
    CHECK(has(empty, "7:10: error: a 'let' needs a value of a known type, and an empty list [] has none here"));
    CHECK(has(check(wrap("let xss = [[]] goto S")), "an empty list [] has none here"));
    // Where the context gives [] its type, it has one.
    CHECK(check(wrap("let xs = append([], 1) let ys = [[1], []] let n = len([]) "
                     "emit C { id: str(len(xs) + len(ys) + n), n: 1 } goto S")) == "");
}

TEST_CASE("assignments need matching types; optional values need ??") {
    CHECK(has(check(wrap("note = a.note goto S", "  var note: string = \"\"\n")),
              "8:8: error: expected string for variable 'note', got string?"));
    CHECK(check(wrap("note = a.note ?? \"none\" emit C { id: note, n: 1 } goto S", "  var note: string = \"\"\n")) == "");
    CHECK(has(check(wrap("count = 1.5 emit C { id: key, n: count } goto S", "  var count: int = 0\n")),
              "expected int for variable 'count', got number"));
    CHECK(has(check(wrap("key = \"x\" goto S")), "the key cannot be assigned"));
}

TEST_CASE("emit checks every field") {
    CHECK(has(check(wrap("emit C { id: key } goto S")), "7:6: error: command 'C' is missing the required field 'n'"));
    CHECK(has(check(wrap("emit C { id: key, n: \"one\" } goto S")), "7:22: error: expected int for field 'n' of 'C', got string"));
    CHECK(has(check(wrap("emit A { id: key, n: 1, at: now() } goto S")), "7:6: error: 'A' is an event, not a command"));
    // null into a required field is told where null fits, not to convert it with str().
    std::string null_given = check(wrap("emit C { id: null, n: 1 } goto S"));
    CHECK(has(null_given, "7:14: error: expected string for field 'id' of 'C', got null: null fits only an optional type (string?)"));
    CHECK_FALSE(has(null_given, "str()"));
}

TEST_CASE("a required json field takes no null and no value that may be absent; an optional one takes both") {
    const std::string commands = "command J to t { v: json, w?: json }\n";
    std::string null_given = check(commands + wrap("emit J { v: null } goto S"));
    CHECK(has(null_given, "error: field 'v' of 'J' is required, and null would leave it out: declare it 'v?: json'"));
    CHECK_FALSE(has(null_given, "is missing the required field"));  // one error, not two
    CHECK(has(check(commands + wrap("emit J { v: a.note } goto S")),
              "8:13: error: field 'v' of 'J' is required, and this string? may be absent: give a default with ?? (x ?? default)"));
    CHECK_FALSE(has(check(commands + wrap("emit J { v: a.note ?? \"\", w: a.note } goto S")), "error"));
    CHECK_FALSE(has(check(commands + wrap("emit J { v: a, w: null } goto S")), "error"));
}

TEST_CASE("a variable named like the key is reported at whichever of the two comes second") {
    const std::string events = "event A { id: string }\nevent B { id: string }\n";
    const std::string body = "  start on A { goto S }\n  state S { on B when id > 0 { complete } }\n}\n";
    CHECK(has(check(events + "workflow W {\n  key id: string\n  var id: int = 0\n" + body),
              "5:7: error: 'id' names both the key and a variable"));
    CHECK(has(check(events + "workflow W {\n  var id: int = 0\n  key id: string\n" + body),
              "5:7: error: 'id' names both the key and a variable"));
}

TEST_CASE("every handled event must be correlated to the key") {
    std::string text = prelude + "event P { ref: string }\n"
                                 "workflow W { key id: string start on A { goto S } state S { on P { complete } } }";
    CHECK(has(check(text), "5:64: error: event 'P' cannot be correlated"));
    std::string fixed = prelude + "event P { ref: string }\n"
                                  "workflow W { key id: string correlate P by ref start on A { goto S } state S { on P { complete } } }";
    CHECK_FALSE(has(check(fixed), "error"));
    std::string wrong_type = prelude + "event P { ref: int }\n"
                                       "workflow W { key id: string correlate P by ref start on A { goto S } state S { on P { complete } } }";
    CHECK(has(check(wrong_type), "'ref' has type int, but the key 'id' has type string"));
}

TEST_CASE("a key named like a keyword correlates by the event's field of that name") {
    Compilation c = test::compile_text("event E { type: string }\n"
                                       "workflow W { key type: string start on E { goto S } state S { on E { complete } } }");
    CHECK(test::summary(c) == "");
    REQUIRE(c.program);
    CHECK(c.program->workflows[0].key_paths.begin()->second == std::vector<std::string>{"type"});
}

TEST_CASE("a key field of an unknown type gives one error, at the type, not one more per handler") {
    std::string text = "event E { id: Strin }\n"
                       "workflow W { key id: string start on E { goto S } state S { on E { complete } } }";
    CHECK(check(text) == "1:15: error: unknown type 'Strin'\n");
    std::string listed = "event E { id: list<Strin> }\n"
                         "workflow W { key id: string start on E { goto S } state S { on E { complete } } }";
    CHECK(check(listed) == "1:20: error: unknown type 'Strin'\n");
    std::string through = "type R { id: Strin }\nevent E { r: R }\n"
                          "workflow W { key id: string correlate E by r.id start on E { goto S } state S { on E { complete } } }";
    CHECK(check(through) == "1:14: error: unknown type 'Strin'\n");
}

TEST_CASE("transitions end the handler; what follows is an error") {
    CHECK(has(check(wrap("goto S\n    emit C { id: key, n: 1 }")), "8:5: error: unreachable statement: 'goto' above ends the handler"));
    CHECK(has(check(wrap("if a.n > 1 { fail \"x\" let y = 1 } goto S")), "error: unreachable statement: 'fail'"));
    CHECK(has(check(wrap("if a.n > 1 { fail \"x\" } else { complete }\n    goto S")), "8:5: error: unreachable statement: every branch"));
}

TEST_CASE("every path through a start handler ends with a transition") {
    // The handler is at fault (its `start`), and the `if` without `else` is named.
    CHECK(has(check(wrap("if a.n > 1 { goto S }")), "6:3: error: not every path through this start handler for 'A' ends "
                                                    "with a transition (goto, complete, fail or cancel): the 'if' at 7:1 has no 'else'"));
    CHECK(has(check(wrap("emit C { id: key, n: 1 }")), "6:3: error: not every path through this start handler for 'A'"));
    CHECK_FALSE(has(check(wrap("if a.n > 1 { goto S } else { complete }")), "error"));
}

TEST_CASE("entry blocks cannot leave; in on cancel a transition only ends the handler, with a warning") {
    std::string entry = prelude + "workflow W { key id: string start on A { goto S } state S { entry { goto S } on B { complete } } }";
    CHECK(has(check(entry), "an 'entry' block cannot contain a transition ('goto')"));
    // What follows the refused transition is not reported again as unreachable.
    std::string more = prelude + "workflow W { key id: string start on A { goto S }\n"
                                 " state S { entry { fail \"x\" emit C { id: key, n: 1 } } on B { complete } } }";
    CHECK(check(more) == "5:20: error: an 'entry' block cannot contain a transition ('fail'): it runs while the state is entered and cannot leave it\n");
    std::string cancel = prelude + "workflow W { key id: string start on A { goto S } state S { on B { complete } } on cancel { goto S } }";
    CHECK_FALSE(has(check(cancel), "error"));
    CHECK(has(check(cancel), "warning: 'goto' has no effect in 'on cancel' but to end it"));
    for (const char* word : {"complete", "fail \"x\"", "cancel"}) {
        std::string text = prelude + "workflow W { key id: string start on A { goto S } state S { on B { complete } } on cancel { " +
                           word + " } }";
        CHECK_FALSE(has(check(text), "error"));
        CHECK(has(check(text), "has no effect in 'on cancel'"));
    }
}

TEST_CASE("shadowed handlers can never be chosen") {
    std::string text = prelude + "workflow W { key id: string\n start on A { goto S }\n start on A as a when a.n > 1 { goto S }\n"
                                 " state S { on B { complete } } }";
    CHECK(has(check(text), "6:2: error: this handler for 'A' can never be chosen"));
}

TEST_CASE("workflow structure") {
    CHECK(has(check(prelude + "workflow W { key id: string state S { on B { complete } } }"), "has no 'start on' handler"));
    CHECK(has(check(prelude + "workflow W { start on A { complete } }"), "has no 'key'"));
    CHECK(has(check(prelude + "workflow W { key id: bool start on A { complete } }"), "a key is a string or an int, not bool"));
    CHECK(has(check(prelude + "workflow W { key id: string start on A { goto S } state S { } }"), "nothing can leave state 'S'"));
}

TEST_CASE("the state warnings stand beside other errors, unless a misspelled goto or a missing start caused them") {
    // A type error elsewhere does not hide that T is never entered.
    std::string typed = check(prelude + "workflow W {\n key id: string\n start on A { goto S }\n state S { on B { fail 1 } }\n"
                                        " state T { on B { complete } }\n}");
    CHECK(has(typed, "7:24: error:"));
    CHECK(has(typed, "8:8: warning: state 'T' is unreachable"));
    // A state never entered that could not end either gets both warnings.
    std::string both = check(prelude + "workflow W {\n key id: string\n start on A { goto S }\n state S { on B { complete } }\n"
                                       " state T { on B { goto T } }\n}");
    CHECK(has(both, "8:8: warning: state 'T' is unreachable"));
    CHECK(has(both, "8:8: warning: no path from state 'T' reaches complete, fail or cancel"));
    // A misspelled goto leaves its state unreached: only the error is reported.
    std::string misspelled = check(prelude + "workflow W { key id: string start on A { goto Sx } state S { on B { complete } } }");
    CHECK(has(misspelled, "unknown state 'Sx'"));
    CHECK_FALSE(has(misspelled, "state 'S'"));
}

TEST_CASE("a state can end when any path of gotos leads to one that ends, however long") {
    // A chain declared backwards (each state leads to the one declared before it) to its end,
    // beside a loop that never ends: only the loop's states are warned about.
    std::string chain = prelude + "workflow W { key id: string start on A { if a.n > 0 { goto S50 } else { goto L1 } }\n";
    for (int i = 50; i > 0; --i) chain += " state S" + std::to_string(i) + " { on B { goto S" + std::to_string(i - 1) + " } }\n";
    chain += " state S0 { on B { complete } }\n state L1 { on B { goto L2 } }\n state L2 { on B { goto L1 } }\n}";
    std::string summary = check(chain);
    CHECK_FALSE(has(summary, "no path from state 'S"));
    CHECK(has(summary, "warning: no path from state 'L1' reaches complete, fail or cancel"));
    CHECK(has(summary, "warning: no path from state 'L2' reaches complete, fail or cancel"));
    CHECK_FALSE(has(summary, "is unreachable"));
}

TEST_CASE("timers due at once that certainly enter, again and again, states where the same holds are warned of") {
    // Two states on a line each, so that a warning's line names its state: S on line 8, T on line 9.
    auto states = [](const std::string& s, const std::string& t) {
        return prelude + "workflow W {\n key id: string\n start on A { goto S }\n on B { complete }\n" +
               " state S { " + s + " }\n state T { " + t + " }\n}";
    };
    const std::string loop_warning = "it would fire for ever without time moving on, until the runtime fails the instance (timer loop)";
    // A timer re-entering its own state.
    std::string self = check(states("after 0s { goto S }", "on B { complete }"));
    CHECK(has(self, "8:12: warning: this timer is due as soon as state 'S' is entered, and every path of its body enters 'S' again: " +
                        loop_warning));
    CHECK_FALSE(has(self, "state 'T' is entered"));
    // Two states entering each other, on every branch; the commands sent on the way do not stop it.
    std::string pair = check(states("after 0ms { emit C { id: key, n: 1 } if key == \"a\" { goto T } else { goto T } }",
                                    "after 1h { complete } after 0s { goto S }"));
    CHECK(has(pair, "8:12: warning: this timer is due as soon as state 'S' is entered, and every path of its body enters a state where "
                    "the same holds ('T'): " + loop_warning));
    CHECK(has(pair, "9:34: warning: this timer is due as soon as state 'T' is entered, and every path of its body enters a state where "
                    "the same holds ('S')"));
    // Every state a path may enter is named, the timer's own included.
    CHECK(has(check(states("after 0s { if key == \"a\" { goto S } else { goto T } }", "after 0s { goto S }")),
              "8:12: warning: this timer is due as soon as state 'S' is entered, and every path of its body enters a state where the "
              "same holds ('S', 'T')"));
    // A timer due at once that falls through leaves the next one due at once to fire: the warning
    // is at the one that settles it. A delay written as a negative or a product is written out too,
    // and a negative one fires before `0s`.
    for (const auto& entry : std::vector<std::pair<std::string, std::string>>{
             {"after 0s { } after 0s { goto S }", "8:25:"},
             {"after 0s { if key == \"a\" { goto S } } after 0s { goto S }", "8:50:"},
             {"after -1s { goto S }", "8:12:"},
             {"after 0s * 5 { goto S }", "8:12:"},
             {"after 0s * (1 + 1) { goto S }", "8:12:"},
             {"after (2 - 3) * 1s { goto S }", "8:12:"},
             {"after 0s { complete } after 0s - 1s { goto S }", "8:34:"},
         }) {
        const auto& s = std::get<0>(entry);
        const auto& column = std::get<1>(entry);
        CAPTURE(s);
        CHECK(has(check(states(s, "on B { complete }")), column + " warning: this timer is due as soon as state 'S' is entered"));
    }
    // No loop: a path ends the instance, or every timer due at once may fall through (the instance
    // then waits), or it enters a state whose timers are later, or the delay is later, or depends
    // on a value, or an `at` may come first, or an earlier timer due at once leaves for a state
    // that ends. A state never entered is not warned of (it has its own warning).
    for (const auto& entry : std::vector<std::pair<std::string, std::string>>{
             {"after 0s { if key == \"a\" { goto S } else { complete } }", "on B { complete }"},
             {"after 0s { if key == \"a\" { goto S } }", "on B { complete }"},
             {"after 0s { goto T }", "after 1ms { goto S }"},
             {"after 1s { goto S }", "on B { complete }"},
             {"after 1s - 999ms { goto S }", "on B { complete }"},
             {"after seconds(0) { goto S }", "on B { complete }"},
             {"after 0s { goto S } at now() { complete }", "on B { complete }"},
             {"after 0s { goto T } after 0s { goto S }", "after 0s { complete }"},
             {"after 0s { goto T }", "after 0s { if key == \"a\" { goto S } else { fail \"no\" } }"},
             {"on B { complete }", "after 0s { goto T }"},
         }) {
        const auto& s = std::get<0>(entry);
        const auto& t = std::get<1>(entry);
        CAPTURE(s);
        CAPTURE(t);
        CHECK_FALSE(has(check(states(s, t)), "fire for ever"));
    }
}

TEST_CASE("a workflow-level handler that every state's own unguarded handler comes before is warned of") {
    auto workflow = [](const std::string& states) {
        return prelude + "workflow W {\n key id: string\n start on A { goto S }\n on B { fail \"quit\" }\n" + states + "}";
    };
    CHECK(has(check(workflow(" state S { on B { goto T } }\n state T { on B { complete } on A { goto S } }\n")),
              "7:2: warning: this workflow-level handler for 'B' is never chosen: every state has a handler for 'B' with no guard, "
              "which is chosen first\n"));
    // A state never entered does not count.
    CHECK(has(check(workflow(" state S { on B { complete } }\n state U { on A { complete } }\n")),
              "7:2: warning: this workflow-level handler for 'B' is never chosen: every state a goto reaches has a handler for 'B' "
              "with no guard, which is chosen first\n"));
    // A state with no handler for it, or only guarded ones, leaves it a chance.
    CHECK_FALSE(has(check(workflow(" state S { on B { goto T } }\n state T { on A { complete } }\n")), "never chosen"));
    CHECK_FALSE(has(check(workflow(" state S { on B { goto T } }\n state T { on B when key == \"a\" { complete } }\n")),
                    "never chosen"));
}

TEST_CASE("warnings: unreachable states, states that cannot end, unused declarations and vars") {
    std::string unreachable = prelude + "workflow W { key id: string start on A { goto S } state S { on B { complete } } "
                                        "state T { on B { complete } } }";
    CHECK(has(check(unreachable), "warning: state 'T' is unreachable"));
    std::string loop = prelude + "workflow W { key id: string start on A { goto S } state S { on B { goto T } } "
                                 "state T { on B { goto S } } }";
    CHECK(has(check(loop), "warning: no path from state 'S' reaches complete, fail or cancel"));
    // A workflow-level handler runs only where the state's own handlers for its event leave it
    // room: not behind one without a guard, and not for a goto it would make either.
    const std::string spin = prelude + "workflow W { key id: string start on A { goto S } state S { on B { goto S } } on B { complete } }";
    CHECK(has(check(spin), "warning: no path from state 'S' reaches complete, fail or cancel"));
    const std::string guarded = prelude + "workflow W { key id: string start on A { goto S } state S { on B when key == \"a\" { goto S } } "
                                          "on B { complete } }";
    CHECK_FALSE(has(check(guarded), "reaches complete"));
    const std::string hidden_goto = prelude + "workflow W { key id: string start on A { goto S } state S { on B { complete } } "
                                              "state T { on A { complete } } on B { goto T } }";
    CHECK(has(check(hidden_goto), "warning: state 'T' is unreachable"));
    std::string unused = "event A { id: string }\nevent Unused { id: string }\n"
                         "workflow W { key id: string start on A { complete } }";
    CHECK(has(check(unused), "2:7: warning: unused event 'Unused': it is declared but never used"));
    CHECK(has(check(wrap("goto S", "  var idle: int = 0\n")), "warning: unused variable 'idle': it is never read"));
}

TEST_CASE("a file with no workflow gets no unused-declaration warning") {
    CHECK(check("event Lonely { id: string }\ncommand Quiet to x { id: string }\n") == "");
}

TEST_CASE("imports: relative, loaded once, missing and cyclic ones reported at the import") {
    Compilation ok = compile_sources({{"dir/main.flow", "import \"../shared/messages.flow\"\n"
                                                        "workflow W { key id: string start on A { complete } }"},
                                      {"shared/messages.flow", "event A { id: string }\n"}});
    CHECK(test::summary(ok) == "");
    Compilation missing = test::compile_text("import \"gone.flow\"\nevent A { id: string }\n");
    CHECK(has(test::summary(missing), "1:8: error: cannot read imported file 'gone.flow'"));
    // A cycle is reported once, in the file checked, at its import that enters the cycle.
    MemoryReader reader({{"a.flow", "import \"b.flow\"\n"}, {"b.flow", "// b\nimport \"c.flow\"\n"}, {"c.flow", "import \"a.flow\"\n"}});
    for (const auto& [roots, expected] : std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"a.flow"}, "a.flow:1:8: error: import cycle: 'a.flow' imports 'b.flow' imports 'c.flow' imports 'a.flow'"},
             {{"b.flow"}, "b.flow:2:8: error: import cycle: 'b.flow' imports 'c.flow' imports 'a.flow' imports 'b.flow'"},
             {{"c.flow", "a.flow", "b.flow"}, "c.flow:1:8: error: import cycle: 'c.flow' imports 'a.flow' imports 'b.flow' imports 'c.flow'"}}) {
        Compilation cycle = compile(roots, reader);
        REQUIRE(cycle.diagnostics.all().size() == 1);
        const Diagnostic& d = cycle.diagnostics.all()[0];
        CHECK(d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) + ": error: " + d.message == expected);
    }
    MemoryReader itself(std::map<std::string, std::string>{{"s.flow", "import \"s.flow\"\n"}});
    CHECK(has(test::summary(compile({"s.flow"}, itself)), "1:8: error: import cycle: 's.flow' imports 's.flow'"));
}

TEST_CASE("diagnostics come file by file, in the order the files were named, then by position") {
    // Errors of a workflow (found late) in one file, of a declaration (found early) in another.
    MemoryReader reader({{"w1.flow", "event E { id: string }\nworkflow W {\n  key id: string\n  start on E { goto Nope }\n}\n"},
                         {"w2.flow", "type F { a: Nope }\n"},
                         {"main.flow", "import \"lib.flow\"\nevent M { id: string }\nworkflow W { key id: string start on M { goto Nope } }\n"},
                         {"lib.flow", "event L { id: string, x: Nope }\n"}});
    auto files_in_order = [](const Compilation& c) {
        std::vector<std::string> files;
        for (const Diagnostic& d : c.diagnostics.all())
            if (files.empty() || files.back() != d.file) files.push_back(d.file);
        return files;
    };
    CHECK(files_in_order(compile({"w1.flow", "w2.flow"}, reader)) == std::vector<std::string>{"w1.flow", "w2.flow"});
    CHECK(files_in_order(compile({"w2.flow", "w1.flow"}, reader)) == std::vector<std::string>{"w2.flow", "w1.flow"});
    // An imported file is named by its import, after the file that imports it.
    CHECK(files_in_order(compile({"main.flow"}, reader)) == std::vector<std::string>{"main.flow", "lib.flow"});
}

TEST_CASE("an import path with a NUL, and imports nested past 1,000 files, are refused at the import") {
    Compilation nul = compile_sources({{"d.flow", "import \"a\\u{0}b.flow\"\n"}, {"a", "event Sneaky { id: string }\n"}});
    CHECK(has(test::summary(nul), "1:8: error: an import path cannot hold a NUL character"));
    std::map<std::string, std::string> chain;
    for (int i = 0; i < 1100; ++i) chain["c" + std::to_string(i) + ".flow"] = "import \"c" + std::to_string(i + 1) + ".flow\"\n";
    chain["c1100.flow"] = "event A { id: string }\n";
    MemoryReader reader(chain);
    Compilation deep = compile({"c0.flow"}, reader);
    REQUIRE(deep.diagnostics.all().size() == 1);
    CHECK(deep.diagnostics.all()[0].file == "c999.flow");
    CHECK(has(test::summary(deep), "1:8: error: imports nest more than 1000 files deep here"));
}

TEST_CASE("an import through a symbolic link to a folder follows the link before '..'") {
    namespace fs = std::filesystem;
    const fs::path root = fs::temp_directory_path() / ("flow-import-link-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "main");
    fs::create_directories(root / "other" / "deep");
    fs::create_directory_symlink("../other/deep", root / "main" / "lnk");
    std::ofstream(root / "other" / "base.flow") << "event Other { id: string }\n";
    std::ofstream(root / "main" / "base.flow") << "event Decoy { id: string }\n";
    std::ofstream(root / "main" / "top.flow") << "import \"lnk/../base.flow\"\nworkflow T { key id: string start on Other { complete } }\n";
    DiskReader reader;
    Compilation c = compile({(root / "main" / "top.flow").string()}, reader);
    CHECK(test::summary(c) == "");
    // A folder on the way that does not exist is cleaned away, however the file is named.
    std::ofstream(root / "main" / "plain.flow") << "import \"nosuch/../base.flow\"\nworkflow P { key id: string start on Decoy { complete } }\n";
    CHECK(test::summary(compile({(root / "main" / "plain.flow").string()}, reader)) == "");
    const fs::path before = fs::current_path();
    fs::current_path(root / "main");
    CHECK(test::summary(compile({"plain.flow"}, reader)) == "");
    CHECK(test::summary(compile({"./plain.flow"}, reader)) == "");
    // A NUL cuts no path short on the disk either: `a` exists, `a\0b.flow` is not read as it.
    std::ofstream(root / "main" / "a") << "event Sneaky { id: string }\n";
    std::ofstream(root / "main" / "nul.flow") << "import \"a\\u{0}b.flow\"\nworkflow N { key id: string start on Sneaky { complete } }\n";
    CHECK(has(test::summary(compile({"nul.flow"}, reader)), "1:8: error: an import path cannot hold a NUL character"));
    fs::current_path(before);
    fs::remove_all(root);
}

TEST_CASE("a source past 16 MiB is refused with its reason, and a path that never ends does not hold the compile") {
    namespace fs = std::filesystem;
    const fs::path root = fs::temp_directory_path() / ("flow-large-source-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
    std::ofstream(root / "large.flow") << "event A { id: string }\n";
    fs::resize_file(root / "large.flow", DiskReader::max_source_bytes + 1);  // sparse: no 16 MiB written
    DiskReader reader;
    CHECK(test::summary(compile({(root / "large.flow").string()}, reader)) ==
          "1:1: error: cannot read this file: it is larger than 16 MiB, the most a source may be\n");
    if (fs::exists("/dev/zero"))
        CHECK(test::summary(compile({"/dev/zero"}, reader)) ==
              "1:1: error: cannot read this file: it gave more than 16 MiB without ending (it is not a regular file), the most a "
              "source may be\n");
    // A named pipe past the limit: the refusal closes it, which ends its writer, and the reason
    // is the one found while reading (opening it again would wait for a writer without end).
    const fs::path pipe = root / "pipe.flow";
    REQUIRE(::mkfifo(pipe.c_str(), 0600) == 0);
    std::thread writer([&] {
        sigset_t broken_pipe;
        sigemptyset(&broken_pipe);
        sigaddset(&broken_pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &broken_pipe, nullptr);  // a write to the closed pipe fails with EPIPE instead
        const int fd = ::open(pipe.c_str(), O_WRONLY);
        const std::string spaces(1 << 20, ' ');
        for (int i = 0; fd >= 0 && i < 20; ++i)
            if (::write(fd, spaces.data(), spaces.size()) < 0) break;
        if (fd >= 0) ::close(fd);
    });
    CHECK(test::summary(compile({pipe.string()}, reader)) ==
          "1:1: error: cannot read this file: it gave more than 16 MiB without ending (it is not a regular file), the most a source "
          "may be\n");
    writer.join();
    fs::remove_all(root);
}

TEST_CASE("a name declared in two files is reported once, in the importing file or the later one given") {
    const std::string x1 = "type T { x: int }\nevent E1 { id: string, t: T }\nworkflow W1 { key id: string start on E1 { complete } }\n";
    const std::string x2 = "type T { z: int }\nevent E2 { id: string, t: T }\nworkflow W2 { key id: string start on E2 { complete } }\n";
    MemoryReader reader({{"x1.flow", x1}, {"x2.flow", x2}, {"x3.flow", "import \"x1.flow\"\n" + x2}});
    auto only_error = [&](const std::vector<std::string>& roots) {
        Compilation c = compile(roots, reader);
        REQUIRE(c.diagnostics.all().size() == 1);
        const Diagnostic& d = c.diagnostics.all()[0];
        return d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message;
    };
    // x3.flow imports x1.flow and declares T again: the error is x3's, and x3's own uses of T
    // (which now mean x1's T) bring no second error.
    CHECK(only_error({"x3.flow"}) == "x3.flow:2:6: duplicate type 'T': the name is already declared at x1.flow:1:6");
    // Two unrelated files: the later one given is at fault; its uses of T are not "unknown".
    CHECK(only_error({"x1.flow", "x2.flow"}) == "x2.flow:1:6: duplicate type 'T': the name is already declared at x1.flow:1:6");
    CHECK(only_error({"x2.flow", "x1.flow"}) == "x1.flow:1:6: duplicate type 'T': the name is already declared at x2.flow:1:6");
}

TEST_CASE("a misspelled generic type is unknown, not a type that takes no arguments") {
    CHECK(has(check("event A { id: string }\nworkflow W { key id: string var q: lst<int> = [] start on A { q = [] complete } }"),
              "2:36: error: unknown type 'lst'"));
    CHECK(has(check("event A { id: string, n: int<string> }\n"), "1:26: error: 'int' takes no type arguments"));
}

TEST_CASE("a declaration is visible only where it is declared or imported") {
    Compilation c = compile_sources({{"a.flow", "event A { id: string }\n"},
                                     {"b.flow", "workflow W { key id: string start on A { complete } }"}});
    CHECK(has(test::summary(c), "unknown event 'A': it is declared in a.flow, which this file does not import"));
}

TEST_CASE("a syntax error leaves out its file and the files that import it; the other files are still checked") {
    const std::map<std::string, std::string> files = {
        {"a.flow", "event A { id: string, x int }\n"},  // a syntax error
        {"b.flow", "event B { id: string }\nevent Spare { id: string }\n"
                   "workflow W { key id: string start on B { goto Sx } state S { on B { complete } } }\n"},
        {"c.flow", "import \"a.flow\"\nworkflow V { key id: string start on A { goto Nowhere } }\n"},  // imports a.flow
        {"d.flow", "import \"c.flow\"\nworkflow U { key id: string start on Missing { complete } }\n"},  // through c.flow
    };
    Compilation c = compile_sources(files);
    const std::string found = test::summary(c);
    CHECK(has(found, "1:25: error: expected ':', found 'int'"));
    // b.flow's own mistake is reported, though a.flow did not parse.
    CHECK(has(found, "3:47: error: unknown state 'Sx'"));
    // c.flow and d.flow would report what a.flow failed to declare: they are left out.
    CHECK_FALSE(has(found, "Nowhere"));
    CHECK_FALSE(has(found, "Missing"));
    // What nothing uses is not known while a file is left out: no such warning.
    CHECK_FALSE(has(found, "unused"));
    CHECK(c.diagnostics.error_count() == 2);
    CHECK(!c.program);
    // Once a.flow parses, c.flow and d.flow are checked too, and Spare is unused.
    std::map<std::string, std::string> fixed = files;
    fixed["a.flow"] = "event A { id: string, x: int }\n";
    const std::string after = test::summary(compile_sources(fixed));
    CHECK(has(after, "2:47: error: unknown state 'Nowhere'"));
    CHECK(has(after, "unknown event 'Missing'"));
    CHECK(has(after, "warning: unused event 'Spare'"));
}

TEST_CASE("literals out of range are errors") {
    CHECK(has(check(wrap("let x = 99999999999999999999 goto S")), "does not fit in 64 bits"));
    CHECK(has(check(wrap("let x = 1m1h goto S")), "invalid duration '1m1h'"));
    CHECK(has(check(wrap("let x = 1.0e999 goto S")), "7:9: error: number 1.0e999 is out of the number range"));
    CHECK(has(check(wrap("let x = 1.0e-400 goto S")), "7:9: error: number 1.0e-400 is out of the number range"));
    CHECK_FALSE(has(check(wrap("let x = 2.5e-320 goto S")), "error"));
    // Only a '-' written right before it makes 9223372036854775808 the least int.
    CHECK_FALSE(has(check(wrap("let x = -9223372036854775808 let y = - -9223372036854775808 goto S")), "error"));
    CHECK(has(check(wrap("let x = -(9223372036854775808) goto S")), "does not fit in 64 bits"));
    CHECK(has(check(wrap("let x = -9223372036854775809 goto S")), "does not fit in 64 bits"));
}

TEST_CASE("--format json carries the same diagnostics as the text") {
    Compilation c = test::compile_text(wrap("emit C { id: key, n: 1 } goto Nowhere"));
    nlohmann::json doc = nlohmann::json::parse(format_json(c.diagnostics));
    CHECK(doc["valid"] == false);
    CHECK(doc["error_count"] == 1);
    CHECK(doc["warning_count"] == c.diagnostics.warning_count());
    REQUIRE(doc["diagnostics"].size() == c.diagnostics.all().size());
    const nlohmann::json& first = doc["diagnostics"][0];
    CHECK(first["severity"] == "error");
    CHECK(first["file"] == "test.flow");
    CHECK(first["line"] == 7);
    CHECK(first["column"] == 31);
    CHECK(first["end_line"] == 7);
    CHECK(first["end_column"] == 38);
    CHECK(first["message"] == c.diagnostics.all()[0].message);
}

TEST_CASE("the caret and tildes sit under the construct") {
    Compilation c = test::compile_text(wrap("emit C { id: key, n: 1 } goto Nowhere"));
    REQUIRE(!c.diagnostics.all().empty());
    CHECK(format_text(c.diagnostics.all()[0]) ==
          "test.flow:7:31: error: unknown state 'Nowhere'\n"
          "emit C { id: key, n: 1 } goto Nowhere\n"
          "                              ^~~~~~~\n");
}

TEST_CASE("columns count characters, not bytes; the caret sits under the construct as a terminal shows the line") {
    Compilation c = test::compile_text(wrap("emit C { id: \"Café ☕\", n: 1 } goto Nowhere"));
    REQUIRE(!c.diagnostics.all().empty());
    const Diagnostic& d = c.diagnostics.all()[0];
    CHECK(d.column == 36);  // 39 in bytes
    CHECK(d.end_column == 43);
    // ☕ takes two columns of a terminal, as GCC counts it: two blanks under it.
    CHECK(format_text(d) ==
          "test.flow:7:36: error: unknown state 'Nowhere'\n"
          "emit C { id: \"Café ☕\", n: 1 } goto Nowhere\n"
          "                                    ^~~~~~~\n");
    // A combining mark takes none, a CJK character two; one inside the range is underlined as wide.
    auto first_error = [](const Compilation& compiled) {
        for (const Diagnostic& diagnostic : compiled.diagnostics.all())
            if (diagnostic.severity == Severity::Error) return format_text(diagnostic);
        return std::string();
    };
    CHECK(first_error(test::compile_text(wrap("let s = \"e\u0301中\" + 1 goto S"))) ==
          "test.flow:7:15: error: operator '+' cannot combine string and int: convert the int to a string with str()\n"
          "let s = \"e\u0301中\" + 1 goto S\n"
          "              ^\n");
    CHECK(first_error(test::compile_text(wrap("if \"中文\" { goto S } goto S"))).ends_with("if \"中文\" { goto S } goto S\n   ^~~~~~\n"));
    // A byte order mark takes no column, and the source line is shown without it.
    Compilation marked = test::compile_text("\xEF\xBB\xBF" "event A { id: strin }\nworkflow W { key id: string start on A { complete } }");
    REQUIRE(!marked.diagnostics.all().empty());
    CHECK(format_text(marked.diagnostics.all()[0]) ==
          "test.flow:1:15: error: unknown type 'strin'; did you mean 'string'?\n"
          "event A { id: strin }\n"
          "              ^~~~~\n");
}

TEST_CASE("a diagnostic in text is one line, whatever its message quotes, and its source line is UTF-8") {
    // An import path with a line break, a tab, a quote and control characters in it.
    Compilation c = compile_sources({{"esc.flow", "import \"x\\n\\t\\\"\\u{1}\\u{7f}é.flow\"\n"}});
    REQUIRE(c.diagnostics.all().size() == 1);
    CHECK(c.diagnostics.all()[0].message.find('\n') != std::string::npos);  // the JSON output escapes it itself
    const std::string text = format_text(c.diagnostics.all()[0]);
    CHECK(text.starts_with("esc.flow:1:8: error: cannot read imported file 'x\\n\\t\"\\u{1}\\u{7F}é.flow' (looked for x\\n"));
    CHECK(std::count(text.begin(), text.end(), '\n') == 3);
    // A file refused for a byte that is not UTF-8 shows that byte as U+FFFD, under its caret.
    Compilation latin1 = compile_sources({{"l.flow", "// caf\xE9 au lait\nevent A { id: string }\n"}});
    REQUIRE(latin1.diagnostics.all().size() == 1);
    CHECK(format_text(latin1.diagnostics.all()[0]) ==
          "l.flow:1:7: error: the byte 0xE9 starts no UTF-8 character: a source file must be UTF-8 text; nothing of this file was read\n"
          "// caf\uFFFD au lait\n"
          "      ^\n");
}

TEST_CASE("a record may not hold itself through required fields; optional fields and lists may recurse") {
    const std::string use = "event E { id: string, a: A }\nworkflow W { key id: string start on E { complete } }\n";
    CHECK(has(check("type A { a: A }\n" + use), "1:13: error: 'A' cannot contain itself: a value of it would never end"));
    // Through other records: reported once, at the field that closes the cycle, with its route.
    std::string mutual = check("type A { n: int, b: B }\ntype B { c: C }\ntype C { a: A, d?: A }\n" + use);
    CHECK(has(mutual, "3:13: error: 'A' cannot contain itself (A.b → B.c → C.a → A)"));
    CHECK(test::count(mutual, "cannot contain itself") == 1);
    // Two cycles through one record are two errors.
    CHECK(test::count(check("type A { b: B, c: C }\ntype B { a: A }\ntype C { a: A }\n" + use), "cannot contain itself") == 2);
    // A cycle that does not pass through the record that names it is reported from its own records.
    CHECK(has(check("type A { b: B }\ntype B { c: C }\ntype C { b: B }\n" + use), "'B' cannot contain itself (B.c → C.b → B)"));
    // Finite values exist when a field on the way is optional or a list.
    CHECK(check("type A { next?: A, children: list<A>, b: B }\ntype B { back?: A, all: list<B> }\n" + use) == "");
    // A long chain of required fields leading into two cycles: reported from the first record of
    // the cycles, whose records then report nothing more; the chain is searched once rather
    // than once per record.
    std::string chain = "type A { t: T0 }\n";
    for (int i = 0; i < 3000; ++i) chain += "type T" + std::to_string(i) + " { n: T" + std::to_string(i + 1) + " }\n";
    chain += "type T3000 { x: X }\ntype X { y: Y }\ntype Y { x: X, last: T3000 }\n";
    std::string looped = check(chain + use);
    CHECK(test::count(looped, "cannot contain itself") == 1);
    CHECK(has(looped, "'T3000' cannot contain itself (T3000.x → X.y → Y.last → T3000)"));
}

TEST_CASE("an external name may not be another event's name, nor another event's external name") {
    // Reported at the string, the name that clashes, as a duplicate name is at the second name.
    CHECK(has(check("event A \"B\" { id: string }\nevent B { id: string }\n"),
              "1:9: error: event 'A' takes the external name 'B', which is the name of event 'B' (declared at test.flow:2:7)"));
    CHECK(has(check("event A \"ext.a\" { id: string }\nevent B  \"ext.a\" { id: string }\n"),
              "2:10: error: event 'B' has the external name 'ext.a' of event 'A' (declared at test.flow:1:7)"));
}

TEST_CASE("the content hash follows behaviour, not comments or unrelated declarations") {
    const std::string base = wrap("emit C { id: key, n: a.n } goto S");
    auto hash_of = [](const std::string& text) {
        Compilation c = test::compile_text(text);
        REQUIRE(c.program);
        return c.program->workflows.at(0).hash;
    };
    std::string h = hash_of(base);
    CHECK(hash_of("// a comment\n\n" + base) == h);
    CHECK(hash_of(base + "type Unrelated { x: int }\nworkflow V { key id: string start on B { complete } }\n") == h);
    CHECK(hash_of(wrap("emit C { id: key, n: a.n + 1 } goto S")) != h);
    CHECK(hash_of(base.substr(0, base.find("command C")) + "command C to t { id: string, n: int, note?: string }" +
                  base.substr(base.find('\n', base.find("command C")))) != h);
}

TEST_CASE("a misspelled state gets a suggestion only when it is close") {
    std::string text = prelude + "workflow W { key id: string start on A { goto %s } state Shipped { on B { complete } } "
                                 "state Q1 { on B { complete } } }";
    auto with = [&](const std::string& target) {
        std::string t = text;
        t.replace(t.find("%s"), 2, target);
        return check(t);
    };
    CHECK(has(with("Shiped"), "unknown state 'Shiped'; did you mean 'Shipped'?"));
    CHECK(has(with("Zz"), "unknown state 'Zz'\n"));
    CHECK_FALSE(has(with("Zz"), "did you mean"));
}

TEST_CASE("hostile nesting is refused with an error, never a crash") {
    auto handler = [](const std::string& body) {
        return prelude + "workflow W { key id: string start on A {\n" + body + "\n complete } }";
    };
    auto repeat = [](const std::string& piece, int times) {
        std::string out;
        for (int i = 0; i < times; ++i) out += piece;
        return out;
    };
    // Brackets and braces: 100 open at once is the most a file may hold.
    std::string at_limit = handler("let x = " + repeat("(", 95) + "1" + repeat(")", 95));
    CHECK_FALSE(has(check(at_limit), "error"));
    std::string parens = handler("let x = " + repeat("(", 3000) + "1" + repeat(")", 3000));
    CHECK(has(check(parens), "error: more than 100 brackets and braces are open here at once"));
    std::string ifs = handler(repeat("if true { ", 10000) + repeat("}", 10000));
    CHECK(has(check(ifs), "error: more than 100 brackets and braces are open here at once"));
    // Brackets inside strings and comments do not count.
    std::string quoted = handler("let s = \"" + repeat("(", 500) + "\" // " + repeat("{", 500) + "\n /* " + repeat("[", 500) + " */");
    CHECK_FALSE(has(check(quoted), "error"));
    // Long chains of operators, prefix operators and suffixes: fewer than 1,000 along one path.
    CHECK_FALSE(has(check(handler("let x = 1" + repeat(" + 1", 999))), "error"));
    CHECK(has(check(handler("let x = 1" + repeat(" + 1", 1000))),
              "error: this expression is too deep: 1000 or more operations along one path; split it with 'let'"));
    CHECK(has(check(handler("let x = 1" + repeat(" + 1", 20000))), ":9: error: this expression is too deep"));
    CHECK(has(check(handler("let b = " + repeat("not ", 10000) + "true")), "error: this expression is too deep"));
    CHECK(has(check(handler("let s = a" + repeat(".note", 5000))), "error: this expression is too deep"));
    std::string nested = handler("let x = (1" + repeat(" + 1", 400) + " + (1" + repeat(" + 1", 400) + " + (1" + repeat(" + 1", 400) + ")))");
    CHECK(has(check(nested), "error: this expression is too deep"));
}

TEST_CASE("a type is used only when a workflow uses it, directly or through the fields of what it uses") {
    std::string text = "type T { a: int }\n"
                       "type U { t: T }\n"
                       "type X { a: int }\n"
                       "type Y { xs: list<X?> }\n"
                       "event Unused { x: X }\n"
                       "event A { id: string, y: Y }\n"
                       "workflow W { key id: string start on A { complete } }";
    std::string summary = check(text);
    CHECK(has(summary, "1:6: warning: unused type 'T': it is declared but never used"));  // only an unused type names it
    CHECK(has(summary, "2:6: warning: unused type 'U': it is declared but never used"));
    CHECK(has(summary, "5:7: warning: unused event 'Unused': it is declared but never used"));
    CHECK_FALSE(has(summary, "'X' is declared"));  // A's field y names Y, whose field names X
    CHECK_FALSE(has(summary, "'Y' is declared"));
}

TEST_CASE("a built-in type's name cannot be declared again; a byte order mark is no text") {
    for (const char* name : {"string", "int", "number", "bool", "time", "duration", "json", "list"}) {
        std::string text = std::string("type ") + name + " { a: int }\nevent A { id: string }\n"
                                                         "workflow W { key id: string start on A { complete } }";
        CHECK(has(check(text), std::string("1:6: error: '") + name + "' is a built-in type and cannot name a type"));
    }
    std::string with_bom = "\xEF\xBB\xBF" "event A { id: string }\nworkflow W { key id: string start on A { complete } }";
    CHECK(check(with_bom).empty());
}

TEST_CASE("a diagnostic's end leaves out the white space after its construct") {
    Compilation c = test::compile_text("event A { id: string }\ntype S { g: A   }\n"
                                       "workflow W { key id: bool   \n start on A { complete } }");
    nlohmann::json doc = nlohmann::json::parse(format_json(c.diagnostics));
    std::vector<nlohmann::json> errors;
    for (const nlohmann::json& d : doc["diagnostics"])
        if (d["severity"] == "error") errors.push_back(d);
    REQUIRE(errors.size() == 2);
    for (const nlohmann::json& d : errors) CHECK(d["end_line"] == d["line"]);
    CHECK(errors[0]["column"] == 13);
    CHECK(errors[0]["end_column"] == 14);  // `A`, not `A   `
    CHECK(errors[1]["column"] == 22);
    CHECK(errors[1]["end_column"] == 26);  // `bool`, not up to the next line
}

int errors_in(const std::string& summary) {
    int count = 0;
    for (std::size_t at = summary.find("error:"); at != std::string::npos; at = summary.find("error:", at + 1)) ++count;
    return count;
}

TEST_CASE("a refused let brings no second error: reads see its value, an assignment goes to the variable") {
    std::string over_var = check(wrap("let v = 3\n v = a.n\n goto S", "  var v: int = 0\n"));
    CHECK(has(over_var, "error: a 'let' cannot hide the variable 'v' of the workflow"));
    CHECK_FALSE(has(over_var, "cannot be assigned"));
    CHECK(errors_in(over_var) == 1);
    std::string over_binding = check(wrap("let a = 4\n let m = a + 1\n goto S"));
    CHECK(has(over_binding, "error: a 'let' cannot hide 'a', defined earlier in this handler"));
    CHECK(errors_in(over_binding) == 1);
}

TEST_CASE("a let is seen from its line to the end of its block, and its name is free again after") {
    // Sibling blocks may reuse a name; the outer block may too once the inner one has ended.
    std::string siblings = check(wrap("if a.n > 1 { let x = 1\n emit C { id: key, n: x } } else { let x = 2\n emit C { id: key, n: x } }\n"
                                      " let x = 3\n emit C { id: key, n: x }\n goto S"));
    CHECK(siblings == "");
    CHECK(has(check(wrap("if a.n > 1 { let y = 1\n emit C { id: key, n: y } }\n emit C { id: key, n: y }\n goto S")),
              "error: unknown name 'y'"));
    // An assignment meets the let that was accepted, not a later one refused for hiding it.
    std::string refused_inside = check(wrap("let x = 1\n if a.n > 1 { let x = 2\n x = 5 }\n emit C { id: key, n: x }\n goto S"));
    CHECK(has(refused_inside, "error: a 'let' cannot hide 'x', defined earlier in this handler"));
    CHECK(has(refused_inside, "error: 'x' is a 'let': it cannot be assigned"));
}

TEST_CASE("a handler with thousands of lets gets one slot per let, in order") {
    std::string body;
    for (int i = 0; i < 3000; ++i) body += "let v" + std::to_string(i) + " = " + (i == 0 ? "a.n" : "v" + std::to_string(i - 1) + " + 1") + "\n";
    body += "emit C { id: key, n: v2999 }\n goto S";
    Compilation c = test::compile_text(wrap(body));
    CHECK(test::summary(c) == "");
    REQUIRE(c.program);
    const ir::Handler& start = c.program->workflows[0].starts[0];
    CHECK(start.locals == 3001);  // the event's alias, then each let
    REQUIRE(start.body.size() == 3002);
    CHECK(start.body[2999].slot == 3000);
    CHECK(start.body[2999].value.args[0].slot == 2999);  // v2999 reads v2998's slot
}

TEST_CASE("a version is a whole number from 1 to 2^31 - 1, and the message says both ends") {
    auto versioned = [](const std::string& version) {
        return check(prelude + "workflow W { key id: string version " + version + " start on A { complete } }");
    };
    CHECK_FALSE(has(versioned("2147483647"), "error:"));
    CHECK(has(versioned("2147483648"), "error: a version is a whole number from 1 to 2147483647"));
    CHECK(has(versioned("0"), "error: a version is a whole number from 1 to 2147483647"));
    // At the number, which is what is wrong, not at `version`.
    const int line = static_cast<int>(std::count(prelude.begin(), prelude.end(), '\n')) + 3;
    CHECK(has(check(prelude + "workflow W {\n  key id: string\n  version 0\n  start on A { complete }\n}\n"),
              std::to_string(line) + ":11: error: a version is a whole number"));
}

TEST_CASE("a chain of 40,000 record types, each holding the next, is checked without exhausting the stack") {
    std::string text = "event A { id: string }\n";
    for (int i = 0; i < 40000; ++i) text += "type T" + std::to_string(i) + " { a?: T" + std::to_string(i + 1) + " }\n";
    text += "type T40000 { s: string }\nworkflow W { key id: string var x: T0? = null start on A { x = T0 {} complete } }\n";
    Compilation c = test::compile_text(text);
    CHECK_FALSE(has(test::summary(c), "error:"));
    REQUIRE(c.program);
    CHECK(c.program->workflows.at(0).hash.size() == 16);
}

TEST_CASE("ordering two kinds that are each ordered says that the kinds differ") {
    CHECK(has(check(wrap("if a.at < 1h { goto S } else { goto S }")),
              "only values of one kind are ordered (numbers with numbers, times with times, …)"));
    CHECK(has(check(wrap("if a.n < true { goto S } else { goto S }")), "only numbers, strings, times and durations are ordered"));
}

TEST_CASE("a \\u{…} escape of more than six hex digits says so") {
    CHECK(has(check(wrap("let s = \"\\u{0001F600}\"\n emit C { id: s, n: 1 } goto S")),
              "error: '\\u{0001F600}' has 8 hex digits: a \\u{…} escape takes 1 to 6"));
    CHECK(has(check(wrap("let s = \"\\u{110000}\"\n emit C { id: s, n: 1 } goto S")), "error: '\\u{110000}' names no Unicode character"));
}

TEST_CASE("an escape that names no character is reported as such wherever the string stands, with other files' syntax errors") {
    auto only = [](const Compilation& c) {
        std::string errors = test::summary(c);
        CHECK_MESSAGE(errors.find("names no Unicode character") != std::string::npos, errors);
        return std::count(errors.begin(), errors.end(), '\n');
    };
    // An event's external name and an import path: no second error about what the string holds.
    CHECK(only(compile_sources({{"e.flow", "event A \"\\u{110000}\" { id: string }\n"}})) == 1);
    CHECK(only(compile_sources({{"i.flow", "import \"\\u{110000}.flow\"\n"}})) == 1);
    // A syntax error in one file hides the checks of every file, not another file's bad escape.
    Compilation both = compile_sources({{"a.flow", "command C payments { id: string }\n"},
                                        {"b.flow", "event B { id: string }\nworkflow W { key id: string start on B { fail \"\\u{D800}\" } }\n"}});
    std::string errors = test::summary(both);
    REQUIRE(both.diagnostics.all().size() == 2);
    CHECK(both.diagnostics.all()[0].file == "a.flow");
    CHECK(has(errors, "1:11: error: expected 'to', found 'payments'"));
    CHECK(has(errors, "2:48: error: '\\u{D800}' is a UTF-16 surrogate, which names no Unicode character"));
}

TEST_CASE("indexing a list that may be absent asks for a default, as reading a field of one does") {
    const std::string text = "event L { id: string, l?: list<int> }\ncommand C to t { n: int }\n"
                             "workflow W { key id: string start on L as e { emit C { n: X } complete } }\n";
    auto with = [&](const std::string& x) { return check(std::regex_replace(text, std::regex("X"), x)); };
    CHECK(has(with("e.l[0]"), "3:62: error: cannot index a list<int>? that may be absent: give a default with ?? first"));
    CHECK(with("(e.l ?? [7])[0]") == "");
    // With an index of the wrong type too, that is said first: the default would not be the last fix.
    CHECK(has(with("e.l[e.id]"), "cannot index a list<int>? with a string: a list takes an int index"));
    // What cannot be indexed at all is told what can, or another way to its part.
    CHECK(has(with("e.id[0]"), "cannot index a string with an int: a string is not indexed: take a part of it with substr(s, start, length)"));
    CHECK(has(with("len(e.id)[0]"), "cannot index an int with an int: only a list or a json value can be indexed"));
}

TEST_CASE("each named error at its place: correlation, duplicate members, bindings, misused names, operands, field types, comments") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"workflow W { key id: string correlate B by id correlate B by id start on A { goto S } state S { on B { complete } } }",
         "4:57: error: duplicate 'correlate': event 'B' is correlated twice"},
        {"workflow W { key id: string correlate A by note start on B { goto S } state S { on A { complete } } }",
         "4:44: error: field 'note' is optional, so it cannot always give the key"},
        {"workflow W { version 1 version 2 key id: string start on A { goto S } state S { on B { complete } } }",
         "4:24: error: workflow 'W' has a second 'version'"},
        {"workflow W { key id: string start on A { goto S } state S { entry { } entry { } on B { complete } } }",
         "4:71: error: state 'S' has a second 'entry' block"},
        {"workflow W { key id: string start on A { goto S } on cancel { } on cancel { } state S { on B { complete } } }",
         "4:65: error: workflow 'W' has a second 'on cancel'"},
        {"workflow W { key id: string var x: int = 0 start on A as x { goto S } state S { on B { complete } } }",
         "4:58: error: 'x' is already a variable of the workflow"},
        {"event E \"\" { id: string }\nworkflow W { key id: string start on A { goto S } state S { on B { complete } on E { complete } } }",
         "4:9: error: an event's external name cannot be empty"},
        {"workflow W { key id: string start on A as a { a = a goto S } state S { on B { complete } } }",
         "4:47: error: 'a' names the event being handled: it cannot be assigned"},
        {"workflow W { key id: string start on A as a { let x = len goto S } state S { on B { complete } } }",
         "4:55: error: 'len' is a function: call it as len(…)"},
        {"type Money { amount: int }\nworkflow W { key id: string start on A as a { let x = Money goto S } state S { on B { complete } } }",
         "5:55: error: 'Money' is a declaration, not a value"},
        {"workflow W { key id: string start on A as a { let x = a.n(1) goto S } state S { on B { complete } } }",
         "4:58: error: only functions can be called; this is an int"},
        {"workflow W { key id: string start on A as a { let x = B { id: \"x\" } goto S } state S { on B { complete } } }",
         "4:55: error: 'B' is an event, not a type"},
        {"workflow W { key id: string start on A as a { let x = a.n.x goto S } state S { on B { complete } } }",
         "4:59: error: an int has no fields ('.x')"},
        {"workflow W { key id: string start on A as a { let x = not a.n goto S } state S { on B { complete } } }",
         "4:55: error: 'not' needs a bool, got int"},
        {"workflow W { key id: string start on A as a { let x = -a.id goto S } state S { on B { complete } } }",
         "4:55: error: unary '-' needs an int, number or duration, got string"},
        {"type T { e: B }\nworkflow W { key id: string start on A as a { goto S } state S { on B { complete } } }",
         "4:13: error: a field's type must be a 'type', not the event 'B'"},
        {"type T { e: B? }\nworkflow W { key id: string start on A as a { goto S } state S { on B { complete } } }",
         "4:13: error: a field's type must be a 'type', not the event 'B'"},  // as e?: B (it passed)
        {"type T { e?: C }\nworkflow W { key id: string start on A as a { goto S } state S { on B { complete } } }",
         "4:14: error: a field's type must be a 'type', not the command 'C'"},
        // Stacked prefix operators: each error at its own operator (both were at the first).
        {"workflow W { key id: string start on A as a { let x = not -true goto S } state S { on B { complete } } }",
         "4:59: error: unary '-' needs an int, number or duration, got bool"},
        {"workflow W { key id: string start on A as a { let x = - not a.n goto S } state S { on B { complete } } }",
         "4:57: error: 'not' needs a bool, got int"},
        {"workflow W { key id: string start on A as a { let x = - /* c */ - \"s\" goto S } state S { on B { complete } } }",
         "4:65: error: unary '-' needs an int, number or duration, got string"},
        {"type T { e: list<int, int> }\nworkflow W { key id: string start on A as a { goto S } state S { on B { complete } } }",
         "4:13: error: 'list' takes one element type: list<T>"},
        {"/* a /* b */ c */\nworkflow W { key id: string start on A as a { goto S } state S { on B { complete } } }",
         "4:14: error: expected a declaration ('import', 'type', 'event', 'command' or 'workflow'), found 'c'"},
    };
    for (const auto& entry : cases) {
        const auto& text = std::get<0>(entry);
        const auto& expected = std::get<1>(entry);
        const std::string summary = check(prelude + text);
        CHECK_MESSAGE(has(summary, expected), text, "\n", summary);
    }
}

TEST_CASE("type error hints name the side to fix") {
    CHECK(has(check(wrap("let s = a.n + \"x\"\n goto S")), "cannot combine int and string: convert the int to a string with str()"));
    CHECK(has(check(wrap("let s = \"x\" + 1.5\n goto S")), "cannot combine string and number: convert the number to a string with str()"));
    std::string coalesce = check(wrap("if a.note ?? \"\" == \"\" { goto S } else { goto S }"));
    CHECK(has(coalesce, "operator '?\?' cannot combine string? and bool: the default must be a string; '?\?' binds last, so write (x ?? default) == y"));
}

TEST_CASE("a duration literal too large says so, not that its units are out of order") {
    CHECK(has(check(wrap("let d = 10000000000000000d\n goto S")), "invalid duration '10000000000000000d': too large for 64-bit milliseconds"));
    CHECK(has(check(wrap("let d = 2h1d\n goto S")), "invalid duration '2h1d': units (d h m s ms) go from largest to smallest, each once"));
    CHECK_FALSE(has(check(wrap("let d = 1m1ms\n goto S")), "invalid duration"));  // minutes, then milliseconds
    CHECK_FALSE(has(check(wrap("let d = 1d2h3m4s5ms\n goto S")), "invalid duration"));
}

TEST_CASE("a format_time layout written out that could only give an empty string is warned of at the layout") {
    auto body = [](const std::string& layout) {
        return wrap("let s = format_time(now(), " + layout + ")\n    emit C { id: s, n: 1 } goto S");
    };
    // The prelude's lines come first; the layout stands on the handler's first line.
    const std::string unknown = check(body("\"%Y-%m-%d %s\""));
    CHECK(has(unknown, "warning: format_time layout: '%s' is not a conversion it supports, so it would always give \"\""));
    CHECK(has(unknown, "7:28: warning: format_time layout"));
    CHECK(has(check(body("\"%OY\"")), "'%OY' is not a conversion it supports"));
    CHECK(has(check(body("\"100%\"")), "format_time layout: the layout ends in an unfinished conversion '%' (a '%' is written %%)"));
    CHECK(has(check(body("\"\"")), "format_time layout: an empty layout always gives \"\""));
    // Unfinished only when the layout ends inside it; a third digit of width, or a modifier with
    // a conversion it does not pair with, is said as such; a non-ASCII character whole.
    CHECK(has(check(body("\"%12\"")), "the layout ends in an unfinished conversion '%12'"));
    CHECK(has(check(body("\"%123d\"")), "format_time layout: '%123' has a width of more than two digits"));
    CHECK(has(check(body("\"%E%\"")), "format_time layout: '%E%' is not a conversion it supports"));
    CHECK(has(check(body("\"%\\u{E9} \"")), "format_time layout: '%\u00e9' is not a conversion it supports"));
    const std::string flags = check(body("\"%" + std::string(40, '_') + "q\""));
    CHECK(has(flags, "format_time layout: '%" + std::string(23, '_') + "…' is not a conversion it supports"));
    // Every conversion it supports, flags, widths and the modifiers POSIX pairs are fine; so is a
    // layout computed at run time, which is only known then.
    CHECK(check(body("\"%a %A %b %B %c %C %d %D %e %F %g %G %h %H %I %j %m %M %n %p %r %R %S %t %T %u %U %V %w %W "
                     "%x %X %y %Y %z %Z %% %_5d %-m %010Y %^a %#Z %Ec %Oy\"")) == "");
    CHECK(check(body("\"%\" + \"s\"")) == "");
}

TEST_CASE("durations, numbers and integers are told apart: each literal has its own type") {
    const std::string vars = "var d: duration = 1h30m var n: number = 3.5 var i: int = 42 var m: duration = 250ms ";
    CHECK_FALSE(has(check(prelude + "workflow W { key id: string " + vars + "start on A { complete } }"), "error"));
    // Each given for another type is refused, naming the type it was read as.
    const std::string wrong = "var d: int = 1h30m var n: int = 3.5 var i: duration = 42 var m: number = 250ms ";
    const std::string summary = check(prelude + "workflow W { key id: string " + wrong + "start on A { complete } }");
    CHECK(has(summary, "expected int for variable 'd', got duration"));
    CHECK(has(summary, "expected int for variable 'n', got number"));
    CHECK(has(summary, "expected duration for variable 'i', got int"));
    CHECK(has(summary, "expected number for variable 'm', got duration"));
}

TEST_CASE("a state declared twice has its second body checked too, and what it uses counts as used") {
    const std::string summary = check("event A { id: string }\nevent B { ref: string }\n"
                                      "workflow W {\n  key id: string\n  start on A { goto S }\n  state S { on A { complete } }\n"
                                      "  state S { on B { goto Nowhere } }\n}");
    CHECK(has(summary, "7:9: error: duplicate state 'S': it is declared twice"));
    CHECK(has(summary, "unknown state 'Nowhere'"));         // unseen before
    CHECK(has(summary, "7:16: error: event 'B' cannot be correlated"));
    CHECK_FALSE(has(summary, "unused event 'B'"));         // it was told unused
}

TEST_CASE("a file whose only workflow is refused as a duplicate still gets its unused-declaration warnings") {
    const std::map<std::string, std::string> files = {
        {"a.flow", "event A { id: string }\nworkflow W { key id: string start on A { complete } }\n"},
        {"b.flow", "event B { id: string }\nevent Unused { id: string }\nworkflow W { key id: string start on B { complete } }\n"},
    };
    const std::string found = test::summary(compile_sources(files));
    CHECK(has(found, "3:10: error: duplicate workflow 'W'"));
    CHECK(has(found, "2:7: warning: unused event 'Unused': it is declared but never used"));  // it had none
    CHECK_FALSE(has(found, "unused event 'B'"));  // the refused workflow's uses count
}

TEST_CASE("a variable declared twice has its second type and initializer checked too") {
    const std::string summary = check("event A { id: string }\nworkflow W {\n  key id: string\n  var x: int = 1\n"
                                      "  var x: int = \"s\" + 1\n  var y: Nope = null\n  var y: Nada? = null\n  start on A { complete }\n}");
    CHECK(has(summary, "5:7: error: duplicate variable 'x': it is declared twice"));
    CHECK(has(summary, "5:20: error: operator '+' cannot combine string and int"));  // unseen before
    CHECK(has(summary, "unknown type 'Nada'"));
}
