// The retention thread's rounds, on a real store and a clock of the test's own: it goes on where
// the last round stopped, keeps its pace, counts and logs what it deleted, and says why it could
// not prune.
#include "runtime/service/retention.hpp"
#include "runtime/store/sqlite_store.hpp"
#include "raw_sqlite.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>

#include <chrono>
#include <iostream>
#include <sstream>
#include <string>

using namespace flow;
namespace fs = std::filesystem;

namespace {

std::int64_t count(const fs::path& file, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    const std::int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

void exec(const fs::path& file, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    test::exec_raw(db, sql);
    sqlite3_close(db);
}

// 2026-07-01T00:00:00Z: every row the tests make in January is older than an hour.
constexpr std::int64_t july_ms = 1782864000000;

const std::string one_instance =
    "INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');"
    "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, updated_at) "
    "VALUES (1, 'i1', 'W', 1, '\"a\"', NULL, 'completed', '{}', '[]', '2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z');";

}  // namespace

TEST_CASE("retention goes on where its last round stopped, a second later, and a minute later once through") {
    test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    auto opened = store::open_sqlite_store({file.string(), "FULL"});
    REQUIRE(opened.ok());
    // 3,000 dead commands in front of 1,000 delivered ones, all of January.
    exec(file, one_instance +
                   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) "
                   "INSERT INTO outbox (row, id, instance, workflow, key, type, target, payload, status, next_attempt_ms, created_at, "
                   "delivered_at) SELECT i, 'c' || i, 'i1', 'W', '\"a\"', 'T', 't', '{}', CASE WHEN i <= 3000 THEN 'dead' ELSE 'delivered' END, "
                   "0, '2026-01-01T00:00:00.000Z', CASE WHEN i <= 3000 THEN NULL ELSE '2026-01-01T00:00:01.000Z' END FROM n");
    service::Config config;
    config.retention_hours = 1;
    service::Metrics metrics;
    service::Retention retention(**opened.value, config, metrics, [] { return july_ms; }, {2000, 2000, 1000, 500});
    test::CapturedLog log;
    CHECK(retention.round() == std::chrono::seconds(1));  // the first 2,000 rows: all dead
    CHECK(count(file, "SELECT count(*) FROM outbox") == 4000);
    CHECK(retention.round() == std::chrono::seconds(1));  // the next 2,000, past the dead ones
    CHECK(count(file, "SELECT count(*) FROM outbox") == 3000);
    CHECK(retention.round() == std::chrono::seconds(60));  // nothing more to look at
    // The next pass starts over: the 3,000 dead ones again, in two rounds.
    CHECK(retention.round() == std::chrono::seconds(1));
    CHECK(retention.round() == std::chrono::seconds(60));
    CHECK(count(file, "SELECT count(*) FROM outbox WHERE status = 'dead'") == 3000);
    CHECK(metrics.render({}).find("flow_pruned_total{what=\"commands\"} 1000\n") != std::string::npos);
    CHECK(metrics.render({}).find("flow_pruned_total{what=\"instances\"} 0\n") != std::string::npos);
    CHECK(log.text.str().find("\"deleted\":{\"commands\":1000},\"level\":\"info\",\"msg\":\"pruned\"") != std::string::npos);
}

TEST_CASE("retention says why it cannot prune, and prunes once it can: an index a full disk kept from being built") {
    test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    REQUIRE(store::open_sqlite_store({file.string(), "FULL"}).ok());
    // An ended instance of January with 20,000 delivered commands of January: about 3 MB.
    exec(file, one_instance +
                   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
                   "INSERT INTO outbox (row, id, instance, workflow, key, type, target, payload, status, next_attempt_ms, created_at, "
                   "delivered_at) SELECT i, printf('command-%060d', i), 'i1', 'W', '\"a\"', 'T', 't', printf('{\"padding\":\"%080d\"}', i), "
                   "'delivered', 0, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z' FROM n");
    // Opened with a size limit below its size: full. The index instance retention needs cannot
    // be built, and the start goes on without it.
    store::SqliteOptions options{file.string(), "FULL", 1};
    options.commands_by_instance = true;
    auto opened = store::open_sqlite_store(options);
    REQUIRE(opened.ok());
    CHECK(count(file, "SELECT count(*) FROM sqlite_schema WHERE name = 'outbox_by_instance'") == 0);
    service::Config config;
    config.retention_hours = 0;
    config.instance_retention_hours = 1;
    service::Metrics metrics;
    service::Retention retention(**opened.value, config, metrics, [] { return july_ms; });
    {
        test::CapturedLog log;
        CHECK(retention.round() == std::chrono::seconds(60));  // tried again in a minute, not every second
        CHECK(log.text.str().find("\"error\":\"cannot build the index outbox_by_instance, which pruning ended instances needs: "
                                  "database or disk is full\",\"level\":\"warn\",\"msg\":\"cannot prune\",\"ts\":") != std::string::npos);
        CHECK(log.text.str().find("\"what\":\"instances\"") != std::string::npos);
    }
    CHECK(count(file, "SELECT count(*) FROM instances") == 1);
    // Deleting the old deliveries frees the room: the same round then builds the index and
    // deletes the instance.
    config.retention_hours = 1;
    test::CapturedLog log;
    CHECK(retention.round() == std::chrono::seconds(60));
    CHECK(count(file, "SELECT count(*) FROM instances") == 0);
    CHECK(count(file, "SELECT count(*) FROM sqlite_schema WHERE name = 'outbox_by_instance'") == 1);
    CHECK(log.text.str().find("\"deleted\":{\"commands\":20000,\"instances\":1}") != std::string::npos);
    CHECK(metrics.render({}).find("flow_pruned_total{what=\"instances\"} 1\n") != std::string::npos);
}

TEST_CASE("retention forgets the event ids accepted before its cutoff, and counts them") {
    test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    store::SqliteOptions options{file.string(), "FULL"};
    options.inbox_by_age = true;
    auto opened = store::open_sqlite_store(options);
    REQUIRE(opened.ok());
    exec(file, "INSERT INTO inbox VALUES ('old-1', 'T', '{}', '2026-01-01T00:00:00.000Z'), ('old-2', 'T', '{}', '2026-06-30T22:59:59.999Z'), "
               "('new', 'T', '{}', '2026-06-30T23:00:00.000Z')");
    service::Config config;
    config.retention_hours = 0;
    config.inbox_retention_hours = 1;
    service::Metrics metrics;
    service::Retention retention(**opened.value, config, metrics, [] { return july_ms; });
    test::CapturedLog log;
    CHECK(retention.round() == std::chrono::seconds(60));
    CHECK(count(file, "SELECT count(*) FROM inbox WHERE event_id = 'new'") == 1);
    CHECK(count(file, "SELECT count(*) FROM inbox") == 1);
    CHECK(metrics.render({}).find("flow_pruned_total{what=\"events\"} 2\n") != std::string::npos);
    CHECK(log.text.str().find("\"deleted\":{\"events\":2}") != std::string::npos);
}
