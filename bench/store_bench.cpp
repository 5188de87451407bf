// The durable write path without HTTP: the processor and the SQLite store, as flowd's writer
// drives them, with synchronous=FULL and one transaction per batch. It tells how fast the
// writer thread alone can go, so that the HTTP figures can be read against it. Run by hand:
//
//   store_bench --flow FILE [--events N] [--batch B] [--scenario starts|pairs|updates|deadlines]
//               [--preload M] [--db PATH] [--profile 1] [--schema-sql SQL] [--instance-cache C]
//               [--due-in-ms D]
//
// FILE is examples/campaign_publishing.flow, bench/flows/progress.flow for `updates`, or
// bench/flows/deadline.flow for `deadlines`.
// `starts`: every event starts an instance (CampaignActivated) and emits one command.
// `pairs`: half the events start instances, the other half complete them (PublishingConfirmed).
// `updates`: 1,000 instances started, then steps that keep them running (a count and a command).
// `deadlines`: every event starts a Deadline instance whose timer is due at the same instant,
// D ms after the run began (`--due-in-ms`, 15,000 by default): the database then holds N timers
// falling due at once. It prints `due_at_ms=` (serve it with flowd after that time) and fails
// when the run outlasted D: a deadline already passed fires with its start, so fewer timers
// would be left than asked for.
// `--preload M` first fills the database with M waiting campaign instances, and marks the command
// each emitted delivered (a relay draining them would compete with the run being measured).
// `--profile 1` prints the time spent in each SQL statement at the end.
// `--schema-sql SQL` runs SQL on the fresh database before the events, on a connection of its
// own: a what-if measurement of a schema change, e.g. "DROP INDEX history_by_instance" tells
// what that index costs the write path (flowd itself needs every index it creates).
// `--instance-cache C` keeps up to C running instances parsed between events (flowd's default:
// 10,000; 0 turns the cache off, to measure what it saves).
// The database it leaves can be served by flowd with the same flow file (same hash).
#include "dsl/compiler.hpp"
#include "dsl/ir_json.hpp"
#include "runtime/service/deployment.hpp"
#include "runtime/service/processor.hpp"
#include "runtime/store/sqlite.hpp"
#include "runtime/store/sqlite_store.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Options {
    long events = 100000;
    long batch = 100;
    long preload = 0;
    std::string scenario = "starts";
    std::string flow;
    std::string db = "store_bench.db";
    bool profile = false;
    std::string schema_sql;
    std::size_t instance_cache = 10000;
    std::int64_t due_in_ms = 15000;
};

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Time-ordered, unique ids like flowd's (a counter is enough here).
std::string next_id() {
    static std::uint64_t counter = 0;
    char text[40];
    std::snprintf(text, sizeof text, "%016llx-%08llx", static_cast<unsigned long long>(now_ms()),
                  static_cast<unsigned long long>(++counter));
    return text;
}

flow::service::IncomingEvent activated(const std::string& key) {
    return {"a-" + key, "CampaignActivated", {{"campaignId", key}, {"advertising", "bench"}}, ""};
}

flow::service::IncomingEvent confirmed(const std::string& key) {
    return {"c-" + key, "PublishingConfirmed", {{"campaignId", key}, {"confirmationId", "ok"}}, ""};
}

