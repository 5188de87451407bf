// The HTTP routes called as plain functions (no sockets), over a real SQLite store in a
// temporary folder; and the pieces they use: signatures and event input.
#include "runtime/http/event_input.hpp"
#include "runtime/http/routes.hpp"
#include "runtime/http/webhook_signature.hpp"
#include "runtime/http/wire_text.hpp"
#include "runtime/simulator/simulator.hpp"
#include "runtime/store/sqlite.hpp"
#include "runtime/store/sqlite_store.hpp"
#include "runtime/timers/timer_loop.hpp"
#include "raw_sqlite.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <set>
#include <sstream>

#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <sys/stat.h>
#include <utility>

using namespace flow;
namespace fs = std::filesystem;
namespace beast_http = boost::beast::http;
using nlohmann::json;

namespace {

const char* flow_text = "event Go { id: string, n: int }\nevent Note { id: string, text: string }\n"
                        "command Log to log { text: string }\n"
                        "workflow W { key id: string var last: string = \"\" start on Go as g { emit Log { text: str(g.n) } goto S } "
                        "state S { on Go { complete } on Note as n { last = n.text } } }";

// The n-th id a test server makes: a UUID in lower case, as flowd's are.
std::string numbered_id(int n) {
    char text[40];
    std::snprintf(text, sizeof text, "0ddba11a-cafe-7000-8000-%012x", n);
    return text;
}

struct Server {
    fs::path dir = fs::temp_directory_path() / ("flow-routes-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
    Compilation compiled;
    service::Config config;
    std::unique_ptr<store::Store> store;
    std::unique_ptr<service::Deployment> deployment;
    std::unique_ptr<service::Processor> processor;
    std::unique_ptr<service::Writer> writer;
    service::Metrics metrics;
    std::uint64_t sequence = 1;
    int ids = 0;
    std::unique_ptr<http::Services> services;

    explicit Server(std::size_t writer_queue = 100, const std::string& text = flow_text) : compiled(test::compile_text(text)) {
        fs::create_directories(dir);
        REQUIRE(compiled.program);
        auto opened = store::open_sqlite_store({(dir / "flow.db").string(), "FULL"});
        REQUIRE(opened.ok());
        store = std::move(*opened.value);
        for (const auto& w : compiled.program->workflows)
            REQUIRE_FALSE(store->deploy({w.name, w.version, w.hash, "{}", "{}", "2026-01-01T00:00:00.000Z"}));
        deployment = std::make_unique<service::Deployment>(compiled.program);
        // UUIDs as flowd writes them (in lower case), numbered in the order they are made.
        processor = std::make_unique<service::Processor>(*deployment, [this] { return numbered_id(++ids); });
        writer = std::make_unique<service::Writer>(*store, writer_queue, 10);
        services.reset(new http::Services{config, *store, *writer, *processor, *deployment, metrics,
                                          [] { return std::int64_t{1767225600000}; }, sequence});
    }
    // Closes the database and opens it again, as a restart of flowd does: nothing is cached then.
    // `between` runs while it is closed.
    void reopen(const std::function<void()>& between = [] {}) {
        writer->stop();
        writer.reset();
        store.reset();
        between();
        auto opened = store::open_sqlite_store({(dir / "flow.db").string(), "FULL"});
        REQUIRE(opened.ok());
        store = std::move(*opened.value);
        writer = std::make_unique<service::Writer>(*store, 100, 10);
        services.reset(new http::Services{config, *store, *writer, *processor, *deployment, metrics,
                                          [] { return std::int64_t{1767225600000}; }, sequence});
    }
    ~Server() {
        writer->stop();
        writer.reset();
        store.reset();
        fs::remove_all(dir);
    }
    http::Response call(beast_http::verb method, const std::string& target, const std::string& body = "",
                        std::map<std::string, std::string> headers = {}) {
        http::Request req{method, target, 11};
        for (const auto& [k, v] : headers) req.set(k, v);
        req.body() = body;
        req.prepare_payload();
        return http::handle(req, *services);
    }
    json body_of(const http::Response& r) { return json::parse(r.body()); }
    // Changes the database behind flowd's back, as a hand edit or a damaged page would.
    void edit_database(const std::string& sql) {
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open((dir / "flow.db").string().c_str(), &raw) == SQLITE_OK);
        test::exec_raw(raw, sql);
        sqlite3_close(raw);
    }
    // Holds the writer in a job until the returned promise is set, so that what is submitted
    // meanwhile queues behind it (and runs in one batch).
    std::promise<void> hold_writer() {
        std::promise<void> release;
        auto released = std::make_shared<std::shared_future<void>>(release.get_future().share());
        auto holding = std::make_shared<std::promise<void>>();
        auto held = holding->get_future();
        REQUIRE(writer->submit(
            [released, holding](store::Transaction&) -> store::Status {
                holding->set_value();
                released->wait();
                return std::nullopt;
            },
            [](const store::Status&) {}));
        held.wait();
        return release;
    }
};

}  // namespace

TEST_CASE("POST /v1/events: accepted, duplicate, and refusals that change nothing") {
    Server s;
    auto ok = s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 3}})");
    CHECK(ok.result_int() == 202);
    json b = s.body_of(ok);
    CHECK(b["duplicate"] == false);
    CHECK(b["deliveries"][0]["outcome"] == "started");
    CHECK(b["deliveries"][0]["instance"] == numbered_id(1));
    auto again = s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 3}})");
    CHECK(s.body_of(again)["duplicate"] == true);
    CHECK(s.body_of(again)["deliveries"] == b["deliveries"]);
    // A repeated id is a duplicate even when what it carries now would be refused.
    for (const char* changed : {R"({"id": "e1", "type": "Nope", "data": {}})", R"({"id": "e1", "type": "Go", "data": {"n": "x"}})"}) {
        auto retried = s.call(beast_http::verb::post, "/v1/events", changed);
        CHECK(retried.result_int() == 202);
        CHECK(s.body_of(retried)["duplicate"] == true);
        CHECK(s.body_of(retried)["deliveries"] == b["deliveries"]);
    }
    CHECK(s.call(beast_http::verb::post, "/v1/events", "{").result_int() == 400);
    auto unknown = s.call(beast_http::verb::post, "/v1/events", R"({"id": "e2", "type": "Nope", "data": {}})");
    CHECK(unknown.result_int() == 422);
    auto wrong = s.call(beast_http::verb::post, "/v1/events", R"({"id": "e2", "type": "Go", "data": {"id": "b", "n": "x"}})");
    CHECK(wrong.result_int() == 422);
    CHECK(s.body_of(wrong)["field"] == "data.n");
    auto list = s.body_of(s.call(beast_http::verb::get, "/v1/instances"));
    CHECK(list["instances"].size() == 1);
    auto outbox = s.body_of(s.call(beast_http::verb::get, "/v1/outbox?status=pending"));
    REQUIRE(outbox["commands"].size() == 1);
    CHECK(outbox["commands"][0]["type"] == "Log");
}

TEST_CASE("a number no double holds is named in the 400, in any field and in binary mode; nothing is recorded") {
    Server s;
    auto refused = s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1, "extra": 1e400}})");
    CHECK(refused.result_int() == 400);
    CHECK(s.body_of(refused)["error"] == "the body holds a number too large for a 64-bit float: 1e400");
    auto binary = s.call(beast_http::verb::post, "/v1/events", R"({"id": "a", "n": -2E+999})",
                         {{"Content-Type", "application/json"}, {"ce-specversion", "1.0"}, {"ce-id", "e2"}, {"ce-type", "Go"}, {"ce-source", "/s"}});
    CHECK(binary.result_int() == 400);
    CHECK(s.body_of(binary)["error"] == "the body holds a number too large for a 64-bit float: -2E+999");
    CHECK(s.body_of(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e3", "type": "Go", "data": {"id": "a", "n": 1},})"))["error"] ==
          "the body is not JSON");
    // A tiny one reads as zero, as strtod reads it.
    CHECK(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e4", "type": "Go", "data": {"id": "a", "n": 1, "extra": 1e-400}})")
              .result_int() == 202);
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances"))["instances"].size() == 1);
}

TEST_CASE("deliveries over HTTP: one per workflow in declaration order, a null one when none takes the event, "
          "a start for a running key ignored, and a duplicate answered as the first time after the instance moved on") {
    const std::string text = "event Go { id: string, n: int }\nevent Lone { id: string }\nevent Stop { id: string }\n"
                             "workflow W1 { key id: string var seen: time? = null start on Go { seen = now() goto S }\n"
                             "  state S { on Stop { complete } } }\n"
                             "workflow W2 { key id: string start on Go { goto S } state S { on Stop { complete } } }\n"
                             "workflow W3 { key id: string start on Go { complete } }";
    Server s(100, text);
    auto post = [&](const std::string& body) { return s.body_of(s.call(beast_http::verb::post, "/v1/events", body)); };
    // The event's own time is kept as event_time; now() is the time flowd accepted it.
    json first = post(R"({"id": "g1", "type": "Go", "time": "2020-02-02T10:00:00+01:00", "data": {"id": "a", "n": 1}})");
    REQUIRE(first["deliveries"].size() == 3);
    CHECK(first["deliveries"][0]["workflow"] == "W1");
    CHECK(first["deliveries"][1]["workflow"] == "W2");
    CHECK(first["deliveries"][2]["workflow"] == "W3");
    CHECK(first["deliveries"][0]["outcome"] == "started");
    CHECK(first["deliveries"][0]["state"] == "S");
    json w1 = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + first["deliveries"][0]["instance"].get<std::string>()));
    CHECK(w1["vars"]["seen"] == "2026-01-01T00:00:00Z");
    CHECK(w1["history"][0]["event_time"] == "2020-02-02T09:00:00Z");

    json none = post(R"({"id": "l1", "type": "Lone", "data": {"id": "nobody"}})");
    REQUIRE(none["deliveries"].size() == 1);
    CHECK(none["deliveries"][0]["workflow"] == nullptr);
    CHECK(none["deliveries"][0]["instance"] == nullptr);
    CHECK(none["deliveries"][0]["outcome"] == "unmatched");

    json again = post(R"({"id": "g2", "type": "Go", "data": {"id": "a", "n": 2}})");
    CHECK(again["deliveries"][0]["outcome"] == "ignored");
    CHECK(again["deliveries"][0]["instance"] == first["deliveries"][0]["instance"]);
    CHECK(again["deliveries"][2]["outcome"] == "started");  // W3's first instance completed: its key is free

    CHECK(post(R"({"id": "s1", "type": "Stop", "data": {"id": "a"}})")["deliveries"][0]["outcome"] == "handled");
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + first["deliveries"][0]["instance"].get<std::string>()))["status"] ==
          "completed");
    json repeated = post(R"({"id": "g1", "type": "Go", "data": {"id": "a", "n": 1}})");
    CHECK(repeated["duplicate"] == true);
    CHECK(repeated["deliveries"] == first["deliveries"]);  // state S, as when it was first accepted
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances?workflow=W1"))["instances"].size() == 1);
}

TEST_CASE("a member given twice in the body counts once, the last one, as flowc simulate reads it") {
    Server s;
    auto taken = s.call(beast_http::verb::post, "/v1/events",
                        R"({"id": "e0", "id": "e1", "type": "Nope", "type": "Go", "data": {"id": "x", "n": "bad"}, "data": {"id": "a", "n": 1}})");
    CHECK(taken.result_int() == 202);
    CHECK(s.body_of(taken)["id"] == "e1");
    CHECK(s.body_of(taken)["deliveries"][0]["key"] == "a");
}

TEST_CASE("an event id may hold 256 characters, whatever their bytes, and no more") {
    Server s;
    std::string accented;
    for (int i = 0; i < 256; ++i) accented += "\u00e9";  // 512 bytes
    auto taken = s.call(beast_http::verb::post, "/v1/events", json{{"id", accented}, {"type", "Go"}, {"data", {{"id", "a"}, {"n", 1}}}}.dump());
    CHECK(taken.result_int() == 202);
    auto refused = s.call(beast_http::verb::post, "/v1/events",
                          json{{"id", std::string(257, 'x')}, {"type", "Go"}, {"data", {{"id", "b"}, {"n", 1}}}}.dump());
    CHECK(refused.result_int() == 400);
    CHECK(s.body_of(refused)["error"] == "the body has an 'id' longer than 256 characters");
}

TEST_CASE("a batch with an element that is not an event is refused whole with 422, naming its index") {
    Server s;
    for (const auto& [element, message] : std::vector<std::pair<std::string, std::string>>{
             {R"({"specversion": "1.0", "source": "/t", "type": "Go", "data": {"id": "b", "n": 1}})",
              "event 1 of the batch is not an event: 'id' must be a non-empty string"},
             {"5", "event 1 of the batch is not an event: expected a JSON object"}}) {
        auto refused = s.call(beast_http::verb::post, "/v1/events",
                              R"([{"specversion": "1.0", "id": "a1", "source": "/t", "type": "Go", "data": {"id": "a", "n": 1}}, )" +
                                  element + "]",
                              {{"Content-Type", "application/cloudevents-batch+json"}});
        CHECK(refused.result_int() == 422);
        CHECK(s.body_of(refused) == json{{"error", message}, {"index", 1}});
    }
    // Several invalid: the element that is not an event is named before an earlier one whose
    // data is refused, as 400 comes before 422 for one event; among data refusals, the first.
    const std::string bad_data = R"({"specversion": "1.0", "id": "d", "source": "/t", "type": "Go", "data": {"id": "d", "n": "x"}})";
    const std::string bad_type = R"({"specversion": "1.0", "id": "t", "source": "/t", "type": "Gone", "data": {}})";
    const std::string no_id = R"({"specversion": "1.0", "source": "/t", "type": "Go", "data": {"id": "b", "n": 1}})";
    auto index_of = [&](const std::string& elements) {
        auto refused = s.call(beast_http::verb::post, "/v1/events", "[" + elements + "]",
                              {{"Content-Type", "application/cloudevents-batch+json"}});
        CHECK(refused.result_int() == 422);
        return s.body_of(refused)["index"];
    };
    CHECK(index_of(bad_data + ", " + no_id) == 1);
    CHECK(index_of(bad_data + ", " + bad_type) == 0);
    CHECK(index_of(bad_type + ", " + bad_data) == 0);
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances"))["instances"].empty());
}

TEST_CASE("the answer to committed events is built where the reply runs its work, not on the writer's thread") {
    Server s;
    std::mutex mutex;
    std::vector<std::function<void()>> handed;
    std::promise<std::pair<http::Response, std::thread::id>> replied;
    http::Request req{beast_http::verb::post, "/v1/events", 11};
    req.body() = R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 3}})";
    req.prepare_payload();
    http::handle_async(req, *s.services,
                       http::Reply([&](http::Response r) { replied.set_value({std::move(r), std::this_thread::get_id()}); },
                                   [&](std::function<void()> work) {
                                       std::lock_guard lock(mutex);
                                       handed.push_back(std::move(work));
                                   }));
    // The event is committed (the writer is free for the next job), yet nothing has answered.
    CHECK_FALSE(s.writer->run([](store::Transaction&) { return store::Status{}; }));
    auto answer = replied.get_future();
    CHECK(answer.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
    std::vector<std::function<void()>> work;
    {
        std::lock_guard lock(mutex);
        work.swap(handed);
    }
    REQUIRE(work.size() == 1);
    work.front()();
    auto [response, thread] = answer.get();
    CHECK(thread == std::this_thread::get_id());
    CHECK(response.result_int() == 202);
    CHECK(s.body_of(response)["deliveries"][0]["outcome"] == "started");
}

TEST_CASE("a writer job that throws fails alone, undone, and the writer goes on with the others") {
    Server s;
    // Writes a row, then throws, as a statement SQLite cannot prepare would make it.
    store::Status thrown = s.writer->run([&](store::Transaction& tx) -> store::Status {
        service::IncomingEvent event{"thrown", "Go", Value{{"id", "t"}, {"n", 1}}, ""};
        std::uint64_t sequence = 1;
        REQUIRE(s.processor->handle(tx, event, 0, sequence).ok());
        throw std::runtime_error("out of memory");
    });
    REQUIRE(thrown);
    CHECK(thrown->kind == store::StoreError::Kind::Unavailable);
    CHECK(thrown->message == "the database failed: out of memory");
    // Nothing of it was committed; the next event goes through.
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances"))["instances"].empty());
    auto answer = s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})");
    CHECK(answer.result_int() == 202);
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances"))["instances"].size() == 1);
}

TEST_CASE("a writer's transaction takes jobs up to its weight: a few large batches are not made one") {
    // Before, only the number of jobs was bounded (512): five batches of 8,000 events sent at
    // once made one transaction of 40,000, and each sender waited for all of it.
    Server s;
    service::Writer writer(*s.store, 100, 512, 10);
    std::vector<std::size_t> batches;
    std::mutex batches_mutex;
    writer.observe_batch = [&](std::size_t n) {
        std::lock_guard lock(batches_mutex);
        batches.push_back(n);
    };
    std::promise<void> release, holding;
    auto released = release.get_future().share();
    REQUIRE(writer.submit(
        [&](store::Transaction&) -> store::Status {
            holding.set_value();
            released.wait();
            return std::nullopt;
        },
        [](const store::Status&) {}));
    holding.get_future().wait();
    std::vector<std::future<store::Status>> done;
    for (std::size_t weight : {6, 6, 4, 20, 1}) {
        auto promise = std::make_shared<std::promise<store::Status>>();
        done.push_back(promise->get_future());
        REQUIRE(writer.submit([](store::Transaction&) -> store::Status { return std::nullopt; },
                              [promise](const store::Status& status) { promise->set_value(status); },
                              service::Writer::Admission::Bounded, weight));
    }
    release.set_value();
    for (auto& d : done) CHECK_FALSE(d.get());
    writer.stop();
    // The held job; 6 (6 more would pass 10); 6 and 4, 10 exactly; 20, over the weight, alone; 1.
    CHECK(batches == std::vector<std::size_t>{1, 1, 2, 1, 1});
}

TEST_CASE("a signed message refused while its refusal cannot be recorded is answered 503, and refused as it is once it can") {
    Server s(1);
    const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const std::string data = R"({"id": "b", "n": 1})";
    auto signed_request = [&] {
        http::Request req{beast_http::verb::post, "/v1/events", 11};
        for (const auto& [k, v] : std::map<std::string, std::string>{{"Content-Type", "application/json"}, {"ce-specversion", "1.0"},
                                                                      {"ce-source", "/s"}, {"ce-id", "e2"}, {"ce-type", "Nope"},
                                                                      {"webhook-id", "m2"}, {"webhook-timestamp", "1767225600"},
                                                                      {"webhook-signature", http::sign_webhook(secret, "m2", 1767225600, data)}})
            req.set(k, v);
        req.body() = data;
        req.prepare_payload();
        return req;
    };
    // The writer held, its one place in the queue taken: the binding cannot be queued.
    std::promise<void> release = s.hold_writer();
    std::promise<http::Response> filler;
    http::Request go{beast_http::verb::post, "/v1/events", 11};
    go.body() = R"({"id": "q1", "type": "Go", "data": {"id": "q1", "n": 1}})";
    go.prepare_payload();
    http::handle_async(go, *s.services, [&filler](http::Response r) { filler.set_value(std::move(r)); });
    s.config.webhook_secrets = {secret};  // from here on events are signed
    const http::Request refused = signed_request();
    http::Response unrecorded = http::handle(refused, *s.services);
    CHECK(unrecorded.result_int() == 503);
    CHECK(s.body_of(unrecorded)["error"].get<std::string>().find("its refusal could not be recorded (too many requests") != std::string::npos);
    release.set_value();
    CHECK(filler.get_future().get().result_int() == 202);
    // Sent again: refused as it is (an unknown type), and bound, so a copy read otherwise is 401.
    CHECK(http::handle(signed_request(), *s.services).result_int() == 422);
    http::Request forged = signed_request();
    forged.set("ce-type", "Go");
    CHECK(http::handle(forged, *s.services).result_int() == 401);
}

