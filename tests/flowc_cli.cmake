# The flowc command line as users and scripts see it: exit statuses, output channels and
# formats. Run by ctest: cmake -DFLOWC=… -DSOURCE=… -P flowc_cli.cmake
function(run expected_status)
  execute_process(COMMAND ${FLOWC} ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL expected_status)
    message(FATAL_ERROR "flowc ${ARGN}: exit ${status}, expected ${expected_status}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()

function(expect_match text pattern what)
  if(NOT text MATCHES "${pattern}")
    message(FATAL_ERROR "${what}: '${pattern}' not found in:\n${text}")
  endif()
endfunction()

set(examples ${SOURCE}/examples)
set(invalid ${SOURCE}/tests/invalid)

# Usage errors and unreadable files exit 2.
run(2)
run(2 check)
run(2 frobnicate x.flow)
run(2 check --no-such-option ${examples}/trip_booking.flow)
run(2 check ${SOURCE}/does/not/exist.flow)
expect_match("${err}" "exist.flow:1:1: error: cannot read this file: no such file" "unreadable file")
# `-` is no file: flowc reads no standard input, and says so with the usage text.
run(2 check -)
expect_match("${err}" "flowc: - is not a file: flowc reads .flow files, not standard input" "check -")
expect_match("${err}" "usage:" "check - prints the usage")
run(2 simulate ${examples}/trip_booking.flow --events -)
expect_match("${err}" "--events takes a file: standard input is not read" "--events -")
run(0 --help)
expect_match("${out}" "flowc simulate" "help")
run(0 check --help)
expect_match("${out}" "flowc check" "help after a command")
run(0 simulate -h)
expect_match("${out}" "flowc simulate" "-h after a command")
# `--` ends the options: a file whose name starts with '-' can be named, `--help` after it too.
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/dashes)
file(COPY_FILE ${examples}/campaign_publishing.flow ${CMAKE_CURRENT_BINARY_DIR}/dashes/-draft.flow)
execute_process(COMMAND ${FLOWC} check -- -draft.flow WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/dashes
                RESULT_VARIABLE status ERROR_VARIABLE err)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "check -- -draft.flow: exit ${status}\n${err}")
endif()
run(2 check ${examples}/trip_booking.flow -- --help)
expect_match("${err}" "--help:1:1: error: cannot read this file" "--help after -- is a file")
run(2 check -- )
expect_match("${err}" "no .flow file given" "-- alone")
# An option's value is not the end of the options: `-o --` writes to a file named `--`, and a
# `--help` after it still prints the help.
run(0 compile ${examples}/campaign_publishing.flow -o -- --help)
expect_match("${out}" "flowc simulate" "--help after -o --")
# compile -o over one of its sources is refused, and the source is kept: named as given, by
# another path, or imported.
file(COPY_FILE ${examples}/campaign_publishing.flow ${CMAKE_CURRENT_BINARY_DIR}/dashes/own.flow)
file(READ ${CMAKE_CURRENT_BINARY_DIR}/dashes/own.flow own_before)
run(2 compile ${CMAKE_CURRENT_BINARY_DIR}/dashes/own.flow -o ${CMAKE_CURRENT_BINARY_DIR}/dashes/own.flow)
expect_match("${err}" "flowc: -o .*own.flow is the input .*own.flow: writing would replace the source" "-o over its input")
run(2 compile ${CMAKE_CURRENT_BINARY_DIR}/dashes/own.flow -o ${CMAKE_CURRENT_BINARY_DIR}/dashes/../dashes/own.flow)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/dashes/importer.flow "import \"own.flow\"\n")
run(2 compile ${CMAKE_CURRENT_BINARY_DIR}/dashes/importer.flow -o ${CMAKE_CURRENT_BINARY_DIR}/dashes/own.flow)
expect_match("${err}" "is the input .*own.flow" "-o over an imported source")
file(READ ${CMAKE_CURRENT_BINARY_DIR}/dashes/own.flow own_after)
if(NOT own_after STREQUAL own_before)
  message(FATAL_ERROR "compile -o over its source changed the source")
endif()

