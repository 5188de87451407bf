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
expect_match("${err}" "exist.flow:1:1: error: cannot read this file" "unreadable file")
run(0 --help)
expect_match("${out}" "flowc simulate" "help")

# check: diagnostics on stderr as text; --format json on stdout, agreeing with the text.
run(0 check ${examples}/trip_booking.flow)
run(1 check ${invalid}/unknown_state.flow)
expect_match("${err}" "unknown_state.flow:13:10: error: unknown state 'AwaitingPublishr'" "text diagnostic")
expect_match("${err}" "\n    goto AwaitingPublishr\n         \\^~+\n" "source line and caret")
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

# graph: dot by default, mermaid on request, one workflow by name.
run(0 graph ${examples}/ticket_lifecycle.flow)
expect_match("${out}" "digraph \"TicketLifecycle\"" "dot")
expect_match("${out}" "\"AwaitingAgent\" -> \"AwaitingCustomer\" \\[label=\"AgentReplied\"\\]" "dot edge")
run(0 graph ${examples}/ticket_lifecycle.flow --format mermaid --workflow TicketLifecycle)
expect_match("${out}" "stateDiagram-v2" "mermaid")
expect_match("${out}" "AwaitingCustomer --> \\[\\*\\] : after 7d" "mermaid end edge")
run(1 graph ${examples}/ticket_lifecycle.flow --workflow Nope)
run(2 graph ${examples}/ticket_lifecycle.flow --format png)

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
run(2 simulate ${examples}/campaign_publishing.flow)