TEST_CASE("more events than the writer can queue are shed with 503 at once, and /healthz still answers") {
    Server s(2);
    std::promise<void> release = s.hold_writer();
    std::vector<std::future<http::Response>> waiting;
    auto post = [&](int n) {
        auto answer = std::make_shared<std::promise<http::Response>>();
        waiting.push_back(answer->get_future());
        http::Request req{beast_http::verb::post, "/v1/events", 11};
        req.body() = R"({"id": "q)" + std::to_string(n) + R"(", "type": "Go", "data": {"id": "q)" + std::to_string(n) + R"(", "n": 1}})";
        req.prepare_payload();
        http::handle_async(req, *s.services, [answer](http::Response r) { answer->set_value(std::move(r)); });
    };
    for (int n = 0; n < 3; ++n) post(n);
    // The queue holds two: the third is refused at once, while the first two still wait.
    REQUIRE(waiting[2].wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    http::Response shed = waiting[2].get();
    CHECK(shed.result_int() == 503);
    CHECK(s.body_of(shed)["error"].get<std::string>().find("retry later") != std::string::npos);
    CHECK(waiting[0].wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
    CHECK(s.call(beast_http::verb::get, "/healthz").result_int() == 200);
    // The relay's and the timer loop's jobs are never shed: one queues past the limit.
    std::promise<store::Status> internal;
    CHECK_FALSE(s.writer->submit([](store::Transaction&) { return store::Status(); }, [](const store::Status&) {}));
    CHECK(s.writer->submit([](store::Transaction&) { return store::Status(); },
                           [&](const store::Status& status) { internal.set_value(status); }, service::Writer::Admission::Always));
    release.set_value();
    CHECK_FALSE(internal.get_future().get());
    CHECK(waiting[0].get().result_int() == 202);
    CHECK(waiting[1].get().result_int() == 202);
    // The shed event recorded nothing: sent again, it is new.
    auto again = s.call(beast_http::verb::post, "/v1/events", R"({"id": "q2", "type": "Go", "data": {"id": "q2", "n": 1}})");
    CHECK(again.result_int() == 202);
    CHECK(s.body_of(again)["duplicate"] == false);
}

TEST_CASE("a duplicate is answered from the inbox even when its batch fails to commit") {
    Server s;
    std::string event = R"({"id": "d1", "type": "Go", "data": {"id": "d1", "n": 1}})";
    auto first = s.call(beast_http::verb::post, "/v1/events", event);
    REQUIRE(first.result_int() == 202);
    std::promise<void> release = s.hold_writer();
    // In the same batch: a job after which the transaction is gone (as when the database
    // rolls it back after an I/O error), so the whole batch fails...
    REQUIRE(s.writer->submit([](store::Transaction& tx) -> store::Status {
        (void)tx.commit();
        return store::StoreError{store::StoreError::Kind::Unavailable, "disk I/O error"};
    }, [](const store::Status&) {}));
    // ...a duplicate, which needs no write, and a new event, which does.
    auto post = [&](const std::string& body) {
        auto answer = std::make_shared<std::promise<http::Response>>();
        http::Request req{beast_http::verb::post, "/v1/events", 11};
        req.body() = body;
        req.prepare_payload();
        http::handle_async(req, *s.services, [answer](http::Response r) { answer->set_value(std::move(r)); });
        return answer->get_future();
    };
    auto duplicate = post(event);
    auto fresh = post(R"({"id": "d2", "type": "Go", "data": {"id": "d2", "n": 1}})");
    release.set_value();
    http::Response again = duplicate.get();
    CHECK(again.result_int() == 202);
    CHECK(s.body_of(again)["duplicate"] == true);
    CHECK(s.body_of(again)["deliveries"] == s.body_of(first)["deliveries"]);
    CHECK(fresh.get().result_int() == 503);
}

TEST_CASE("a job the database refuses is undone alone: the others in its batch commit") {
    Server s;
    std::promise<void> release = s.hold_writer();
    // Queued behind the held job, so that both run in one batch: a job whose write the
    // database refused (as with a full disk: the transaction itself stays open)...
    std::promise<store::Status> refused;
    REQUIRE(s.writer->submit([](store::Transaction&) -> store::Status {
        return store::StoreError{store::StoreError::Kind::Unavailable, "database or disk is full"};
    }, [&](const store::Status& status) { refused.set_value(status); }));
    // ...and an event.
    std::promise<http::Response> answer;
    http::Request req{beast_http::verb::post, "/v1/events", 11};
    req.body() = R"({"id": "b1", "type": "Go", "data": {"id": "b1", "n": 1}})";
    req.prepare_payload();
    http::handle_async(req, *s.services, [&](http::Response r) { answer.set_value(std::move(r)); });
    release.set_value();
    store::Status status = refused.get_future().get();
    REQUIRE(status);
    CHECK(status->kind == store::StoreError::Kind::Unavailable);
    http::Response accepted = answer.get_future().get();
    CHECK(accepted.result_int() == 202);
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances?key=b1"))["instances"].size() == 1);
}

// Jobs of one batch that each write an inbox row (or not) and may then fail; counts their runs.
struct CountedJobs {
    explicit CountedJobs(Server& s) : server(s) {}
    Server& server;
    std::map<std::string, int> runs;
    std::map<std::string, std::promise<store::Status>> outcome;
    enum class Fails { No, AfterWriting, BeforeWriting };

    void submit(const std::string& id, Fails fails) {
        outcome[id];  // made here: the writer's thread only looks it up
        REQUIRE(server.writer->submit(
            [this, id, fails](store::Transaction& tx) -> store::Status {
                ++runs[id];
                if (fails != Fails::BeforeWriting) {
                    if (auto e = tx.record_event(id, "Go", "{}", "2026-01-01T00:00:00.000Z")) return e;
                }
                if (fails == Fails::No) return std::nullopt;
                return store::StoreError{store::StoreError::Kind::Unavailable, "database or disk is full"};
            },
            [this, id](const store::Status& status) { outcome.at(id).set_value(status); }));
    }
    store::Status outcome_of(const std::string& id) { return outcome[id].get_future().get(); }
    bool recorded(const std::string& id) {
        bool found = false;
        REQUIRE_FALSE(server.writer->run([&](store::Transaction& tx) -> store::Status {
            found = tx.recorded_event(id).value->has_value();
            return std::nullopt;
        }));
        return found;
    }
};

TEST_CASE("a job that fails after writing is undone alone: its batch runs again with a savepoint per job") {
    Server s;
    CountedJobs jobs(s);
    using Fails = CountedJobs::Fails;
    std::promise<void> release = s.hold_writer();
    jobs.submit("w1", Fails::No);
    jobs.submit("w2", Fails::AfterWriting);  // as when the disk fills in the middle of a job
    jobs.submit("w3", Fails::No);
    release.set_value();
    CHECK_FALSE(jobs.outcome_of("w1"));
    store::Status failed = jobs.outcome_of("w2");
    REQUIRE(failed);
    CHECK(failed->message == "database or disk is full");
    CHECK_FALSE(jobs.outcome_of("w3"));
    // The first run stopped at the failed job; the second ran every job with a savepoint.
    CHECK(jobs.runs["w1"] == 2);
    CHECK(jobs.runs["w2"] == 2);
    CHECK(jobs.runs["w3"] == 1);
    CHECK(jobs.recorded("w1"));
    CHECK_FALSE(jobs.recorded("w2"));
    CHECK(jobs.recorded("w3"));
}

TEST_CASE("a job that fails before writing anything leaves its batch to commit in one run") {
    Server s;
    CountedJobs jobs(s);
    using Fails = CountedJobs::Fails;
    std::promise<void> release = s.hold_writer();
    jobs.submit("v1", Fails::No);
    jobs.submit("v2", Fails::BeforeWriting);  // as an event whose data does not fit its type
    jobs.submit("v3", Fails::No);
    release.set_value();
    CHECK_FALSE(jobs.outcome_of("v1"));
    CHECK(jobs.outcome_of("v2"));
    CHECK_FALSE(jobs.outcome_of("v3"));
    CHECK(jobs.runs == std::map<std::string, int>{{"v1", 1}, {"v2", 1}, {"v3", 1}});
    CHECK(jobs.recorded("v1"));
    CHECK(jobs.recorded("v3"));
}

namespace {

// Starts three instances, each with one command pending; gives back the three commands.
std::vector<store::OutboxCommand> three_pending_commands(Server& s) {
    for (int n = 1; n <= 3; ++n) {
        std::string id = std::to_string(n);
        REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "a)" + id + R"(", "type": "Go", "data": {"id": "a)" + id + R"(", "n": 1}})")
                    .result_int() == 202);
    }
    auto pending = s.store->outbox("pending", 10);
    REQUIRE(pending.ok());
    REQUIRE(pending.value->size() == 3);
    return *pending.value;
}

}  // namespace

TEST_CASE("delivery attempts recorded in the writer's transaction: delivered, retry, dead") {
    Server s;
    const auto pending = three_pending_commands(s);
    using Attempt = store::DeliveryAttempt;
    std::vector<Attempt> attempts = {
        {Attempt::Result::Delivered, pending[0].id, 1, 0, "", "2026-01-01T00:00:01.000Z"},
        {Attempt::Result::Retry, pending[1].id, 1, 1767225660000, "HTTP 503", ""},
        {Attempt::Result::Dead, pending[2].id, 1, 0, "HTTP 400", ""}};
    CHECK_FALSE(s.writer->run([&](store::Transaction& tx) { return tx.record_attempts(attempts); }));
    auto delivered = s.store->outbox("delivered", 10);
    REQUIRE(delivered.value->size() == 1);
    CHECK(delivered.value->front().id == attempts[0].id);
    auto retrying = s.store->outbox("pending", 10);
    REQUIRE(retrying.value->size() == 1);
    CHECK(retrying.value->front().attempts == 1);
    CHECK(retrying.value->front().next_attempt_ms == 1767225660000);
    CHECK(retrying.value->front().last_error == "HTTP 503");
    auto dead = s.store->outbox("dead", 10);
    REQUIRE(dead.value->size() == 1);
    CHECK(dead.value->front().last_error == "HTTP 400");
    // Recorded again (a round cut short and redone), a finished command stays as it is.
    CHECK_FALSE(s.writer->run([&](store::Transaction& tx) { return tx.record_attempts({attempts[2]}); }));
    CHECK(s.store->outbox("dead", 10).value->size() == 1);
}

TEST_CASE("delivery attempts that name the command's row find it by the row, and only when the row holds that id") {
    Server s;
    const auto pending = three_pending_commands(s);
    const auto& first = pending[0];
    const auto& second = pending[1];
    const auto& third = pending[2];
    REQUIRE(first.row > 0);
    using Attempt = store::DeliveryAttempt;
    // The first delivered, the second retried, the third dead, each naming the given row.
    auto attempts_naming = [&](std::int64_t first_row, std::int64_t second_row, std::int64_t third_row) {
        std::vector<Attempt> attempts = {{Attempt::Result::Delivered, first.id, 1, 0, "", "2026-01-01T00:00:01.000Z"},
                                         {Attempt::Result::Retry, second.id, 1, 1767225660000, "HTTP 503", ""},
                                         {Attempt::Result::Dead, third.id, 1, 0, "HTTP 400", ""}};
        attempts[0].row = first_row;
        attempts[1].row = second_row;
        attempts[2].row = third_row;
        return attempts;
    };
    // Each names another command's row: nothing changes.
    CHECK_FALSE(s.writer->run([&](store::Transaction& tx) { return tx.record_attempts(attempts_naming(second.row, third.row, first.row)); }));
    auto unchanged = s.store->outbox("pending", 10);
    REQUIRE(unchanged.value->size() == 3);
    for (const auto& command : *unchanged.value) {
        CHECK(command.attempts == 0);
        CHECK(command.last_error.empty());
    }
    // Each its own row: delivered, retried, dead.
    CHECK_FALSE(s.writer->run([&](store::Transaction& tx) { return tx.record_attempts(attempts_naming(first.row, second.row, third.row)); }));
    auto delivered = s.store->outbox("delivered", 10);
    REQUIRE(delivered.value->size() == 1);
    CHECK(delivered.value->front().id == first.id);
    auto retrying = s.store->outbox("pending", 10);
    REQUIRE(retrying.value->size() == 1);
    CHECK(retrying.value->front().id == second.id);
    CHECK(retrying.value->front().next_attempt_ms == 1767225660000);
    auto dead = s.store->outbox("dead", 10);
    REQUIRE(dead.value->size() == 1);
    CHECK(dead.value->front().id == third.id);
}

TEST_CASE("retrying a dead command commits through the writer, whose commit wakes the relay; 404 and 409 change nothing") {
    Server s;
    // Counted from the first job on (the callback is set before the writer calls it). The
    // writer reports a batch to its jobs first, then to on_commit: each count is waited for.
    std::atomic<int> commits = 0;
    s.writer->on_commit([&] { ++commits; });
    auto commits_reach = [&](int n) {
        for (int waited_ms = 0; commits < n && waited_ms < 5000; ++waited_ms) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return commits.load();
    };
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})").result_int() == 202);
    auto pending = s.store->outbox("pending", 10);
    REQUIRE(pending.value->size() == 1);
    const std::string id = pending.value->front().id;
    using Attempt = store::DeliveryAttempt;
    REQUIRE_FALSE(s.writer->run([&](store::Transaction& tx) {
        return tx.record_attempts({{Attempt::Result::Dead, id, 3, 0, "HTTP 400", ""}});
    }));
    REQUIRE(commits_reach(2) == 2);

    CHECK(s.call(beast_http::verb::post, "/v1/outbox/nope/retry").result_int() == 404);
    REQUIRE(commits_reach(3) == 3);  // its batch wrote nothing, but it ran through the writer too
    CHECK(s.call(beast_http::verb::post, "/v1/outbox/" + id + "/retry").result_int() == 200);
    CHECK(commits_reach(4) == 4);
    auto retried = s.store->outbox("pending", 10);
    REQUIRE(retried.value->size() == 1);
    CHECK(retried.value->front().attempts == 0);
    CHECK(retried.value->front().next_attempt_ms == 1767225600000);  // due now
    auto again = s.call(beast_http::verb::post, "/v1/outbox/" + id + "/retry");
    CHECK(again.result_int() == 409);
    CHECK(s.body_of(again)["error"] == "command '" + id + "' is pending, not dead");
    CHECK(s.store->outbox("dead", 10).value->empty());
}

TEST_CASE("a command has a page of its own, and a dead one can be deleted: its instance's history says so; 404 and 409 change nothing") {
    Server s;
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 7}})").result_int() == 202);
    auto pending = s.store->outbox("pending", 10);
    REQUIRE(pending.value->size() == 1);
    const std::string id = pending.value->front().id;
    const std::string instance = pending.value->front().instance;

    auto shown = s.call(beast_http::verb::get, "/v1/outbox/" + id);
    REQUIRE(shown.result_int() == 200);
    json page = s.body_of(shown);
    CHECK(page["id"] == id);
    CHECK(page["type"] == "Log");
    CHECK(page["instance"] == instance);
    CHECK(page["workflow"] == "W");
    CHECK(page["key"] == "a");
    CHECK(page["status"] == "pending");
    CHECK(page["attempts"] == 0);
    CHECK(page["last_error"].is_null());
    CHECK(page["next_attempt_at"] == page["created_at"]);  // due when emitted
    CHECK(page["delivered_at"].is_null());
    CHECK(page["data"] == json{{"text", "7"}});
    CHECK(s.call(beast_http::verb::get, "/v1/outbox/nope").result_int() == 404);
    auto head = s.call(beast_http::verb::head, "/v1/outbox/" + id);
    CHECK(head.result_int() == 200);
    CHECK(head.body().empty());

    // Not dead: refused, and nothing changes.
    auto refused = s.call(beast_http::verb::delete_, "/v1/outbox/" + id);
    CHECK(refused.result_int() == 409);
    CHECK(s.body_of(refused)["error"] == "command '" + id + "' is pending, not dead");
    CHECK(s.store->outbox("pending", 10).value->size() == 1);
    auto missing = s.call(beast_http::verb::delete_, "/v1/outbox/nope");
    CHECK(missing.result_int() == 404);
    CHECK(s.body_of(missing)["error"] == "no command 'nope'");
    const std::size_t history_before = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + instance))["history"].size();

    using Attempt = store::DeliveryAttempt;
    REQUIRE_FALSE(s.writer->run([&](store::Transaction& tx) {
        return tx.record_attempts({{Attempt::Result::Dead, id, 3, 0, "HTTP 400: no such channel", ""}});
    }));
    page = s.body_of(s.call(beast_http::verb::get, "/v1/outbox/" + id));
    CHECK(page["status"] == "dead");
    CHECK(page["next_attempt_at"].is_null());
    CHECK(page["last_error"] == "HTTP 400: no such channel");

    auto deleted = s.call(beast_http::verb::delete_, "/v1/outbox/" + id);
    REQUIRE(deleted.result_int() == 200);
    CHECK(s.body_of(deleted) == json{{"id", id}, {"status", "deleted"}});
    CHECK(s.store->outbox("", 10).value->empty());
    CHECK(s.call(beast_http::verb::get, "/v1/outbox/" + id).result_int() == 404);
    CHECK(s.call(beast_http::verb::delete_, "/v1/outbox/" + id).result_int() == 404);
    CHECK(s.call(beast_http::verb::post, "/v1/outbox/" + id + "/retry").result_int() == 404);
    json history = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + instance))["history"];
    REQUIRE(history.size() == history_before + 1);
    const json& last = history.back();
    CHECK(last["kind"] == "command_deleted");
    CHECK(last["id"] == id);
    CHECK(last["type"] == "Log");
    CHECK(last["attempts"] == 3);
    CHECK(last["last_error"] == "HTTP 400: no such channel");

    auto wrong = s.call(beast_http::verb::put, "/v1/outbox/" + id);
    CHECK(wrong.result_int() == 405);
    CHECK(wrong[beast_http::field::allow] == "GET, HEAD, DELETE");
    // No id at all is no route, whatever the method.
    for (auto method : {beast_http::verb::get, beast_http::verb::post, beast_http::verb::delete_})
        for (const char* path : {"/v1/outbox/", "/v1/instances/"}) {
            auto none = s.call(method, path);
            CHECK(none.result_int() == 404);
            CHECK(s.body_of(none)["error"] == std::string("no such route: ") + path);
        }
}

TEST_CASE("POST /v1/outbox/delete deletes one target's dead commands a page at a time, each with an account in its history; bad queries change nothing") {
    Server s(100, "event Go { id: string, n: int }\n"
                  "command Log to log { text: string }\ncommand Mail to mail { text: string }\n"
                  "workflow W { key id: string start on Go as g { emit Log { text: str(g.n) } emit Mail { text: \"m\" } goto S } "
                  "state S { on Go { complete } } }");
    for (int n = 0; n < 5; ++n)
        REQUIRE(s.call(beast_http::verb::post, "/v1/events",
                       R"({"id": "e)" + std::to_string(n) + R"(", "type": "Go", "data": {"id": "k)" + std::to_string(n) + R"(", "n": 1}})")
                    .result_int() == 202);
    auto commands = s.store->outbox("", 20);
    REQUIRE(commands.value->size() == 10);  // each instance's Log, then its Mail
    auto command = [&](int instance, const char* target) {
        for (const auto& c : *commands.value)
            if (c.target == target && c.key == json("k" + std::to_string(instance)).dump()) return c;
        FAIL("no such command");
        return store::OutboxCommand{};
    };
    using Attempt = store::DeliveryAttempt;
    auto kill = [&](std::vector<std::pair<int, const char*>> which) {
        std::vector<Attempt> deaths;
        for (auto [i, target] : which) deaths.push_back({Attempt::Result::Dead, command(i, target).id, 12, 0, "HTTP 410: gone", ""});
        REQUIRE_FALSE(s.writer->run([&](store::Transaction& tx) { return tx.record_attempts(deaths); }));
    };
    // Instance 2's Log stays pending; the Mail commands of instances 0 and 1 die too.
    kill({{0, "log"}, {1, "log"}, {3, "log"}, {4, "log"}});
    kill({{0, "mail"}, {1, "mail"}});
    REQUIRE(s.store->outbox("dead", 20).value->size() == 6);

    // A deletion cannot be undone: it names its target, and takes nothing it does not know.
    for (const char* query : {"", "?limit=5", "?limit=x&target=log", "?after=-1&target=log", "?target=log&target=mail", "?target=",
                              "?tagret=log", "?target=log&status=dead"}) {
        INFO(query);
        auto refused = s.call(beast_http::verb::post, std::string("/v1/outbox/delete") + query);
        CHECK(refused.result_int() == 400);
    }
    CHECK(s.body_of(s.call(beast_http::verb::post, "/v1/outbox/delete"))["error"] ==
          "target is required: a deletion names the target whose dead commands it deletes");
    CHECK(s.body_of(s.call(beast_http::verb::post, "/v1/outbox/delete?target="))["error"] == "target must not be empty");
    auto wrong = s.call(beast_http::verb::get, "/v1/outbox/delete?target=log");
    CHECK(wrong.result_int() == 405);
    CHECK(wrong[beast_http::field::allow] == "POST");
    CHECK(s.body_of(s.call(beast_http::verb::post, "/v1/outbox/delete?target=other")) == json{{"deleted", 0}, {"next", nullptr}});
    // A stray `&` is no parameter; a value without a name is one, and unknown.
    CHECK(s.call(beast_http::verb::post, "/v1/outbox/delete?target=other&").result_int() == 200);
    CHECK(s.call(beast_http::verb::post, "/v1/outbox/delete?&&target=other").result_int() == 200);
    CHECK(s.body_of(s.call(beast_http::verb::post, "/v1/outbox/delete?target=other&=x"))["error"] ==
          "a parameter without a name: target, limit and after are known");
    CHECK(s.store->outbox("dead", 20).value->size() == 6);
    CHECK(s.store->outbox("", 20).value->size() == 10);

    json page = s.body_of(s.call(beast_http::verb::post, "/v1/outbox/delete?target=log&limit=3"));
    CHECK(page["deleted"] == 3);
    REQUIRE(page["next"].is_string());
    auto left = s.store->outbox("dead", 20);
    REQUIRE(left.value->size() == 3);  // the oldest three of log went; mail's are the other target's
    CHECK(left.value->at(0).id == command(0, "mail").id);
    CHECK(left.value->at(1).id == command(1, "mail").id);
    CHECK(left.value->at(2).id == command(4, "log").id);
    for (int i : {0, 1, 3}) {
        INFO("instance " << i);
        CHECK(s.call(beast_http::verb::get, "/v1/outbox/" + command(i, "log").id).result_int() == 404);
        json history = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + command(i, "log").instance))["history"];
        json last = history.back();
        CHECK(last["kind"] == "command_deleted");
        CHECK(last["id"] == command(i, "log").id);
        CHECK(last["target"] == "log");
        CHECK(last["attempts"] == 12);
        CHECK(last["last_error"] == "HTTP 410: gone");
    }
    CHECK(s.body_of(s.call(beast_http::verb::post, "/v1/outbox/delete?target=log&after=" + page["next"].get<std::string>())) ==
          json{{"deleted", 1}, {"next", nullptr}});
    CHECK(s.body_of(s.call(beast_http::verb::post, "/v1/outbox/delete?target=log")) == json{{"deleted", 0}, {"next", nullptr}});
    // The pending command of the target is left as it is; the other target's dead ones too.
    auto pending_log = s.call(beast_http::verb::get, "/v1/outbox/" + command(2, "log").id);
    REQUIRE(pending_log.result_int() == 200);
    CHECK(s.body_of(pending_log)["status"] == "pending");
    CHECK(s.store->outbox("dead", 20).value->size() == 2);
    CHECK(s.body_of(s.call(beast_http::verb::post, "/v1/outbox/delete?target=mail&limit=1000")) == json{{"deleted", 2}, {"next", nullptr}});
    CHECK(s.store->outbox("dead", 20).value->empty());
    CHECK(s.store->outbox("", 20).value->size() == 4);  // instance 2's two, and the Mail commands of 3 and 4
}

TEST_CASE("POST /v1/outbox/retry gives the dead commands a new round a page at a time, of one target or all; bad queries change nothing") {
    Server s;
    for (int n = 1; n <= 5; ++n)
        REQUIRE(s.call(beast_http::verb::post, "/v1/events",
                       R"({"id": "e)" + std::to_string(n) + R"(", "type": "Go", "data": {"id": "k)" + std::to_string(n) + R"(", "n": 1}})")
                    .result_int() == 202);
    auto pending = s.store->outbox("pending", 10);
    REQUIRE(pending.value->size() == 5);
    using Attempt = store::DeliveryAttempt;
    std::vector<Attempt> deaths;
    // The third stays pending: a retry of all leaves it as it is.
    for (int i : {0, 1, 3, 4}) deaths.push_back({Attempt::Result::Dead, (*pending.value)[i].id, 12, 0, "HTTP 503", ""});
    REQUIRE_FALSE(s.writer->run([&](store::Transaction& tx) { return tx.record_attempts(deaths); }));
    REQUIRE(s.store->outbox("dead", 10).value->size() == 4);

    // A typo or an unset variable must not widen the retry to every target.
    for (const char* query : {"?limit=x", "?after=-1", "?target=log&target=other", "?target=", "?tagret=log", "?target=log&status=dead"}) {
        auto refused = s.call(beast_http::verb::post, std::string("/v1/outbox/retry") + query);
        CHECK_MESSAGE(refused.result_int() == 400, query);
    }
    CHECK(s.store->outbox("dead", 10).value->size() == 4);
    CHECK(s.call(beast_http::verb::get, "/v1/outbox/retry").result_int() == 405);
    auto other = s.body_of(s.call(beast_http::verb::post, "/v1/outbox/retry?target=other"));
    CHECK(other == json{{"retried", 0}, {"next", nullptr}});
    CHECK(s.store->outbox("dead", 10).value->size() == 4);

    auto first = s.call(beast_http::verb::post, "/v1/outbox/retry?target=log&limit=3");
    REQUIRE(first.result_int() == 200);
    json page = s.body_of(first);
    CHECK(page["retried"] == 3);
    REQUIRE(page["next"].is_string());
    auto dead = s.store->outbox("dead", 10);
    REQUIRE(dead.value->size() == 1);  // the oldest three went first
    CHECK(dead.value->front().id == (*pending.value)[4].id);
    CHECK(dead.value->front().row > std::stoll(page["next"].get<std::string>()));
    auto retried = s.store->outbox("pending", 10);
    REQUIRE(retried.value->size() == 4);
    for (const auto& c : *retried.value) {
        CHECK(c.attempts == 0);  // 12 before the retry, but for the one never dead
        CHECK(c.next_attempt_ms == 1767225600000);  // due now
    }
    // The first page's commands die again (their target still refuses): the next page, after the
    // cursor, retries only the one left, so a pass retries each command once.
    std::vector<Attempt> again;
    for (int i : {0, 1, 3}) again.push_back({Attempt::Result::Dead, (*pending.value)[i].id, 1, 0, "HTTP 503", ""});
    REQUIRE_FALSE(s.writer->run([&](store::Transaction& tx) { return tx.record_attempts(again); }));
    auto rest = s.body_of(s.call(beast_http::verb::post, "/v1/outbox/retry?after=" + page["next"].get<std::string>()));
    CHECK(rest == json{{"retried", 1}, {"next", nullptr}});
    dead = s.store->outbox("dead", 10);
    REQUIRE(dead.value->size() == 3);
    CHECK(dead.value->back().id == (*pending.value)[3].id);
    CHECK(s.body_of(s.call(beast_http::verb::post, "/v1/outbox/retry")) == json{{"retried", 3}, {"next", nullptr}});
    CHECK(s.store->outbox("dead", 10).value->empty());
    CHECK(s.store->outbox("pending", 10).value->size() == 5);
    CHECK(s.body_of(s.call(beast_http::verb::post, "/v1/outbox/retry")) == json{{"retried", 0}, {"next", nullptr}});
}

