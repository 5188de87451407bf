// The grammar: what parses, and syntax errors in the user's words at the right place.
#include "dsl/parser.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <utility>

using namespace flow;

namespace {

std::string syntax_errors(const std::string& text) {
    Source source("s.flow", text);
    Diagnostics diagnostics;
    parse_source(source, diagnostics);
    std::string out;
    for (const Diagnostic& d : diagnostics.all())
        out += std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message + "\n";
    return out;
}

// The lines of `text` in order (diagnostics by position, as flowc prints them sorted).
std::string sorted_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line + "\n");
    std::sort(lines.begin(), lines.end(), [](const std::string& a, const std::string& b) {
        auto key = [](const std::string& l) { return std::pair(std::stoi(l), std::stoi(l.substr(l.find(':') + 1))); };
        return key(a) < key(b);
    });
    std::string out;
    for (const auto& line : lines) out += line;
    return out;
}

std::size_t declaration_count(const std::string& text) {
    Source source("s.flow", text);
    Diagnostics diagnostics;
    return parse_source(source, diagnostics).declarations.size();
}

}  // namespace

TEST_CASE("declarations of every kind parse") {
    const char* text = R"(
        import "other.flow"
        type Money { amount: number, currency: string, }
        event Paid "com.acme.paid.v1" { id: string, note?: string, at: time, tags: list<list<string>> }
        command Charge to payments { id: string }
        workflow W { key id: string  start on Paid { complete } }
    )";
    CHECK(syntax_errors(text) == "");
    CHECK(declaration_count(text) == 5);
}

TEST_CASE("comments are white space") {
    CHECK(syntax_errors("// a line\n/* a block\n over lines */ type T { a: int } // end") == "");
}

TEST_CASE("a missing brace names the block it should close and what was found") {
    CHECK(syntax_errors("event A { id: string }\nworkflow W {\n  key id: string\n  start on A {\n    goto S\n    state S { }\n}\n") ==
          "6:5: expected '}' to close the start handler for 'A', found 'state'\n");
    CHECK(syntax_errors("workflow W {\n  state S {\n    on A { complete }\n") ==
          "4:1: expected '}' to close state 'S', found the end of the file\n");
}

TEST_CASE("recovery at declarations reports every broken declaration") {
    std::string text = "type A { x: }\nevent B { id: string }\ntype C { y int }\n";
    CHECK(syntax_errors(text) == "1:13: expected a type, found '}'\n3:12: expected ':', found 'int'\n");
    CHECK(declaration_count(text) == 1);
}

TEST_CASE("a workflow missing its closing brace does not swallow the next declaration") {
    std::string text = "workflow W {\n  key id: string\nevent E { id: string }\n";
    CHECK(syntax_errors(text) == "3:1: expected '}' to close workflow 'W', found 'event'\n");
    CHECK(declaration_count(text) == 1);
}

TEST_CASE("keywords cannot name things, but fields may be keywords") {
    CHECK(syntax_errors("type state { a: int }") != "");
    CHECK(syntax_errors("type T { state: int, on: string, key: bool }") == "");
}

TEST_CASE("a command's target may be any name, a keyword included: it names an endpoint, not a thing of the file") {
    CHECK(syntax_errors("command C to start { id: string }") == "");
    CHECK(syntax_errors("command C to event { id: string } command D to to {}") == "");
    CHECK(syntax_errors("command C to { id: string }") != "");  // a target there must be
}

TEST_CASE("the key's name is a field name, so it may be a keyword; a var may not") {
    CHECK(syntax_errors("workflow W { key type: string }") == "");
    CHECK(syntax_errors("workflow W { key if: int }") == "");
    CHECK(syntax_errors("workflow W { key id: string var type: int = 1 }") ==
          "1:33: 'type' is a keyword and cannot name a variable\n");
}