# check: diagnostics on stderr as text; --format json on stdout, agreeing with the text.
run(0 check ${examples}/trip_booking.flow)
run(1 check ${invalid}/unknown_state.flow)
expect_match("${err}" "unknown_state.flow:13:10: error: unknown state 'AwaitingPublishr'" "text diagnostic")
expect_match("${err}" "\n    goto AwaitingPublishr\n         \\^~+\n" "source line and caret")
run(1 check ${invalid}/type_mismatch.flow)
run(1 check --werror ${invalid}/unreachable_state.flow)  # a warning fails under --werror, in text too
expect_match("${err}" "warning: state 'Orphan' is unreachable" "check --werror prints the warning")
run(1 check --format json ${invalid}/unknown_state.flow)
string(JSON valid GET "${out}" valid)
string(JSON errors GET "${out}" error_count)
string(JSON line GET "${out}" diagnostics 0 line)
string(JSON column GET "${out}" diagnostics 0 column)
string(JSON message GET "${out}" diagnostics 0 message)
if(NOT valid STREQUAL "OFF" OR NOT errors EQUAL 1 OR NOT line EQUAL 13 OR NOT column EQUAL 10)
  message(FATAL_ERROR "json diagnostics disagree with the text: ${out}")
endif()
expect_match("${message}" "AwaitingPublishr" "json message")
# Every field the contract names, with values that agree with the text.
string(JSON severity GET "${out}" diagnostics 0 severity)
string(JSON file GET "${out}" diagnostics 0 file)
string(JSON end_line GET "${out}" diagnostics 0 end_line)
string(JSON end_column GET "${out}" diagnostics 0 end_column)
string(JSON warnings GET "${out}" warning_count)
if(NOT severity STREQUAL "error" OR NOT warnings EQUAL 0 OR NOT end_line EQUAL 13 OR NOT end_column GREATER column)
  message(FATAL_ERROR "json diagnostic fields: ${out}")
endif()
expect_match("${file}" "unknown_state\\.flow$" "json file")
# A warning alone: valid, exit 0, counted as a warning.
run(0 check --format json ${invalid}/unreachable_state.flow)
string(JSON valid GET "${out}" valid)
string(JSON warnings GET "${out}" warning_count)
string(JSON errors GET "${out}" error_count)
string(JSON severity GET "${out}" diagnostics 0 severity)
if(NOT valid STREQUAL "ON" OR warnings LESS 1 OR NOT errors EQUAL 0 OR NOT severity STREQUAL "warning")
  message(FATAL_ERROR "json warning: ${out}")
endif()
run(1 check --werror --format json ${invalid}/unreachable_state.flow)
string(JSON valid GET "${out}" valid)
if(NOT valid STREQUAL "OFF")
  message(FATAL_ERROR "--werror with a warning must say valid: false: ${out}")
endif()
run(1 check --format=json --werror ${invalid}/unreachable_state.flow)  # the --flag=value form
run(2 check --werror=yes ${invalid}/unreachable_state.flow)
run(0 check --format json ${examples}/campaign_publishing.flow)
string(JSON valid GET "${out}" valid)
if(NOT valid STREQUAL "ON")
  message(FATAL_ERROR "a valid file is not valid in json: ${out}")
endif()

# compile: the IR as JSON, to stdout or a file.
run(0 compile ${examples}/campaign_publishing.flow)
string(JSON format GET "${out}" format)
string(JSON name GET "${out}" workflows 0 name)
if(NOT format STREQUAL "flow-ir/1" OR NOT name STREQUAL "CampaignPublishing")
  message(FATAL_ERROR "compile output: ${out}")
endif()
run(1 compile ${invalid}/type_mismatch.flow)
# --werror applies to compile and graph as to check: a warning fails, and nothing is written.
file(REMOVE ${CMAKE_CURRENT_BINARY_DIR}/warned.json)
run(1 compile --werror ${invalid}/unreachable_state.flow -o ${CMAKE_CURRENT_BINARY_DIR}/warned.json)
if(EXISTS ${CMAKE_CURRENT_BINARY_DIR}/warned.json)
  message(FATAL_ERROR "compile --werror wrote its output despite a warning")