TEST_CASE("GET /v1/outbox?target= lists one target's commands, with a status or without, a page at a time") {
    Server s(100, "event Go { id: string }\ncommand Pay to payments { id: string }\ncommand Ship to shipping { id: string }\n"
                  "workflow W { key id: string start on Go as g { emit Pay { id: g.id } emit Ship { id: g.id } goto S } "
                  "state S { on Go { complete } } }");
    for (int n = 1; n <= 3; ++n)
        REQUIRE(s.call(beast_http::verb::post, "/v1/events",
                       R"({"id": "e)" + std::to_string(n) + R"(", "type": "Go", "data": {"id": "k)" + std::to_string(n) + R"("}})")
                    .result_int() == 202);
    auto all = s.store->outbox("", 10);
    REQUIRE(all.value->size() == 6);
    // The second payment goes dead; the rest stay pending.
    using Attempt = store::DeliveryAttempt;
    const std::string dead_payment = (*all.value)[2].id;
    REQUIRE((*all.value)[2].target == "payments");
    REQUIRE_FALSE(s.writer->run([&](store::Transaction& tx) {
        return tx.record_attempts({{Attempt::Result::Dead, dead_payment, 1, 0, "HTTP 400", ""}});
    }));
    auto ids_of = [&](const std::string& query) {
        json page = s.body_of(s.call(beast_http::verb::get, "/v1/outbox" + query));
        std::vector<std::string> ids;
        for (const auto& c : page["commands"]) ids.push_back(c["id"]);
        return std::pair{ids, page["next"]};
    };
    auto [payments, no_more] = ids_of("?target=payments");
    CHECK(payments == std::vector<std::string>{(*all.value)[0].id, dead_payment, (*all.value)[4].id});
    CHECK(no_more.is_null());
    CHECK(ids_of("?target=payments&status=dead").first == std::vector<std::string>{dead_payment});
    CHECK(ids_of("?status=pending&target=payments").first == std::vector<std::string>{(*all.value)[0].id, (*all.value)[4].id});
    CHECK(ids_of("?target=shipping&status=dead").first.empty());
    CHECK(ids_of("?target=shipping&status=delivered").first.empty());
    CHECK(ids_of("?target=nobody").first.empty());
    CHECK(ids_of("?target=").first.size() == 6);  // empty: no filter, as for the other lists
    // Pages of one target follow its own commands.
    auto [first, next] = ids_of("?target=shipping&limit=2");
    CHECK(first == std::vector<std::string>{(*all.value)[1].id, (*all.value)[3].id});
    REQUIRE(next.is_string());
    CHECK(ids_of("?target=shipping&limit=2&after=" + next.get<std::string>()).first == std::vector<std::string>{(*all.value)[5].id});
    CHECK(s.call(beast_http::verb::get, "/v1/outbox?target=payments&target=shipping").result_int() == 400);
    // A command behind a pending one of its instance is pending, with no time of its own yet.
    json waiting = s.body_of(s.call(beast_http::verb::get, "/v1/outbox/" + (*all.value)[5].id));
    CHECK(waiting["status"] == "pending");
    CHECK(waiting["next_attempt_at"].is_null());
    json first_of_instance = s.body_of(s.call(beast_http::verb::get, "/v1/outbox/" + (*all.value)[4].id));
    CHECK(first_of_instance["next_attempt_at"].is_string());
}

TEST_CASE("GET /v1/instances?state= lists the instances whose last state is that one, with the other filters and pages") {
    Server s(100, "event Go { id: string, n: int }\nevent Note { id: string, text: string }\n"
                  "command Log to log { text: string }\n"
                  "workflow W { key id: string start on Go as g { emit Log { text: str(g.n) } goto A }\n"
                  "  state A { on Note { goto B } on Go { complete } }\n"
                  "  state B { on Go { complete } } }");
    int event = 0;
    auto post = [&](const std::string& type, const std::string& data) {
        return s.call(beast_http::verb::post, "/v1/events",
                      R"({"id": "e)" + std::to_string(++event) + R"(", "type": ")" + type + R"(", "data": )" + data + "}");
    };
    for (const char* key : {"k1", "k2", "k3"}) REQUIRE(post("Go", R"({"id": ")" + std::string(key) + R"(", "n": 1})").result_int() == 202);
    REQUIRE(post("Note", R"({"id": "k2", "text": "on"})").result_int() == 202);
    REQUIRE(post("Note", R"({"id": "k3", "text": "on"})").result_int() == 202);
    REQUIRE(post("Go", R"({"id": "k3", "n": 2})").result_int() == 202);  // completed in B
    auto keys = [&](const std::string& query) {
        std::vector<std::string> out;
        const json body = s.body_of(s.call(beast_http::verb::get, "/v1/instances" + query));
        for (const json& i : body["instances"]) out.push_back(i["key"]);
        return out;
    };
    CHECK(keys("?state=A") == std::vector<std::string>{"k1"});
    CHECK(keys("?state=B") == std::vector<std::string>{"k2", "k3"});
    CHECK(keys("?state=B&status=running") == std::vector<std::string>{"k2"});
    CHECK(keys("?state=B&key=k3") == std::vector<std::string>{"k3"});
    CHECK(keys("?state=B&key=k1").empty());
    CHECK(keys("?state=B&workflow=W&status=completed") == std::vector<std::string>{"k3"});
    CHECK(keys("?state=Nowhere").empty());
    CHECK(keys("?state=") == std::vector<std::string>{"k1", "k2", "k3"});  // an empty value is no filter
    json first_page = s.body_of(s.call(beast_http::verb::get, "/v1/instances?state=B&limit=1"));
    REQUIRE(first_page["instances"].size() == 1);
    CHECK(first_page["instances"][0]["key"] == "k2");
    REQUIRE(first_page["next"].is_string());
    CHECK(keys("?state=B&limit=1&after=" + first_page["next"].get<std::string>()) == std::vector<std::string>{"k3"});
    auto twice = s.call(beast_http::verb::get, "/v1/instances?state=A&state=B");
    CHECK(twice.result_int() == 400);
    CHECK(s.body_of(twice)["error"] == "state is given more than once");
}

TEST_CASE("a step that keeps the instance running updates it in place; one that ends it frees its key") {
    Server s;
    auto post = [&](const std::string& id, const std::string& type, const std::string& data) {
        return s.call(beast_http::verb::post, "/v1/events", R"({"id": ")" + id + R"(", "type": ")" + type + R"(", "data": )" + data + "}");
    };
    REQUIRE(post("e1", "Go", R"({"id": "k", "n": 1})").result_int() == 202);
    std::string first = s.body_of(post("e2", "Note", R"({"id": "k", "text": "hello"})"))["deliveries"][0]["instance"];
    auto running = s.body_of(s.call(beast_http::verb::get, "/v1/instances?status=running&key=k"))["instances"];
    REQUIRE(running.size() == 1);
    CHECK(running[0]["id"] == first);
    auto detail = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + first));
    CHECK(detail["vars"]["last"] == "hello");
    CHECK(detail["status"] == "running");
    // The next Note finds the same instance through the running index.
    CHECK(s.body_of(post("e3", "Note", R"({"id": "k", "text": "again"})"))["deliveries"][0]["instance"] == first);
    CHECK(s.body_of(post("e4", "Go", R"({"id": "k", "n": 2})"))["deliveries"][0]["outcome"] == "handled");
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances?status=running"))["instances"].size() == 0);
    auto completed = s.body_of(s.call(beast_http::verb::get, "/v1/instances?status=completed"))["instances"];
    REQUIRE(completed.size() == 1);
    CHECK(completed[0]["id"] == first);
    auto again = s.body_of(post("e5", "Go", R"({"id": "k", "n": 3})"));
    CHECK(again["deliveries"][0]["outcome"] == "started");
    CHECK(again["deliveries"][0]["instance"] != first);
}

TEST_CASE("a transition's history entry names the timers it started and cancelled") {
    Server s(100, "event Go { id: string }\nevent Ping { id: string }\nevent Stop { id: string }\n"
                  "workflow W { key id: string start on Go { goto Waiting }\n"
                  " state Waiting { after 1h { complete } at now() + 2h { complete } on Ping { goto Waiting } on Stop { complete } }\n"
                  " state Quiet { on Stop { complete } } on Go { goto Quiet } }");
    auto post = [&](const std::string& id, const std::string& type) {
        auto answer = s.call(beast_http::verb::post, "/v1/events", json({{"id", id}, {"type", type}, {"data", {{"id", "k"}}}}).dump());
        REQUIRE(answer.result_int() == 202);
        return s.body_of(answer)["deliveries"][0]["instance"].get<std::string>();
    };
    const std::string id = post("e1", "Go");
    post("e2", "Ping");  // re-entry: both timers cancelled and started again
    post("e3", "Go");    // to a state without timers: both cancelled
    post("e4", "Stop");  // the end: no timer left to cancel
    json history = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + id))["history"];
    std::vector<json> transitions;
    for (const json& h : history)
        if (h["kind"] == "transition") transitions.push_back(h);
    REQUIRE(transitions.size() == 4);
    const json both = json::parse(R"([{"timer": "after", "due": "2026-01-01T01:00:00.000Z"}, {"timer": "at", "due": "2026-01-01T02:00:00.000Z"}])");
    CHECK(transitions[0]["timers_started"] == both);
    CHECK(!transitions[0].contains("timers_cancelled"));
    CHECK(transitions[1]["timers_started"] == both);
    CHECK(transitions[1]["timers_cancelled"] == both);
    CHECK(!transitions[2].contains("timers_started"));
    CHECK(transitions[2]["timers_cancelled"] == both);
    CHECK(!transitions[3].contains("timers_started"));
    CHECK(!transitions[3].contains("timers_cancelled"));
}

TEST_CASE("a deadline already passed fires right after the handler that entered its state, in the same transaction") {
    Server s(100, "event Go { id: string }\nevent Note { id: string }\ncommand Log to log { text: string }\n"
                  "workflow W { key id: string start on Go { goto Waiting }\n"
                  " state Waiting { at now() - 1h { emit Log { text: \"late \" + str(now()) } goto Late } on Note { complete } }\n"
                  " state Late { after 0s { fail \"deadline passed\" } on Note { complete } } }");
    // In one batch, the Note after the Go finds the instance already failed: the deadline, and the
    // zero timer of the state it entered, fired before it.
    auto answer = s.call(beast_http::verb::post, "/v1/events",
                         R"([{"specversion": "1.0", "id": "g", "source": "/t", "type": "Go", "data": {"id": "k"}},)"
                         R"( {"specversion": "1.0", "id": "n", "source": "/t", "type": "Note", "data": {"id": "k"}}])",
                         {{"Content-Type", "application/cloudevents-batch+json"}});
    REQUIRE(answer.result_int() == 202);
    json results = s.body_of(answer);
    CHECK(results[0]["deliveries"][0]["outcome"] == "started");
    CHECK(results[0]["deliveries"][0]["state"] == "Waiting");  // the state the handler left it in
    CHECK(results[1]["deliveries"][0]["outcome"] == "unmatched");
    std::string id = results[0]["deliveries"][0]["instance"];
    json detail = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + id));
    CHECK(detail["status"] == "failed");
    CHECK(detail["error"] == "deadline passed");
    std::vector<std::string> kinds;
    for (const json& h : detail["history"]) kinds.push_back(h["kind"]);
    CHECK(kinds == std::vector<std::string>{"delivery", "transition", "timer", "command", "transition", "timer", "transition", "error"});
    CHECK(detail["history"][3]["data"]["text"] == "late 2025-12-31T23:00:00Z");
    // The timers each transition started and cancelled; a timer that fires is neither.
    CHECK(detail["history"][1]["timers_started"] == json::parse(R"([{"timer": "at", "due": "2025-12-31T23:00:00.000Z"}])"));
    CHECK(!detail["history"][1].contains("timers_cancelled"));
    CHECK(detail["history"][4]["timers_started"] == json::parse(R"([{"timer": "after", "due": "2025-12-31T23:00:00.000Z"}])"));
    CHECK(!detail["history"][4].contains("timers_cancelled"));
    CHECK(!detail["history"][6].contains("timers_started"));
    CHECK(!detail["history"][6].contains("timers_cancelled"));
    json outbox = s.body_of(s.call(beast_http::verb::get, "/v1/outbox?status=pending"))["commands"];
    CHECK(outbox.size() == 1);
    CHECK(s.call(beast_http::verb::get, "/metrics").body().find("flow_timers_fired_total 2\n") != std::string::npos);
}

TEST_CASE("an instance failed with an empty reason shows the error \"\" and its history an error entry") {
    Server s(100, "event Go { id: string, why: string }\nworkflow W { key id: string start on Go as g { fail g.why } }");
    auto answer = s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "k", "why": ""}})");
    REQUIRE(answer.result_int() == 202);
    const std::string id = s.body_of(answer)["deliveries"][0]["instance"];
    json detail = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + id));
    CHECK(detail["status"] == "failed");
    CHECK(detail["error"] == "");
    REQUIRE(!detail["history"].empty());
    CHECK(detail["history"].back()["kind"] == "error");
    CHECK(detail["history"].back()["error"] == "");
}

TEST_CASE("a timer that enters a state whose deadline has passed: the deadline fires in the same call, counted") {
    Server s(100, "event Go { id: string }\nevent Note { id: string }\n"
                  "workflow W { key id: string start on Go { goto Waiting }\n"
                  " state Waiting { after 1h { goto Late } on Note { complete } }\n"
                  " state Late { at now() - 1m { fail \"too late\" } on Note { complete } } }");
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "g", "type": "Go", "data": {"id": "k"}})").result_int() == 202);
    const std::int64_t later = 1767225600000 + 2 * 3600 * 1000;
    auto due = s.store->due_timers(later, 10);
    REQUIRE(due.ok());
    REQUIRE(due.value->size() == 1);
    int overdue = 0;
    bool fired = false;
    REQUIRE_FALSE(s.writer->run([&](store::Transaction& tx) -> store::Status {
        auto r = s.processor->fire(tx, due.value->front(), later, s.sequence, &overdue);
        if (!r.ok()) return r.error;
        fired = *r.value;
        return std::nullopt;
    }));
    CHECK(fired);
    CHECK(overdue == 1);
    json list = s.body_of(s.call(beast_http::verb::get, "/v1/instances?key=k"))["instances"];
    REQUIRE(list.size() == 1);
    json detail = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + list[0]["id"].get<std::string>()));
    CHECK(detail["status"] == "failed");
    CHECK(detail["error"] == "too late");
    CHECK(s.store->due_timers(later, 10).value->empty());
}

TEST_CASE("a due timer of a version this binary cannot run waits, and fires once a binary can run it") {
    const std::string text = "event Go { id: string }\nevent Note { id: string }\n"
                             "workflow W { version 2 key id: string start on Go { goto Waiting }\n"
                             " state Waiting { after 1h { goto Late } on Note { complete } }\n"
                             " state Late { on Note { complete } } }";
    Server s(100, text);
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "g", "type": "Go", "data": {"id": "k"}})").result_int() == 202);
    const std::int64_t due_ms = 1767225600000 + 3600 * 1000;
    const std::int64_t later = due_ms + 3600 * 1000;
    // A binary whose programs hold version 1 only, as when version 2 no longer compiles.
    Compilation older = test::compile_text(std::string(text).replace(text.find("version 2"), 9, "version 1"));
    REQUIRE(older.program);
    service::Deployment without_version_2(older.program);
    service::Processor processor(without_version_2, [] { return std::string("unused"); });
    auto fire = [&](service::Processor& p, const store::DueTimer& timer) {
        bool fired = false;
        REQUIRE_FALSE(s.writer->run([&](store::Transaction& tx) -> store::Status {
            auto r = p.fire(tx, timer, later, s.sequence, nullptr);
            if (!r.ok()) return r.error;
            fired = *r.value;
            return std::nullopt;
        }));
        return fired;
    };
    auto due = s.store->due_timers(later, 10);
    REQUIRE(due.value->size() == 1);
    CHECK_FALSE(fire(processor, due.value->front()));
    // Kept, and looked at again a minute later; the instance is as it was.
    CHECK(s.store->due_timers(later, 10).value->empty());
    due = s.store->due_timers(later + 60'000, 10);
    REQUIRE(due.value->size() == 1);
    json list = s.body_of(s.call(beast_http::verb::get, "/v1/instances?key=k"))["instances"];
    REQUIRE(list.size() == 1);
    const std::string path = "/v1/instances/" + list[0]["id"].get<std::string>();
    CHECK(s.body_of(s.call(beast_http::verb::get, path))["state"] == "Waiting");
    // Asked about the instance, the binary without version 2 says why it cannot run it.
    auto stored = s.store->instance_detail(list[0]["id"].get<std::string>());
    REQUIRE(stored.ok());
    REQUIRE(*stored.value);
    auto why = processor.cannot_run((**stored.value).instance);
    REQUIRE(why);
    CHECK(why->rfind("no program for W version 2: its sources no longer compile with this flowd", 0) == 0);
    CHECK_FALSE(s.processor->cannot_run((**stored.value).instance));
    CHECK(s.body_of(s.call(beast_http::verb::get, path))["cannot_run"].is_null());
    // A binary that runs version 2 fires it, with the due time it was put off to.
    CHECK(fire(*s.processor, due.value->front()));
    json detail = s.body_of(s.call(beast_http::verb::get, path));
    CHECK(detail["state"] == "Late");
    json timer_entry;
    for (const json& entry : detail["history"])
        if (entry["kind"] == "timer") timer_entry = entry;
    CHECK(timer_entry["due"] == "2026-01-01T02:01:00.000Z");
}

TEST_CASE("routes: 404, 405, 401 with an admin token, cancel and 409") {
    Server s;
    CHECK(s.call(beast_http::verb::get, "/v2/anything").result_int() == 404);
    CHECK(s.call(beast_http::verb::get, "/v1/events").result_int() == 405);
    CHECK(s.call(beast_http::verb::get, "/v1/instances/none").result_int() == 404);
    CHECK(s.call(beast_http::verb::get, "/healthz").result_int() == 200);
    auto started = s.body_of(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})"));
    std::string id = started["deliveries"][0]["instance"];
    auto cancelled = s.call(beast_http::verb::post, "/v1/instances/" + id + "/cancel");
    CHECK(cancelled.result_int() == 200);
    CHECK(s.body_of(cancelled)["status"] == "cancelled");
    CHECK(s.call(beast_http::verb::post, "/v1/instances/" + id + "/cancel").result_int() == 409);
    s.config.admin_token = "t0ken";
    auto refused = s.call(beast_http::verb::get, "/v1/instances");
    CHECK(refused.result_int() == 401);
    CHECK(refused[beast_http::field::www_authenticate] == R"(Bearer realm="flowd")");  // RFC 9110 11.6.1
    auto refused_head = s.call(beast_http::verb::head, "/v1/outbox", "", {{"Authorization", "Bearer wrong"}});
    CHECK(refused_head.result_int() == 401);
    CHECK(refused_head[beast_http::field::www_authenticate] == R"(Bearer realm="flowd")");
    CHECK(s.call(beast_http::verb::get, "/v1/instances", "", {{"Authorization", "Bearer t0ken"}}).result_int() == 200);
    CHECK(s.call(beast_http::verb::get, "/metrics").result_int() == 200);
}

TEST_CASE("a route's path is compared segment by segment once percent-decoded, whatever its query") {
    Server s;
    // `%65` is `e` and `%68` is `h`, as `%77orkflows` was already `workflows`.
    auto accepted = s.call(beast_http::verb::post, "/v1/%65vents", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})");
    CHECK(accepted.result_int() == 202);
    CHECK(s.body_of(accepted)["deliveries"][0]["outcome"] == "started");
    CHECK(s.call(beast_http::verb::get, "/v1/%65vents").result_int() == 405);
    CHECK(s.call(beast_http::verb::get, "/%68ealthz").result_int() == 200);
    CHECK(s.call(beast_http::verb::get, "/metrics?name=flow").result_int() == 200);
    CHECK(s.call(beast_http::verb::get, "/v1/%77orkflows").result_int() == 200);
    // An encoded slash stays inside its segment: `/v1%2Fevents` is one segment, no route.
    CHECK(s.call(beast_http::verb::post, "/v1%2Fevents", R"({"id": "e2", "type": "Go", "data": {"id": "b", "n": 1}})").result_int() == 404);
    CHECK(s.call(beast_http::verb::post, "/v1/events/", R"({"id": "e3", "type": "Go", "data": {"id": "c", "n": 1}})").result_int() == 404);
    http::Request waiting{beast_http::verb::get, "/%6detrics?x=1", 11};
    CHECK(http::targets_path(waiting, {"metrics"}));
    CHECK(!http::targets_path(waiting, {"healthz"}));
    waiting.target("http://localhost:8080");
    CHECK(http::targets_path(waiting, {}));
    waiting.target("/");
    CHECK(http::targets_path(waiting, {}));
}