TEST_CASE("strings: escapes and unterminated strings") {
    CHECK(syntax_errors(R"(event E "a\"b\\c\n\t\u{1F600}" { id: string })") == "");
    CHECK(syntax_errors("event E \"abc\n{ id: string }") == "1:9: unterminated string: expected '\"' before the end of the line\n");
    CHECK(syntax_errors(R"(event E "\q" { id: string })") != "");
}

TEST_CASE("a \\u{…} escape that names no character is a syntax error, reported with the file's others") {
    CHECK(syntax_errors(R"(event E "ok \u{110000}" { id: string })") == "1:13: '\\u{110000}' names no Unicode character\n");
    CHECK(syntax_errors(R"(event E "\u{D800}" { id: string })") ==
          "1:10: '\\u{D800}' is a UTF-16 surrogate, which names no Unicode character\n");
    CHECK(syntax_errors(R"(event E "\u{0001F600}" { id: string })") ==
          "1:10: '\\u{0001F600}' has 8 hex digits: a \\u{…} escape takes 1 to 6\n");
    CHECK(syntax_errors(R"(event E "\u{10FFFF}\u{0}\u{d7ff}\u{E000}" { id: string })") == "");
    // Each bad one of a string, and those of a declaration that fails on a later syntax error.
    CHECK(sorted_lines(syntax_errors("event E \"\\u{DFFF}\\u{41}\\u{1100000}\" { id: string }\n"
                                     "workflow W { key id: string start on E { let a = \"\\u{110000}\" fail } }\n"
                                     "command C payments { id: string }")) ==
          "1:10: '\\u{DFFF}' is a UTF-16 surrogate, which names no Unicode character\n"
          "1:24: '\\u{1100000}' has 7 hex digits: a \\u{…} escape takes 1 to 6\n"
          "2:51: '\\u{110000}' names no Unicode character\n"
          "2:68: expected an expression, found '}'\n"
          "3:11: expected 'to', found 'payments'\n");
}

TEST_CASE("an unterminated block comment is reported") {
    CHECK(syntax_errors("type T { a: int }\n/* never closed") == "2:1: this comment is never closed: expected '*/'\n");
    // Inside a workflow too, and what the comment holds is not read as members.
    CHECK(syntax_errors("workflow W { key id: string\n start on A { complete } /* never\n state S { on B { x } }") ==
          "2:26: this comment is never closed: expected '*/'\n");
    // Right after an operand, where '/' could be a division.
    CHECK(syntax_errors("workflow W { start on A { let x = 1 /* never closed\n complete } }") ==
          "1:37: this comment is never closed: expected '*/'\n");
    CHECK(syntax_errors("workflow W { start on A { let x = 1 /* closed */ / 2 /* closed */ complete } }") == "");
}


TEST_CASE("after if, a record literal needs parentheses so that '{' opens the block") {
    CHECK(syntax_errors("workflow W { start on E { if ready { complete } } }") == "");
    CHECK(syntax_errors("workflow W { start on E { if (T { a: 1 }) == x { complete } } }") == "");
    CHECK(syntax_errors("workflow W { start on E { let t = T { a: 1 } complete } }") == "");
}

TEST_CASE("a trailing comma follows an element: a lone comma is no empty list") {
    CHECK(syntax_errors("type T { a: int, } command C to t { a: int, }") == "");
    CHECK(syntax_errors("workflow W { var xs: list<int> = [1, 2,] start on E { emit C { a: max(1, 2,), } complete } }") == "");
    CHECK(syntax_errors("type T { , }") == "1:10: expected '}' to close type 'T', found ','\n");
    CHECK(syntax_errors("command C to t { , }") == "1:18: expected '}' to close command 'C', found ','\n");
    CHECK(syntax_errors("workflow W { var xs: list<int> = [,] }") == "1:35: expected ']', found ','\n");
    CHECK(syntax_errors("workflow W { start on E { emit C { , } complete } }") ==
          "1:36: expected '}' to close the fields of 'C', found ','\n");
    CHECK(syntax_errors("workflow W { start on E { fail str(now(,)) } }") == "1:40: expected ')', found ','\n");
}

TEST_CASE("garbage at the top level is an error naming what a file may hold") {
    CHECK(syntax_errors("42") ==
          "1:1: expected a declaration ('import', 'type', 'event', 'command' or 'workflow'), found '42'\n");
}

TEST_CASE("a syntax error spans the word it found, or one character") {
    auto spans = [](const std::string& text) {
        Source source("s.flow", text);
        Diagnostics diagnostics;
        parse_source(source, diagnostics);
        std::string out;
        for (const Diagnostic& d : diagnostics.all())
            out += std::to_string(d.line) + ":" + std::to_string(d.column) + "-" + std::to_string(d.end_line) + ":" +
                   std::to_string(d.end_column) + "\n";
        return out;
    };
    CHECK(spans("event A { id: string }\nworkflow W {\n  key id: string\n  start on A {\n    goto S\n  \n  state S { on A { complete } }\n}\n") ==
          "7:3-7:8\n");  // found 'state'
    CHECK(spans("type T { a: int ; }") == "1:17-1:18\n");  // found ';'
    CHECK(spans("type T { a: int") == "1:16-1:16\n");     // the end of the file
    // A number is underlined with what sticks to it, an escape with its backslash.
    const std::string head = "event A { id: string }\nworkflow W { key id: string start on A { ";
    CHECK(spans(head + "let d = 1.25s } }") == "2:50-2:55\n");
    CHECK(spans(head + "fail \"a\\qb\" } }") == "2:49-2:51\n");
}

TEST_CASE("a syntax error names what was expected in words, never a C++ type") {
    const std::string event = "event A { id: string }\n";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"command C payments { id: string }", "1:11: expected 'to', found 'payments'"},
        {event + "workflow W { key id: string correlate A id }", "2:41: expected 'by', found 'id'"},
        {event + "workflow W { key id: string start A { complete } }", "2:35: expected 'on', found 'A'"},
        {event + "workflow W { key id: string correlate A by 1 }", "2:44: expected a field name, found '1'"},
        {"type T { a: list<> }", "1:18: expected a type, found '>'"},
        {event + "workflow W { key id: string start on A { fail () } }", "2:48: expected an expression, found ')'"},
        {event + "workflow W { key id: string start on A { fail \"x\" + key[] } }", "2:57: expected an expression, found ']'"},
        {event + "workflow W { key id: string start on A { fail \"\\u{}\" } }", "2:48: '\\u{}' has 0 hex digits: a \\u{…} escape takes 1 to 6"},
        {event + "workflow W { key id: string start on A { fail \"\\u{zz}\" } }", "2:48: '\\u{zz}' takes hex digits only"},
        {event + "workflow W { key id: string start on A { fail \"\\u\" } }", "2:48: '\\u' takes hex digits in braces: \\u{…}"},
        {"event event { id: string }", "1:7: 'event' is a keyword and cannot name an event"},
        {event + "workflow W { state S { after { complete } } }", "2:30: expected a duration, such as 15m, found '{'"},
        {event + "workflow W { key id: string start on A { let d = 1.5s } }", "2:50: expected an expression, found '1.5s' (a duration counts whole units: write 1s500ms, not 1.5s)"},
        {event + "workflow W { state S { after 2.5m { complete } } }", "2:30: expected a duration, such as 15m, found '2.5m' (a duration counts whole units: write 2m30s, not 2.5m)"},
        {event + "workflow W { state S { after 1.5d { complete } } }", "found '1.5d' (a duration counts whole units: write 1d12h, not 1.5d)"},
        {event + "workflow W { state S { after 0.25s { complete } } }", "found '0.25s' (a duration counts whole units: write 250ms, not 0.25s)"},
        {event + "workflow W { state S { after 1.5ms { complete } } }", "found '1.5ms' (a duration counts whole units, and the smallest unit is ms)"},
        {event + "workflow W { key id: string start on A { let n = 2.5e } }", "2:50: expected an expression, found '2.5e' (a number's exponent needs digits: 2.5e3, 2.5e-3)"},
        {event + "workflow W { key id: string start on A { let n = 2.5e+ } }", "found '2.5e+' (a number's exponent needs digits"},
        {event + "workflow W { key id: string start on A { let n = 1. } }", "2:50: expected an expression, found '1.' (a number needs digits after its '.': write 1.0)"},
        {event + "workflow W { key id: string start on A { let n = 5.e3 } }", "found '5.' (a number needs digits after its '.': write 5.0)"},
        {event + "workflow W { key id: string start on A { let n = 1e3 } }", "found '1e3' (a number with an exponent needs a fraction: write 1.0e3)"},
        {event + "workflow W { key id: string start on A { let n = 123e-2 } }", "2:50: expected an expression, found '123e-2' (a number with an exponent needs a fraction: write 123.0e-2)"},
        {event + "workflow W { key id: string start on A { let n = 1E+3 } }", "found '1E+3' (a number with an exponent needs a fraction: write 1.0E+3)"},
        {event + "workflow W { key id: string start on A { let n = 1e-x } }", "found '1e' (a number with an exponent needs a fraction and the exponent's digits: 1.0e3, 1.0e-3)"},
        {event + "workflow W { key id: string start on A { let n = 1e - 3 } }", "found '1e' (a number with an exponent needs a fraction"},
        {event + "workflow W { key id: string start on A { let n = 12abc } }", "2:50: expected an expression, found '12abc'\n"},
        {event + "workflow W { state S { at { complete } } }", "2:27: expected a time, such as now() + 1d, found '{'"},
    };
    for (const auto& entry : cases) {
        const auto& text = std::get<0>(entry);
        const auto& expected = std::get<1>(entry);
        std::string errors = syntax_errors(text);
        CHECK_MESSAGE(errors.find(expected) != std::string::npos, text, "\n", errors);
        CHECK_MESSAGE(errors.find("spirit") == std::string::npos, errors);
        CHECK_MESSAGE(errors.find("boost") == std::string::npos, errors);
    }
}