endif()
run(0 compile ${invalid}/unreachable_state.flow -o ${CMAKE_CURRENT_BINARY_DIR}/warned.json)
run(1 graph --werror ${invalid}/unreachable_state.flow)
if(NOT out STREQUAL "")
  message(FATAL_ERROR "graph --werror drew despite a warning: ${out}")
endif()
file(REMOVE ${CMAKE_CURRENT_BINARY_DIR}/compiled.json)
run(0 compile ${examples}/campaign_publishing.flow -o ${CMAKE_CURRENT_BINARY_DIR}/compiled.json)
if(NOT out STREQUAL "")
  message(FATAL_ERROR "compile -o also wrote to stdout: ${out}")
endif()
file(READ ${CMAKE_CURRENT_BINARY_DIR}/compiled.json written)
string(JSON format GET "${written}" format)
if(NOT format STREQUAL "flow-ir/1")
  message(FATAL_ERROR "compile -o wrote: ${written}")
endif()

# A write to -o that fails part way (the file-size limit standing in for a full disk) leaves
# the file as it was, and no partial file beside it; so does one to a folder.
set(kept ${CMAKE_CURRENT_BINARY_DIR}/kept.json)
file(WRITE ${kept} "old")
execute_process(COMMAND sh -c "trap '' XFSZ; ulimit -f 4; exec \"$0\" compile \"$1\" -o \"$2\""
                        ${FLOWC} ${examples}/trip_booking.flow ${kept}
                RESULT_VARIABLE status ERROR_VARIABLE err)
file(READ ${kept} still)
file(GLOB partials ${kept}.partial-*)
if(NOT status EQUAL 2 OR NOT still STREQUAL "old" OR partials)
  message(FATAL_ERROR "a failed -o write: exit ${status}, file now '${still}', left ${partials}\n${err}")
endif()
expect_match("${err}" "flowc: cannot write .*kept.json" "a failed -o write")
run(2 compile ${examples}/trip_booking.flow -o ${CMAKE_CURRENT_BINARY_DIR})
expect_match("${err}" "flowc: cannot write" "-o a folder")
file(GLOB partials ${CMAKE_CURRENT_BINARY_DIR}.partial-*)
if(partials)
  message(FATAL_ERROR "-o a folder left ${partials}")
endif()

# -o a device or through a symbolic link writes to it, not over it.
if(EXISTS /dev/null)
  run(0 compile ${examples}/trip_booking.flow -o /dev/null)
endif()
set(real ${CMAKE_CURRENT_BINARY_DIR}/real.json)
set(link ${CMAKE_CURRENT_BINARY_DIR}/link.json)
file(WRITE ${real} "old")
file(REMOVE ${link})
file(CREATE_LINK ${real} ${link} SYMBOLIC RESULT linked)
if(linked STREQUAL "0")
  run(0 compile ${examples}/trip_booking.flow -o ${link})
  file(READ ${real} through)
  string(JSON format GET "${through}" format)
  if(NOT IS_SYMLINK ${link} OR NOT format STREQUAL "flow-ir/1")
    message(FATAL_ERROR "-o through a symbolic link replaced the link or missed its file")
  endif()
endif()

# A file under two names (a hard link) is read once, as a file named twice is.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/linked.flow "event A { id: string }\nworkflow L { key id: string start on A { complete } }\n")
file(REMOVE ${CMAKE_CURRENT_BINARY_DIR}/hard.flow)
file(CREATE_LINK ${CMAKE_CURRENT_BINARY_DIR}/linked.flow ${CMAKE_CURRENT_BINARY_DIR}/hard.flow RESULT linked)
if(linked STREQUAL "0")
  run(0 check ${CMAKE_CURRENT_BINARY_DIR}/linked.flow ${CMAKE_CURRENT_BINARY_DIR}/hard.flow ${CMAKE_CURRENT_BINARY_DIR}/linked.flow)
endif()