TEST_CASE("terminate ends a running instance cancelled without running on cancel, its timers or its compensations") {
    Server s(100, "event Go { id: string }\ncommand Book to hotel { id: string }\ncommand Undo to hotel { id: string, at: time }\n"
                  "command Late to hotel { id: string }\n"
                  "workflow W { key id: string start on Go as g {\n"
                  "   emit Book { id: g.id } compensate with Undo { id: g.id, at: now() } goto S }\n"
                  " state S { after 1h { emit Late { id: key } complete } at now() + 2h { complete } on Go { complete } }\n"
                  " on cancel { compensate } }");
    auto started = s.body_of(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a"}})"));
    const std::string id = started["deliveries"][0]["instance"];
    const std::string path = "/v1/instances/" + id + "/terminate";
    CHECK(s.call(beast_http::verb::get, path).result_int() == 405);
    // Three hours later, with both timers overdue: neither fires, as they would before a cancel.
    service::CancelOutcome outcome = service::CancelOutcome::NotFound;
    REQUIRE_FALSE(s.writer->run([&](store::Transaction& tx) -> store::Status {
        auto r = s.processor->terminate(tx, id, 1767225600000 + 3 * 3600000);
        if (!r.ok()) return r.error;
        outcome = *r.value;
        return std::nullopt;
    }));
    CHECK(outcome == service::CancelOutcome::Cancelled);
    json ended = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + id));
    CHECK(ended["status"] == "cancelled");
    CHECK(ended["state"] == "S");
    CHECK(ended["error"].is_null());
    CHECK(ended["timers"].empty());
    CHECK(ended["cannot_run"].is_null());
    CHECK(ended["updated_at"] == "2026-01-01T03:00:00.000Z");
    json history = ended["history"];
    REQUIRE(history.size() >= 2);
    for (const json& entry : history) CHECK(entry["kind"] != "timer");
    json terminate = history[history.size() - 2];
    CHECK(terminate["kind"] == "terminate");
    CHECK(terminate["at"] == "2026-01-01T03:00:00.000Z");
    CHECK(terminate["status"] == "cancelled");
    REQUIRE(terminate["timers_dropped"].size() == 2);
    CHECK(terminate["timers_dropped"][0]["due"] == "2026-01-01T01:00:00.000Z");
    CHECK(terminate["timers_dropped"][1]["due"] == "2026-01-01T02:00:00.000Z");
    // What is still owed, in the commands' wire form, for whoever makes up for it by hand.
    CHECK(terminate["compensations_discarded"] ==
          json::parse(R"([{"type": "Undo", "target": "hotel", "data": {"id": "a", "at": "2026-01-01T00:00:00Z"}}])"));
    CHECK(history.back() == json{{"at", terminate["at"]}, {"kind", "transition"}, {"from", "S"}, {"to", "S"}, {"status", "cancelled"}});
    // on cancel did not run, nor the timer: the outbox holds Book alone, and no timer is left.
    auto outbox = s.body_of(s.call(beast_http::verb::get, "/v1/outbox?status=pending"))["commands"];
    REQUIRE(outbox.size() == 1);
    CHECK(outbox[0]["type"] == "Book");
    CHECK(s.store->due_timers(1767225600000 + 4 * 3600000, 10).value->empty());
    // Once only; an unknown instance is 404; the key is free for a new instance.
    auto again = s.call(beast_http::verb::post, path);
    CHECK(again.result_int() == 409);
    CHECK(s.body_of(again)["error"] == "instance '" + id + "' is not running");
    CHECK(s.call(beast_http::verb::post, "/v1/instances/" + numbered_id(99) + "/terminate").result_int() == 404);
    json restarted = s.body_of(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e2", "type": "Go", "data": {"id": "a"}})"));
    CHECK(restarted["deliveries"][0]["outcome"] == "started");
    const std::string second = "/v1/instances/" + restarted["deliveries"][0]["instance"].get<std::string>() + "/terminate";
    s.config.admin_token = "t0ken";
    CHECK(s.call(beast_http::verb::post, second).result_int() == 401);
    auto answer = s.call(beast_http::verb::post, second, "", {{"Authorization", "Bearer t0ken"}});
    CHECK(answer.result_int() == 200);
    CHECK(s.body_of(answer)["status"] == "cancelled");
}

TEST_CASE("an instance whose row does not fit says why, and terminate ends it without rewriting its row") {
    Server s(100, "event Go { id: string, n: int }\n"
                  "workflow W { key id: string var n: int = 0 var since: time = now() start on Go as g { n = g.n goto S } "
                  "state S { after 1h { n = n + 1 complete } on Go { complete } } }");
    for (const char* event : {R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})", R"({"id": "e2", "type": "Go", "data": {"id": "b", "n": 2}})",
                              R"({"id": "e3", "type": "Go", "data": {"id": "c", "n": 3}})"})
        REQUIRE(s.call(beast_http::verb::post, "/v1/events", event).result_int() == 202);
    // A variable of the wrong type, variables that are no JSON, a running instance in no state.
    const std::string a = numbered_id(1), b = numbered_id(2), c = numbered_id(3);
    auto raw_column = [&](const std::string& id) {
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open((s.dir / "flow.db").string().c_str(), &raw) == SQLITE_OK);
        std::string text = test::query_text(raw, "SELECT vars FROM instances WHERE id = '" + id + "'");
        sqlite3_close(raw);
        return text;
    };
    s.reopen([&] {
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open((s.dir / "flow.db").string().c_str(), &raw) == SQLITE_OK);
        test::exec_raw(raw, "UPDATE instances SET vars = '[\"abc\", \"soon\"]' WHERE id = '" + a + "'");
        test::exec_raw(raw, "UPDATE instances SET vars = 'garbage' WHERE id = '" + b + "'");
        test::exec_raw(raw, "UPDATE instances SET state = NULL WHERE id = '" + c + "'");
        sqlite3_close(raw);
    });
    json shown = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + a));
    const std::string why = "instance " + a + " (W version 1) cannot be run from the database: ";
    CHECK(shown["cannot_run"] == why + "variable 'n' holds a string where the workflow declares int");
    CHECK(shown["vars"] == json{{"n", "abc"}, {"since", "soon"}});  // as stored: a time holding text has no wire form
    auto refused = s.call(beast_http::verb::post, "/v1/events", R"({"id": "e4", "type": "Go", "data": {"id": "a", "n": 4}})");
    CHECK(refused.result_int() == 503);
    CHECK(s.body_of(refused)["error"] == shown["cannot_run"]);
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + c))["cannot_run"] ==
          "instance " + c + " (W version 1) cannot be run from the database: it is running but in no state");
    // Its timer fails alone, with the reason, rather than running the engine on a string.
    auto due = s.store->due_timers(1767225600000 + 3600000, 10);
    REQUIRE(due.ok());
    auto misfit = std::find_if(due.value->begin(), due.value->end(), [&](const store::DueTimer& d) { return d.instance == a; });
    REQUIRE(misfit != due.value->end());
    auto fired = s.writer->run([&](store::Transaction& tx) -> store::Status {
        auto r = s.processor->fire(tx, *misfit, 1767225600000 + 3600000, s.sequence);
        return r.ok() ? store::Status{} : r.error;
    });
    REQUIRE(fired);
    CHECK(fired->message == *shown["cannot_run"].get_ptr<const std::string*>());
    // Terminated, each keeps its row as it was but for its status; the refused event is taken now.
    for (const std::string& id : {a, b, c}) {
        auto answer = s.call(beast_http::verb::post, "/v1/instances/" + id + "/terminate");
        REQUIRE(answer.result_int() == 200);
        CHECK(s.body_of(answer)["status"] == "cancelled");
        CHECK(s.body_of(answer)["cannot_run"].is_null());
    }
    CHECK(raw_column(a) == "[\"abc\", \"soon\"]");
    json after = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + a));  // ended now, shown all the same
    CHECK(after["status"] == "cancelled");
    CHECK(after["vars"] == json{{"n", "abc"}, {"since", "soon"}});
    CHECK(raw_column(b) == "garbage");
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + c))["state"].is_null());
    auto retried = s.body_of(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e4", "type": "Go", "data": {"id": "a", "n": 4}})"));
    CHECK(retried["duplicate"] == false);
    CHECK(retried["deliveries"][0]["outcome"] == "started");
    CHECK(retried["deliveries"][0]["instance"] != a);
}

TEST_CASE("a runtime error in on cancel ends the instance cancelled, with the error and none of the handler's commands") {
    Server s(100, "event Go { id: string, n: int }\ncommand Log to log { text: string }\n"
                  "workflow W { key id: string var n: int = 0 start on Go as g { n = g.n goto S }\n"
                  " state S { on Go { complete } }\n on cancel { emit Log { text: \"bye\" } n = 10 / (n - 1) } }");
    auto started = s.body_of(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})"));
    std::string id = started["deliveries"][0]["instance"];
    auto answer = s.call(beast_http::verb::post, "/v1/instances/" + id + "/cancel");
    CHECK(answer.result_int() == 200);
    json cancelled = s.body_of(answer);
    CHECK(cancelled["status"] == "cancelled");
    CHECK(cancelled["state"] == "S");
    CHECK(cancelled["error"] == "division by zero at test.flow:5:46");
    CHECK(cancelled["vars"]["n"] == 1);
    CHECK(cancelled["timers"].empty());
    json history = cancelled["history"];
    REQUIRE(history.size() >= 3);
    json last = history[history.size() - 3];
    CHECK(last["kind"] == "cancel");
    CHECK(last["status"] == "cancelled");
    CHECK(history[history.size() - 2]["kind"] == "transition");
    CHECK(history.back()["kind"] == "error");
    CHECK(history.back()["error"] == "division by zero at test.flow:5:46");
    CHECK(s.store->outbox("", 10, 0).value->empty());
    CHECK(s.call(beast_http::verb::post, "/v1/instances/" + id + "/cancel").result_int() == 409);
}

TEST_CASE("instances: filters, limit capped at 1000 and stable cursors") {
    Server s;
    for (int i = 0; i < 5; ++i)
        s.call(beast_http::verb::post, "/v1/events",
               json({{"id", "e" + std::to_string(i)}, {"type", "Go"}, {"data", {{"id", "k" + std::to_string(i)}, {"n", i}}}}).dump());
    auto page = s.body_of(s.call(beast_http::verb::get, "/v1/instances?limit=2"));
    REQUIRE(page["instances"].size() == 2);
    REQUIRE(page["next"].is_string());
    auto next = s.body_of(s.call(beast_http::verb::get, "/v1/instances?limit=2&after=" + page["next"].get<std::string>()));
    CHECK(next["instances"][0]["key"] == "k2");
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances?key=k4"))["instances"].size() == 1);
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances?status=completed"))["instances"].size() == 0);
    CHECK(s.call(beast_http::verb::get, "/v1/instances?limit=abc").result_int() == 400);
    // A parameter given twice is refused, not guessed at (it took the last one).
    for (const char* query : {"/v1/instances?status=running&status=completed", "/v1/instances?key=k1&key=k1",
                              "/v1/instances?limit=1&limit=2", "/v1/outbox?status=dead&status=pending", "/v1/outbox?after=1&%61fter=2"}) {
        INFO(query);
        auto refused = s.call(beast_http::verb::get, query);
        CHECK(refused.result_int() == 400);
        CHECK(s.body_of(refused)["error"].get<std::string>().find("is given more than once") != std::string::npos);
    }
    CHECK(s.call(beast_http::verb::get, "/v1/instances?other=1&other=2").result_int() == 200);  // unknown ones are ignored
    // An empty value is no value: `?status=&status=completed` is `?status=completed`.
    CHECK(s.call(beast_http::verb::get, "/v1/instances?status=&status=completed").result_int() == 200);
    CHECK(s.call(beast_http::verb::get, "/v1/outbox?after=&after=1&status").result_int() == 200);
    // Digits only: no sign, no white space.
    for (const char* bad : {"+5", "%2B5", "%205", "5%20", "-1", "0x5", "99999999999999999999x"}) {
        INFO(bad);
        auto refused = s.call(beast_http::verb::get, std::string("/v1/instances?limit=") + bad);
        CHECK(refused.result_int() == 400);
        CHECK(s.body_of(refused)["error"] == "limit must be a non-negative integer");
        CHECK(s.call(beast_http::verb::get, std::string("/v1/outbox?after=") + bad).result_int() == 400);
    }
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances?limit=5000"))["instances"].size() == 5);
    // Past 64 bits a number is still one: a limit above 1000, a cursor past every row.
    auto huge = s.call(beast_http::verb::get, "/v1/instances?limit=99999999999999999999");
    REQUIRE(huge.result_int() == 200);
    CHECK(s.body_of(huge)["instances"].size() == 5);
    auto past = s.call(beast_http::verb::get, "/v1/instances?after=99999999999999999999");
    REQUIRE(past.result_int() == 200);
    CHECK(s.body_of(past)["instances"].empty());
    CHECK(s.call(beast_http::verb::get, "/v1/outbox?after=99999999999999999999&limit=99999999999999999999").result_int() == 200);
}

TEST_CASE("lists: limit defaults to 100 and is capped at 1000, for instances and for the outbox") {
    Server s;  // a batch of 1,001 events is under the default max_batch_events
    json batch = json::array();
    for (int i = 0; i < 1001; ++i)
        batch.push_back({{"specversion", "1.0"}, {"id", "e" + std::to_string(i)}, {"type", "Go"}, {"source", "test"},
                         {"data", {{"id", "k" + std::to_string(i)}, {"n", i}}}});
    auto posted = s.call(beast_http::verb::post, "/v1/events", batch.dump(), {{"Content-Type", "application/cloudevents-batch+json"}});
    REQUIRE(posted.result_int() == 202);
    auto first = s.body_of(s.call(beast_http::verb::get, "/v1/instances"));
    CHECK(first["instances"].size() == 100);
    CHECK(first["next"].is_string());
    auto most = s.body_of(s.call(beast_http::verb::get, "/v1/instances?limit=5000"));
    CHECK(most["instances"].size() == 1000);
    REQUIRE(most["next"].is_string());
    auto rest = s.body_of(s.call(beast_http::verb::get, "/v1/instances?limit=1000&after=" + most["next"].get<std::string>()));
    REQUIRE(rest["instances"].size() == 1);
    CHECK(rest["instances"][0]["key"] == "k1000");
    CHECK(rest["next"].is_null());
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/outbox"))["commands"].size() == 100);
    auto commands = s.body_of(s.call(beast_http::verb::get, "/v1/outbox?status=pending&limit=5000"));
    CHECK(commands["commands"].size() == 1000);
    // The outbox pages like the instances: `next` is the cursor for `after`.
    REQUIRE(commands["next"].is_string());
    auto last = s.body_of(s.call(beast_http::verb::get, "/v1/outbox?status=pending&limit=1000&after=" + commands["next"].get<std::string>()));
    REQUIRE(last["commands"].size() == 1);
    CHECK(last["commands"][0]["id"] != commands["commands"][999]["id"]);
    CHECK(last["next"].is_null());
    std::set<std::string> ids;
    for (const auto& c : commands["commands"]) ids.insert(c["id"].get<std::string>());
    ids.insert(last["commands"][0]["id"].get<std::string>());
    CHECK(ids.size() == 1001);  // every command once, across the two pages
    CHECK(s.call(beast_http::verb::get, "/v1/outbox?after=x").result_int() == 400);
}

TEST_CASE("the admin token guards the routes that change things, and a refused call changes nothing") {
    Server s;
    std::string id = s.body_of(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})"))
                         ["deliveries"][0]["instance"];
    s.config.admin_token = "t0ken";
    CHECK(s.call(beast_http::verb::post, "/v1/instances/" + id + "/cancel").result_int() == 401);
    CHECK(s.call(beast_http::verb::post, "/v1/instances/" + id + "/cancel", "", {{"Authorization", "Bearer wrong"}}).result_int() ==
          401);
    CHECK(s.call(beast_http::verb::post, "/v1/outbox/any/retry").result_int() == 401);
    auto still = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + id, "", {{"Authorization", "Bearer t0ken"}}));
    CHECK(still["status"] == "running");
    CHECK(s.call(beast_http::verb::post, "/v1/instances/" + id + "/cancel", "", {{"Authorization", "Bearer t0ken"}}).result_int() ==
          200);
}

TEST_CASE("an Authorization or a webhook signature header given twice is refused, whichever copy is right") {
    Server s;
    const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    s.config.admin_token = "t0ken";
    auto call = [&](beast_http::verb method, const std::string& target, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers) {
        http::Request req{method, target, 11};
        for (const auto& [k, v] : headers) req.insert(k, v);  // a repeated name is kept twice
        req.body() = body;
        req.prepare_payload();
        return http::handle(req, *s.services);
    };
    for (const auto& order : {std::vector<std::string>{"Bearer t0ken", "Bearer wrong"}, std::vector<std::string>{"Bearer wrong", "Bearer t0ken"}}) {
        auto r = call(beast_http::verb::get, "/v1/workflows", "", {{"Authorization", order[0]}, {"Authorization", order[1]}});
        CHECK(r.result_int() == 401);
    }
    CHECK(call(beast_http::verb::get, "/v1/workflows", "", {{"Authorization", "Bearer t0ken"}}).result_int() == 200);

    s.config.webhook_secrets = {secret};
    const std::string body = R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})";
    const std::string good = http::sign_webhook(secret, "m1", 1767225600, body);  // the test server's clock
    for (const auto& signatures : {std::vector<std::string>{"v1,AAAA", good}, std::vector<std::string>{good, "v1,AAAA"}}) {
        auto r = call(beast_http::verb::post, "/v1/events", body,
                      {{"webhook-id", "m1"}, {"webhook-timestamp", "1767225600"}, {"webhook-signature", signatures[0]},
                       {"webhook-signature", signatures[1]}});
        CHECK(r.result_int() == 401);
        CHECK(s.body_of(r)["error"].get<std::string>().find("webhook-signature is given more than once") != std::string::npos);
    }
    auto twice_id = call(beast_http::verb::post, "/v1/events", body,
                         {{"webhook-id", "m1"}, {"webhook-id", "m2"}, {"webhook-timestamp", "1767225600"}, {"webhook-signature", good}});
    CHECK(twice_id.result_int() == 401);
    // Another webhook- header given twice is none of the signature's: it is not looked at.
    CHECK(call(beast_http::verb::post, "/v1/events", R"({"id": "e9", "type": "Go", "data": {"id": "z", "n": 1}})",
               {{"webhook-id", "m9"}, {"webhook-timestamp", "1767225600"},
                {"webhook-signature", http::sign_webhook(secret, "m9", 1767225600, R"({"id": "e9", "type": "Go", "data": {"id": "z", "n": 1}})")},
                {"webhook-note", "a"}, {"webhook-note", "b"}})
              .result_int() == 202);
    s.config.admin_token.clear();
    auto listed = s.call(beast_http::verb::get, "/v1/instances?key=a");
    CHECK(listed.result_int() == 200);
    CHECK(s.body_of(listed).at("instances").empty());  // nothing was taken in
    // Missing signature headers are named, an empty one counting as missing.
    auto unsigned_event = call(beast_http::verb::post, "/v1/events", body, {{"webhook-timestamp", "1767225600"}});
    CHECK(unsigned_event.result_int() == 401);
    CHECK(s.body_of(unsigned_event)["error"] ==
          "the webhook signature headers are missing: webhook-id, webhook-signature (a signed event carries webhook-id, "
          "webhook-timestamp and webhook-signature)");
    auto empty_timestamp = call(beast_http::verb::post, "/v1/events", body,
                                {{"webhook-id", "m1"}, {"webhook-timestamp", ""}, {"webhook-signature", good}});
    CHECK(s.body_of(empty_timestamp)["error"].get<std::string>().rfind("the webhook signature headers are missing: webhook-timestamp (", 0) == 0);
    // One signature header holding both signatures, the right one among them, is the way to send two.
    CHECK(call(beast_http::verb::post, "/v1/events", body,
               {{"webhook-id", "m1"}, {"webhook-timestamp", "1767225600"}, {"webhook-signature", "v1,AAAA " + good}})
              .result_int() == 202);
}

TEST_CASE("an instance or command id in a path is read in any case, as UUIDs are") {
    Server s;
    std::string id = s.body_of(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})"))
                         ["deliveries"][0]["instance"];
    std::string upper = id;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    REQUIRE(upper != id);
    auto found = s.call(beast_http::verb::get, "/v1/instances/" + upper);
    CHECK(found.result_int() == 200);
    CHECK(s.body_of(found)["id"] == id);
    CHECK(s.call(beast_http::verb::post, "/v1/instances/" + upper + "/cancel").result_int() == 200);
    // A command's id: its command is pending, not dead, so found and refused with 409.
    auto commands = s.body_of(s.call(beast_http::verb::get, "/v1/outbox"))["commands"];
    REQUIRE(!commands.empty());
    std::string command = commands[0]["id"];
    for (char& c : command) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(s.call(beast_http::verb::post, "/v1/outbox/" + command + "/retry").result_int() == 409);
    // A text that is no UUID is looked up as it is, and named so in the 404.
    auto missing = s.call(beast_http::verb::get, "/v1/instances/NoSuchThing");
    CHECK(missing.result_int() == 404);
    CHECK(s.body_of(missing)["error"].get<std::string>().find("NoSuchThing") != std::string::npos);
}

TEST_CASE("an instance and its history pages are answered as compact JSON, every object's keys in order") {
    Server s;
    std::string id = s.body_of(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e0", "type": "Go", "data": {"id": "a", "n": 1}})"))
                         ["deliveries"][0]["instance"];
    // A note whose text looks like a member named history, kept in a variable the answer shows.
    REQUIRE(s.call(beast_http::verb::post, "/v1/events",
                   R"({"id": "e1", "type": "Note", "data": {"id": "a", "text": "\"history\":[],\"z\":{}"}})")
                .result_int() == 202);
    // Written as nlohmann::json writes an object: compact, its keys sorted.
    auto canonical = [](const std::string& text) { return json::parse(text).dump(-1, ' ', false, json::error_handler_t::replace); };
    const std::string whole = s.call(beast_http::verb::get, "/v1/instances/" + id).body();
    CHECK(whole == canonical(whole));
    json instance = json::parse(whole);
    REQUIRE(instance["history"].size() == 4);
    CHECK(instance["vars"]["last"] == "\"history\":[],\"z\":{}");
    CHECK(instance["status"] == "running");
    const std::string path = "/v1/instances/" + id + "/history";
    for (const std::string& query : {std::string("?limit=1"), std::string("?limit=2"), std::string("")}) {
        INFO(query);
        const std::string page = s.call(beast_http::verb::get, path + query).body();
        CHECK(page == canonical(page));
        json read = json::parse(page);
        CHECK(read.size() == 3);
        if (query.empty()) CHECK(read["history"] == instance["history"]);
    }
    const std::string last = json::parse(s.call(beast_http::verb::get, path).body())["position"];
    const std::string empty = s.call(beast_http::verb::get, path + "?after=" + last).body();
    CHECK(empty == canonical(empty));
    CHECK(json::parse(empty)["history"] == json::array());
}