TEST_CASE("recovery within a workflow: each broken member is reported, the sound ones are not") {
    const std::string text = "event A { id: string }\n"
                             "workflow W {\n"
                             "  key id: string\n"
                             "  start on A { goto S ) }\n"
                             "  state S {\n"
                             "    on A { complete }\n"
                             "    after 1h { fail \"late\" + }\n"
                             "  }\n"
                             "  state T { on A { goto } }\n"
                             "  state U { on A { complete } }\n"
                             "}\n"
                             "event B { id: string";
    std::string errors = syntax_errors(text);
    CHECK(errors.find("4:23: expected '}' to close the start handler for 'A', found ')'") != std::string::npos);
    CHECK(errors.find("7:30: expected an expression, found '}'") != std::string::npos);
    CHECK(errors.find("9:25: expected a state name, found '}'") != std::string::npos);
    CHECK(errors.find("12:") != std::string::npos);  // and the next declaration is read again
    CHECK(std::count(errors.begin(), errors.end(), '\n') == 4);
}

TEST_CASE("recovery within a workflow reads the member that starts the line after a sound one") {
    // A sound member read during recovery ends where the next one may begin, on the next line or
    // on its own: that one is read too.
    const std::string text = "event A { id: string }\n"
                             "workflow W { key id: string\n"
                             "  start on A { goto S }\n"
                             "  state S { on A { let = 1 } }\n"
                             "  state Q { on A { complete } }\n"
                             "  state R { on A { let = 2 } }\n"
                             "  state T { on A { complete } } state U { on A { let = 3 } }\n"
                             "  state V { on A { let = 4 } }\n"
                             "}\n";
    std::string errors = syntax_errors(text);
    CHECK(errors.find("4:24: expected a variable name, found '='") != std::string::npos);
    CHECK(errors.find("6:24: expected a variable name, found '='") != std::string::npos);
    CHECK(errors.find("7:54: expected a variable name, found '='") != std::string::npos);  // after a sound member
    CHECK(errors.find("8:24: expected a variable name, found '='") != std::string::npos);
    CHECK(std::count(errors.begin(), errors.end(), '\n') == 4);
}