# --version and the bare word help.
run(0 --version)
expect_match("${out}" "^flowc [0-9]+\\.[0-9]+\\.[0-9]+ \\(Flow language 1\\)\n$" "--version")
run(0 help)
expect_match("${out}" "usage: flowc check" "help")
# A folder stands for the .flow files under it, as for flowd --flows: checked, compiled and
# simulated together. graph draws one file, and a folder is none.
run(0 check --werror ${examples})
run(1 check ${invalid})
expect_match("${err}" "invalid/syntax_error.flow:" "a folder's files are all checked")
expect_match("${err}" "invalid/unknown_state.flow:" "a folder's files are all checked")
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/folder_input/nested)
file(COPY_FILE ${examples}/campaign_publishing.flow ${CMAKE_CURRENT_BINARY_DIR}/folder_input/nested/campaign.flow)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/folder_input/notes.txt "not a source")
run(0 compile ${CMAKE_CURRENT_BINARY_DIR}/folder_input)
expect_match("${out}" "\"CampaignPublishing\"" "compile a folder")
run(0 simulate ${CMAKE_CURRENT_BINARY_DIR}/folder_input --events ${examples}/campaign_publishing.events.jsonl)
expect_match("${out}" "\"kind\": \"instance\"" "simulate a folder")
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/folder_empty)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/folder_empty/readme.txt "no source here")
run(2 check ${CMAKE_CURRENT_BINARY_DIR}/folder_empty)
expect_match("${err}" "flowc: .*folder_empty: no .flow file in this folder or under it" "a folder without sources")
run(2 graph ${examples})
expect_match("${err}" "examples:1:1: error: cannot read this file: it is a folder, not a file" "graph of a folder")
# graph on a file that declares no workflow.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/no_workflow.flow "event A { id: string }\n")
# Not an error (the events and commands other files import): an empty diagram and a note.
run(0 graph ${CMAKE_CURRENT_BINARY_DIR}/no_workflow.flow)
expect_match("${err}" "flowc: no workflow in .*no_workflow.flow: nothing to draw" "graph without a workflow")
if(NOT "${out}" STREQUAL "")
  message(FATAL_ERROR "graph without a workflow drew in dot: ${out}")
endif()
run(0 graph ${CMAKE_CURRENT_BINARY_DIR}/no_workflow.flow --format mermaid)
if(NOT "${out}" STREQUAL "stateDiagram-v2\n")
  message(FATAL_ERROR "graph without a workflow, mermaid: ${out}")
endif()
run(0 graph ${examples}/travel_messages.flow)
# compile -o with an error leaves a file already there as it was.
file(WRITE ${kept} "old")
run(1 compile ${invalid}/type_mismatch.flow -o ${kept})
file(READ ${kept} still)
if(NOT still STREQUAL "old")
  message(FATAL_ERROR "compile -o with an error changed the file: ${still}")
endif()
# simulate: files that do not compile exit 1, an unreadable one 2; warnings are printed and the
# run goes on.
run(1 simulate ${invalid}/type_mismatch.flow --events ${examples}/trip_booking.events.jsonl)
expect_match("${err}" "type_mismatch.flow:13:18: error:" "simulate of a file with an error")
run(2 simulate ${SOURCE}/does/not/exist.flow --events ${examples}/trip_booking.events.jsonl)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/empty.events.jsonl "")
run(0 simulate ${invalid}/unreachable_state.flow --events ${CMAKE_CURRENT_BINARY_DIR}/empty.events.jsonl)
expect_match("${err}" "warning: state 'Orphan' is unreachable" "simulate prints warnings")
# An events file with CRLF line ends reads as with LF ones.
file(READ ${examples}/campaign_publishing.events.jsonl lf_events)
string(REPLACE "\n" "\r\n" crlf_events "${lf_events}")
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/crlf.events.jsonl "${crlf_events}")
run(0 simulate ${examples}/campaign_publishing.flow --events ${examples}/campaign_publishing.events.jsonl)
set(lf_out "${out}")
run(0 simulate ${examples}/campaign_publishing.flow --events ${CMAKE_CURRENT_BINARY_DIR}/crlf.events.jsonl)
if(NOT out STREQUAL lf_out)
  message(FATAL_ERROR "simulate of CRLF events differs:\n${out}")