TEST_CASE("GET /v1/instances/{id}/history pages through the history GET /v1/instances/{id} shows whole, and its cursors stay valid") {
    Server s;
    std::string id = s.body_of(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e0", "type": "Go", "data": {"id": "a", "n": 1}})"))
                         ["deliveries"][0]["instance"];
    for (int n = 1; n <= 4; ++n)
        REQUIRE(s.call(beast_http::verb::post, "/v1/events",
                       R"({"id": "note)" + std::to_string(n) + R"(", "type": "Note", "data": {"id": "a", "text": "t"}})")
                    .result_int() == 202);
    // The start step's three entries share a row; each note's delivery has one of its own.
    json whole = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + id))["history"];
    REQUIRE(whole.size() == 7);
    const std::string path = "/v1/instances/" + id + "/history";
    for (int limit : {1, 2, 3, 7, 8}) {
        INFO("limit " << limit);
        json gathered = json::array();
        std::string query = "?limit=" + std::to_string(limit);
        for (int pages = 0; pages < 10; ++pages) {
            auto answer = s.call(beast_http::verb::get, path + query);
            REQUIRE(answer.result_int() == 200);
            json page = s.body_of(answer);
            CHECK(page["history"].size() <= static_cast<std::size_t>(limit));
            for (auto& e : page["history"]) gathered.push_back(e);
            if (page["next"].is_null()) break;
            REQUIRE(page["next"].is_string());
            query = "?limit=" + std::to_string(limit) + "&after=" + page["next"].get<std::string>();
        }
        CHECK(gathered == whole);
    }
    // The default page holds 100; the history of a new instance is there at once.
    json all = s.body_of(s.call(beast_http::verb::get, path));
    CHECK(all["history"] == whole);
    CHECK(all["next"].is_null());
    REQUIRE(all["position"].is_string());  // where a client that follows the instance asks again
    CHECK(all["position"].get<std::string>().find('-') != std::string::npos);
    json none_yet = s.body_of(s.call(beast_http::verb::get, path + "?after=" + all["position"].get<std::string>()));
    CHECK(none_yet["history"].empty());
    CHECK(none_yet["next"].is_null());
    CHECK(none_yet["position"] == all["position"]);

    // A cursor taken before more steps were recorded goes on from where it stood.
    json first = s.body_of(s.call(beast_http::verb::get, path + "?limit=6"));
    REQUIRE(first["next"].is_string());
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e9", "type": "Go", "data": {"id": "a", "n": 2}})").result_int() == 202);
    json rest = s.body_of(s.call(beast_http::verb::get, path + "?after=" + first["next"].get<std::string>()));
    json now = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + id))["history"];
    REQUIRE(now.size() == 9);  // the completing step: its delivery and its transition
    REQUIRE(rest["history"].size() == 3);
    CHECK(rest["history"][0] == now[6]);
    CHECK(rest["history"][2] == now[8]);
    CHECK(rest["history"][2]["status"] == "completed");
    CHECK(rest["next"].is_null());
    json since = s.body_of(s.call(beast_http::verb::get, path + "?after=" + all["position"].get<std::string>()));
    REQUIRE(since["history"].size() == 2);
    CHECK(since["history"][0] == now[7]);
    CHECK(since["history"][1] == now[8]);
    CHECK(since["position"] == rest["position"]);

    // HEAD tells the size; an id in upper case is the same instance.
    std::string upper = id;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + upper + "/history"))["history"] == now);
    auto head = s.call(beast_http::verb::head, path);
    CHECK(head.result_int() == 200);
    CHECK(head.body().empty());
    CHECK(head[beast_http::field::content_length] == std::to_string(s.call(beast_http::verb::get, path).body().size()));

    // Refusals, which change nothing.
    // A text that is no place, or a place that is no entry of this instance (another
    // instance's, past the end, past a number's 64 bits), is refused, not read as a skip.
    const std::string last = s.body_of(s.call(beast_http::verb::get, path))["position"];
    const std::string last_row = last.substr(0, last.find('-'));
    std::string other = s.body_of(s.call(beast_http::verb::post, "/v1/events", R"({"id": "o1", "type": "Go", "data": {"id": "b", "n": 1}})"))
                            ["deliveries"][0]["instance"];
    const std::string others = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + other + "/history"))["position"];
    for (const std::string& bad : std::vector<std::string>{"5", "x-1", "1-x", "-1-0", "1--1", "1-2-3", "1-", "-1", "%2B1-0", "1-0%20", "1.0", "0-0", "1-99",
                            last_row + "-99", std::to_string(std::stoll(last_row) + 1) + "-0", others,
                            "99999999999999999999-0", "1-99999999999999999999"}) {
        INFO(bad);
        auto refused = s.call(beast_http::verb::get, path + "?after=" + bad);
        CHECK(refused.result_int() == 400);
        CHECK(s.body_of(refused)["error"] == "after is not a place in this instance's history (the next or position of one of its pages)");
    }
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + other + "/history?after=" + others))["history"].empty());
    CHECK(s.body_of(s.call(beast_http::verb::get, path + "?limit=-1"))["error"] == "limit must be a non-negative integer");
    CHECK(s.body_of(s.call(beast_http::verb::get, path + "?limit=1&limit=2"))["error"] == "limit is given more than once");
    CHECK(s.body_of(s.call(beast_http::verb::get, path + "?after=1-0&after=2-0"))["error"] == "after is given more than once");
    // A limit past 1000, however many digits, is 1000.
    CHECK(s.body_of(s.call(beast_http::verb::get, path + "?limit=99999999999999999999"))["history"] == now);
    CHECK(s.body_of(s.call(beast_http::verb::get, path + "?limit=0"))["history"].size() == 1);
    auto missing = s.call(beast_http::verb::get, "/v1/instances/" + numbered_id(999) + "/history");
    CHECK(missing.result_int() == 404);
    CHECK(s.body_of(missing)["error"] == "no instance '" + numbered_id(999) + "'");
    auto posted = s.call(beast_http::verb::post, path);
    CHECK(posted.result_int() == 405);
    CHECK(posted[beast_http::field::allow] == "GET, HEAD");
    for (const char* none : {"/v1/instances//history", "/v1/instances//cancel"})
        CHECK(s.call(beast_http::verb::get, none).result_int() == 404);
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + id))["history"] == now);
}

TEST_CASE("every event outcome, and every delivery result of a bound target, is in the metrics from the start, at 0") {
    Server s;
    s.metrics.count_deliveries_to({"payments"});
    std::string text = s.call(beast_http::verb::get, "/metrics").body();
    for (const char* outcome : {"accepted", "duplicate", "rejected_400", "rejected_401", "rejected_422", "unavailable"})
        CHECK(text.find("flow_events_total{outcome=\"" + std::string(outcome) + "\"} 0\n") != std::string::npos);
    for (const char* result : {"delivered", "retry", "dead"})
        CHECK(text.find("flow_delivery_attempts_total{target=\"payments\",result=\"" + std::string(result) + "\"} 0\n") !=
              std::string::npos);
    s.call(beast_http::verb::post, "/v1/events", "not json");
    CHECK(s.call(beast_http::verb::get, "/metrics").body().find("flow_events_total{outcome=\"rejected_400\"} 1\n") != std::string::npos);
}

TEST_CASE("metrics are in the Prometheus text format") {
    Server s;
    s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})");
    std::string text = s.call(beast_http::verb::get, "/metrics").body();
    CHECK(text.find("flow_events_total{outcome=\"accepted\"} 1\n") != std::string::npos);
    CHECK(text.find("flow_instances{status=\"running\"} 1\n") != std::string::npos);
    CHECK(text.find("flow_outbox_commands{status=\"pending\"} 1\n") != std::string::npos);
    CHECK(text.find("# TYPE flow_ingest_seconds histogram\n") != std::string::npos);
    CHECK(text.find("flow_commit_batch_size_count") != std::string::npos);
    // Every family has its HELP and TYPE lines, once, before its first sample.
    std::set<std::string> helped, typed, sampled;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        CAPTURE(line);
        if (line.rfind("# HELP ", 0) == 0) {
            CHECK(helped.insert(line.substr(7, line.find(' ', 7) - 7)).second);
        } else if (line.rfind("# TYPE ", 0) == 0) {
            std::string family = line.substr(7, line.find(' ', 7) - 7);
            CHECK(helped.count(family) == 1);
            CHECK(typed.insert(family).second);
        } else {
            std::string family = line.substr(0, line.find_first_of("{ "));
            for (const char* suffix : {"_bucket", "_sum", "_count"})
                if (!typed.count(family) && family.size() > std::strlen(suffix) &&
                    family.compare(family.size() - std::strlen(suffix), std::string::npos, suffix) == 0)
                    family.resize(family.size() - std::strlen(suffix));
            CHECK(typed.count(family) == 1);
            sampled.insert(family);
        }
    }
    CHECK(sampled.count("flow_instances") == 1);
    CHECK(sampled.count("flow_writer_queue") == 1);
}

TEST_CASE("an event id whose recorded answer cannot be read is answered 503 with the reason, on every path, and changes nothing") {
    // A record flowd did not write (a hand edit, a restore by another tool, a damaged page).
    // Before, reading it threw: on the threads that answer refusals and repeats, nothing caught
    // it, and flowd ended.
    Server s;
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})").result_int() == 202);
    s.reopen([&] {
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open((s.dir / "flow.db").string().c_str(), &raw) == SQLITE_OK);
        test::exec_raw(raw, "INSERT INTO inbox VALUES ('bad1', 'Go', 'not json', '2026-01-01T00:00:00.000Z'),"
                            "('bad2', 'Go', '{\"id\": 5}', '2026-01-01T00:00:00.000Z'),"
                            "('bad3', 'Go', '{\"deliveries\": [7]}', '2026-01-01T00:00:00.000Z'),"
                            "('bad4', 'Go', '[]', '2026-01-01T00:00:00.000Z')");
        sqlite3_close(raw);
    });
    for (const char* id : {"bad1", "bad2", "bad3", "bad4"}) {
        CAPTURE(id);
        const std::string expected = std::string("the answer recorded for event '") + id + "' cannot be read: it is not what flowd records";
        // Refused by its type and by its data: the id is looked up to tell a repeat (which would
        // answer as a duplicate), and, as it cannot be read, the refusal stands.
        for (const std::string& event : {R"({"id": ")" + std::string(id) + R"(", "type": "Nope", "data": {}})",
                                         R"({"id": ")" + std::string(id) + R"(", "type": "Go", "data": {"id": 1}})"}) {
            CAPTURE(event);
            CHECK(s.call(beast_http::verb::post, "/v1/events", event).result_int() == 422);
        }
        // A valid event: the writer reads the record, and the database is at fault.
        auto answer = s.call(beast_http::verb::post, "/v1/events", R"({"id": ")" + std::string(id) + R"(", "type": "Go", "data": {"id": "b", "n": 2}})");
        CHECK(answer.result_int() == 503);
        CHECK(s.body_of(answer)["error"].get<std::string>().find(expected) != std::string::npos);
    }
    auto instances = s.body_of(s.call(beast_http::verb::get, "/v1/instances"))["instances"];
    CHECK(instances.size() == 1);  // a's alone: nothing of b
    // A record flowd wrote still reads back.
    auto again = s.body_of(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})"));
    CHECK(again["duplicate"] == true);
    CHECK(again["deliveries"][0]["outcome"] == "started");
}

TEST_CASE("stored JSON nested deeper than flowd writes is read as unreadable: each reader answers, none recurses into it") {
    // A hand edit, or another tool: nlohmann's parser takes any depth, and copying or writing
    // such a value recursed until the stack ran out, on whichever thread read it (the writer's,
    // for an event or a timer; a worker's, for an API read).
    Server s;
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})").result_int() == 202);
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    const std::string a = numbered_id(1);
    s.reopen([&] {
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open((s.dir / "flow.db").string().c_str(), &raw) == SQLITE_OK);
        test::exec_raw(raw, "UPDATE instances SET vars = '" + deep + "' WHERE id = '" + a + "';"
                            "UPDATE history SET detail = '{\"x\": " + deep + "}' WHERE instance = '" + a + "';"
                            "UPDATE outbox SET payload = '{\"text\": " + deep + "}';"
                            "INSERT INTO inbox VALUES ('deep', 'Go', '{\"deliveries\": [{\"key\": " + deep + "}]}', '2026-01-01T00:00:00.000Z')");
        sqlite3_close(raw);
    });
    auto detail = s.call(beast_http::verb::get, "/v1/instances/" + a);
    REQUIRE(detail.result_int() == 200);
    const json instance = s.body_of(detail);
    CHECK(instance["cannot_run"].get<std::string>().find("it holds 0 variables where the workflow declares 1") != std::string::npos);
    CHECK(s.call(beast_http::verb::get, "/v1/outbox").result_int() == 200);
    // The event for a: its instance cannot run (503); the repeat of `deep`: its record is unreadable (503).
    CHECK(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e2", "type": "Note", "data": {"id": "a", "text": "x"}})").result_int() == 503);
    auto repeat = s.call(beast_http::verb::post, "/v1/events", R"({"id": "deep", "type": "Go", "data": {"id": "b", "n": 2}})");
    CHECK(repeat.result_int() == 503);
    // Another instance goes on.
    CHECK(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e3", "type": "Go", "data": {"id": "c", "n": 3}})").result_int() == 202);
}

TEST_CASE("a pending timer whose due time is no number does not make the timer loop spin") {
    // min(due_ms) finds the text, which reads as 0, while the read of the due timers never
    // finds it: the loop slept 0 ms after each round that found nothing, for ever.
    Server s;
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})").result_int() == 202);
    s.edit_database("INSERT INTO timers (instance, state, timer, due_ms, sequence, chain, chain_latest_ms) VALUES ('" +
                            numbered_id(1) + "', 0, 0, 'soon', 7, 0, 0)");
    constexpr std::int64_t now = 1767225600000;
    auto next = s.store->next_timer_due();
    REQUIRE(next.ok());
    CHECK_FALSE(*next.value);  // a due time that is no number names no time
    timers::TimerLoop loop(*s.store, *s.writer, *s.processor, s.metrics, [] { return now; }, s.sequence);
    CHECK(loop.round() >= std::chrono::milliseconds(10));
}

TEST_CASE("metrics count the writer's look-ups of running instances that its cache answered, and those that read the database") {
    Server s;
    auto post = [&](const std::string& id, const std::string& type, const std::string& data) {
        REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": ")" + id + R"(", "type": ")" + type + R"(", "data": )" + data + "}")
                    .result_int() == 202);
    };
    auto sample = [&](const std::string& series) {
        const std::string text = s.call(beast_http::verb::get, "/metrics").body();
        const std::size_t at = text.find("\n" + series + " ");
        REQUIRE(at != std::string::npos);
        return text.substr(at + series.size() + 2, text.find('\n', at + 1) - at - series.size() - 2);
    };
    const std::string hits = "flow_instance_cache_lookups_total{result=\"hit\"}", misses = "flow_instance_cache_lookups_total{result=\"miss\"}";
    CHECK(sample(hits) == "0");
    CHECK(sample(misses) == "0");
    CHECK(sample("flow_instance_cache_entries") == "0");
    post("e1", "Go", R"({"id": "a", "n": 1})");  // no running instance: the database is read, and a starts
    CHECK(sample(misses) == "1");
    CHECK(sample("flow_instance_cache_entries") == "1");  // what the start committed
    post("e2", "Note", R"({"id": "a", "text": "x"})");
    post("e3", "Note", R"({"id": "a", "text": "y"})");
    CHECK(sample(hits) == "2");
    post("e4", "Note", R"({"id": "b", "text": "z"})");  // unmatched
    CHECK(sample(misses) == "2");
    CHECK(sample(hits) == "2");
    post("e5", "Go", R"({"id": "a", "n": 2})");  // completes a: no longer running, no longer held
    CHECK(sample(hits) == "3");
    CHECK(sample("flow_instance_cache_entries") == "0");
    CHECK(s.call(beast_http::verb::get, "/metrics").body().find("# TYPE flow_instance_cache_lookups_total counter\n") != std::string::npos);
}

TEST_CASE("metrics: the exposition format's media type, counters named _total, histograms' buckets rising to +Inf and its count") {
    Server s;
    for (int n = 1; n <= 3; ++n)
        s.call(beast_http::verb::post, "/v1/events", R"({"id": "e)" + std::to_string(n) + R"(", "type": "Go", "data": {"id": "a", "n": 1}})");
    auto answer = s.call(beast_http::verb::get, "/metrics");
    CHECK(answer[beast_http::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
    std::map<std::string, std::string> types;  // family: type
    std::map<std::string, std::vector<std::pair<double, double>>> buckets;  // series without `le`: (le, count)
    std::map<std::string, double> counts;                                   // series: _count
    std::istringstream lines(answer.body());
    for (std::string line; std::getline(lines, line);) {
        CAPTURE(line);
        if (line.rfind("# TYPE ", 0) == 0) {
            std::istringstream words(line.substr(7));
            std::string family, type;
            words >> family >> type;
            types[family] = type;
            if (type == "counter") CHECK(family.ends_with("_total"));
            continue;
        }
        if (line.empty() || line[0] == '#') continue;
        const std::size_t space = line.rfind(' ');
        const std::string series = line.substr(0, space);
        const double value = std::stod(line.substr(space + 1));
        if (const std::size_t le = series.find("le=\""); le != std::string::npos && series.find("_bucket") != std::string::npos) {
            const std::size_t end = series.find('"', le + 4);
            const std::string bound = series.substr(le + 4, end - le - 4);
            std::string rest = series.substr(0, le) + series.substr(end + 1);  // `{…,}` or `{}` left
            rest.replace(rest.find("_bucket"), 7, "");
            if (rest.ends_with(",}")) rest.erase(rest.size() - 2, 1);
            if (rest.ends_with("{}")) rest.resize(rest.size() - 2);
            buckets[rest].emplace_back(bound == "+Inf" ? HUGE_VAL : std::stod(bound), value);
        } else if (series.find("_count") != std::string::npos) {
            std::string rest = series;
            rest.replace(rest.find("_count"), 6, "");
            counts[rest] = value;
        }
    }
    REQUIRE_FALSE(buckets.empty());
    for (const auto& entry : buckets) {
        const auto& series = std::get<0>(entry);
        const auto& points = std::get<1>(entry);
        CAPTURE(series);
        for (std::size_t i = 1; i < points.size(); ++i) {
            CHECK(points[i].first > points[i - 1].first);    // bounds rise
            CHECK(points[i].second >= points[i - 1].second);  // counts are cumulative
        }
        CHECK(points.back().first == HUGE_VAL);
        REQUIRE(counts.count(series) == 1);
        CHECK(counts[series] == points.back().second);
    }
    CHECK(types["flow_ingest_seconds"] == "histogram");
}

TEST_CASE("counts the database cannot give are left out of the metrics, not reported as zeros") {
    Server s;
    s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})");
    std::string before = s.call(beast_http::verb::get, "/metrics").body();
    CHECK(before.find("\nflow_outbox_commands{status=\"pending\"} 1\n") != std::string::npos);
    CHECK(before.find("\nflow_database_available 1\n") != std::string::npos);
    {
        // Another connection takes a table the counts read away: the counts fail.
        auto other = store::sqlite::Connection::open((s.dir / "flow.db").string(), "FULL", false);
        REQUIRE(other.ok());
        REQUIRE_FALSE((*other.value)->exec("ALTER TABLE timers RENAME TO timers_away"));
    }
    auto failing = s.call(beast_http::verb::get, "/metrics");
    CHECK(failing.result_int() == 200);
    CHECK(failing.body().find("\nflow_database_available 0\n") != std::string::npos);
    CHECK(failing.body().find("flow_outbox_commands") == std::string::npos);
    CHECK(failing.body().find("flow_instances") == std::string::npos);
    CHECK(failing.body().find("flow_timers_pending") == std::string::npos);
    CHECK(failing.body().find("flow_writer_queue") != std::string::npos);
}

TEST_CASE("the database file is readable by its owner only") {
    Server s;
    struct stat info {};
    REQUIRE(stat((s.dir / "flow.db").c_str(), &info) == 0);
    CHECK((info.st_mode & 0077) == 0);
}

TEST_CASE("Standard Webhooks signatures: valid, forged, stale, missing, rotated") {
    std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    std::string body = R"({"a":1})";
    std::string signature = http::sign_webhook(secret, "msg_1", 1700000000, body);
    CHECK(signature.rfind("v1,", 0) == 0);
    CHECK(http::verify_webhook({secret}, "msg_1", "1700000000", signature, body, 1700000100) == http::SignatureCheck::Valid);
    CHECK(http::verify_webhook({"whsec_b3RoZXI=", secret}, "msg_1", "1700000000", "v1,x " + signature, body, 1700000000) ==
          http::SignatureCheck::Valid);
    CHECK(http::verify_webhook({secret}, "msg_1", "1700000000", signature, body + " ", 1700000000) == http::SignatureCheck::Invalid);
    CHECK(http::verify_webhook({secret}, "msg_2", "1700000000", signature, body, 1700000000) == http::SignatureCheck::Invalid);
    // Five minutes either way, to the second: 300 s off is accepted, 301 s is stale.
    CHECK(http::verify_webhook({secret}, "msg_1", "1700000000", signature, body, 1700000300) == http::SignatureCheck::Valid);
    CHECK(http::verify_webhook({secret}, "msg_1", "1700000000", signature, body, 1700000301) == http::SignatureCheck::Stale);
    CHECK(http::verify_webhook({secret}, "msg_1", "1700000000", signature, body, 1699999700) == http::SignatureCheck::Valid);
    CHECK(http::verify_webhook({secret}, "msg_1", "1700000000", signature, body, 1699999699) == http::SignatureCheck::Stale);
    CHECK(http::verify_webhook({secret}, "msg_1", "", signature, body, 1700000000) == http::SignatureCheck::Missing);
    CHECK(http::verify_webhook({secret}, "msg_1", "17e8", signature, body, 1700000000) == http::SignatureCheck::BadTimestamp);
    CHECK(http::verify_webhook({secret}, "msg_1", "9223372036854775808", signature, body, 1700000000) == http::SignatureCheck::Stale);
    CHECK(http::verify_webhook({secret}, "msg_1", "-99999999999999999999", signature, body, 1700000000) == http::SignatureCheck::Stale);
    CHECK(http::verify_webhook({secret}, "msg_1", "99999999999999999999x", signature, body, 1700000000) ==
          http::SignatureCheck::BadTimestamp);
}

TEST_CASE("a signed message is bound to what it was read as: headers that change nothing may change, a refused one is bound too") {
    Server s;
    const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    s.config.webhook_secrets = {secret};
    auto signed_headers = [&](const std::string& msg_id, const std::string& body, std::map<std::string, std::string> more) {
        more["webhook-id"] = msg_id;
        more["webhook-timestamp"] = "1767225600";  // the test server's clock
        more["webhook-signature"] = http::sign_webhook(secret, msg_id, 1767225600, body);
        return more;
    };
    auto post = [&](const std::string& body, const std::map<std::string, std::string>& headers) {
        auto r = s.call(beast_http::verb::post, "/v1/events", body, headers);
        return std::make_pair(static_cast<int>(r.result_int()), r.body());
    };

    // Sent again with a charset, or a ce- header nothing reads: read the same, a duplicate.
    const std::string structured = R"({"specversion": "1.0", "source": "/s", "id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})";
    CHECK(post(structured, signed_headers("m1", structured, {{"Content-Type", "application/cloudevents+json"}})).first == 202);
    auto again = post(structured, signed_headers("m1", structured, {{"Content-Type", "application/cloudevents+json; charset=utf-8"},
                                                                    {"ce-traceparent", "00-abc-def-01"}}));
    CHECK(again.first == 202);
    CHECK(json::parse(again.second)["duplicate"] == true);

    // Refused (a type nobody declared), then replayed as a type that is: 401, nothing started.
    const std::string data = R"({"id": "b", "n": 1})";
    auto binary = [&](const std::string& ce_id, const std::string& ce_type) {
        return signed_headers("m2", data, {{"Content-Type", "application/json"}, {"ce-specversion", "1.0"}, {"ce-source", "/s"},
                                           {"ce-id", ce_id}, {"ce-type", ce_type}});
    };
    CHECK(post(data, binary("e2", "Nope")).first == 422);
    auto replay = post(data, binary("forged", "Go"));
    CHECK(replay.first == 401);
    CHECK(replay.second.find("was received before with other Content-Type or ce- headers") != std::string::npos);
    CHECK(post(data, binary("e2", "Nope")).first == 422);  // the message sent again as it was: refused as before

    // Refused unread (a ce- header given twice), then replayed readable: 401.
    const std::string other = R"({"id": "c", "n": 1})";
    auto twice = signed_headers("m3", other, {{"Content-Type", "application/json"}, {"ce-specversion", "1.0"}, {"ce-source", "/s"},
                                             {"ce-id", "e3"}, {"ce-type", "Go"}});
    http::Request req{beast_http::verb::post, "/v1/events", 11};
    for (const auto& [k, v] : twice) req.set(k, v);
    req.insert("ce-id", "e3-again");
    req.body() = other;
    req.prepare_payload();
    CHECK(http::handle(req, *s.services).result_int() == 400);
    CHECK(post(other, twice).first == 401);

    // Accepted, then replayed read otherwise: under its own id still, a duplicate that changes
    // nothing, as any repeated id is; under another id, 401.
    const std::string fourth = R"({"id": "d", "n": 1})";
    auto signed_binary = [&](const std::string& ce_id, const std::string& ce_type) {
        return signed_headers("m4", fourth, {{"Content-Type", "application/json"}, {"ce-specversion", "1.0"}, {"ce-source", "/s"},
                                             {"ce-id", ce_id}, {"ce-type", ce_type}});
    };
    auto accepted = post(fourth, signed_binary("e4", "Go"));
    REQUIRE(accepted.first == 202);
    auto same_id = post(fourth, signed_binary("e4", "Note"));
    CHECK(same_id.first == 202);
    CHECK(json::parse(same_id.second)["duplicate"] == true);
    CHECK(json::parse(same_id.second)["deliveries"] == json::parse(accepted.second)["deliveries"]);
    CHECK(post(fourth, signed_binary("e4-forged", "Go")).first == 401);
    // Under another event's id, accepted before from another message: 401, nothing of e1 told.
    auto borrowed = post(fourth, signed_binary("e1", "Go"));
    CHECK(borrowed.first == 401);
    CHECK(borrowed.second.find("was received before with other Content-Type or ce- headers") != std::string::npos);

    json instances = s.body_of(s.call(beast_http::verb::get, "/v1/instances"))["instances"];
    REQUIRE(instances.size() == 2);
    CHECK(instances[0]["key"] == "a");
    CHECK(instances[1]["key"] == "d");
}