TEST_CASE("recovery within a workflow reports what follows a sound member and is none, in a workflow and in a state") {
    const std::string text = "event T { tripId: string }\n"
                             "workflow Trips {\n"
                             "  key tripId: string\n"
                             "  var n: int = 1 2\n"
                             "  var grace: duration = 2h 30m\n"
                             "  state Waiting { after 1h { fail \"timeout\" } } extra\n"
                             "  state Held { after 1h { complete } on T { complete } stray }\n"
                             "  start on T { goto Waiting } more\n"
                             "}\n";
    CHECK(syntax_errors(text) == "4:18: expected '}' to close workflow 'Trips', found '2'\n"
                                 "5:28: expected '}' to close workflow 'Trips', found '30m'\n"
                                 "6:49: expected '}' to close workflow 'Trips', found 'extra'\n"
                                 "7:56: expected '}' to close state 'Held', found 'stray'\n"
                                 "8:31: expected '}' to close workflow 'Trips', found 'more'\n");  // before, only the first
    // A comment never closed after a sound member is told as such, and ends the reading.
    CHECK(syntax_errors("event A { id: string }\nworkflow W { key id: string\n  start on A { x = }\n"
                        "  state S { on A { complete } } /* note") ==
          "3:20: expected an expression, found '}'\n4:33: this comment is never closed: expected '*/'\n");
}

TEST_CASE("recovery within a workflow reads the member that starts the line the error was found on") {
    // `key id` misses its ':': the error is found at the `var` of the next line, whose own
    // error is reported too.
    CHECK(syntax_errors("event A { id: string }\nworkflow W {\n  key id\n  var n int = 0\n  start on A { complete }\n}\n") ==
          "4:3: expected ':', found 'var'\n4:9: expected ':', found 'int'\n");
    // A state never closed, then the next state, itself broken.
    CHECK(syntax_errors("event A { id: string }\nworkflow W { key id: string start on A { goto S }\n"
                        "  state S { on A { complete }\n  state T { on A { goto } }\n}\n") ==
          "4:3: expected '}' to close state 'S', found 'state'\n4:25: expected a state name, found '}'\n");
    // A broken member whose error is found at the next member's line, itself broken.
    CHECK(syntax_errors("event A { id: string }\nworkflow W { key id: string start on A { complete }\n"
                        "  var n: int\n  var m: int =\n  var k: int = 1\n}\n") ==
          "3:7: var 'n' has no initializer: every var needs '= value' (= null for an optional one), found 'var'\n"
          "5:3: expected an expression, found 'var'\n");
    // A var without its initializer is reported at its name, on its own line, whatever follows.
    CHECK(syntax_errors("event A { id: string }\nworkflow W {\n  key id: string\n  var v: list<int>?\n  start on A { complete }\n}\n") ==
          "4:7: var 'v' has no initializer: every var needs '= value' (= null for an optional one), found 'start'\n");
    // A let without its `=` keeps the general message.
    CHECK(syntax_errors("event A { id: string }\nworkflow W { key id: string\n  start on A { let x\n complete }\n}\n") ==
          "4:2: expected '=', found 'complete'\n");
}

TEST_CASE("recovery within a handler reads the statements on the lines after a broken one") {
    const std::string text = "event A { id: string }\ncommand C to c { id: string, n: int }\n"
                             "workflow W { key id: string\n"
                             "  var x: int = 0\n"
                             "  start on A {\n"
                             "    x = = 1\n"
                             "    x = * 2\n"
                             "    let ok = x + 1\n"
                             "    if ok > 1 {\n"
                             "      emit C { id: key, n: }\n"
                             "    }\n"
                             "    letter = 3 goto\n"
                             "    complete\n"
                             "  }\n"
                             "  state S { on A { fail } }\n"
                             "}\n";
    CHECK(syntax_errors(text) == "6:9: expected an expression, found '='\n"
                                 "7:9: expected an expression, found '*'\n"
                                 "10:28: expected an expression, found '}'\n"
                                 "13:5: 'complete' is a keyword and cannot name a state\n"
                                 "15:25: expected an expression, found '}'\n");
    // A field named like a statement's keyword starts no statement; comments are skipped.
    CHECK(syntax_errors("event A { id: string }\ncommand C to c { complete: int, fail: int }\n"
                        "workflow W { key id: string start on A {\n"
                        "    emit C { complete: = 1,\n      fail: 2 }\n    /* if this\n       goto there */\n"
                        "    complete } }\n") == "4:24: expected an expression, found '='\n");
}