endif()
# A file name that is not ASCII is written as it is, in text and in JSON.
file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/café.flow" "event A { id: string }\nevent Zz { id: string }\n"
     "workflow W { key id: string start on A { complete } }\n")
run(0 check "${CMAKE_CURRENT_BINARY_DIR}/café.flow")
expect_match("${err}" "café.flow:2:7: warning: unused event 'Zz': it is declared but never used" "a non-ASCII name in text")
run(0 check --format json "${CMAKE_CURRENT_BINARY_DIR}/café.flow")
string(JSON named GET "${out}" diagnostics 0 file)
expect_match("${named}" "café.flow$" "a non-ASCII name in JSON")

# graph: dot by default, mermaid on request, one workflow by name.
run(0 graph ${examples}/ticket_lifecycle.flow)
expect_match("${out}" "digraph \"TicketLifecycle\"" "dot")
expect_match("${out}" "\"AwaitingAgent\" -> \"AwaitingCustomer\" \\[label=\"AgentReplied\"\\]" "dot edge")
run(0 graph ${examples}/ticket_lifecycle.flow --format mermaid --workflow TicketLifecycle)
expect_match("${out}" "stateDiagram-v2" "mermaid")
expect_match("${out}" "AwaitingCustomer --> \\[\\*\\] : after 7d" "mermaid end edge")
run(2 graph ${examples}/ticket_lifecycle.flow --workflow Nope)  # a name not in the file: a usage error
expect_match("${err}" "no workflow 'Nope'" "unknown workflow")
# Several workflows: Graphviz takes one graph after the other; Mermaid needs one diagram, so each
# workflow is a composite state, and two states of the same name stay apart.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/two.flow
  "event A { id: string }\nevent B { id: string }\n"
  "workflow First {\n  key id: string\n  start on A { goto Done }\n  state Done { on B { complete } }\n}\n"
  "workflow Second {\n  key id: string\n  start on B { goto Done }\n  state Done { on A { fail \"no\" } }\n}\n")
run(0 graph ${CMAKE_CURRENT_BINARY_DIR}/two.flow --format=mermaid)
string(REGEX MATCHALL "stateDiagram-v2" headers "${out}")
list(LENGTH headers header_count)
if(NOT header_count EQUAL 1)
  message(FATAL_ERROR "two workflows make ${header_count} Mermaid diagrams:\n${out}")
endif()
expect_match("${out}" "state \"First\" as First {\n        state \"Done\" as First__Done\n" "composite state")
expect_match("${out}" "        \\[\\*\\] --> Second__Done : B\n" "second workflow's start")
expect_match("${out}" "        Second__Done --> \\[\\*\\] : A / fail\n" "second workflow's end")
run(0 graph ${CMAKE_CURRENT_BINARY_DIR}/two.flow --format dot)
string(REGEX MATCHALL "digraph" graphs "${out}")
list(LENGTH graphs graph_count)
if(NOT graph_count EQUAL 2)
  message(FATAL_ERROR "two workflows make ${graph_count} dot graphs:\n${out}")
endif()
run(2 graph ${examples}/ticket_lifecycle.flow --format png)
# A state named like a Mermaid keyword gets an alias (Mermaid refuses `Note --> …`), and one named
# like Graphviz's start or end nodes does not merge with them.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/keywords.flow
  "event A { id: string }\nevent B { id: string }\n"
  "workflow W {\n  key id: string\n  start on A { goto Note }\n  state Note { on B { goto __completed } }\n"
  "  state __completed { on A { complete } }\n}\n")
run(0 graph ${CMAKE_CURRENT_BINARY_DIR}/keywords.flow --format mermaid)
expect_match("${out}" "stateDiagram-v2\n    state \"Note\" as Note_\n    \\[\\*\\] --> Note_ : A\n" "a keyword's alias")
expect_match("${out}" "    Note_ --> __completed : B\n" "an alias in a transition")
run(0 graph ${CMAKE_CURRENT_BINARY_DIR}/keywords.flow --format dot)
expect_match("${out}" "  __completed_ \\[shape=doublecircle" "an end node apart from the state")
expect_match("${out}" "\"__completed\" -> \"__completed_\" \\[label=\"A\"\\]" "a state's edge to the end")