TEST_CASE("the digest of a signed message: its id and body, not the timestamp a retry signs anew") {
    const std::string digest = http::signed_message_digest("msg_1", R"({"a":1})");
    CHECK(digest.size() == 64);
    CHECK(http::signed_message_digest("msg_1", R"({"a":1})") == digest);
    CHECK(http::signed_message_digest("msg_2", R"({"a":1})") != digest);
    CHECK(http::signed_message_digest("msg_1", R"({"a":2})") != digest);
    // Lengths keep the parts apart.
    CHECK(http::signed_message_digest("a.1", "x") != http::signed_message_digest("a", "1.x"));
}

TEST_CASE("a webhook secret is base64 with or without whsec_, as the Standard Webhooks libraries read it") {
    // The example of the Standard Webhooks specification.
    const std::string body = R"({"test": 2432232314})";
    const std::string expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    CHECK(http::sign_webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected);
    CHECK(http::sign_webhook("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected);
    CHECK(http::verify_webhook({"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", expected, body,
                               1614265330) == http::SignatureCheck::Valid);
    // Not base64: the key is the text itself (HMAC-SHA256 computed independently).
    CHECK(http::sign_webhook("s3cret", "msg_1", 1700000000, R"({"a":1})") == "v1,JTnXZsicQmbYBUKbG0PXd2OqV6VmCFiMTEvW8yxopSo=");
}

TEST_CASE("event input: a body's data reads as nlohmann's parser reads it, and a body it refuses is refused the same way") {
    // The engine's reader reads the bodies; what it builds must be what nlohmann's parser built
    // (kinds of numbers included: the engine's int checks and the wire format depend on them).
    const std::vector<std::string> data = {
        R"({})",
        R"({"s": "caf\u00e9 \ud83d\ude00 \"q\" \\ \n", "raw": "é😀"})",
        R"({"u": 18446744073709551615, "i": -9223372036854775808, "z": -0, "d": 0.1, "e": 1e-400, "big": 1e300})",
        R"({"k": 1, "k": 2, "nested": {"l": [1, [2, [3, {}]], null, true, false]}})",
        R"({"n": 5.0, "m": 5, "neg": -5, "exp": 5e0})",
    };
    for (const std::string& d : data) {
        INFO(d);
        auto read = http::read_events("application/json", {}, "\xEF\xBB\xBF" R"({"id": "1", "type": "T", "data": )" + d + "}");
        REQUIRE(std::holds_alternative<http::EventsInput>(read));
        const Value& got = std::get<http::EventsInput>(read).events[0].data;
        const Value expected = nlohmann::json::parse(d);
        CHECK(got == expected);
        CHECK(got.dump() == expected.dump());  // the same kinds: 5 stays unsigned, -0 signed, 5.0 a double
    }
    auto message = [](const std::string& body) {
        auto read = http::read_events("application/json", {}, body);
        REQUIRE(std::holds_alternative<http::InputError>(read));
        return std::to_string(std::get<http::InputError>(read).status) + " " + std::get<http::InputError>(read).message;
    };
    CHECK(message(R"({"id": "1", "type": "T", "data": {"n": 1e400}})") == "400 the body holds a number too large for a 64-bit float: 1e400");
    for (const std::string bad : {R"({"id": "1",})", "{\"id\": \"\xff\"}", R"({"id": "1"} x)", R"({"id": 01})", "", "\xEF\xBB\xBF"}) {
        INFO(bad);
        CHECK(message(bad) == "400 the body is not JSON");
    }
}

TEST_CASE("event input: an event's own time is an RFC 3339 timestamp, with any offset, or absent") {
    auto with_time = [](const std::string& time) {
        return http::read_events("application/json", {}, R"({"id": "1", "type": "T", "data": {}, "time": )" + time + "}");
    };
    // Any offset is read; what is kept is the same instant in UTC with Z, as every time on the wire.
    for (const auto& [good, kept] : std::vector<std::pair<std::string, std::string>>{
             {R"("2026-01-05T10:00:00Z")", "2026-01-05T10:00:00Z"},
             {R"("2026-01-05T11:00:00.250+01:00")", "2026-01-05T10:00:00.250Z"},
             {R"("2026-01-05T11:00:00.5+01:00")", "2026-01-05T10:00:00.500Z"},
             {R"("2026-01-05t10:00:00z")", "2026-01-05T10:00:00Z"}}) {
        auto read = with_time(good);
        REQUIRE(std::holds_alternative<http::EventsInput>(read));
        CHECK(std::get<http::EventsInput>(read).events[0].time == kept);
    }
    auto absent = with_time("null");
    REQUIRE(std::holds_alternative<http::EventsInput>(absent));
    CHECK(std::get<http::EventsInput>(absent).events[0].time.empty());
    for (const char* bad : {R"("yesterday")", R"("2026-02-30T10:00:00Z")", R"("2026-01-05 10:00:00")", "5", "{}"}) {
        INFO(bad);
        auto read = with_time(bad);
        REQUIRE(std::holds_alternative<http::InputError>(read));
        CHECK(std::get<http::InputError>(read).status == 400);
        CHECK(std::get<http::InputError>(read).message ==
              "the body has a 'time' that is not an RFC 3339 timestamp, such as 2026-01-05T10:00:00Z");
    }
    auto binary = http::read_events("application/json", {{"ce-specversion", "1.0"}, {"ce-source", "/t"}, {"ce-id", "2"}, {"ce-type", "T"},
                                                         {"ce-time", "soon"}}, "{}");
    REQUIRE(std::holds_alternative<http::InputError>(binary));
    CHECK(std::get<http::InputError>(binary).status == 400);
}

TEST_CASE("a CloudEvent needs specversion 1.0 in every mode, and a source given must be a non-empty string; a plain event needs neither") {
    auto refusal = [](const std::variant<http::EventsInput, http::InputError>& read) {
        REQUIRE(std::holds_alternative<http::InputError>(read));
        const auto& error = std::get<http::InputError>(read);
        return std::to_string(error.status) + " " + error.message + (error.index >= 0 ? " @" + std::to_string(error.index) : "");
    };
    const std::string no_source = R"({"specversion": "1.0", "id": "1", "type": "T"})";
    const std::string empty_source = R"({"specversion": "1.0", "source": "", "id": "1", "type": "T"})";
    const std::string number_source = R"({"specversion": "1.0", "source": 7, "id": "1", "type": "T"})";
    const std::string old_version = R"({"specversion": "0.3", "source": "/t", "id": "1", "type": "T"})";
    const std::string no_version = R"({"source": "/t", "id": "1", "type": "T"})";
    // A source left out is let pass (flowd reads nothing from it); one given must be one.
    CHECK(std::holds_alternative<http::EventsInput>(http::read_events("application/cloudevents+json", {}, no_source)));
    CHECK(refusal(http::read_events("application/cloudevents+json", {}, empty_source)) ==
          "400 the CloudEvent is not a CloudEvent: 'source', when given, must be a non-empty string");
    CHECK(refusal(http::read_events("application/cloudevents+json", {}, number_source)) ==
          "400 the CloudEvent is not a CloudEvent: 'source', when given, must be a non-empty string");
    CHECK(refusal(http::read_events("application/cloudevents+json", {}, old_version)) ==
          "400 the CloudEvent is not a CloudEvent 1.0: 'specversion' must be \"1.0\"");
    CHECK(refusal(http::read_events("application/cloudevents+json", {}, no_version)) ==
          "400 the CloudEvent is not a CloudEvent 1.0: 'specversion' must be \"1.0\"");
    // What is not an event at all says so first.
    CHECK(refusal(http::read_events("application/cloudevents+json", {}, R"({"specversion": "1.0", "source": "/t", "type": "T"})")) ==
          "400 the CloudEvent is not an event: 'id' must be a non-empty string");
    CHECK(refusal(http::read_events("application/cloudevents-batch+json", {},
                                    R"([{"specversion": "1.0", "source": "/t", "id": "1", "type": "T"}, )" + empty_source + "]")) ==
          "422 event 1 of the batch is not a CloudEvent: 'source', when given, must be a non-empty string @1");
    auto batch = http::read_events("application/cloudevents-batch+json", {}, "[" + no_source + "]");
    REQUIRE(std::holds_alternative<http::EventsInput>(batch));
    CHECK(std::get<http::EventsInput>(batch).events.size() == 1);
    auto binary = http::read_events("application/json", {{"ce-specversion", "1.0"}, {"ce-id", "2"}, {"ce-type", "T"}}, "{}");
    REQUIRE(std::holds_alternative<http::EventsInput>(binary));
    CHECK(std::get<http::EventsInput>(binary).events.at(0).id == "2");
    CHECK(refusal(http::read_events("application/json", {{"ce-specversion", "1.0"}, {"ce-source", ""}, {"ce-id", "2"}, {"ce-type", "T"}}, "{}")) ==
          "400 the CloudEvent is not a CloudEvent: 'source', when given, must be a non-empty string");
    CHECK(refusal(http::read_events("application/json", {{"ce-specversion", "0.3"}, {"ce-source", "/t"}, {"ce-id", "2"}, {"ce-type", "T"}},
                                    "{}")) == "400 the CloudEvent is not a CloudEvent 1.0: 'specversion' must be \"1.0\"");
    // An empty ce-specversion is a binary-mode event that names no version, not a plain event.
    CHECK(refusal(http::read_events("application/json", {{"ce-specversion", ""}, {"ce-source", "/t"}, {"ce-id", "2"}, {"ce-type", "T"}},
                                    R"({"id": "1", "type": "T"})")) == "400 the CloudEvent is not a CloudEvent 1.0: 'specversion' must be \"1.0\"");
    // A plain event (any other Content-Type) carries neither and needs neither.
    CHECK(std::holds_alternative<http::EventsInput>(http::read_events("application/json", {}, no_source)));
    CHECK(std::holds_alternative<http::EventsInput>(http::read_events("application/json", {}, R"({"id": "1", "type": "T"})")));
}

TEST_CASE("a CloudEvent's string attributes hold no control character, in every mode; a plain event's id may") {
    auto refusal = [](const std::variant<http::EventsInput, http::InputError>& read) {
        REQUIRE(std::holds_alternative<http::InputError>(read));
        const auto& error = std::get<http::InputError>(read);
        return std::to_string(error.status) + " " + error.message + (error.index >= 0 ? " @" + std::to_string(error.index) : "");
    };
    CHECK(refusal(http::read_events("application/cloudevents+json", {},
                                    R"({"specversion": "1.0", "source": "/t", "id": "c\u0001", "type": "T", "data": {"x": "\u0001 in data is data"}})")) ==
          "400 the CloudEvent has an attribute 'id' holding the control character U+0001, which a CloudEvents string may not hold");
    CHECK(refusal(http::read_events("application/cloudevents-batch+json", {},
                                    R"([{"specversion": "1.0", "source": "/t", "id": "1", "type": "T", "myext": "a\u0085b"}])")) ==
          "422 event 0 of the batch has an attribute 'myext' holding the control character U+0085, which a CloudEvents string may not hold @0");
    CHECK(refusal(http::read_events("application/json", {{"ce-specversion", "1.0"}, {"ce-source", "/t"}, {"ce-id", "nul%00x"}, {"ce-type", "T"}},
                                    "{}")) == "400 the CloudEvent has an attribute 'id' holding the control character U+0000, which a CloudEvents string may not hold");
    // U+00A0 and what follows are characters; so are the other types' values.
    CHECK(std::holds_alternative<http::EventsInput>(http::read_events(
        "application/cloudevents+json", {}, R"({"specversion": "1.0", "source": "/t", "id": "\u00a0\u00e9", "type": "T", "count": 1})")));
    CHECK(std::holds_alternative<http::EventsInput>(http::read_events("application/json", {}, R"({"id": "c\u0001", "type": "T"})")));
}

TEST_CASE("event input: plain, structured, binary and batch CloudEvents") {
    auto plain = http::read_events("application/json", {}, R"({"id": "1", "type": "T", "data": {"x": 1}})");
    REQUIRE(std::holds_alternative<http::EventsInput>(plain));
    CHECK(std::get<http::EventsInput>(plain).events[0].data == json{{"x", 1}});
    for (const char* no_data : {R"({"id": "1", "type": "T"})", R"({"id": "1", "type": "T", "data": null})"}) {
        auto read = http::read_events("application/json", {}, no_data);
        REQUIRE(std::holds_alternative<http::EventsInput>(read));
        CHECK(std::get<http::EventsInput>(read).events[0].data == json::object());
    }
    auto binary = http::read_events("application/json", {{"ce-specversion", "1.0"}, {"ce-source", "/t"}, {"ce-id", "2"}, {"ce-type", "T"},
                                                         {"ce-time", "2026-01-01T00:00:00Z"}}, R"({"x": 2})");
    REQUIRE(std::holds_alternative<http::EventsInput>(binary));
    CHECK(std::get<http::EventsInput>(binary).events[0].id == "2");
    CHECK(std::get<http::EventsInput>(binary).events[0].time == "2026-01-01T00:00:00Z");
    auto batch = http::read_events("application/cloudevents-batch+json; charset=utf-8", {},
                                   R"([{"specversion": "1.0", "source": "/t", "id": "3", "type": "T", "data": {}},)"
                                   R"( {"specversion": "1.0", "source": "/t", "id": "4", "type": "T"}])");
    REQUIRE(std::holds_alternative<http::EventsInput>(batch));
    CHECK(std::get<http::EventsInput>(batch).events.size() == 2);
    CHECK(std::get<http::EventsInput>(batch).batch);
    auto bad = http::read_events("application/cloudevents-batch+json", {}, R"([{"id": "3"}])");
    REQUIRE(std::holds_alternative<http::InputError>(bad));
    CHECK(std::get<http::InputError>(bad).message.find("event 0 of the batch") == 0);
    auto structured = http::read_events("application/cloudevents+json", {},
                                        R"({"specversion": "1.0", "source": "/t", "id": "5", "type": "T"})");
    REQUIRE(std::holds_alternative<http::EventsInput>(structured));
    CHECK(std::get<http::EventsInput>(structured).events[0].id == "5");
    auto deep = http::read_events("application/json", {}, std::string(100, '[') + std::string(100, ']'));
    REQUIRE(std::holds_alternative<http::InputError>(deep));
    CHECK(std::get<http::InputError>(deep).status == 400);
}

TEST_CASE("binary mode: header values are unquoted, then percent-decoded as the CloudEvents HTTP binding says") {
    auto binary = [](std::map<std::string, std::string> extra) {
        std::map<std::string, std::string> headers = {{"ce-specversion", "1.0"}, {"ce-source", "/t"}, {"ce-id", "2"}, {"ce-type", "T"}};
        for (auto& [name, value] : extra) headers[name] = value;
        return http::read_events("application/json", headers, R"({"x": 2})");
    };
    auto event_of = [](const std::variant<http::EventsInput, http::InputError>& read) {
        REQUIRE(std::holds_alternative<http::EventsInput>(read));
        return std::get<http::EventsInput>(read).events.at(0);
    };
    CHECK(event_of(binary({{"ce-id", "caf%C3%A9"}})).id == "caf\u00e9");
    CHECK(event_of(binary({{"ce-id", "caf%c3%a9%20au%20lait"}})).id == "caf\u00e9 au lait");  // lower-case hex too
    CHECK(event_of(binary({{"ce-id", "%41bc"}})).id == "Abc");  // needlessly encoded: accepted
    CHECK(event_of(binary({{"ce-type", "\"T\""}})).type == "T");
    CHECK(event_of(binary({{"ce-id", R"("a \"quoted\" id")"}})).id == "a \"quoted\" id");
    CHECK(event_of(binary({{"ce-time", "2026-05-04T09%3A00%3A00Z"}})).time == "2026-05-04T09:00:00Z");
    for (const char* bad : {"50%off", "%zz", "%C0%A0", "%FF", "\"unclosed", "\"a\" b"}) {
        CAPTURE(bad);
        auto refused = binary({{"ce-id", bad}});
        REQUIRE(std::holds_alternative<http::InputError>(refused));
        CHECK(std::get<http::InputError>(refused).status == 400);
        CHECK(std::get<http::InputError>(refused).message.starts_with("the header ce-id is not a CloudEvents header value"));
    }
}

TEST_CASE("a CloudEvents media type decides the mode: a structured event may repeat its attributes as ce- headers") {
    auto read = http::read_events("application/cloudevents+json; charset=utf-8",
                                  {{"ce-specversion", "1.0"}, {"ce-source", "/t"}, {"ce-id", "9"}, {"ce-type", "T"}},
                                  R"({"specversion": "1.0", "source": "/t", "id": "9", "type": "T", "data": {"x": 1}})");
    REQUIRE(std::holds_alternative<http::EventsInput>(read));
    CHECK(std::get<http::EventsInput>(read).events.at(0).data == json{{"x", 1}});
    auto mislabelled = http::read_events("application/cloudevents+json",
                                         {{"ce-specversion", "1.0"}, {"ce-source", "/t"}, {"ce-id", "8"}, {"ce-type", "T"}}, R"({"x": 1})");
    REQUIRE(std::holds_alternative<http::EventsInput>(mislabelled));
    CHECK(std::get<http::EventsInput>(mislabelled).events.at(0).id == "8");
    CHECK(std::get<http::EventsInput>(mislabelled).events.at(0).data == json{{"x", 1}});
    auto batch = http::read_events("application/cloudevents-batch+json", {{"ce-specversion", "1.0"}}, "[]");
    REQUIRE(std::holds_alternative<http::EventsInput>(batch));
    CHECK(std::get<http::EventsInput>(batch).batch);
    CHECK(std::get<http::EventsInput>(batch).events.empty());
}

TEST_CASE("an empty batch is answered 202 with an empty list; a batch repeating an id takes the first") {
    Server s;
    const std::map<std::string, std::string> batch_type = {{"Content-Type", "application/cloudevents-batch+json"}};
    auto empty = s.call(beast_http::verb::post, "/v1/events", "[]", batch_type);
    CHECK(empty.result_int() == 202);
    CHECK(s.body_of(empty) == json::array());
    // The second element repeats the first's id with a type that does not exist: it is a
    // duplicate of the first, as it would be in a later request, not a reason to refuse the batch.
    auto repeated = s.call(beast_http::verb::post, "/v1/events",
                           R"([{"specversion": "1.0", "source": "/t", "id": "r1", "type": "Go", "data": {"id": "r1", "n": 1}},)"
                           R"( {"specversion": "1.0", "source": "/t", "id": "r1", "type": "Nope"}])",
                           batch_type);
    REQUIRE(repeated.result_int() == 202);
    json answers = s.body_of(repeated);
    REQUIRE(answers.size() == 2);
    CHECK(answers[0]["duplicate"] == false);
    CHECK(answers[1]["duplicate"] == true);
    CHECK(answers[1]["deliveries"] == answers[0]["deliveries"]);
}

TEST_CASE("a batch of more events than max_batch_events is refused whole with 413, and counted; one of that many is taken") {
    Server s;
    s.config.max_batch_events = 3;
    const std::map<std::string, std::string> batch_type = {{"Content-Type", "application/cloudevents-batch+json"}};
    auto batch_of = [](int first, int count) {
        std::string text = "[";
        for (int i = first; i < first + count; ++i) {
            if (text.size() > 1) text += ",";
            text += R"({"specversion": "1.0", "source": "/t", "id": "b)" + std::to_string(i) + R"(", "type": "Go", "data": {"id": "k)" +
                    std::to_string(i) + R"(", "n": 1}})";
        }
        return text + "]";
    };
    auto refused = s.call(beast_http::verb::post, "/v1/events", batch_of(0, 4), batch_type);
    CHECK(refused.result_int() == 413);
    CHECK(refused[beast_http::field::connection] == "close");  // after a 413 the connection is closed
    CHECK(s.body_of(refused)["error"] == "a batch holds at most 3 events (max_batch_events), and this one holds 4: send it in parts");
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances"))["instances"].empty());
    CHECK(s.call(beast_http::verb::get, "/metrics").body().find("flow_events_total{outcome=\"rejected_413\"} 1\n") != std::string::npos);
    auto taken = s.call(beast_http::verb::post, "/v1/events", batch_of(0, 3), batch_type);
    CHECK(taken.result_int() == 202);
    CHECK(s.body_of(taken).size() == 3);
    // The cap is on a batch's events, not on a request's: one event is one, whatever the cap.
    s.config.max_batch_events = 1;
    CHECK(s.call(beast_http::verb::post, "/v1/events", R"({"id": "p1", "type": "Go", "data": {"id": "p", "n": 1}})").result_int() == 202);
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances"))["instances"].size() == 4);
}

namespace {

// POST /v1/events with `headers` as given: a name given twice is kept twice.
http::Response post_event_with_headers(Server& s, const std::vector<std::pair<std::string, std::string>>& headers,
                                       const std::string& body) {
    http::Request req{beast_http::verb::post, "/v1/events", 11};
    for (const auto& [k, v] : headers) req.insert(k, v);
    req.body() = body;
    req.prepare_payload();
    return http::handle(req, *s.services);
}

}  // namespace

TEST_CASE("a Content-Type given twice is refused with 400, whichever copy would read the body; nothing is taken in") {
    Server s;
    auto call = [&](const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body) {
        return post_event_with_headers(s, headers, body);
    };
    const std::string structured =
        R"({"specversion": "1.0", "source": "/t", "id": "c1", "type": "Go", "data": {"id": "a", "n": 1}})";
    for (const auto& types : {std::vector<std::string>{"application/cloudevents+json", "application/json"},
                              std::vector<std::string>{"application/json", "application/cloudevents+json"},
                              std::vector<std::string>{"application/json", "application/json"}}) {
        auto r = call({{"Content-Type", types[0]}, {"content-type", types[1]}}, structured);
        CHECK(r.result_int() == 400);
        CHECK(s.body_of(r)["error"] ==
              "the header content-type is given more than once: a request has one media type, which says how its body is read");
    }
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances"))["instances"].empty());
    CHECK(call({{"Content-Type", "application/cloudevents+json"}}, structured).result_int() == 202);
}