TEST_CASE("recovery within a handler reports what follows a sound statement and is none") {
    // Each would be reported on a first reading; after an earlier error they were skipped.
    const std::string alone = " (an expression alone is not a statement: a statement is an assignment 'name = …', 'let', "
                              "'emit', 'compensate', 'if', 'goto', 'complete', 'fail' or 'cancel')\n";
    const std::string text = "event A { id: string }\ncommand C to out { id: string }\n"
                             "workflow W { key id: string\n"
                             "  start on A {\n"
                             "    emit C { id: }\n"
                             "    let r = 1 2\n"
                             "    let s = 3\n"
                             "    len(\"x\")\n"
                             "    if r > 1 { let t = 2 t }\n"
                             "    complete\n"
                             "  }\n"
                             "}\n";
    CHECK(syntax_errors(text) == "5:18: expected an expression, found '}'\n"
                                 "6:15: expected '}' to close the start handler for 'A', found '2'" + alone +
                                 "8:5: expected '}' to close the start handler for 'A', found 'len' (a call is not a statement: "
                                 "use its value, as in 'let x = len(…)')\n"
                                 "9:26: expected '}' to close the 'if' block, found 't'" + alone);
    // The line alone, on a first reading: the same position and message.
    CHECK(syntax_errors("event A { id: string }\nworkflow W { key id: string\n  start on A {\n    let r = 1 2\n    complete\n  }\n}\n") ==
          "4:15: expected '}' to close the start handler for 'A', found '2'" + alone);
}

TEST_CASE("recovery resumes at no line inside a block comment, nor at a field named like a keyword") {
    CHECK(syntax_errors("type T { a int }\n/*\n   event handling notes:\n   workflow overview goes here\n*/\nevent E { id: string }\n") ==
          "1:12: expected ':', found 'int'\n");
    CHECK(syntax_errors("event A { id: string }\nworkflow W { key id: string start on A { goto S ) }\n"
                        "  /* state machine notes:\n     on retry we wait\n     state of the art */\n"
                        "  state S { on A { complete } }\n}\n") ==
          "2:49: expected '}' to close the start handler for 'A', found ')'\n");
    CHECK(syntax_errors("type T {\n  a: int b: int,\n  state: string,\n  event: string\n}\n") ==
          "2:10: expected ',' between fields or '}' to close type 'T', found 'b'\n");
    // The comma is named wherever fields follow one another: an optional field, an emit's fields.
    CHECK(syntax_errors("event E { id: string note?: string }\n") == "1:22: expected ',' between fields or '}' to close event 'E', found 'note'\n");
    CHECK(syntax_errors("event A { id: string }\ncommand C to c { a: int, b: int }\n"
                        "workflow W { key id: string start on A { emit C { a: 1 b: 2 } complete } }\n") ==
          "3:56: expected ',' between fields or '}' to close the fields of 'C', found 'b'\n");
    // A name after a brace, or after a comma, is no missing comma.
    CHECK(syntax_errors("type T { a: int, b int }\n") == "1:20: expected ':', found 'int'\n");
    CHECK(syntax_errors("event A { id: string }\ncommand C to c { at: int, on?: int }\n"
                        "workflow W { key id: string start on A { emit C { x: = 1,\n   at: 1,\n   on: 2 } complete } }\n") ==
          "3:54: expected an expression, found '='\n");
}

TEST_CASE("every bad escape of every string is reported, and the parse goes on past them") {
    const std::string text = "event A { id: string }\n"
                             "workflow W { key id: string start on A { fail \"\\q \\u{D800} \\z\" + \"\\y\\\u00e9\" } }\n"
                             "event B { id: string, n: }\n";
    CHECK(sorted_lines(syntax_errors(text)) == "2:48: invalid escape '\\q': write \\\" \\\\ \\n \\t or \\u{hex}\n"
                                 "2:51: '\\u{D800}' is a UTF-16 surrogate, which names no Unicode character\n"
                                 "2:60: invalid escape '\\z': write \\\" \\\\ \\n \\t or \\u{hex}\n"
                                 "2:67: invalid escape '\\y': write \\\" \\\\ \\n \\t or \\u{hex}\n"
                                 "2:69: invalid escape '\\\u00e9': write \\\" \\\\ \\n \\t or \\u{hex}\n"
                                 "3:26: expected a type, found '}'\n");
    // Good escapes stay good beside them.
    CHECK(syntax_errors("event A { id: string }\nworkflow W { key id: string start on A { fail \"\\\" \\\\ \\n \\t \\u{1F600}\" } }\n") == "");
}