# simulate: JSON lines on stdout; an invalid line names its number, the output so far stands.
run(0 simulate ${examples}/campaign_publishing.flow --events ${examples}/campaign_publishing.events.jsonl)
expect_match("${out}" "\"outcome\": \"duplicate\"" "simulate output")
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/broken.events.jsonl
  "{\"id\": \"e1\", \"type\": \"CampaignActivated\", \"time\": \"2026-06-01T08:00:00Z\", \"data\": {\"campaignId\": \"c\", \"advertising\": \"a\"}}\n"
  "{\"id\": \"e2\", \"type\": \"CampaignActivated\", \"data\": {\"campaignId\": 5, \"advertising\": \"a\"}}\n")
run(1 simulate ${examples}/campaign_publishing.flow --events ${CMAKE_CURRENT_BINARY_DIR}/broken.events.jsonl)
expect_match("${err}" "broken.events.jsonl: line 2: event 'CampaignActivated': data.campaignId expected string, got int" "line error")
expect_match("${out}" "\"event\": \"e1\"" "output so far")
run(2 simulate ${examples}/campaign_publishing.flow --events ${SOURCE}/no/such.jsonl)
expect_match("${err}" "cannot read .*no/such.jsonl: no such file" "missing events file, with its reason")
run(2 simulate ${examples}/campaign_publishing.flow)

# An option given an empty value is a usage error, not the option left out.
run(2 check --format= ${examples}/trip_booking.flow)
expect_match("${err}" "--format needs a value" "empty --format")
run(2 graph --workflow= ${examples}/ticket_lifecycle.flow)
run(2 compile ${examples}/trip_booking.flow -o "")
# An events "file" that is a directory cannot be read.
run(2 simulate ${examples}/campaign_publishing.flow --events ${examples})
expect_match("${err}" "cannot read .*: it is a folder, not a file" "events directory, with its reason")
# Output that cannot be written (a full disk) fails the command, as for `-o FILE`.
if(EXISTS /dev/full)
  foreach(command "compile;${examples}/trip_booking.flow" "compile;${examples}/trip_booking.flow;-o;-"
                  "check;--format;json;${examples}/trip_booking.flow" "graph;${examples}/ticket_lifecycle.flow"
                  "simulate;${examples}/campaign_publishing.flow;--events;${examples}/campaign_publishing.events.jsonl")
    execute_process(COMMAND ${FLOWC} ${command} RESULT_VARIABLE status OUTPUT_FILE /dev/full ERROR_VARIABLE err)
    if(NOT status EQUAL 2)
      message(FATAL_ERROR "flowc ${command} > /dev/full: exit ${status}, expected 2\n${err}")
    endif()
    expect_match("${err}" "cannot write the standard output" "a failed write to stdout")
  endforeach()
endif()

# Two workflows whose Mermaid ids an alias could make equal stay apart.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/aliases.flow
  "event A { id: string }\n"
  "workflow Note {\n  key id: string\n  start on A { goto S }\n  state S { on A { complete } }\n}\n"
  "workflow Note_ {\n  key id: string\n  start on A { goto S }\n  state S { on A { complete } }\n}\n")
run(0 graph ${CMAKE_CURRENT_BINARY_DIR}/aliases.flow --format mermaid)
expect_match("${out}" "state \"Note\" as Note__ {" "a keyword's alias apart from another workflow")
expect_match("${out}" "state \"Note_\" as Note_ {" "the other workflow")
# Names with `__` cannot make two states one: A's state B__C and A__B's state C.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/underscores.flow
  "event E { id: string }\n"
  "workflow A {\n  key id: string\n  start on E { goto B__C }\n  state B__C { on E { complete } }\n}\n"
  "workflow A__B {\n  key id: string\n  start on E { goto C }\n  state C { on E { complete } }\n}\n")