TEST_CASE("a ce- header given twice refuses a binary-mode event only; plain and structured events do not read those headers") {
    Server s;
    auto call = [&](const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body) {
        return post_event_with_headers(s, headers, body);
    };
    const std::vector<std::pair<std::string, std::string>> binary = {
        {"Content-Type", "application/json"}, {"ce-specversion", "1.0"}, {"ce-id", "b1"}, {"ce-type", "Go"}, {"CE-ID", "b2"}};
    auto refused = call(binary, R"({"id": "a", "n": 1})");
    CHECK(refused.result_int() == 400);
    CHECK(s.body_of(refused)["error"] == "the header ce-id is given more than once: a CloudEvents attribute has one value");
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances"))["instances"].empty());
    // A plain event with a tracing extension repeated, and a structured one repeating its id as
    // two headers: neither reads them (both were refused).
    auto plain = call({{"Content-Type", "application/json"}, {"ce-traceparent", "a"}, {"ce-traceparent", "b"}},
                      R"({"id": "p1", "type": "Go", "data": {"id": "p", "n": 1}})");
    CHECK(plain.result_int() == 202);
    auto structured = call({{"Content-Type", "application/cloudevents+json"}, {"ce-id", "a"}, {"CE-ID", "b"}},
                           R"({"specversion": "1.0", "source": "/t", "id": "s1", "type": "Go", "data": {"id": "s", "n": 1}})");
    CHECK(structured.result_int() == 202);
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances"))["instances"].size() == 2);
}

TEST_CASE("a binary-mode event's Content-Type is its data's: anything but JSON is refused with 400, none at all is JSON") {
    const std::map<std::string, std::string> attributes = {{"ce-specversion", "1.0"}, {"ce-id", "b1"}, {"ce-type", "T"}};
    for (const char* type : {"text/plain", "application/xml", "text/plain; charset=utf-8", "application/octet-stream"}) {
        INFO(type);
        auto refused = http::read_events(type, attributes, R"({"n": 1})");
        REQUIRE(std::holds_alternative<http::InputError>(refused));
        CHECK(std::get<http::InputError>(refused).status == 400);
        CHECK(std::get<http::InputError>(refused).message.starts_with("a binary-mode CloudEvent's data must be JSON, and its Content-Type says "));
    }
    CHECK(std::get<http::InputError>(http::read_events("text/plain", attributes, "{}")).message ==
          "a binary-mode CloudEvent's data must be JSON, and its Content-Type says text/plain: send it as application/json");
    for (const char* type : {"application/json", "Application/JSON; charset=utf-8", "application/vnd.acme+json", ""}) {
        INFO(type);
        auto read = http::read_events(type, attributes, R"({"n": 1})");
        REQUIRE(std::holds_alternative<http::EventsInput>(read));
        CHECK(std::get<http::EventsInput>(read).events.at(0).data == json({{"n", 1}}));
    }
}

TEST_CASE("a batch of too many events is 413 even when it also nests too deep, as 413 comes before 400") {
    std::string deep_batch = R"([{"specversion": "1.0", "id": "d", "type": "T", "data": )" + std::string(70, '[') + std::string(70, ']') + "}";
    for (int i = 0; i < 3; ++i) deep_batch += R"(, {"specversion": "1.0", "id": "x, [y]", "type": "T", "data": {"a": [1, 2]}})";
    deep_batch += "]";
    auto refused = http::read_events("application/cloudevents-batch+json", {}, deep_batch, 2);
    REQUIRE(std::holds_alternative<http::InputError>(refused));
    CHECK(std::get<http::InputError>(refused).status == 413);
    CHECK(std::get<http::InputError>(refused).message == "a batch holds at most 2 events (max_batch_events), and this one holds 4: send it in parts");
    // Within the cap, the depth is what is wrong.
    auto deep = http::read_events("application/cloudevents-batch+json", {}, deep_batch, 4);
    REQUIRE(std::holds_alternative<http::InputError>(deep));
    CHECK(std::get<http::InputError>(deep).status == 400);
}

TEST_CASE("whether a refused event's id was accepted before is looked up off the connection's thread") {
    Server s;
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 3}})").result_int() == 202);
    std::mutex mutex;
    std::vector<std::function<void()>> blocking;
    s.services->run_blocking = [&](std::function<void()> work) {
        std::lock_guard lock(mutex);
        blocking.push_back(std::move(work));
    };
    auto take_blocking = [&] {
        std::lock_guard lock(mutex);
        std::vector<std::function<void()>> work;
        work.swap(blocking);
        return work;
    };
    auto post = [&](const std::string& body) {
        auto replied = std::make_shared<std::promise<http::Response>>();
        http::Request req{beast_http::verb::post, "/v1/events", 11};
        req.body() = body;
        req.prepare_payload();
        http::handle_async(req, *s.services, http::Reply([replied](http::Response r) { replied->set_value(std::move(r)); }));
        return replied->get_future();
    };
    // Refused by the declarations, and never accepted: the look-up is handed over, and the 422
    // comes once it ran.
    auto refused = post(R"({"id": "e2", "type": "Nope", "data": {}})");
    CHECK(refused.wait_for(std::chrono::milliseconds(20)) == std::future_status::timeout);
    auto work = take_blocking();
    REQUIRE(work.size() == 1);
    work.front()();
    REQUIRE(refused.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    CHECK(refused.get().result_int() == 422);
    // Refused now, but accepted before: the look-up finds it, and it is answered as a duplicate.
    auto retried = post(R"({"id": "e1", "type": "Nope", "data": {}})");
    CHECK(retried.wait_for(std::chrono::milliseconds(20)) == std::future_status::timeout);
    work = take_blocking();
    REQUIRE(work.size() == 1);
    work.front()();
    REQUIRE(retried.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    auto answer = retried.get();
    CHECK(answer.result_int() == 202);
    CHECK(s.body_of(answer)["duplicate"] == true);
    // A valid event needs no look-up before the writer: nothing is handed over.
    auto valid = post(R"({"id": "e3", "type": "Go", "data": {"id": "c", "n": 1}})");
    REQUIRE(valid.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    CHECK(valid.get().result_int() == 202);
    CHECK(take_blocking().empty());
}

TEST_CASE("scrapes of /metrics that ask at once share one count of the tables, read off the connection's thread") {
    Server s;
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 3}})").result_int() == 202);
    std::vector<std::function<void()>> blocking;
    s.services->run_blocking = [&](std::function<void()> work) { blocking.push_back(std::move(work)); };
    auto scrape = [&](beast_http::verb method) {
        auto replied = std::make_shared<std::promise<http::Response>>();
        http::Request req{method, "/metrics", 11};
        REQUIRE(http::answers_without_blocking(req));
        http::handle_async(req, *s.services, http::Reply([replied](http::Response r) { replied->set_value(std::move(r)); }));
        return replied->get_future();
    };
    std::vector<std::future<http::Response>> scrapes;
    for (int i = 0; i < 3; ++i) scrapes.push_back(scrape(beast_http::verb::get));
    scrapes.push_back(scrape(beast_http::verb::head));
    // Nothing was read on the asking thread, and one read was handed over for the four.
    for (auto& answer : scrapes) CHECK(answer.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
    REQUIRE(blocking.size() == 1);
    // An event acknowledged before the count starts is in it.
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e2", "type": "Go", "data": {"id": "b", "n": 3}})").result_int() == 202);
    blocking.front()();
    CHECK(s.services->table_counts->reads() == 1);
    std::string get_body;
    for (int i = 0; i < 4; ++i) {
        REQUIRE(scrapes[i].wait_for(std::chrono::seconds(5)) == std::future_status::ready);
        http::Response answer = scrapes[i].get();
        CHECK(answer.result_int() == 200);
        if (i < 3) {
            CHECK(answer.body().find("flow_instances{status=\"running\"} 2\n") != std::string::npos);
            get_body = answer.body();
        } else {
            CHECK(answer.body().empty());  // HEAD: the size of the GET's body, without it
            CHECK(answer[beast_http::field::content_length] == std::to_string(get_body.size()));
        }
    }
    // A scrape after the count ended reads again, and a method that reads nothing is not one.
    auto later = scrape(beast_http::verb::get);
    REQUIRE(blocking.size() == 2);
    blocking.back()();
    CHECK(later.get().result_int() == 200);
    CHECK(s.services->table_counts->reads() == 2);
    http::Request post{beast_http::verb::post, "/metrics", 11};
    CHECK_FALSE(http::answers_without_blocking(post));
    CHECK(http::handle(post, *s.services).result_int() == 405);
}

TEST_CASE("POST /v1/outbox/expedite?target=: a target's commands waiting for a backoff are due now, soonest first, a page at a time") {
    Server s;
    std::vector<std::string> silence_forgotten;
    s.services->forget_target_silence = [&](const std::string& target) { silence_forgotten.push_back(target); };
    for (const char* key : {"a", "b", "c", "d"})
        REQUIRE(s.call(beast_http::verb::post, "/v1/events",
                       R"({"id": "e-)" + std::string(key) + R"(", "type": "Go", "data": {"id": ")" + key + R"(", "n": 1}})")
                    .result_int() == 202);
    std::vector<std::string> ids;
    const json listed = s.body_of(s.call(beast_http::verb::get, "/v1/outbox"));
    for (const json& c : listed["commands"]) ids.push_back(c["id"]);
    REQUIRE(ids.size() == 4);
    // a and b back off for an hour, a's retry first; c waits behind an earlier command of its
    // instance; d is another target's.
    const std::int64_t now = 1767225600000;  // the test server's clock
    auto where_id = [](const std::string& id) { return " WHERE id = '" + id + "'"; };
    s.edit_database("UPDATE outbox SET next_attempt_ms = " + std::to_string(now + 3600000) + ", attempts = 3" + where_id(ids[0]));
    s.edit_database("UPDATE outbox SET next_attempt_ms = " + std::to_string(now + 3700000) + ", attempts = 2" + where_id(ids[1]));
    s.edit_database("UPDATE outbox SET next_attempt_ms = 9223372036854775807" + where_id(ids[2]));
    s.edit_database("UPDATE outbox SET next_attempt_ms = " + std::to_string(now + 3600000) + ", target = 'other'" + where_id(ids[3]));
    auto due_of = [&](const std::string& id) { return s.body_of(s.call(beast_http::verb::get, "/v1/outbox/" + id))["next_attempt_at"]; };

    auto first = s.call(beast_http::verb::post, "/v1/outbox/expedite?target=log&limit=1");
    REQUIRE(first.result_int() == 200);
    CHECK(s.body_of(first) == json({{"expedited", 1}, {"more", true}}));
    CHECK(due_of(ids[0]) == "2026-01-01T00:00:00.000Z");
    CHECK(due_of(ids[1]) == "2026-01-01T01:01:40.000Z");
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/outbox/" + ids[0]))["attempts"] == 3);  // kept
    CHECK(s.body_of(s.call(beast_http::verb::post, "/v1/outbox/expedite?target=log")) == json({{"expedited", 1}, {"more", false}}));
    CHECK(due_of(ids[1]) == "2026-01-01T00:00:00.000Z");
    CHECK(due_of(ids[2]).is_null());                      // still behind its instance's earlier command
    CHECK(due_of(ids[3]) == "2026-01-01T01:00:00.000Z");  // another target's
    CHECK(s.body_of(s.call(beast_http::verb::post, "/v1/outbox/expedite?target=log")) == json({{"expedited", 0}, {"more", false}}));
    CHECK(silence_forgotten == std::vector<std::string>{"log", "log", "log"});

    // A write to many commands names its target, and takes no parameter it does not know.
    const std::pair<const char*, const char*> refused[] = {
        {"/v1/outbox/expedite", "target is required: an expedite names the target that answers again"},
        {"/v1/outbox/expedite?target=", "target must not be empty"},
        {"/v1/outbox/expedite?target=log&tagret=x", "unknown parameter 'tagret': target and limit are known"},
        {"/v1/outbox/expedite?target=log&target=other", "target is given more than once"},
        {"/v1/outbox/expedite?target=log&limit=x", "limit must be a non-negative integer"},
    };
    for (const auto& [path, message] : refused) {
        auto r = s.call(beast_http::verb::post, path);
        CHECK(r.result_int() == 400);
        CHECK(s.body_of(r)["error"] == message);
    }
    CHECK(s.call(beast_http::verb::get, "/v1/outbox/expedite?target=log").result_int() == 405);
    CHECK(silence_forgotten.size() == 3);  // nothing refused reached the relay
}

TEST_CASE("GET /v1/events/{id}: an accepted event's type, time and deliveries, whatever its outcome; its id as the sender wrote it") {
    Server s;
    auto post = [&](const std::string& body) { return s.call(beast_http::verb::post, "/v1/events", body); };
    auto started = post(R"({"id": "g1", "type": "Go", "data": {"id": "a", "n": 1}})");
    REQUIRE(started.result_int() == 202);
    auto record = s.call(beast_http::verb::get, "/v1/events/g1");
    REQUIRE(record.result_int() == 200);
    const json g1 = s.body_of(record);
    CHECK(g1["id"] == "g1");
    CHECK(g1["type"] == "Go");
    CHECK(g1["received_at"] == "2026-01-01T00:00:00.000Z");  // the test server's clock
    CHECK(g1["deliveries"] == s.body_of(started)["deliveries"]);
    // No instance of W has the key, and W starts on no Note: unmatched, and told so here.
    REQUIRE(post(R"({"id": "n1", "type": "Note", "data": {"id": "nobody", "text": "x"}})").result_int() == 202);
    const json n1 = s.body_of(s.call(beast_http::verb::get, "/v1/events/n1"));
    REQUIRE(n1["deliveries"].size() == 1);
    CHECK(n1["deliveries"][0]["outcome"] == "unmatched");
    CHECK(n1["deliveries"][0]["instance"].is_null());
    // Ids are the sender's: not lower-cased like flowd's UUIDs, and a '/' percent-encoded.
    for (const std::string& id : {std::string("0DDBA11A-CAFE-7000-8000-00000000000A"), std::string("order/1")}) {
        REQUIRE(post(R"({"id": ")" + id + R"(", "type": "Go", "data": {"id": ")" + id + R"(", "n": 2}})").result_int() == 202);
        const std::string path = "/v1/events/" + (id == "order/1" ? std::string("order%2F1") : id);
        auto found = s.call(beast_http::verb::get, path);
        REQUIRE(found.result_int() == 200);
        CHECK(s.body_of(found)["id"] == id);
    }
    CHECK(s.call(beast_http::verb::get, "/v1/events/0ddba11a-cafe-7000-8000-00000000000a").result_int() == 404);
    auto missing = s.call(beast_http::verb::get, "/v1/events/never");
    CHECK(missing.result_int() == 404);
    CHECK(s.body_of(missing)["error"] == "no event 'never' was accepted (or its record is past inbox_retention_hours)");
    CHECK(s.call(beast_http::verb::head, "/v1/events/g1").result_int() == 200);
    CHECK(s.call(beast_http::verb::post, "/v1/events/g1").result_int() == 405);
    CHECK(s.call(beast_http::verb::get, "/v1/events").result_int() == 405);
    // A record no flowd wrote: 503 with the reason, as a repeat of the id gets.
    s.edit_database("UPDATE inbox SET response = '[1]' WHERE event_id = 'g1'");
    CHECK(s.call(beast_http::verb::get, "/v1/events/g1").result_int() == 503);
    // An admin route: reading what senders sent asks for the token.
    s.config.admin_token = "t0ken";
    CHECK(s.call(beast_http::verb::get, "/v1/events/n1").result_int() == 401);
    CHECK(s.call(beast_http::verb::get, "/v1/events/n1", "", {{"Authorization", "Bearer t0ken"}}).result_int() == 200);
}

TEST_CASE("GET /v1/workflows/{name}/{version}: one stored version with its sources, current or kept for running instances") {
    Server s;
    const std::string text = "event Go { id: string }\nworkflow W { version 2 key id: string start on Go { complete } }\n";
    REQUIRE_FALSE(s.store->deploy({"W", 2, "b2", "{}", json({{"flows/w.flow", text}}).dump(), "2026-02-01T00:00:00.000Z"}));
    auto two = s.call(beast_http::verb::get, "/v1/workflows/W/2");
    REQUIRE(two.result_int() == 200);
    const json version_two = s.body_of(two);
    CHECK(version_two["workflow"] == "W");
    CHECK(version_two["name"] == "W");
    CHECK(version_two["version"] == 2);
    CHECK(version_two["hash"] == "b2");
    CHECK(version_two["deployed_at"] == "2026-02-01T00:00:00.000Z");
    CHECK(version_two["current"] == false);  // this server runs version 1
    CHECK(version_two["sources"] == json({{"flows/w.flow", text}}));
    const json version_one = s.body_of(s.call(beast_http::verb::get, "/v1/workflows/W/1"));
    CHECK(version_one["current"] == true);
    CHECK(version_one["sources"] == json::object());
    CHECK(s.call(beast_http::verb::head, "/v1/workflows/W/2").result_int() == 200);
    // Nothing stored under that name and version: 404, whatever the version's text.
    for (const char* path : {"/v1/workflows/W/3", "/v1/workflows/Nope/1", "/v1/workflows/W/two", "/v1/workflows/W/02"}) {
        auto missing = s.call(beast_http::verb::get, path);
        CHECK(missing.result_int() == 404);
    }
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/workflows/W/3"))["error"] == "no workflow 'W' version 3 is stored");
    CHECK(s.call(beast_http::verb::get, "/v1/workflows/W").result_int() == 404);
    CHECK(s.call(beast_http::verb::post, "/v1/workflows/W/2").result_int() == 405);
    // Sources that are not a JSON object of texts (a hand edit) are shown as null.
    s.edit_database("UPDATE workflows SET sources = '{\"w.flow\": 5}' WHERE version = 2");
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/workflows/W/2"))["sources"].is_null());
    // An admin route: the token is asked for.
    s.config.admin_token = "t0ken";
    CHECK(s.call(beast_http::verb::get, "/v1/workflows/W/2").result_int() == 401);
    CHECK(s.call(beast_http::verb::get, "/v1/workflows/W/2", "", {{"Authorization", "Bearer t0ken"}}).result_int() == 200);
}

TEST_CASE("a route that fails in a way flowd did not foresee answers 503 for that request alone") {
    Server s(100, "event Go { id: string, n: int }\n"
                  "workflow W { key id: string var since: time = now() start on Go { goto S } state S { on Go { complete } } }");
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 3}})").result_int() == 202);
    // A row no flowd wrote (a hand edit, a damaged page): a history entry whose time is no text,
    // and reading it for the answer throws.
    s.edit_database("UPDATE history SET kind = 'entries', detail = '[{\"at\": 5, \"kind\": \"delivery\", \"detail\": {}}]' "
                        "WHERE instance = '" + numbered_id(1) + "'");
    auto broken = s.call(beast_http::verb::get, "/v1/instances/" + numbered_id(1));
    CHECK(broken.result_int() == 503);
    CHECK(s.body_of(broken)["error"].get<std::string>().rfind("the database failed: ", 0) == 0);
    // The other routes, and that one for another instance, go on.
    CHECK(s.call(beast_http::verb::get, "/v1/workflows").result_int() == 200);
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e2", "type": "Go", "data": {"id": "b", "n": 4}})").result_int() == 202);
    CHECK(s.call(beast_http::verb::get, "/v1/instances/" + numbered_id(2)).result_int() == 200);
}

TEST_CASE("an instance whose row does not fit its program is not run: its events, cancellation and timers fail with the reason") {
    Server s(100, "event Go { id: string, n: int }\n"
                  "workflow W { key id: string var n: int = 0 start on Go as g { n = g.n goto S } "
                  "state S { after 1h { complete } on Go { complete } } }");
    for (const char* event : {R"({"id": "e1", "type": "Go", "data": {"id": "a", "n": 1}})", R"({"id": "e2", "type": "Go", "data": {"id": "b", "n": 2}})",
                              R"({"id": "e3", "type": "Go", "data": {"id": "c", "n": 3}})", R"({"id": "e4", "type": "Go", "data": {"id": "d", "n": 4}})"})
        REQUIRE(s.call(beast_http::verb::post, "/v1/events", event).result_int() == 202);
    // Hand edits of the kinds a damaged page could make: no variables, a state the workflow does
    // not have, a pending timer that names none of its timers.
    s.reopen([&] {
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open((s.dir / "flow.db").string().c_str(), &raw) == SQLITE_OK);
        test::exec_raw(raw, "UPDATE instances SET vars = '[]' WHERE id = '" + numbered_id(1) + "'");
        test::exec_raw(raw, "UPDATE instances SET state = 'Gone' WHERE id = '" + numbered_id(2) + "'");
        test::exec_raw(raw, "UPDATE timers SET timer = 7 WHERE instance = '" + numbered_id(3) + "'");
        sqlite3_close(raw);
    });
    auto no_vars = s.call(beast_http::verb::post, "/v1/events", R"({"id": "e5", "type": "Go", "data": {"id": "a", "n": 5}})");
    CHECK(no_vars.result_int() == 503);
    CHECK(s.body_of(no_vars)["error"] == "instance " + numbered_id(1) +
                                             " (W version 1) cannot be run from the database: it holds 0 variables where the workflow declares 1");
    auto no_state = s.call(beast_http::verb::post, "/v1/events", R"({"id": "e6", "type": "Go", "data": {"id": "b", "n": 6}})");
    CHECK(no_state.result_int() == 503);
    CHECK(s.body_of(no_state)["error"].get<std::string>().find("its state 'Gone' is not one of the workflow's") != std::string::npos);
    auto cancelled = s.call(beast_http::verb::post, "/v1/instances/" + numbered_id(3) + "/cancel");
    CHECK(cancelled.result_int() == 503);
    CHECK(s.body_of(cancelled)["error"].get<std::string>().find("a pending timer of it names no timer of the workflow") != std::string::npos);
    // Nothing was written for them; the instance that fits goes on. Each damaged one shows why
    // it cannot run, as its events are answered.
    std::map<int, std::string> reasons;
    for (int n : {1, 2, 3, 4}) {
        json shown = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + numbered_id(n)));
        CHECK(shown["status"] == "running");
        REQUIRE(shown.contains("cannot_run"));
        if (!shown["cannot_run"].is_null()) reasons[n] = shown["cannot_run"].get<std::string>();
    }
    CHECK(reasons.size() == 3);
    CHECK(reasons[1] == s.body_of(no_vars)["error"]);
    CHECK(reasons[2] == s.body_of(no_state)["error"]);
    CHECK(reasons[3] == s.body_of(cancelled)["error"]);
    CHECK(s.body_of(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e7", "type": "Go", "data": {"id": "d", "n": 7}})"))
              ["deliveries"][0]["outcome"] == "handled");
    json ended = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + numbered_id(4)));
    CHECK(ended["status"] == "completed");
    CHECK(ended["cannot_run"].is_null());
    // The timer of the damaged row fails to fire, and is not dropped.
    auto due = s.store->due_timers(1767225600000 + 3600000, 10);
    REQUIRE(due.ok());
    auto damaged = std::find_if(due.value->begin(), due.value->end(), [](const store::DueTimer& d) { return d.instance == numbered_id(3); });
    REQUIRE(damaged != due.value->end());
    auto fired = s.writer->run([&](store::Transaction& tx) -> store::Status {
        auto r = s.processor->fire(tx, *damaged, 1767225600000 + 3600000, s.sequence);
        return r.ok() ? store::Status{} : r.error;
    });
    REQUIRE(fired);
    CHECK(fired->message.find("cannot be run from the database: a pending timer of it names no timer of the workflow") != std::string::npos);
    CHECK(s.store->due_timers(1767225600000 + 3600000, 10).value->size() == due.value->size());
}