TEST_CASE("recovery takes `key` at the start of a line for a member only as `key name:`, and a string ends on its line") {
    // `key` as the instance's key, at the start of a line inside a broken handler, is no member.
    CHECK(syntax_errors("event A { id: string }\ncommand C to c { k: string }\nworkflow W { key id: string start on A {\n"
                        "    let n = 1 +\n    emit C { k:\n      key }\n    complete } }\n") ==
          "5:5: expected an expression, found 'emit'\n");
    // A backslash at the end of a string that is never closed does not carry it to the next line.
    CHECK(syntax_errors("event A { id: string }\nworkflow W { key id: string start on A {\n"
                        "    let s = \"abc\\\n    /* a comment\n    n = = 2\n    */\n    complete } }\n") ==
          "3:13: unterminated string: a '\\' at the end of the line escapes nothing, and a string ends on its line\n");  // and nothing inside the comment
}

TEST_CASE("a field named like a keyword does not name the block a missing brace should close") {
    CHECK(syntax_errors("event B { id: string, on: bool, at: bool }\nworkflow W { key id: string\n"
                        "  start on B as b when b.on { complete ) }\n}\n") ==
          "3:40: expected '}' to close the start handler for 'B', found ')'\n");
    CHECK(syntax_errors("event B { id: string, on: bool, at: bool }\nworkflow W { key id: string\n"
                        "  start on B as b { if b.at { complete ) } complete }\n}\n") ==
          "3:40: expected '}' to close the 'if' block, found ')'\n");
}

TEST_CASE("an assignment with a second '=' for its value is reported at that '='") {
    const std::string text = "event A { id: string }\n"
                             "workflow W { key id: string\n"
                             "  var x: int = 0\n"
                             "  start on A { goto S }\n"
                             "  state S { on A { x = = 2 } }\n"
                             "}\n";
    CHECK(syntax_errors(text) == "5:24: expected an expression, found '='\n");
    // A comparison standing as a statement is still no assignment.
    std::string comparison = syntax_errors("event A { id: string }\nworkflow W { key id: string\n  var x: int = 0\n"
                                           "  start on A { x == 2 }\n}\n");
    CHECK(comparison.find("4:16:") == 0);
}

TEST_CASE("a source that is not UTF-8 is refused at its first stray byte, and nothing of it is read") {
    // "café" in Latin-1: the é is one byte 0xE9, which starts no UTF-8 character.
    const std::string text = "event A { id: string }\nevent B { note: string } // caf\xE9\nevent C { ";
    CHECK(syntax_errors(text) ==
          "2:32: the byte 0xE9 starts no UTF-8 character: a source file must be UTF-8 text; nothing of this file was read\n");
    CHECK(declaration_count(text) == 0);
    // Valid UTF-8 (and a real U+FFFD) is text like any other.
    CHECK(syntax_errors("event A { note: string } // caf\xC3\xA9 \xEF\xBF\xBD\n").empty());
    CHECK(syntax_errors("event A { id: string } // \xED\xA0\x80\n").find("1:27: the byte 0xED") == 0);  // a surrogate
}

TEST_CASE("a character with no place in the grammar is named by its code point") {
    CHECK(syntax_errors("event A { caf\xC3\xA9: string }\n") ==
          "1:14: expected ':', found the character U+00E9 (names and keywords are ASCII letters, digits and '_')\n");
    CHECK(syntax_errors("event A {\xC2\xA0id: string }\n").find("found the character U+00A0") != std::string::npos);
    CHECK(syntax_errors(std::string("event A { id: string }\n\x01\n")).find("found the character U+0001\n") !=
          std::string::npos);
}

TEST_CASE("'on cancel' inside a state is told where it belongs") {
    const std::string in_state = "event A { id: string }\nworkflow W { key id: string\n  start on A { goto S }\n"
                                 "  state S { on A { complete } on cancel { complete } }\n}\n";
    CHECK(syntax_errors(in_state) ==
          "4:31: 'on cancel' is a handler of the workflow, not of a state: move it out of the state\n");
    // `start on cancel` names no event: the keyword message stands.
    CHECK(syntax_errors("event A { id: string }\nworkflow W { key id: string\n  start on cancel { complete }\n}\n") ==
          "3:12: 'cancel' is a keyword and cannot name an event\n");
}