// Runs the events in transactions of `batch`; returns the seconds taken.
double run(flow::store::Store& store, flow::service::Processor& processor, const std::vector<flow::service::IncomingEvent>& events,
           long batch, std::uint64_t& sequence) {
    auto started = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < events.size();) {
        auto tx = store.begin();
        if (!tx.ok()) throw std::runtime_error(tx.error->message);
        std::int64_t now = now_ms();
        for (long n = 0; n < batch && i < events.size(); ++n, ++i) {
            // No savepoint per event: flowd's writer takes one only when a job fails after
            // writing (runtime/service/writer.cpp), which none of these events does.
            auto r = processor.handle(**tx.value, events[i], now, sequence);
            if (!r.ok()) throw std::runtime_error(r.error->message);
        }
        if (auto e = (*tx.value)->commit()) throw std::runtime_error(e->message);
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string flag = argv[i], value = argv[i + 1];
        if (flag == "--events") o.events = std::stol(value);
        else if (flag == "--batch") o.batch = std::stol(value);
        else if (flag == "--preload") o.preload = std::stol(value);
        else if (flag == "--scenario") o.scenario = value;
        else if (flag == "--db") o.db = value;
        else if (flag == "--flow") o.flow = value;
        else if (flag == "--profile") o.profile = value == "1";
        else if (flag == "--schema-sql") o.schema_sql = value;
        else if (flag == "--instance-cache") o.instance_cache = std::stoul(value);
        else if (flag == "--due-in-ms") o.due_in_ms = std::stoll(value);
        else {
            std::cerr << "unknown option " << flag << "\n";
            return 2;
        }
    }
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(o.db + suffix);
    std::ifstream file(o.flow);
    std::stringstream text;
    text << file.rdbuf();
    if (!file) {
        std::cerr << "store_bench: give the workflow with --flow FILE\n";
        return 2;
    }
    std::string name = std::filesystem::path(o.flow).filename().string();
    flow::Compilation compiled = flow::compile_sources({{name, text.str()}});
    if (!compiled.program) {
        std::cerr << o.flow << " does not compile\n";
        return 1;
    }
    auto opened = flow::store::open_sqlite_store({o.db, "FULL", 0, o.profile, o.instance_cache});
    if (!opened.ok()) {
        std::cerr << opened.error->message << "\n";
        return 1;
    }
    flow::store::Store& store = **opened.value;
    for (const auto& w : compiled.program->workflows) {
        nlohmann::json sources = {{name, text.str()}};
        if (auto e = store.deploy({w.name, w.version, w.hash, flow::to_json(*compiled.program, w).dump(), sources.dump(),
                                   flow::service::timestamp(now_ms())})) {
            std::cerr << e->message << "\n";
            return 1;
        }
    }
    if (!o.schema_sql.empty()) {
        auto connection = flow::store::sqlite::Connection::open(o.db, "FULL", false);
        std::optional<flow::store::StoreError> error = connection.ok() ? (*connection.value)->exec(o.schema_sql) : connection.error;
        if (error) {
            std::cerr << "store_bench: --schema-sql: " << error->message << "\n";
            return 1;
        }
    }
    flow::service::Deployment deployment(compiled.program);
    flow::service::Processor processor(deployment, next_id);
    std::uint64_t sequence = 1;

    if (o.preload > 0) {
        std::vector<flow::service::IncomingEvent> waiting;
        for (long i = 0; i < o.preload; ++i) waiting.push_back(activated("waiting-" + std::to_string(i)));
        double seconds = run(store, processor, waiting, 1000, sequence);
        // Their commands were delivered long ago: a relay draining them would share the cores
        // with the run that measures ingest beside a million instances.
        long delivered = 0;
        for (;;) {
            auto due = store.deliverable(now_ms() + 1, [](const std::string&) { return 10000; }, {});
            if (!due.ok()) throw std::runtime_error(due.error->message);
            if (due.value->empty()) break;
            std::vector<flow::store::DeliveryAttempt> attempts;
            const std::string at = flow::service::timestamp(now_ms());
            for (const auto& command : *due.value)
                attempts.push_back({flow::store::DeliveryAttempt::Result::Delivered, command.id, 1, 0, "", at, command.instance,
                                    command.next_attempt_ms});
            auto tx = store.begin();
            if (!tx.ok()) throw std::runtime_error(tx.error->message);
            if (auto e = (*tx.value)->record_attempts(attempts)) throw std::runtime_error(e->message);
            if (auto e = (*tx.value)->commit()) throw std::runtime_error(e->message);
            delivered += static_cast<long>(attempts.size());
        }
        std::printf("preloaded %ld waiting instances in %.1f s, their %ld commands marked delivered\n", o.preload, seconds, delivered);
    }

    std::vector<flow::service::IncomingEvent> events;
    const std::int64_t due_at_ms = now_ms() + o.due_in_ms;
    if (o.scenario == "deadlines") {
        std::string due = flow::service::timestamp(due_at_ms);
        for (long i = 0; i < o.events; ++i)
            events.push_back({"d-" + std::to_string(i), "DeadlineSet", {{"caseId", "case-" + std::to_string(i)}, {"dueAt", due}}, ""});
    } else if (o.scenario == "updates") {
        // bench/flows/progress.flow: 1,000 instances, then steps that keep them running.
        const long instances = std::min(o.events, 1000L);
        for (long i = 0; i < instances; ++i)
            events.push_back({"o-" + std::to_string(i), "Opened", {{"caseId", "case-" + std::to_string(i)}}, ""});
        for (long i = instances; i < o.events; ++i)
            events.push_back({"p-" + std::to_string(i), "Progressed", {{"caseId", "case-" + std::to_string(i % instances)}, {"step", i}}, ""});
    } else if (o.scenario == "pairs") {
        for (long i = 0; i < o.events / 2; ++i) events.push_back(activated("k" + std::to_string(i)));
        for (long i = 0; i < o.events / 2; ++i) events.push_back(confirmed("k" + std::to_string(i)));
    } else {
        for (long i = 0; i < o.events; ++i) events.push_back(activated("k" + std::to_string(i)));
    }
    double seconds = run(store, processor, events, o.batch, sequence);
    std::printf("scenario=%s events=%zu batch=%ld seconds=%.3f events_per_second=%.0f", o.scenario.c_str(), events.size(),
                o.batch, seconds, static_cast<double>(events.size()) / seconds);
    if (o.scenario != "deadlines") {
        std::printf("\n");
        return 0;
    }
    std::int64_t timers = 0;
    if (auto counts = store.counts(); counts.ok())
        for (const auto& [name, n] : *counts.value)
            if (name == "timers_pending") timers = n;
    std::printf(" timers=%lld due_at_ms=%lld\n", static_cast<long long>(timers), static_cast<long long>(due_at_ms));
    if (timers != static_cast<std::int64_t>(events.size())) {
        std::cerr << "store_bench: the run outlasted --due-in-ms " << o.due_in_ms << ": " << events.size() - timers
                  << " deadlines fired with their start; give a longer one\n";
        return 1;
    }
    return 0;
}