TEST_CASE("a message's wire text is its start line, its fields in order and its body") {
    namespace beast_http = boost::beast::http;
    beast_http::request<beast_http::empty_body> request{beast_http::verb::post, "/commands?x=1", 11};
    request.set(beast_http::field::host, "127.0.0.1:9001");
    request.set("Idempotency-Key", "c-1");
    request.content_length(7);
    CHECK(http::wire_text(request.base(), "{\"a\":1}") ==
          "POST /commands?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nIdempotency-Key: c-1\r\nContent-Length: 7\r\n\r\n{\"a\":1}");

    beast_http::response<beast_http::string_body> accepted{beast_http::status::accepted, 11};
    accepted.set(beast_http::field::content_type, "application/json");
    accepted.body() = "{}";
    accepted.prepare_payload();
    CHECK(http::wire_text(accepted.base(), accepted.body()) ==
          "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");

    // HTTP/1.0, a reason of our own, and a HEAD's answer: its length kept, its body left out.
    beast_http::response<beast_http::string_body> head{beast_http::status::not_found, 10};
    head.reason("Gone Fishing");
    head.content_length(32);
    head.keep_alive(false);
    CHECK(http::wire_text(head.base(), head.body()) == "HTTP/1.0 404 Gone Fishing\r\nContent-Length: 32\r\n\r\n");
}

TEST_CASE("an instance's variables read as the wire writes them: a whole number as 2, not 2.0") {
    Server s(100, "event Go { id: string, x: number }\nworkflow W { key id: string var x: number = 0.5 var z: number = 1.5\n"
                  " start on Go as g { x = g.x * 2 z = -0.0 * 1 goto S } state S { on Go { complete } } }");
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "e1", "type": "Go", "data": {"id": "k", "x": 1}})").result_int() ==
            202);
    auto list = s.body_of(s.call(beast_http::verb::get, "/v1/instances"))["instances"];
    REQUIRE(list.size() == 1);
    auto response = s.call(beast_http::verb::get, "/v1/instances/" + list[0]["id"].get<std::string>());
    CHECK(response.body().find(R"("vars":{"x":2,"z":0})") != std::string::npos);
}

namespace {

// What the timer loop does, at `now`: fires every due timer, each with the overdue ones it starts.
// One round of flowd's timer loop at `now`; returns how many timers were due when it began.
int fire_due_timers(Server& s, std::int64_t now) {
    auto due = s.store->due_timers(now, 1024);
    REQUIRE(due.ok());
    timers::TimerLoop loop(*s.store, *s.writer, *s.processor, s.metrics, [now] { return now; }, s.sequence);
    loop.round();
    return static_cast<int>(due.value->size());
}

// The pending commands' types and their instances' keys, in the order they were emitted.
std::vector<std::string> pending_commands(Server& s) {
    std::map<std::string, std::string> keys;
    const json instances = s.body_of(s.call(beast_http::verb::get, "/v1/instances"));
    for (const json& i : instances["instances"]) keys[i["id"].get<std::string>()] = i["key"].get<std::string>();
    std::vector<std::string> sent;
    const json outbox = s.body_of(s.call(beast_http::verb::get, "/v1/outbox?status=pending&limit=1000"));
    for (const json& c : outbox["commands"])
        sent.push_back(keys[c["instance"].get<std::string>()] + " " + c["type"].get<std::string>());
    return sent;
}

// Posts a `Go` event for each key, in order, its id the key.
void start_with_go(Server& s, const std::vector<std::string>& keys) {
    for (const std::string& key : keys)
        REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": ")" + key + R"(", "type": "Go", "data": {"id": ")" + key + R"("}})")
                    .result_int() == 202);
}

// The commands `flowc simulate` sends for the same lines, in the same form.
std::vector<std::string> simulated_commands(const std::string& flow, const std::vector<std::string>& lines) {
    Compilation compiled = test::compile_text(flow);
    REQUIRE(compiled.program);
    std::ostringstream out;
    sim::Simulator simulator(compiled.program, out);
    for (std::size_t i = 0; i < lines.size(); ++i) REQUIRE(simulator.feed(lines[i], static_cast<int>(i) + 1) == std::nullopt);
    simulator.finish();
    std::vector<std::string> sent;
    std::istringstream text(out.str());
    for (std::string line; std::getline(text, line);) {
        json j = json::parse(line);
        if (j["kind"] == "command") sent.push_back(j["key"].get<std::string>() + " " + j["type"].get<std::string>());
    }
    return sent;
}

json only_instance(Server& s) {
    json list = s.body_of(s.call(beast_http::verb::get, "/v1/instances"))["instances"];
    REQUIRE(list.size() == 1);
    return s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + list[0]["id"].get<std::string>()));
}

}  // namespace

TEST_CASE("a timer loop fails its instance at the firing flowc simulate stops it, events in between or not") {
    Server s(100, "event Go { id: string }\nevent Ping { id: string }\n"
                  "workflow W { key id: string var n: int = 0 var p: int = 0 start on Go { goto S }\n"
                  " state S { after 0s { n = n + 1 goto S } on Ping { p = p + 1 } } }");
    auto post = [&](const std::string& id, const std::string& type) {
        return s.call(beast_http::verb::post, "/v1/events", R"({"id": ")" + id + R"(", "type": ")" + type + R"(", "data": {"id": "k"}})");
    };
    REQUIRE(post("go", "Go").result_int() == 202);  // fires the first hundred in its own transaction
    const std::int64_t now = 1767225600000;
    auto running = [&] { return s.body_of(s.call(beast_http::verb::get, "/v1/instances?status=running"))["instances"].size() == 1; };
    for (int pass = 0; pass < 200 && running(); ++pass) {
        REQUIRE(post("ping-" + std::to_string(pass), "Ping").result_int() == 202);  // an event between the passes
        fire_due_timers(s, now);
    }
    json detail = only_instance(s);
    CHECK(detail["status"] == "failed");
    CHECK(detail["vars"]["n"] == 10000);
    CHECK(detail["vars"]["p"] == 0);  // the first Ping waited for the chain to end: in the loop's failure
    CHECK(detail["error"] == "timer loop: 10000 timers fired one after another without time moving on, each already due when "
                             "started at test.flow:4:12");
    CHECK(s.store->due_timers(now, 10).value->empty());
}

TEST_CASE("a periodic timer that catches up after downtime is no loop: each firing moves its time on") {
    Server s(100, "event Go { id: string }\nworkflow W { key id: string var n: int = 0 start on Go { goto S }\n"
                  " state S { after 1ms { n = n + 1 goto S } } }");
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "go", "type": "Go", "data": {"id": "k"}})").result_int() == 202);
    const std::int64_t later = 1767225600000 + 10500;  // 10,500 periods missed: all overdue
    REQUIRE(fire_due_timers(s, later) == 1);  // one round: the due timer, and those it starts due by then, 1,024 in all
    json detail = only_instance(s);
    CHECK(detail["status"] == "running");
    CHECK(detail["vars"]["n"] == 1024);
    auto stored = s.store->instance(detail["id"].get<std::string>());
    REQUIRE(stored.ok());
    REQUIRE(*stored.value);
    REQUIRE((**stored.value).instance.timers.size() == 1);
    CHECK((**stored.value).instance.timers[0].chain == 0);  // not 101: no loop however long the downtime
}

TEST_CASE("timers that fell due while flowd was stopped fire in due order across instances, as in flowc simulate") {
    // Y enters Deadline at once, starting its deadline; X enters it two seconds later, when its
    // `after` fires: both deadlines are due at the same instant, and Y's was started first.
    const std::string flow = "event Arm { id: string, wait: duration, deadline: time }\n"
                             "command Waited to log { id: string }\ncommand Deadline to log { id: string }\n"
                             "workflow W { key id: string var wait: duration = 0s var deadline: time = now()\n"
                             " start on Arm as a { wait = a.wait deadline = a.deadline goto Waiting }\n"
                             " state Waiting { after wait { emit Waited { id: key } goto Late } }\n"
                             " state Late { at deadline { emit Deadline { id: key } complete } } }";
    Server s(100, flow);
    const std::vector<std::string> events = {
        R"({"id": "y", "type": "Arm", "time": "2026-01-01T00:00:00Z", "data": {"id": "Y", "wait": "0s", "deadline": "2026-01-01T00:00:04Z"}})",
        R"({"id": "x", "type": "Arm", "time": "2026-01-01T00:00:00Z", "data": {"id": "X", "wait": "2s", "deadline": "2026-01-01T00:00:04Z"}})",
        R"({"advance": "7s"})"};
    for (std::size_t i = 0; i < 2; ++i) REQUIRE(s.call(beast_http::verb::post, "/v1/events", json::parse(events[i]).dump()).result_int() == 202);
    s.reopen();  // stopped; started again seven seconds later
    while (fire_due_timers(s, 1767225600000 + 7000) > 0) {
    }
    const std::vector<std::string> expected = {"Y Waited", "X Waited", "Y Deadline", "X Deadline"};
    CHECK(pending_commands(s) == expected);  // before, X's deadline fired right after X's `after`
    CHECK(simulated_commands(flow, events) == expected);
}

TEST_CASE("a timer due at the instant its firing starts it waits for the timers due then that were started before it") {
    // A's `after 0s` is started by A's firing at 00:01, and so due at 00:01, as B's `after 1s` is,
    // which was started before it: B's fires first, as in flowc simulate.
    const std::string flow = "event Go { id: string }\ncommand X to log { id: string }\ncommand Y to log { id: string }\n"
                             "workflow W { key id: string start on Go { goto S }\n"
                             " state S { after 1s { emit X { id: key } goto T } }\n"
                             " state T { after 0s { emit Y { id: key } complete } } }";
    Server s(100, flow);
    start_with_go(s, {"A", "B"});
    while (fire_due_timers(s, 1767225600000 + 2000) > 0) {
    }
    const std::vector<std::string> expected = {"A X", "B X", "A Y", "B Y"};
    CHECK(pending_commands(s) == expected);  // before, A Y came right after A X
    CHECK(simulated_commands(flow, {R"({"id": "A", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "A"}})",
                                    R"({"id": "B", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "B"}})",
                                    R"({"advance": "2s"})"}) == expected);
}

TEST_CASE("periodic timers of two instances that missed ticks while flowd was stopped catch up in turn") {
    const std::string flow = "event Go { id: string }\ncommand Tick to log { id: string }\n"
                             "workflow W { key id: string var n: int = 0 start on Go { goto S }\n"
                             " state S { after 1s { n = n + 1 emit Tick { id: key } if n == 3 { complete } goto S } } }";
    Server s(100, flow);
    start_with_go(s, {"p1", "p2"});
    REQUIRE(fire_due_timers(s, 1767225600000 + 10000) == 2);  // one round fires all six ticks
    const std::vector<std::string> expected = {"p1 Tick", "p2 Tick", "p1 Tick", "p2 Tick", "p1 Tick", "p2 Tick"};
    CHECK(pending_commands(s) == expected);
    CHECK(simulated_commands(flow, {R"({"id": "p1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "p1"}})",
                                    R"({"id": "p2", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "p2"}})",
                                    R"({"advance": "10s"})"}) == expected);
}

TEST_CASE("an event that reaches an instance in the middle of a chain of timers waits for the chain to end, as in flowc simulate") {
    // Each Kick queues 300 steps, worked off one `after 0s` at a time; an event's transaction
    // fires a hundred, the timer loop the rest, unless the next event comes first.
    const std::string flow = "event Kick { id: string }\n"
                             "workflow W { key id: string var work: int = 0 var done: int = 0\n"
                             " start on Kick { work = 300 goto Loop }\n"
                             " state Idle { on Kick { work = work + 300 goto Loop } }\n"
                             " state Loop { on Kick { work = work + 300 }\n"
                             "   after 0s { if work > 0 { work = work - 1 done = done + 1 goto Loop } else { goto Idle } } } }";
    Server s(100, flow);
    auto kick = [&](const std::string& id) {
        return s.call(beast_http::verb::post, "/v1/events", R"({"id": ")" + id + R"(", "type": "Kick", "data": {"id": "k"}})");
    };
    REQUIRE(kick("k1").result_int() == 202);
    CHECK(only_instance(s)["vars"]["done"] == 100);  // the first hundred, in the event's transaction
    json second = s.body_of(kick("k2"));
    // The rest of the first chain (200) ran first and left the instance Idle, where the Kick
    // started a new chain of 300 steps, its first hundred fired at once.
    CHECK(second["deliveries"][0]["outcome"] == "handled");
    json detail = only_instance(s);
    CHECK(detail["vars"]["done"] == 400);
    CHECK(detail["vars"]["work"] == 200);
    CHECK(detail["state"] == "Loop");

    // flowc simulate, given the same two events, ends with every step done.
    Compilation compiled = test::compile_text(flow);
    REQUIRE(compiled.program);
    std::ostringstream out;
    sim::Simulator simulator(compiled.program, out);
    REQUIRE(simulator.feed(R"({"id": "k1", "type": "Kick", "time": "2026-01-01T00:00:00Z", "data": {"id": "k"}})", 1) == std::nullopt);
    REQUIRE(simulator.feed(R"({"id": "k2", "type": "Kick", "data": {"id": "k"}})", 2) == std::nullopt);
    simulator.finish();
    std::string text = out.str();
    json last = json::parse(text.substr(text.rfind('\n', text.size() - 2) + 1));
    CHECK(last["vars"]["done"] == 600);
    // flowd gets there once the timer loop fires the rest.
    for (int pass = 0; pass < 10 && fire_due_timers(s, 1767225600000) > 0; ++pass) {
    }
    CHECK(only_instance(s)["vars"]["done"] == 600);
    CHECK(only_instance(s)["state"] == "Idle");
}

TEST_CASE("an event accepted when a timer is due, before the timer loop fired it, comes after the timer, as in flowc simulate") {
    Server s(100, "event Go { id: string }\nevent Poke { id: string }\n"
                  "workflow W { key id: string var seen: string = \"\" start on Go { goto A }\n"
                  " state A { after 1s { goto B } on Poke { seen = \"A\" } }\n"
                  " state B { on Poke { seen = \"B\" } } }");
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "go", "type": "Go", "data": {"id": "k"}})").result_int() == 202);
    const std::int64_t due = 1767225600000 + 1000;
    auto poke = [&](const std::string& id, std::int64_t now) {
        REQUIRE_FALSE(s.writer->run([&](store::Transaction& tx) -> store::Status {
            service::IncomingEvent event{id, "Poke", Value{{"id", "k"}}, ""};
            auto r = s.processor->handle(tx, event, now, s.sequence);
            return r.ok() ? std::nullopt : r.error;
        }));
    };
    poke("early", due - 1);  // not yet due: the event is handled in A
    CHECK(only_instance(s)["vars"]["seen"] == "A");
    poke("on-time", due);  // due exactly now: the timer first, then the event, in B
    json detail = only_instance(s);
    CHECK(detail["state"] == "B");
    CHECK(detail["vars"]["seen"] == "B");
    CHECK(s.store->due_timers(due, 10).value->empty());
}

TEST_CASE("a cancellation that reaches an instance in the middle of a chain of timers waits for the chain to end too") {
    Server s(100, "event Go { id: string, limit: int }\n"
                  "workflow W { key id: string var n: int = 0 var limit: int = 0 var at_cancel: int = -1\n"
                  " start on Go as g { limit = g.limit goto L }\n"
                  " state L { entry { n = n + 1 } after 0s { if n < limit { goto L } else { goto Done } } }\n"
                  " state Done { after 1d { complete } }\n"
                  " on cancel { at_cancel = n } }");
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "go", "type": "Go", "data": {"id": "k", "limit": 500}})")
                .result_int() == 202);
    json before = only_instance(s);
    REQUIRE(before["vars"]["n"] < 500);  // an event's transaction fires a hundred of the chain
    REQUIRE(s.call(beast_http::verb::post, "/v1/instances/" + before["id"].get<std::string>() + "/cancel").result_int() == 200);
    json after = only_instance(s);
    CHECK(after["status"] == "cancelled");
    CHECK(after["state"] == "Done");  // as flowc simulate leaves it: the chain ran to its end first
    CHECK(after["vars"]["n"] == 500);
    CHECK(after["vars"]["at_cancel"] == 500);
    // Every timer of the chain is counted, those the cancellation fired too (499 re-entries and
    // the one that left for Done).
    CHECK(s.metrics.render({}).find("\nflow_timers_fired_total 500\n") != std::string::npos);
}

TEST_CASE("flow_build_info shows the release and the SQLite library once set, with its labels escaped") {
    service::Metrics metrics;
    CHECK(metrics.render({}).find("flow_build_info") == std::string::npos);
    metrics.build_info("1.2.3", "3.40.\"1\"");
    const std::string text = metrics.render({});
    CHECK(text.find("# TYPE flow_build_info gauge\nflow_build_info{version=\"1.2.3\",sqlite=\"3.40.\\\"1\\\"\"} 1\n") != std::string::npos);
}

TEST_CASE("a cancellation accepted when a timer is due, before the timer loop fired it, comes after the timer, as in flowc simulate") {
    const std::string flow = "event Go { id: string }\n"
                             "workflow W { key id: string var cancelled_in: string = \"\" start on Go { goto A }\n"
                             " state A { after 1s { goto B } }\n"
                             " state B { after 1s { complete } }\n"
                             " on cancel { cancelled_in = \"somewhere\" } }";
    Server s(100, flow);
    REQUIRE(s.call(beast_http::verb::post, "/v1/events", R"({"id": "go", "type": "Go", "data": {"id": "k"}})").result_int() == 202);
    const std::string id = only_instance(s)["id"];
    const std::int64_t start = 1767225600000;
    auto cancel = [&](std::int64_t now) {
        service::CancelOutcome outcome{};
        int timers_fired = 0;
        REQUIRE_FALSE(s.writer->run([&](store::Transaction& tx) -> store::Status {
            auto r = s.processor->cancel(tx, id, now, s.sequence, timers_fired);
            if (!r.ok()) return r.error;
            outcome = *r.value;
            return std::nullopt;
        }));
        return std::make_pair(outcome, timers_fired);
    };
    SUBCASE("the first timer is due: it fires, then the instance is cancelled in B") {
        CHECK(cancel(start + 1000) == std::make_pair(service::CancelOutcome::Cancelled, 1));
        json detail = only_instance(s);
        CHECK(detail["status"] == "cancelled");
        CHECK(detail["state"] == "B");
    }
    SUBCASE("both are due: the instance completes, and the cancellation finds it ended") {
        CHECK(cancel(start + 2000) == std::make_pair(service::CancelOutcome::NotRunning, 2));
        json detail = only_instance(s);
        CHECK(detail["status"] == "completed");
        CHECK(detail["vars"]["cancelled_in"] == "");
    }
    CHECK(s.store->due_timers(start + 5000, 10).value->empty());

}

TEST_CASE("flowc simulate fires the timers due by a cancel line's time before it, as flowd does") {
    const std::string flow = "event Go { id: string }\n"
                             "workflow W { key id: string start on Go { goto A }\n"
                             " state A { after 1s { goto B } }\n"
                             " state B { after 1s { complete } } }";
    Compilation compiled = test::compile_text(flow);
    REQUIRE(compiled.program);
    auto last_line = [&](const std::string& advance) {
        std::ostringstream out;
        sim::Simulator simulator(compiled.program, out);
        REQUIRE(simulator.feed(R"({"id": "go", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "k"}})", 1) == std::nullopt);
        REQUIRE(simulator.feed(R"({"advance": ")" + advance + R"("})", 2) == std::nullopt);
        REQUIRE(simulator.feed(R"({"cancel": {"workflow": "W", "key": "k"}})", 3) == std::nullopt);
        simulator.finish();
        std::string text = out.str();
        return json::parse(text.substr(text.rfind('\n', text.size() - 2) + 1));
    };
    json at_first_due = last_line("1s");
    CHECK(at_first_due["status"] == "cancelled");
    CHECK(at_first_due["state"] == "B");
    CHECK(last_line("2s")["status"] == "completed");
}

TEST_CASE("the history holds a step's commands and its transition in the order they happened") {
    Server s(100, "event Go { id: string }\nevent Next { id: string }\nevent Stop { id: string }\n"
                  "command Log to log { text: string }\n"
                  "workflow W { key id: string\n"
                  " start on Go { emit Log { text: \"before goto\" } goto A }\n"
                  " state A { entry { emit Log { text: \"entry of A\" } }\n"
                  "   on Next { emit Log { text: \"before re-entry\" } compensate with Log { text: \"undo\" } goto A }\n"
                  "   on Stop { compensate complete } }\n"
                  " on cancel { emit Log { text: \"on cancel\" } } }");
    auto post = [&](const std::string& id, const std::string& type, const std::string& key) {
        return s.body_of(s.call(beast_http::verb::post, "/v1/events",
                                R"({"id": ")" + id + R"(", "type": ")" + type + R"(", "data": {"id": ")" + key + R"("}})"));
    };
    auto history_of = [&](const std::string& id) {
        std::vector<std::string> entries;
        const json detail = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + id));
        for (const json& h : detail["history"])
            entries.push_back(h["kind"] == "command" ? "command " + h["data"]["text"].get<std::string>() : h["kind"].get<std::string>());
        return entries;
    };
    std::string first = post("g1", "Go", "a")["deliveries"][0]["instance"];
    post("n1", "Next", "a");
    post("s1", "Stop", "a");
    CHECK(history_of(first) == std::vector<std::string>{
        "delivery", "command before goto", "transition", "command entry of A",                  // start
        "delivery", "command before re-entry", "transition", "command entry of A",              // re-entry
        "delivery", "command undo", "transition"});                                             // compensate, complete
    // A cancellation: `on cancel` runs, then the instance ends cancelled.
    std::string second = post("g2", "Go", "b")["deliveries"][0]["instance"];
    REQUIRE(s.call(beast_http::verb::post, "/v1/instances/" + second + "/cancel").result_int() == 200);
    CHECK(history_of(second) == std::vector<std::string>{
        "delivery", "command before goto", "transition", "command entry of A", "cancel", "command on cancel", "transition"});
}

TEST_CASE("an instance is read with its history as of one moment, while events keep changing it") {
    Server s(100, "event Go { id: string }\nevent Move { id: string }\n"
                  "workflow W { key id: string var moves: int = 0\n"
                  " start on Go { goto A }\n"
                  " state A { on Move { moves = moves + 1 goto B } }\n"
                  " state B { on Move { moves = moves + 1 goto A } } }");
    auto started = s.body_of(s.call(beast_http::verb::post, "/v1/events", R"({"id": "g", "type": "Go", "data": {"id": "k"}})"));
    const std::string id = started["deliveries"][0]["instance"];
    std::atomic<bool> done{false};
    std::atomic<int> accepted{0};
    std::thread mover([&] {
        for (int n = 0; n < 300; ++n)
            if (s.call(beast_http::verb::post, "/v1/events", R"({"id": "m)" + std::to_string(n) + R"(", "type": "Move", "data": {"id": "k"}})")
                    .result_int() == 202)
                ++accepted;
        done = true;
    });
    int reads = 0, torn = 0;
    while (!done || reads < 20) {
        json detail = s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + id));
        int handled = 0;
        std::string last_to;
        for (const json& h : detail["history"]) {
            if (h["kind"] == "delivery" && h["outcome"] == "handled") ++handled;
            if (h["kind"] == "transition") last_to = h["to"];
        }
        // The state, the vars and the history of one answer belong to the same commit.
        if (detail["state"] != last_to || detail["vars"]["moves"] != handled) ++torn;
        ++reads;
    }
    mover.join();
    CHECK(torn == 0);
    CHECK(reads >= 20);
    // The reads saw an instance that moved all along.
    CHECK(accepted == 300);
    CHECK(s.body_of(s.call(beast_http::verb::get, "/v1/instances/" + id))["vars"]["moves"] == 300);
}