TEST_CASE("what is no statement in a block of statements says why: an expression, a call, a field assigned, a misspelt keyword") {
    auto first_error = [](const std::string& statement, const std::string& block_open = "start on A {") {
        std::string errors = syntax_errors("event A { id: string }\nworkflow W {\n  key id: string\n  var n: int = 0\n  " + block_open +
                                           "\n    " + statement + "\n    complete\n  }\n}\n");
        return errors.substr(0, errors.find('\n'));
    };
    const std::string closing = "6:5: expected '}' to close the start handler for 'A', found ";
    const std::string statements = "a statement is an assignment 'name = …', 'let', 'emit', 'compensate', 'if', 'goto', "
                                   "'complete', 'fail' or 'cancel')";
    CHECK(first_error("len(\"x\")") == closing + "'len' (a call is not a statement: use its value, as in 'let x = len(…)')");
    CHECK(first_error("n == 1") == closing + "'n' (an expression alone is not a statement: " + statements);
    CHECK(first_error("42") == closing + "'42' (an expression alone is not a statement: " + statements);
    CHECK(first_error("(n)") == closing + "'(' (an expression alone is not a statement: " + statements);
    CHECK(first_error("m.a = 2") == closing + "'m' (a field or an element cannot be assigned on its own: assign the whole variable, 'm = …')");
    CHECK(first_error("xs[0] = 1") == closing + "'xs' (a field or an element cannot be assigned on its own: assign the whole variable, 'xs = …')");
    CHECK(first_error("m.a == 2") == closing + "'m' (an expression alone is not a statement: " + statements);
    CHECK(first_error("complet") == closing + "'complet' ('complet' is no statement; did you mean 'complete'?)");
    CHECK(first_error("emitt C {}") == closing + "'emitt' ('emitt' is no statement; did you mean 'emit'?)");
    // A name close to a keyword but used as an operand is an expression, not a misspelt keyword.
    CHECK(first_error("fails == 1") == closing + "'fails' (an expression alone is not a statement: " + statements);
    // Every block of statements names its kind; the hint is the same.
    CHECK(first_error("42", "start on A { goto S }\n  state S { entry {") ==
          "7:5: expected '}' to close the 'entry' block, found '42' (an expression alone is not a statement: " + statements);
    // A keyword, or a block of declarations, gets no hint.
    CHECK(first_error("state X {}") == closing + "'state'");
    CHECK(syntax_errors("event A { id: string 42 }\n").find("(") == std::string::npos);
}

TEST_CASE("a misspelt declaration or member keyword is told the keyword it is near") {
    CHECK(syntax_errors("evnt A { id: string }\n") ==
          "1:1: expected a declaration ('import', 'type', 'event', 'command' or 'workflow'), found 'evnt' (did you mean 'event'?)\n");
    CHECK(syntax_errors("thing A { id: string }\n").find("did you mean") == std::string::npos);  // near to none
    const std::string head = "event A { id: string }\nworkflow W {\n  key id: string\n";
    CHECK(syntax_errors(head + "  stat S { on A { complete } }\n}\n") ==
          "4:3: expected '}' to close workflow 'W', found 'stat' ('stat' is no member of a workflow; did you mean 'state'?)\n");
    CHECK(syntax_errors(head + "  stat on A { complete }\n}\n") ==
          "4:3: expected '}' to close workflow 'W', found 'stat' ('stat' is no member of a workflow; did you mean 'start'?)\n");
    CHECK(syntax_errors(head + "  start on A { goto S }\n  state S { aftr 1h { complete } }\n}\n") ==
          "5:13: expected '}' to close state 'S', found 'aftr' ('aftr' is no member of a state; did you mean 'after'?)\n");
}

TEST_CASE("a record literal in a condition gets a hint that shows where its parentheses go, at the literal's type name") {
    const std::string decls = "type T { x: int }\nevent A { id: string, t: T }\nworkflow W { key id: string\n";
    const std::string found = "; without them, 'T {' opens the block and 'x' is found where '}' should close it\n";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"  start on A as a when a.t == T { x: 1 } { complete }\n}\n",
         "4:31: a record literal in the condition of 'when' must stand in parentheses: when x == (T { … }) { … }" + found},
        {"  start on A as a { if a.t == T { x: 1 } { complete } complete }\n}\n",
         "4:31: a record literal in the condition of 'if' must stand in parentheses: if x == (T { … }) { … }" + found},
        // Right after the keyword, the contract's own words.
        {"  start on A as a { if T { x: 1 } == a.t { complete } complete }\n}\n",
         "4:24: a record literal right after 'if' must stand in parentheses: if (T { … }) == x { … }" + found},
    };
    for (const auto& [workflow, error] : cases) CHECK(syntax_errors(decls + workflow) == error);
    // After `at`, with no comparison to show.
    const std::string at = "type Slot { at: time }\nevent A { id: string }\nworkflow W { key id: string\n"
                           "  start on A { goto S }\n  state S { at Slot { at: now() }.at { complete } }\n}\n";
    CHECK(syntax_errors(at) == "5:16: a record literal right after 'at' must stand in parentheses: (Slot { … }); without them, "
                               "'Slot {' opens the block and 'at' is found where '}' should close it\n");
    // A handler's own block that starts with a name and ':' after no guard gets no hint.
    CHECK(syntax_errors("event A { id: string }\nworkflow W { key id: string\n  start on A { x: 1 }\n}\n").find("(a record") ==
          std::string::npos);
}

