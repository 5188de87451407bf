// The relay running against a real store and a real HTTP target, when its attempts cannot be
// recorded (a full or read-only database).
#include "runtime/relay/relay.hpp"
#include "runtime/service/deployment.hpp"
#include "runtime/service/processor.hpp"
#include "runtime/store/sqlite_store.hpp"
#include "tests/support.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unistd.h>

using namespace flow;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace fs = std::filesystem;
using asio::ip::tcp;

namespace {

// Answers every POST with 200 on keep-alive connections and notes the command ids it got.
class CountingTarget {
public:
    CountingTarget() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
        accept();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~CountingTarget() {
        asio::post(io_, [this] { io_.stop(); });
        thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/commands"; }
    std::size_t distinct_commands() {
        std::lock_guard lock(mutex_);
        return ids_.size();
    }

private:
    struct Session {
        tcp::socket socket;
        beast::flat_buffer buffer;
        beast::http::request<beast::http::string_body> request;
        beast::http::response<beast::http::string_body> response;
    };
    void accept() {
        acceptor_.async_accept([this](beast::error_code error, tcp::socket socket) {
            if (error) return;
            read(std::make_shared<Session>(Session{std::move(socket), {}, {}, {}}));
            accept();
        });
    }
    void read(std::shared_ptr<Session> session) {
        session->request = {};
        beast::http::async_read(session->socket, session->buffer, session->request, [this, session](beast::error_code error, std::size_t) {
            if (error) return;
            {
                std::lock_guard lock(mutex_);
                ids_.insert(nlohmann::json::parse(session->request.body()).at("id").get<std::string>());
            }
            session->response = {beast::http::status::ok, 11};
            session->response.keep_alive(true);
            session->response.prepare_payload();
            beast::http::async_write(session->socket, session->response, [this, session](beast::error_code error, std::size_t) {
                if (!error) read(session);
            });
        });
    }

    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::thread thread_;
    std::mutex mutex_;
    std::set<std::string> ids_;
};

// A store at `db` holding `commands` pending commands to the target `sink`, one of each of as
// many instances, as the writer leaves them.
std::unique_ptr<store::Store> store_with_pings(const fs::path& db, int commands) {
    Compilation compiled = test::compile_text("event Go { id: string }\ncommand Ping to sink { id: string }\n"
                                              "workflow W { key id: string start on Go { emit Ping { id: key } complete } }");
    REQUIRE(compiled.program);
    auto opened = store::open_sqlite_store({db.string(), "FULL"});
    REQUIRE(opened.ok());
    std::unique_ptr<store::Store> store = std::move(*opened.value);
    const auto& workflow = compiled.program->workflows[0];
    REQUIRE_FALSE(store->deploy({workflow.name, workflow.version, workflow.hash, "{}", "{}", "2026-01-01T00:00:00.000Z"}));
    service::Deployment deployment(compiled.program);
    int ids = 0;
    service::Processor processor(deployment, [&] { return "id-" + std::to_string(++ids); });
    std::uint64_t sequence = 1;
    auto tx = store->begin();  // holds the store until it is destroyed
    REQUIRE(tx.ok());
    for (int n = 0; n < commands; ++n) {
        service::IncomingEvent event{"e" + std::to_string(n), "Go", Value{{"id", "k" + std::to_string(n)}}, ""};
        REQUIRE(processor.handle(**tx.value, event, 1767225600000, sequence).ok());
    }
    REQUIRE_FALSE((**tx.value).commit());
    return store;
}

}  // namespace

TEST_CASE("while the attempts cannot be recorded, the relay hands out no more commands, and sleeps between its tries") {
    const fs::path dir = fs::temp_directory_path() / ("flow-relay-records-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    {
        constexpr int events = 1000;  // four times what one target may have in hand
        std::unique_ptr<store::Store> store = store_with_pings(dir / "flow.db", events);

        CountingTarget target;
        service::Config config;
        config.targets["sink"].url = target.url();
        service::Metrics metrics;
        std::atomic<int> records_tried{0};
        std::atomic<bool> database_full{true};
        std::atomic<int> clock_reads{0};  // a round of the dispatcher reads the clock
        auto clock = [&] {
            ++clock_reads;
            return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        };
        relay::Relay relay(*store, config, metrics, clock,
                           [&](std::vector<store::DeliveryAttempt> attempts) -> store::Status {
                               ++records_tried;
                               if (database_full) return store::StoreError{store::StoreError::Kind::Unavailable, "database or disk is full"};
                               auto tx = store->begin();
                               if (!tx.ok()) return tx.error;
                               if (auto e = (**tx.value).record_attempts(attempts)) return e;
                               return (**tx.value).commit();
                           });
        relay.start();
        const auto began = std::chrono::steady_clock::now();
        relay.wake();
        for (int waited = 0; waited < 400 && records_tried < 3; ++waited) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        // The tries come after pauses of 100 and 200 ms (not at the one-second poll, which would
        // put the third at two seconds).
        REQUIRE(records_tried >= 3);
        CHECK(std::chrono::steady_clock::now() - began < std::chrono::milliseconds(1500));
        const int clock_reads_before = clock_reads;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        const int clock_reads_while_failing = clock_reads - clock_reads_before;
        const std::size_t sent = target.distinct_commands();
        // Once the database takes the records again, the relay goes on with the rest.
        database_full = false;
        for (int waited = 0; waited < 200 && target.distinct_commands() < events; ++waited)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        CHECK(target.distinct_commands() == events);
        relay.stop();
        CHECK(records_tried >= 3);  // the records failed and were tried again
        CHECK(sent > 0);
        // Not all 1,000: those handed out before the first record failed, at most 256 waiting
        // or being sent and 256 finished, not yet recorded.
        CHECK(sent <= static_cast<std::size_t>(2 * relay::Relay::handed_out_per_target));
        // Nor does the dispatcher spin meanwhile: it sleeps until the next record is due (a
        // pause of 400 ms and more by now), where it woke every millisecond.
        CHECK(clock_reads_while_failing < 50);
    }
    fs::remove_all(dir);
}

TEST_CASE("a command no HTTP request can carry is dead at its first attempt, and holds back none of its target's others") {
    // Only a database edited by hand gives a command such an id. Before, each attempt failed as
    // if the target had not answered: retried for its whole schedule, and the target's other
    // commands held back meanwhile as those of a silent target.
    test::TempDir dir;
    std::unique_ptr<store::Store> store = store_with_pings(dir.path / "flow.db", 3);
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open((dir.path / "flow.db").c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw, "UPDATE outbox SET id = 'bad' || char(13, 10) || 'X-Injected: yes' WHERE row = 1", nullptr, nullptr,
                         nullptr) == SQLITE_OK);
    sqlite3_close(raw);

    CountingTarget target;
    service::Config config;
    config.targets["sink"].url = target.url();
    config.targets["sink"].retry = {12, 60000, 60000};  // a retry would come a minute later
    service::Metrics metrics;
    relay::Relay relay(*store, config, metrics, [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    }, [&](std::vector<store::DeliveryAttempt> attempts) -> store::Status {
        auto tx = store->begin();
        if (!tx.ok()) return tx.error;
        if (auto e = (**tx.value).record_attempts(attempts)) return e;
        return (**tx.value).commit();
    });
    relay.start();
    relay.wake();
    for (int waited = 0; waited < 100 && target.distinct_commands() < 2; ++waited) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::vector<store::OutboxCommand> dead;
    for (int waited = 0; waited < 100 && dead.empty(); ++waited) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        auto read = store->outbox("dead", 10);
        REQUIRE(read.ok());
        dead = *read.value;
    }
    relay.stop();
    CHECK(target.distinct_commands() == 2);
    REQUIRE(dead.size() == 1);
    CHECK(dead[0].attempts == 1);
    CHECK(dead[0].last_error == "cannot send the command: its header Idempotency-Key would hold a line break or a NUL");
}