run(0 graph ${CMAKE_CURRENT_BINARY_DIR}/underscores.flow --format mermaid)
expect_match("${out}" "state \"B__C\" as A__B__C\n" "the first state keeps its id")
expect_match("${out}" "state \"C\" as A__B__C_2\n" "the second gets its own")
expect_match("${out}" "\\[\\*\\] --> A__B__C_2 : E\n" "and is drawn by it")
# Mermaid draws `[*]` as `root_start` and `root_end` outside any composite state, and as `X_start`
# and `X_end` inside one named X: a state or workflow of such a name gets another id. A state no
# arrow touches is declared, so that it is drawn; a workflow-level handler is drawn only from the
# states where it can be chosen.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/mermaid_ids.flow
  "event A { id: string }\nevent Quit { id: string }\n"
  "workflow X {\n  key id: string\n  start on A { goto root_end }\n  state root_end { on Quit { complete } on A { goto root } }\n"
  "  state root { on A { complete } }\n  state Idle { on A { fail \"x\" } }\n  on Quit { fail \"quit\" }\n}\n"
  "workflow X_end {\n  key id: string\n  start on A { goto S }\n  state S { on A { complete } }\n}\n"
  "workflow Y {\n  key id: string\n  start on A { goto Waiting }\n  state Waiting { on A { complete } }\n  state Lone { on Quit { } }\n}\n")
run(0 graph ${CMAKE_CURRENT_BINARY_DIR}/mermaid_ids.flow --format mermaid --workflow X)
expect_match("${out}" "    state \"root_end\" as root_end_\n    state \"root\" as root_\n" "aliases of Mermaid's own ids")
expect_match("${out}" "    \\[\\*\\] --> root_end_ : A\n" "an alias in a transition")
expect_match("${out}" "    root_ --> \\[\\*\\] : Quit \\(any state\\) / fail\n" "a workflow-level handler where it can be chosen")
if(out MATCHES "root_end_ --> \\[\\*\\] : Quit \\(any state\\)")
  message(FATAL_ERROR "a workflow-level handler drawn where the state's own always comes first:\n${out}")
endif()
run(0 graph ${CMAKE_CURRENT_BINARY_DIR}/mermaid_ids.flow --format dot --workflow X)
if(out MATCHES "\"root_end\" -> \"__failed\"")
  message(FATAL_ERROR "a workflow-level handler drawn where the state's own always comes first:\n${out}")
endif()
run(0 graph ${CMAKE_CURRENT_BINARY_DIR}/mermaid_ids.flow --format mermaid --workflow Y)
expect_match("${out}" "stateDiagram-v2\n    Lone\n" "a state no arrow touches, declared")
run(0 graph ${CMAKE_CURRENT_BINARY_DIR}/mermaid_ids.flow --format mermaid)
expect_match("${out}" "    state \"X\" as X {\n" "the first workflow keeps its id")
expect_match("${out}" "    state \"X_end\" as X_end_2 {\n" "the second, not X's end")
# A name on a flowc: line is written on one line, its control characters escaped.
run(2 graph ${CMAKE_CURRENT_BINARY_DIR}/mermaid_ids.flow "--workflow=a\nb\tc")
expect_match("${err}" "flowc: no workflow 'a\\\\nb\\\\tc' in " "escaped control characters")
# A --workflow the file does not declare is a usage error, even when --werror fails its warnings;
# a declared one is not drawn then.
run(2 graph --werror ${CMAKE_CURRENT_BINARY_DIR}/mermaid_ids.flow --workflow Nope)
expect_match("${err}" "flowc: no workflow 'Nope'" "usage error before --werror")
run(1 graph --werror ${CMAKE_CURRENT_BINARY_DIR}/mermaid_ids.flow --workflow Y)
if(NOT out STREQUAL "")
  message(FATAL_ERROR "graph --werror drew despite warnings:\n${out}")
endif()
# The help, written where it cannot be, fails as any other output.
if(EXISTS /dev/full)
  execute_process(COMMAND ${FLOWC} --help RESULT_VARIABLE status OUTPUT_FILE /dev/full ERROR_VARIABLE err)
  if(NOT status EQUAL 2)
    message(FATAL_ERROR "flowc --help > /dev/full: exit ${status}, expected 2")
  endif()
endif()