TEST_CASE("a type with two '?' is told so, at the second, in a field, a type argument and a var") {
    const std::string text = "event E { id: string, n: int?? }\n"
                             "command C to t { a: list<int? ?> }\n"
                             "workflow W { key id: string\n"
                             "  var q: list<string>?? = null\n"
                             "  var r: int? = x ?? ?? 1\n"
                             "  start on E { complete } }\n";
    CHECK(syntax_errors(text) ==
          "1:30: a type takes one '?' at most: 'int?' may already be absent or null; found another '?'\n"
          "2:31: a type takes one '?' at most: 'int?' may already be absent or null; found another '?'\n"
          "4:23: a type takes one '?' at most: 'list<string>?' may already be absent or null; found another '?'\n"
          "5:22: expected an expression, found '?'\n");  // the operator '??' twice is no type
}

TEST_CASE("nested type arguments: read once per level, and refused past 100 open at once") {
    auto nested = [](int depth) {
        std::string type;
        for (int i = 0; i < depth; ++i) type += "list<";
        type += "int";
        for (int i = 0; i < depth; ++i) type += ">";
        return "event A { id: string, l: " + type + " }\n";
    };
    // Each level was read twice before (a lookahead, then the list): 60 levels took 2^60 reads.
    CHECK(syntax_errors(nested(60)).empty());
    CHECK(syntax_errors(nested(100)).empty());
    CHECK(syntax_errors(nested(101)) == "1:530: more than 100 type arguments are open here at once\n");
    // Far deeper than the stack would allow: the same error, no crash.
    CHECK(syntax_errors(nested(30000)) == "1:530: more than 100 type arguments are open here at once\n");
    CHECK(syntax_errors("event A { id: string, l: list<> }") == "1:31: expected a type, found '>'\n");
    CHECK(syntax_errors("event A { id: string, l: list<int,> }") == "1:34: expected '>', found ','\n");
}

TEST_CASE("a comment never closed spans its '/*'; a range over several lines is underlined to the end of its first") {
    Source source("s.flow", "type T { a: int }\n/* never closed");
    Diagnostics diagnostics;
    parse_source(source, diagnostics);
    REQUIRE(diagnostics.all().size() == 1);
    const Diagnostic& comment = diagnostics.all().front();
    CHECK(comment.end_line == 2);
    CHECK(comment.end_column == 3);
    CHECK(format_text(comment) == "s.flow:2:1: error: this comment is never closed: expected '*/'\n/* never closed\n^~\n");

    Source multi("m.flow", "  emit Log {\n    text: \"x\"\n  }\n");
    Diagnostics warnings;
    warnings.warning(Span{&multi, 2, 30}, "this statement is never reached");
    CHECK(format_text(warnings.all().front()) ==
          "m.flow:1:3: warning: this statement is never reached\n  emit Log {\n  ^~~~~~~~~~\n");
}

TEST_CASE("a string that is never closed, where no string may stand, is named as such") {
    CHECK(syntax_errors("event A { id: \"abc }\n") ==
          "1:15: expected a type, found a string that is never closed (a string ends on its line)\n");
    CHECK(syntax_errors("event A { id: \"abc\" }\n") == "1:15: expected a type, found a string\n");
}

TEST_CASE("a line ends at LF, CR LF or a lone CR: positions and the quoted line agree for all three") {
    for (const char* eol : {"\n", "\r\n", "\r"}) {
        const std::string name = eol[0] == '\r' ? (eol[1] ? "CR LF" : "CR") : "LF";
        INFO(name);
        const std::string e = eol;
        Source source("s.flow", "event A { id: string } // a comment" + e + "workflow W {" + e + "  key id: string" + e +
                                    "  start on A { goto Sx }" + e + "}" + e);
        const LineColumn at = source.locate(source.text().find("Sx"));
        CHECK(at.line == 4);
        CHECK(at.column == 21);
        CHECK(source.line(4) == "  start on A { goto Sx }");
        CHECK(source.line(1) == "event A { id: string } // a comment");
        Compilation c = test::compile_text(std::string(source.text()));
        CHECK(test::summary(c).find("4:21: error") != std::string::npos);
    }
    // Recovery and the scanners behind the messages read the same lines: each broken
    // declaration is reported, and a string never closed is named so, where it opens.
    const std::string broken = "// a \" in a comment\nevent A { id: }\nevent B { id: }\nevent C { id: \"abc }\n"
                               "workflow W { key id: string start on A { complete } }\n";
    const std::string lf = test::summary(test::compile_text(broken));
    CHECK(test::count(lf, "error") == 3);
    CHECK(lf.find("4:15: error: expected a type, found a string that is never closed") != std::string::npos);
    for (const char* eol : {"\r\n", "\r"}) {
        std::string text;
        for (char c : broken) text += c == '\n' ? std::string(eol) : std::string(1, c);
        CHECK(test::summary(test::compile_text(text)) == lf);
    }
}
