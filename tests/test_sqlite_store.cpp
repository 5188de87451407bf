// The SQLite store below the routes: schema migrations, and the indexes its hot queries use.
#include "runtime/store/instance_list_sql.hpp"
#include "runtime/store/outbox_order_sql.hpp"
#include "runtime/store/sqlite.hpp"
#include "runtime/store/sqlite_store.hpp"
#include "raw_sqlite.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>
#include <csignal>
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>
#include <limits>
#include <fstream>
#include <sstream>

using namespace flow;
namespace fs = std::filesystem;

namespace {

// A raw connection, to set a database up as an older flowd left it and to look inside.
struct Raw {
    sqlite3* db = nullptr;
    explicit Raw(const fs::path& file) { REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK); }
    ~Raw() { sqlite3_close(db); }
    void exec(const std::string& sql) { test::exec_raw(db, sql); }
    // Every row of a query, its columns joined by '|', rows joined by '\n'.
    std::string rows(const std::string& sql) {
        sqlite3_stmt* s = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
        std::string out;
        while (sqlite3_step(s) == SQLITE_ROW) {
            if (!out.empty()) out += "\n";
            for (int c = 0; c < sqlite3_column_count(s); ++c) {
                if (c) out += "|";
                const unsigned char* text = sqlite3_column_text(s, c);
                out += text ? reinterpret_cast<const char*>(text) : "NULL";
            }
        }
        sqlite3_finalize(s);
        return out;
    }
};

std::string fixture(const std::string& name) {
    std::ifstream file(test::source_dir() + "/tests/fixtures/" + name);
    REQUIRE(file);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

// A new, empty database opened as flowd opens it.
struct StoreOnDisk {
    test::TempDir dir;
    fs::path file = dir.path / "flow.db";
    std::unique_ptr<store::Store> store;
    explicit StoreOnDisk(bool commands_by_instance = false) {
        store::SqliteOptions options{file.string(), "FULL"};
        options.commands_by_instance = commands_by_instance;
        auto opened = store::open_sqlite_store(options);
        REQUIRE(opened.ok());
        store = std::move(*opened.value);
    }
};

std::map<std::string, std::int64_t> counts_of(store::Store& s) {
    auto counts = s.counts();
    REQUIRE(counts.ok());
    return {counts.value->begin(), counts.value->end()};
}

}  // namespace

TEST_CASE("a statement that cannot be prepared fails its steps with the reason, and is prepared again at its next use") {
    test::TempDir dir;
    auto opened = store::sqlite::Connection::open((dir.path / "flow.db").string(), "FULL", false);
    REQUIRE(opened.ok());
    store::sqlite::Connection& db = **opened.value;
    const char* sql = "SELECT x FROM later";
    {
        store::sqlite::Use s(db.prepare(sql));  // before: std::logic_error, which ended a background thread's process
        CHECK_FALSE(s->prepared());
        s->bind(1, std::int64_t{5}).bind(2, "ignored");  // binds nothing
        const int code = s->step();
        CHECK(code == SQLITE_ERROR);
        CHECK(s->step() == SQLITE_ERROR);  // and again, not a misuse
        const store::StoreError e = s->error(code);
        CHECK(e.kind == store::StoreError::Kind::Unavailable);
        CHECK(e.message == "no such table: later");
        const store::Status ran = s->run();
        REQUIRE(ran);
        CHECK(ran->message == e.message);
    }
    REQUIRE_FALSE(db.exec("CREATE TABLE later (x); INSERT INTO later VALUES (7)"));
    store::sqlite::Use s(db.prepare(sql));
    CHECK(s->prepared());
    REQUIRE(s->step() == SQLITE_ROW);
    CHECK(s->integer(0) == 7);
}

TEST_CASE("a store whose table went missing answers its reads with an error, where it threw") {
    StoreOnDisk db;
    Raw(db.file).exec("DROP TABLE timers");
    auto max = db.store->max_timer_sequence();
    REQUIRE_FALSE(max.ok());
    CHECK(max.error->message == "no such table: timers");
    auto due = db.store->due_timers(0, 10);
    REQUIRE_FALSE(due.ok());
    CHECK(due.error->message == "no such table: timers");
    CHECK_FALSE(db.store->next_timer_due().ok());
    CHECK_FALSE(db.store->counts().ok());
}

TEST_CASE("the health check reads the database: a schema table gone makes it fail") {
    StoreOnDisk db;
    CHECK(db.store->healthy());
    Raw(db.file).exec("DROP TABLE schema_version");
    CHECK_FALSE(db.store->healthy());  // `SELECT 1` answered here: it reads no table
}

TEST_CASE("a version 1 database is migrated: every row kept with its row id, the new indexes in place") {
    test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    {
        Raw raw(file);
        raw.exec(fixture("schema_v1.sql"));
    }
    auto opened = store::open_sqlite_store({file.string(), "FULL"});
    REQUIRE(opened.ok());
    store::Store& s = **opened.value;

    auto all = s.instances({});
    REQUIRE(all.ok());
    REQUIRE(all.value->size() == 3);
    CHECK((*all.value)[0].row == 7);
    CHECK((*all.value)[1].row == 9);
    CHECK((*all.value)[2].row == 12);
    auto running = s.instance("i-running");
    REQUIRE(running.ok());
    REQUIRE(running.value->has_value());
    const store::StoredInstance& r = **running.value;
    CHECK(r.state == "S");
    CHECK(r.instance.status == engine::Status::Running);
    CHECK(r.instance.vars.at(0) == "hello");
    CHECK(r.instance.uuid_counter == 3);
    REQUIRE(r.instance.timers.size() == 1);
    CHECK(r.instance.timers[0].due_ms == 1767225700000);
    auto failed = s.instance("i-failed");
    REQUIRE(failed.value->has_value());
    CHECK((**failed.value).instance.error == "division by zero");

    // History rows, packed ones included, in their order.
    auto detail = s.instance_detail("i-running");
    REQUIRE(detail.ok());
    REQUIRE(detail.value->has_value());
    CHECK((**detail.value).instance.state == "S");
    const auto& history = (**detail.value).history;
    REQUIRE(history.size() == 3);
    CHECK(history[0].kind == "delivery");
    CHECK(history[1].kind == "transition");
    CHECK(history[2].kind == "command");
    auto none = s.instance_detail("i-nobody");
    REQUIRE(none.ok());
    CHECK(!none.value->has_value());

    // The outbox by status, its counts, and the relay's query.
    CHECK(s.outbox("pending", 10).value->front().id == "c-pending");
    CHECK(s.outbox("pending", 10).value->front().last_error == "HTTP 503");
    CHECK(s.outbox("delivered", 10).value->front().id == "c-delivered");
    CHECK(s.outbox("dead", 10).value->front().id == "c-dead");
    CHECK(s.outbox("", 10).value->size() == 3);
    auto counts = counts_of(s);
    CHECK(counts["outbox_pending"] == 1);
    CHECK(counts["outbox_delivered"] == 1);
    CHECK(counts["outbox_dead"] == 1);
    CHECK(counts["instances_running"] == 1);
    CHECK(counts["instances_completed"] == 1);
    CHECK(counts["instances_failed"] == 1);
    CHECK(counts["timers_pending"] == 1);
    auto due = s.deliverable(1767225600000, [](const std::string&) { return 10; }, {});
    REQUIRE(due.ok());
    REQUIRE(due.value->size() == 1);
    CHECK(due.value->front().id == "c-pending");
    CHECK(s.recorded_event("e1").value->value_or("") == R"({"deliveries":[]})");

    // The migrated database takes new rows after the old ones, and keeps its rules: one running
    // instance per workflow and key, and instances that refer to a deployed workflow.
    {
        auto tx = s.begin();
        REQUIRE(tx.ok());
        store::StoredInstance fresh;
        fresh.instance.id = "i-new";
        fresh.instance.key = "k3";
        fresh.workflow = "W";
        fresh.created_at = fresh.updated_at = "2026-01-01T00:00:07.000Z";
        CHECK_FALSE((*tx.value)->save_instance(fresh, {true, true, true}));
        store::StoredInstance twin = fresh;
        twin.instance.id = "i-twin";
        twin.instance.key = "k1";
        CHECK((*tx.value)->save_instance(twin, {true, true, true}));  // k1 is running already
        store::StoredInstance orphan = fresh;
        orphan.instance.id = "i-orphan";
        orphan.instance.key = "k4";
        orphan.workflow = "Undeployed";
        CHECK((*tx.value)->save_instance(orphan, {true, true, true}));
        CHECK_FALSE((*tx.value)->commit());
    }
    store::InstanceFilter page;
    page.after_row = 12;
    page.limit = 10;
    auto after = s.instances(page);
    REQUIRE(after.value->size() == 1);
    CHECK(after.value->front().instance.id == "i-new");
    CHECK(after.value->front().row == 13);
    opened.value->reset();

    Raw raw(file);
    CHECK(raw.rows("SELECT max(version) FROM schema_version") == std::to_string(store::sqlite_schema_version()));
    CHECK(raw.rows("PRAGMA foreign_key_check").empty());
    CHECK(raw.rows("SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%AUTOINCREMENT%'") == "0");
    CHECK(raw.rows("SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema WHERE type = 'index' AND "
                   "tbl_name = 'outbox' AND sql IS NOT NULL ORDER BY name)") ==
          "outbox_dead outbox_dead_by_target outbox_pending_by_instance outbox_pending_by_target");
}

TEST_CASE("an instance's history is read a page at a time, its places inside a step's row included") {
    StoreOnDisk db;
    store::Store& s = *db.store;
    Raw raw(db.file);
    auto entry = [](int n) { return R"({"at":"t)" + std::to_string(n) + R"(","kind":"command","detail":{"n":)" + std::to_string(n) + "}}"; };
    // i's history: a step of three entries, one of a plain row (as version 1 wrote them), one of
    // two; another instance's rows in between.
    raw.exec("INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');"
             "INSERT INTO instances (id, workflow, version, key, state, status, vars, compensations, created_at, updated_at) VALUES "
             "('i', 'W', 1, '\"a\"', NULL, 'running', '{}', '[]', 't', 't'), ('j', 'W', 1, '\"b\"', NULL, 'running', '{}', '[]', 't', 't'),"
             "('quiet', 'W', 1, '\"c\"', NULL, 'running', '{}', '[]', 't', 't');"
             "INSERT INTO history (row, instance, at, kind, detail) VALUES "
             "(10, 'i', 't', 'entries', '[" + entry(1) + "," + entry(2) + "," + entry(3) + "]'),"
             "(11, 'j', 't', 'entries', '[" + entry(90) + "," + entry(91) + "]'),"
             "(12, 'i', 't4', 'delivery', '{\"n\":4}'),"
             "(13, 'i', 't', 'entries', '[" + entry(5) + "," + entry(6) + "]');");
    auto numbers = [](const store::Store::HistoryPage& page) {
        std::vector<int> out;
        for (const auto& e : page.entries) out.push_back(nlohmann::json::parse(e.detail)["n"].get<int>());
        return out;
    };
    using Position = store::Store::HistoryPosition;
    auto read = [&](std::optional<Position> after, int limit, const std::string& instance = "i") {
        auto page = s.history(instance, after, limit);
        REQUIRE(page.ok());
        REQUIRE(page.value->has_value());
        return **page.value;
    };

    // Every page size gives the whole history, in order, each page's end where the next begins.
    for (int limit = 1; limit <= 7; ++limit) {
        INFO("limit " << limit);
        std::vector<int> all;
        std::optional<Position> after;
        int pages = 0;
        while (pages < 10) {  // bounded: a cursor that went nowhere would loop for ever
            auto page = read(after, limit);
            ++pages;
            CHECK_FALSE(page.after_unknown);
            CHECK(page.entries.size() <= static_cast<std::size_t>(limit));
            for (int n : numbers(page)) all.push_back(n);
            if (!page.more) break;
            CHECK(page.entries.size() == static_cast<std::size_t>(limit));  // only the last page is short
            after = page.last;
        }
        CHECK(all == std::vector<int>{1, 2, 3, 4, 5, 6});
        CHECK(pages == (6 + limit - 1) / limit);  // no empty page at the end when the last is full
    }
    auto first = read(std::nullopt, 2);
    CHECK(first.more);
    CHECK(first.last == Position{10, 1});
    CHECK(first.entries[0].at == "t1");
    CHECK(first.entries[0].kind == "command");
    auto plain = read(Position{10, 2}, 1);
    CHECK(plain.last == Position{12, 0});
    CHECK(plain.entries[0].at == "t4");
    CHECK(plain.entries[0].kind == "delivery");
    CHECK(numbers(read(Position{12, 0}, 10)) == std::vector<int>{5, 6});
    CHECK_FALSE(read(Position{12, 0}, 10).more);
    CHECK(read(Position{12, 0}, 10).last == Position{13, 1});  // where a later read goes on
    auto at_end = read(Position{13, 1}, 10);
    CHECK(at_end.entries.empty());
    CHECK_FALSE(at_end.after_unknown);
    CHECK(at_end.last == Position{13, 1});
    // A place that is no entry of the instance reads nothing, and says so: past a row's
    // entries, past the last row, before the first, in another instance's row.
    for (Position unknown : {Position{13, 2}, Position{14, 0}, Position{0, 0}, Position{11, 0}, Position{9, 0},
                             Position{std::numeric_limits<std::int64_t>::max(), 0}, Position{10, std::numeric_limits<std::int64_t>::max()}}) {
        INFO(unknown.row << "-" << unknown.index);
        auto refused = read(unknown, 10);
        CHECK(refused.after_unknown);
        CHECK(refused.entries.empty());
    }

    auto quiet = read(std::nullopt, 10, "quiet");
    CHECK(quiet.entries.empty());
    CHECK_FALSE(quiet.more);
    CHECK_FALSE(quiet.last);
    CHECK_FALSE(quiet.after_unknown);
    CHECK(read(Position{10, 0}, 10, "quiet").after_unknown);
    auto none = s.history("nobody", std::nullopt, 10);
    REQUIRE(none.ok());
    CHECK_FALSE(none.value->has_value());
    // It reads the instance's rows from the place on, by the index.
    CHECK(raw.rows("EXPLAIN QUERY PLAN SELECT row, at, kind, detail FROM history WHERE instance = 'i' AND row >= 12 ORDER BY row")
              .find("USING INDEX history_by_instance (instance=? AND row>?)") != std::string::npos);
}

TEST_CASE("a migration that finds a broken reference changes nothing and says where") {
    test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    {
        Raw raw(file);
        raw.exec(fixture("schema_v1.sql"));
        // Written while foreign keys were off: a command of an instance that is not there.
        raw.exec("INSERT INTO outbox (id, instance, workflow, key, type, target, payload, status, next_attempt_ms, created_at) "
                 "VALUES ('c-orphan', 'i-gone', 'W', '1', 'Log', 'log', '{}', 'pending', 0, '2026-01-01T00:00:00.000Z')");
    }
    auto opened = store::open_sqlite_store({file.string(), "FULL"});
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error->kind == store::StoreError::Kind::Corrupt);
    CHECK(opened.error->message == "a row of table 'outbox' refers to a missing row of 'instances'");
    Raw raw(file);
    CHECK(raw.rows("SELECT max(version) FROM schema_version") == "1");
    CHECK(raw.rows("SELECT count(*) FROM sqlite_schema WHERE name LIKE '%_v2'") == "0");
    CHECK(raw.rows("SELECT count(*) FROM outbox") == "4");
    CHECK(raw.rows("SELECT count(*) FROM sqlite_schema WHERE name = 'instances_by_workflow'") == "1");
}

TEST_CASE("a write the system refuses names the system's reason, and the store writes again once it can") {
    StoreOnDisk db;
    store::Store& s = *db.store;
    auto write_history = [&](std::size_t bytes) -> store::Status {
        auto tx = s.begin();
        if (!tx.ok()) return tx.error;
        if (auto e = (*tx.value)->add_history("i1", {{"2026-01-01T00:00:00.000Z", "note", "\"" + std::string(bytes, 'x') + "\""}})) return e;
        return (*tx.value)->commit();
    };
    REQUIRE_FALSE(write_history(10));
    // No file of this process may grow past 1 MiB for a while (the system's answer to a write past
    // it is EFBIG, as a full disk's is ENOSPC): the WAL cannot take a 2 MiB entry.
    rlimit before{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &before) == 0);
    auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = before;
    small.rlim_cur = 1024 * 1024;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    store::Status refused = write_history(2 * 1024 * 1024);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &before) == 0);
    std::signal(SIGXFSZ, previous_handler);
    REQUIRE(refused);
    CHECK(refused->kind == store::StoreError::Kind::Unavailable);
    CHECK(refused->message == "disk I/O error (" + std::string(std::strerror(EFBIG)) + ")");
    CHECK_FALSE(write_history(2 * 1024 * 1024));
    Raw raw(db.file);
    CHECK(raw.rows("SELECT count(*) FROM history") == "2");
}

TEST_CASE("a migration that rebuilds no table does not read every reference: one broken by hand stops no upgrade") {
    test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    REQUIRE(store::open_sqlite_store({file.string(), "FULL"}).ok());
    {
        // Version 8, with a command whose instance was deleted by hand while foreign keys were off.
        Raw raw(file);
        raw.exec("DELETE FROM schema_version WHERE version = 9;"
                 "INSERT INTO outbox (id, instance, workflow, key, type, target, payload, status, next_attempt_ms, created_at) "
                 "VALUES ('c-orphan', 'i-gone', 'W', '1', 'Log', 'log', '{}', 'delivered', 0, 't')");
    }
    auto opened = store::open_sqlite_store({file.string(), "FULL"});
    REQUIRE(opened.ok());
    opened.value->reset();
    Raw raw(file);
    CHECK(raw.rows("SELECT max(version) FROM schema_version") == "9");
}

TEST_CASE("one flowd per database: a second store on the same file is refused while the first is open") {
    test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    fs::create_directory(dir.path / "other");
    fs::create_symlink(file, dir.path / "other" / "link.db");
    store::Definition definition{"W", 1, "h1", "{}", "{}", "2026-01-01T00:00:00.000Z"};
    {
        auto first = store::open_sqlite_store({file.string(), "FULL"});
        REQUIRE(first.ok());
        // The same file by another name, through a link, or by a path with a detour.
        for (const fs::path& name : {file, dir.path / "other" / "link.db", dir.path / "other" / ".." / "flow.db"}) {
            CAPTURE(name);
            auto second = store::open_sqlite_store({name.string(), "FULL"});
            REQUIRE_FALSE(second.ok());
            CHECK(second.error->kind == store::StoreError::Kind::Conflict);
            CHECK(second.error->message.find(" is in use by another flowd: one flowd per database") != std::string::npos);
        }
        // The refusals took nothing from the first.
        CHECK_FALSE((*first.value)->deploy(definition));
        auto deployed = (*first.value)->definitions();
        REQUIRE(deployed.ok());
        CHECK(deployed.value->size() == 1);
    }
    // Closed, it leaves the file to the next.
    auto next = store::open_sqlite_store({(dir.path / "other" / "link.db").string(), "FULL"});
    REQUIRE(next.ok());
    auto deployed = (*next.value)->definitions();
    REQUIRE(deployed.ok());
    REQUIRE(deployed.value->size() == 1);
    CHECK((*deployed.value)[0].hash == "h1");
    // Another database in the same directory is not held by it.
    CHECK(store::open_sqlite_store({(dir.path / "second.db").string(), "FULL"}).ok());
}

TEST_CASE("workflow versions are recorded all or none: one changed under its version records none of the others") {
    StoreOnDisk db;
    store::Store& s = *db.store;
    REQUIRE_FALSE(s.deploy_all({{"Alpha", 1, "a1", "{}", "{}", "t1"}, {"Beta", 1, "b1", "{}", "{}", "t1"}}));
    // Alpha moves to version 2, and Beta is edited without a new version.
    auto refused = s.deploy_all({{"Alpha", 2, "a2", "{}", "{}", "t2"}, {"Beta", 1, "b1-edited", "{}", "{}", "t2"}});
    REQUIRE(refused);
    CHECK(refused->kind == store::StoreError::Kind::Conflict);
    CHECK(refused->message ==
          "workflow 'Beta' version 1 changed since it was deployed (hash b1, now b1-edited): give the changed workflow a new 'version'");
    auto recorded = [&] {
        auto found = s.definitions();
        REQUIRE(found.ok());
        std::string out;
        for (const store::Definition& d : *found.value) out += d.workflow + " " + std::to_string(d.version) + " " + d.hash + ";";
        return out;
    };
    CHECK(recorded() == "Alpha 1 a1;Beta 1 b1;");
    // Alpha's version 2 was never served: it may still change before its first start.
    REQUIRE_FALSE(s.deploy_all({{"Alpha", 2, "a2-fixed", "{}", "{}", "t3"}, {"Beta", 2, "b2", "{}", "{}", "t3"}}));
    CHECK(recorded() == "Alpha 1 a1;Alpha 2 a2-fixed;Beta 1 b1;Beta 2 b2;");
}

TEST_CASE("a workflow changed under its version is refused at once while another process holds the write lock") {
    StoreOnDisk db;
    store::Store& s = *db.store;
    REQUIRE_FALSE(s.deploy_all({{"Alpha", 1, "a1", "{}", "{}", "t1"}}));
    Raw raw(db.file);
    raw.exec("BEGIN IMMEDIATE");  // as another process writing would
    const auto began = std::chrono::steady_clock::now();
    auto refused = s.deploy_all({{"Alpha", 1, "a1-edited", "{}", "{}", "t2"}});
    const auto waited = std::chrono::steady_clock::now() - began;
    REQUIRE(refused);
    CHECK(refused->kind == store::StoreError::Kind::Conflict);
    CHECK(refused->message ==
          "workflow 'Alpha' version 1 changed since it was deployed (hash a1, now a1-edited): give the changed workflow a new 'version'");
    // Found by a read, not after the 5 s the write would wait for the lock (it was, before).
    CHECK(waited < std::chrono::seconds(3));
    raw.exec("ROLLBACK");
}

TEST_CASE("a database of a newer schema is refused, untouched") {
    test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    REQUIRE(store::open_sqlite_store({file.string(), "FULL"}).ok());  // flowd's database, then a later flowd's
    std::string schema;
    {
        Raw raw(file);
        raw.exec("INSERT INTO schema_version VALUES (99)");
        schema = raw.rows("SELECT group_concat(name) FROM sqlite_schema");
    }
    auto opened = store::open_sqlite_store({file.string(), "FULL"});
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error->message == "the database has schema version 99, newer than this flowd (" +
                                       std::to_string(store::sqlite_schema_version()) + ")");
    Raw raw(file);
    CHECK(raw.rows("SELECT group_concat(name) FROM sqlite_schema") == schema);
    CHECK(raw.rows("SELECT max(version) FROM schema_version") == "99");
}

TEST_CASE("another program's database is refused, untouched, whether or not a table name clashes with flowd's") {
    for (const std::string& table : {std::string("customers"), std::string("instances")}) {
        test::TempDir dir;
        const fs::path file = dir.path / "app.db";
        {
            Raw raw(file);
            raw.exec("CREATE TABLE " + table + " (a, b); INSERT INTO " + table + " VALUES (1, 2)");
        }
        auto opened = store::open_sqlite_store({file.string(), "FULL"});
        REQUIRE_FALSE(opened.ok());
        CHECK(opened.error->kind == store::StoreError::Kind::Corrupt);  // not retried: flowd stops with exit 1
        CHECK(opened.error->message ==
              "the database holds tables of another program ('" + table + "') and none of flowd's: give flowd a database of its own");
        Raw raw(file);
        CHECK(raw.rows("SELECT group_concat(name) FROM sqlite_schema") == table);
        CHECK(raw.rows("PRAGMA journal_mode") == "delete");  // not turned to WAL either
    }
    // A table of versions of another program's is no proof: its columns, or flowd's tables
    // missing beside it, give it away.
    for (const auto& [tables, which] : std::vector<std::pair<std::string, std::string>>{
             {"CREATE TABLE schema_version (id, applied_at); CREATE TABLE customers (a)", "a 'schema_version' that is not flowd's"},
             {"CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (3); CREATE TABLE customers (a)",
              "a 'schema_version' without flowd's tables"},
         }) {
        test::TempDir dir;
        const fs::path file = dir.path / "app.db";
        {
            Raw raw(file);
            raw.exec(tables);
        }
        auto opened = store::open_sqlite_store({file.string(), "FULL"});
        REQUIRE_FALSE(opened.ok());
        CHECK(opened.error->kind == store::StoreError::Kind::Corrupt);
        CHECK(opened.error->message ==
              "the database holds tables of another program (" + which + ") and none of flowd's: give flowd a database of its own");
        Raw raw(file);
        CHECK(raw.rows("SELECT count(*) FROM sqlite_schema WHERE name = 'inbox'") == "0");
        CHECK(raw.rows("PRAGMA journal_mode") == "delete");
    }
    // flowd's own files in the states a start may find them: new and empty, a table of versions
    // left empty by a first migration that failed, SQLite's own tables alone, and a database of
    // flowd's opened again.
    for (const std::string& state : {std::string(), std::string("CREATE TABLE schema_version (version INTEGER NOT NULL)"),
                                     std::string("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT); DROP TABLE t")}) {
        test::TempDir dir;
        const fs::path file = dir.path / "flow.db";
        {
            Raw raw(file);
            if (!state.empty()) raw.exec(state);
        }
        CHECK_MESSAGE(store::open_sqlite_store({file.string(), "FULL"}).ok(), state);
        CHECK_MESSAGE(store::open_sqlite_store({file.string(), "FULL"}).ok(), state);  // and again, at its version
    }
}

TEST_CASE("the hot queries read their indexes, not whole tables") {
    test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    REQUIRE(store::open_sqlite_store({file.string(), "FULL"}).ok());
    Raw raw(file);
    auto plan = [&](const std::string& sql) { return raw.rows("EXPLAIN QUERY PLAN " + sql); };
    // The relay's query: a target's pending commands due, and none earlier of the same
    // instance pending; and the targets with pending commands, one look-up each.
    std::string relay = plan("SELECT id FROM outbox o WHERE status = 'pending' AND target = 't' AND next_attempt_ms <= 5 "
                             "AND row NOT IN (SELECT value FROM json_each('[1,2]')) AND NOT EXISTS "
                             "(SELECT 1 FROM outbox p WHERE p.instance = o.instance AND p.status = 'pending' AND p.row < o.row) "
                             "ORDER BY next_attempt_ms, row LIMIT 10");
    CHECK(relay.find("USING INDEX outbox_pending_by_target (target=? AND next_attempt_ms<?)") != std::string::npos);
    CHECK(relay.find("outbox_pending_by_instance") != std::string::npos);
    CHECK(relay.find("SCAN o") == std::string::npos);
    CHECK(relay.find("SCAN outbox") == std::string::npos);
    CHECK(relay.find("TEMP B-TREE") == std::string::npos);
    std::string targets = plan("SELECT (SELECT min(target) FROM outbox WHERE status = 'pending' AND target > 'a')");
    CHECK(targets.find("SEARCH outbox USING INDEX outbox_pending_by_target (target>?)") != std::string::npos);
    CHECK(targets.find("SCAN outbox") == std::string::npos);
    std::string next = plan("SELECT min(next_attempt_ms) FROM outbox WHERE status = 'pending' AND target = 't' AND next_attempt_ms > 5");
    CHECK(next.find("INDEX outbox_pending_by_target (target=? AND next_attempt_ms>?)") != std::string::npos);
    CHECK(plan("SELECT count(*) FROM outbox WHERE status = 'dead'").find("outbox_dead") != std::string::npos);
    CHECK(plan("SELECT row FROM outbox WHERE row > 0 AND status = 'dead' ORDER BY row LIMIT 10").find("outbox_dead") != std::string::npos);
    // A retry of one target's dead commands reads only theirs, however many others are dead.
    std::string redrive = plan("SELECT row FROM outbox WHERE status = 'dead' AND row > 1 AND target = 't' ORDER BY row LIMIT 10");
    CHECK(redrive.find("USING INDEX outbox_dead_by_target (target=? AND row>?)") != std::string::npos);
    CHECK(redrive.find("TEMP B-TREE") == std::string::npos);
    // GET /v1/outbox?status=pending&target=t reads only that target's pending commands.
    CHECK(plan("SELECT row FROM outbox WHERE row > 0 AND status = 'pending' AND target = 't' ORDER BY row LIMIT 10")
              .find("USING INDEX outbox_pending_by_target (target=?)") != std::string::npos);
    // Correlation: the running instance of a workflow and key.
    CHECK(plan("SELECT row FROM instances WHERE workflow = 'W' AND key = '1' AND status = 'running'")
              .find("instances_running") != std::string::npos);
    CHECK(plan("SELECT row FROM instances WHERE row > 0 AND key = '1' ORDER BY row LIMIT 10").find("instances_by_key") !=
          std::string::npos);
    // A page of GET /v1/instances as the store prepares it: with a key, whatever else is given,
    // the key's index; with a status and no key, the status's.
    auto list_plan = [&](const char* workflow, const char* status, const char* key, const char* key_alternative = "") {
        store::InstanceFilter filter;
        filter.workflow = workflow;
        filter.status = status;
        filter.key = key;
        filter.key_alternative = key_alternative;
        return plan(store::instance_list_sql(filter));
    };
    for (const std::string& keyed : {list_plan("", "running", "\"A-1\""), list_plan("W", "completed", "1", "1.0"), list_plan("", "", "1")}) {
        CHECK(keyed.find("USING INDEX instances_by_key (key=? AND row>?)") != std::string::npos);
        CHECK(keyed.find("instances_by_status") == std::string::npos);
    }
    // One form of the key: its index gives the rows in order, and the page stops at its limit.
    CHECK(list_plan("", "running", "\"A-1\"").find("TEMP B-TREE") == std::string::npos);
    CHECK(list_plan("", "running", "").find("USING INDEX instances_by_status (status=? AND row>?)") != std::string::npos);
    CHECK(list_plan("", "running", "").find("TEMP B-TREE") == std::string::npos);
    // A state only filters what the other filters' index gives (no index holds it), unsorted.
    auto state_plan = [&](const char* status, const char* key) {
        store::InstanceFilter filter;
        filter.status = status;
        filter.key = key;
        filter.state = "Charging";
        return plan(store::instance_list_sql(filter));
    };
    CHECK(state_plan("running", "").find("USING INDEX instances_by_status (status=? AND row>?)") != std::string::npos);
    CHECK(state_plan("running", "\"A-1\"").find("USING INDEX instances_by_key (key=? AND row>?)") != std::string::npos);
    for (const std::string& p : {state_plan("running", ""), state_plan("", "")}) CHECK(p.find("TEMP B-TREE") == std::string::npos);
}

TEST_CASE("the relay's query leaves out the rows it has in hand, and keeps each instance's order") {
    StoreOnDisk db;
    const fs::path& file = db.file;
    store::Store& s = *db.store;
    {
        Raw raw(file);
        raw.exec("INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');"
                 "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, "
                 "updated_at) VALUES (1, 'i1', 'W', 1, '\"a\"', 'S', 'running', '[]', '[]', 't', 't'), "
                 "(2, 'i2', 'W', 1, '\"b\"', 'S', 'running', '[]', '[]', 't', 't'), "
                 "(3, 'i3', 'W', 1, '\"c\"', 'S', 'running', '[]', '[]', 't', 't');"
                 "INSERT INTO outbox (row, id, instance, workflow, key, type, target, payload, status, next_attempt_ms, "
                 "created_at) VALUES (1, 'c1', 'i1', 'W', '\"a\"', 'T', 'slow', '{}', 'pending', 0, 't'), "
                 "(2, 'c2', 'i2', 'W', '\"b\"', 'T', 'fast', '{}', 'pending', 0, 't'), "
                 "(3, 'c3', 'i1', 'W', '\"a\"', 'T', 'fast', '{}', 'pending', 0, 't'), "
                 "(4, 'c4', 'i3', 'W', '\"c\"', 'T', 'other', '{}', 'pending', 5, 't'), "
                 "(5, 'c5', 'i2', 'W', '\"b\"', 'T', 'fast', '{}', 'pending', 0, 't')");
    }
    auto due = [&](std::int64_t now, int limit, const store::Store::RowsByTarget& in_hand) {
        auto commands = s.deliverable(now, [limit](const std::string&) { return limit; }, in_hand);
        REQUIRE(commands.ok());
        std::string ids;
        for (const store::OutboxCommand& c : *commands.value) ids += c.id + " ";
        return ids;
    };
    // Target by target (fast, other, slow); c3 and c5 wait for c1 and c2, whatever their targets.
    CHECK(due(10, 10, {}) == "c2 c4 c1 ");
    CHECK(due(4, 10, {}) == "c2 c1 ");
    CHECK(due(10, 1, {}) == "c2 c4 c1 ");  // at most one of each target
    // A row in hand is left out, and does not let a later command of its instance go first.
    CHECK(due(10, 10, {{"slow", {1}}}) == "c2 c4 ");
    CHECK(due(10, 10, {{"slow", {1}}, {"other", {4}}}) == "c2 ");
    CHECK(due(10, 1, {{"slow", {1}}}) == "c2 c4 ");
    CHECK(due(10, 10, {{"slow", {1}}, {"fast", {2}}, {"other", {4}}}).empty());
    CHECK(due(10, 10, {{"slow", {99}}}) == "c2 c4 c1 ");
    CHECK(due(10, 10, {{"fast", {1}}}) == "c2 c4 c1 ");  // rows in hand are a target's own
    // The relay's next wake-up: the earliest attempt after now, however many are due already
    // (c3 and c5 are due but wait behind c1 and c2; they must not hide c4's time).
    auto next_after = [&](std::int64_t now) {
        auto next = s.next_command_due(now);
        REQUIRE(next.ok());
        return *next.value;
    };
    CHECK(next_after(0) == std::optional<std::int64_t>(5));
    CHECK(next_after(4) == std::optional<std::int64_t>(5));
    CHECK(next_after(5) == std::nullopt);
}

TEST_CASE("a command emitted behind a pending one of its instance waits, and is made due when the one before is delivered or dead") {
    StoreOnDisk db;
    store::Store& s = *db.store;
    {
        Raw raw(db.file);
        raw.exec("INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');"
                 "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, "
                 "updated_at) VALUES (1, 'i1', 'W', 1, '\"a\"', 'S', 'running', '[]', '[]', 't', 't'), "
                 "(2, 'i2', 'W', 1, '\"b\"', 'S', 'running', '[]', '[]', 't', 't')");
    }
    auto emit = [&](std::vector<std::pair<std::string, std::string>> commands, std::int64_t now) {  // {id, instance}
        auto tx = s.begin();
        REQUIRE(tx.ok());
        for (const auto& [id, instance] : commands) {
            store::OutboxCommand c;
            c.id = id;
            c.instance = instance;
            c.workflow = "W";
            c.key = "\"k\"";
            c.type = "T";
            c.target = id == "b2" ? "other" : "t";
            c.payload = "{}";
            c.next_attempt_ms = now;
            c.created_at = "t";
            REQUIRE_FALSE((*tx.value)->add_command(c));
        }
        REQUIRE_FALSE((*tx.value)->commit());
    };
    auto record = [&](std::vector<store::DeliveryAttempt> attempts) {
        auto tx = s.begin();
        REQUIRE(tx.ok());
        REQUIRE_FALSE((*tx.value)->record_attempts(attempts));
        REQUIRE_FALSE((*tx.value)->commit());
    };
    auto due = [&](std::int64_t now) {
        auto commands = s.deliverable(now, [](const std::string&) { return 100; }, {});
        REQUIRE(commands.ok());
        std::string ids;
        for (const store::OutboxCommand& c : *commands.value) ids += c.id + " ";
        return ids;
    };
    auto next_attempt = [&](const std::string& id) {
        Raw raw(db.file);
        return raw.rows("SELECT next_attempt_ms FROM outbox WHERE id = '" + id + "'");
    };
    const std::string waits = std::to_string(store::OutboxCommand::waits_for_earlier_command);
    // Three of i1 in one step, then one more of i1 and one of i2 later: only the first of each
    // instance is due; the others wait, whatever their targets.
    emit({{"a1", "i1"}, {"a2", "i1"}, {"b2", "i1"}}, 10);
    emit({{"a3", "i1"}, {"c1", "i2"}}, 20);
    CHECK(next_attempt("a1") == "10");
    for (const char* id : {"a2", "b2", "a3"}) CHECK_MESSAGE(next_attempt(id) == waits, id);
    CHECK(next_attempt("c1") == "20");
    CHECK(due(100) == "a1 c1 ");
    CHECK(s.next_command_due(20).value->has_value() == false);  // a waiting command is due at no time
    auto shown = s.command("a2");
    REQUIRE(shown.ok());
    CHECK((**shown.value).command.waits_for_earlier());
    using Attempt = store::DeliveryAttempt;
    // A failed attempt keeps the next waiting; a delivery makes it due from the delivered one's time.
    record({{Attempt::Result::Retry, "a1", 1, 50, "HTTP 503", ""}});
    CHECK(next_attempt("a2") == waits);
    CHECK(due(100) == "c1 a1 ");  // a1 now due at 50
    record({{Attempt::Result::Delivered, "a1", 2, 0, "", "t"}});
    CHECK(next_attempt("a2") == "50");
    CHECK(next_attempt("b2") == waits);
    CHECK(due(100) == "c1 a2 ");  // by due time: c1 at 20, a2 at 50
    // A dead one lets the next go too, across targets.
    record({{Attempt::Result::Dead, "a2", 1, 0, "HTTP 400", ""}});
    CHECK(next_attempt("b2") == "50");
    CHECK(due(100) == "b2 c1 ");  // target by target; a3 still waits
    CHECK(next_attempt("a3") == waits);
    // The dead one retried goes before the one now due (it is older), which is left as it is
    // when the retried one is delivered: it is due already.
    {
        auto tx = s.begin();
        REQUIRE_FALSE((*tx.value)->retry_dead("a2", 70));
        REQUIRE_FALSE((*tx.value)->commit());
    }
    CHECK(due(100) == "c1 a2 ");  // b2 waits behind a2 again
    record({{Attempt::Result::Delivered, "a2", 1, 0, "", "t"}});
    CHECK(next_attempt("b2") == "50");
    CHECK(next_attempt("a3") == waits);
    // As the relay records it: naming the instance and the time the command was due when sent.
    record({{Attempt::Result::Delivered, "b2", 1, 0, "", "t", "i1", 60}});
    CHECK(next_attempt("a3") == "60");
    CHECK(due(100) == "c1 a3 ");
    // Recording an attempt of a command no longer pending (recorded twice) changes nothing.
    record({{Attempt::Result::Delivered, "b2", 1, 0, "", "t"}});
    CHECK(next_attempt("a3") == "60");
}

TEST_CASE("migrating to version 9 makes the commands behind a pending one of their instance wait") {
    test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    {
        auto opened = store::open_sqlite_store({file.string(), "FULL"});
        REQUIRE(opened.ok());
    }
    {
        // As version 8 left them: every pending command due, the relay's query skipping those
        // behind an earlier one.
        Raw raw(file);
        raw.exec("DELETE FROM schema_version WHERE version = 9;"
                 "INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');"
                 "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, "
                 "updated_at) VALUES (1, 'i1', 'W', 1, '\"a\"', 'S', 'running', '[]', '[]', 't', 't');"
                 "INSERT INTO outbox (row, id, instance, workflow, key, type, target, payload, status, next_attempt_ms, "
                 "created_at) VALUES (1, 'c1', 'i1', 'W', '\"a\"', 'T', 't', '{}', 'delivered', 0, 't'), "
                 "(2, 'c2', 'i1', 'W', '\"a\"', 'T', 't', '{}', 'pending', 30, 't'), "
                 "(3, 'c3', 'i1', 'W', '\"a\"', 'T', 't', '{}', 'dead', 0, 't'), "
                 "(4, 'c4', 'i1', 'W', '\"a\"', 'T', 'u', '{}', 'pending', 0, 't'), "
                 "(5, 'c5', 'i1', 'W', '\"a\"', 'T', 't', '{}', 'pending', 0, 't')");
        REQUIRE(raw.rows("SELECT max(version) FROM schema_version") == "8");
    }
    auto opened = store::open_sqlite_store({file.string(), "FULL"});
    REQUIRE(opened.ok());
    Raw raw(file);
    CHECK(raw.rows("SELECT max(version) FROM schema_version") == "9");
    const std::string waits = std::to_string(store::OutboxCommand::waits_for_earlier_command);
    CHECK(raw.rows("SELECT id || ':' || next_attempt_ms FROM outbox ORDER BY row") ==
          "c1:0\nc2:30\nc3:0\nc4:" + waits + "\nc5:" + waits);
    auto due = (*opened.value)->deliverable(100, [](const std::string&) { return 10; }, {});
    REQUIRE(due.ok());
    REQUIRE(due.value->size() == 1);
    CHECK(due.value->front().id == "c2");
}

TEST_CASE("the relay's query reads each target on its own: a backlog due first hides no other target's commands") {
    StoreOnDisk db;
    const fs::path& file = db.file;
    store::Store& s = *db.store;
    {
        Raw raw(file);
        raw.exec("INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't')");
        // 300 commands to "slow", all due at 0, each of its own instance; then one to "fast",
        // due at 50, and one more to "slow" due at 20 with a lower row than the fast one.
        std::string sql;
        for (int i = 1; i <= 302; ++i) {
            sql += "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, "
                   "updated_at) VALUES (" + std::to_string(i) + ", 'i" + std::to_string(i) + "', 'W', 1, '\"" + std::to_string(i) +
                   "\"', 'S', 'running', '[]', '[]', 't', 't');";
            const bool fast = i == 302;
            const int due_ms = fast ? 50 : i == 301 ? 20 : 0;
            sql += "INSERT INTO outbox (row, id, instance, workflow, key, type, target, payload, status, next_attempt_ms, "
                   "created_at) VALUES (" + std::to_string(i) + ", 'c" + std::to_string(i) + "', 'i" + std::to_string(i) +
                   "', 'W', '\"" + std::to_string(i) + "\"', 'T', '" + (fast ? "fast" : "slow") + "', '{}', 'pending', " +
                   std::to_string(due_ms) + ", 't');";
        }
        raw.exec(sql);
    }
    auto due = [&](std::int64_t now, int slow_limit, int fast_limit) {
        auto commands = s.deliverable(now, [&](const std::string& target) { return target == "slow" ? slow_limit : fast_limit; }, {});
        REQUIRE(commands.ok());
        return *commands.value;
    };
    // "slow" is full: its 301 commands due are not even read, and the fast one comes.
    auto only_fast = due(100, 0, 256);
    REQUIRE(only_fast.size() == 1);
    CHECK(only_fast[0].id == "c302");
    // With room for three of "slow": the three due first (earliest, then by row), then "fast".
    auto some = due(100, 3, 256);
    REQUIRE(some.size() == 4);
    CHECK(some[0].id == "c302");
    CHECK(some[1].id == "c1");
    CHECK(some[2].id == "c2");
    CHECK(some[3].id == "c3");
    CHECK(due(100, 1000, 256).size() == 302);
    // Before the fast one is due, only "slow"'s; and the one due at 20 comes last of them.
    auto early = due(30, 1000, 256);
    REQUIRE(early.size() == 301);
    CHECK(early.back().id == "c301");
    CHECK(due(10, 1000, 256).size() == 300);
    auto next = s.next_command_due(20);
    REQUIRE(next.ok());
    CHECK(*next.value == std::optional<std::int64_t>(50));
    next = s.next_command_due(0);
    REQUIRE(next.ok());
    CHECK(*next.value == std::optional<std::int64_t>(20));
}

TEST_CASE("pruning deletes the commands delivered before the cutoff and no other, a few thousand at a time") {
    StoreOnDisk db;
    store::Store& s = *db.store;
    auto prune = [&](const std::string& before) {
        auto pruned = s.prune_delivered(before, 1000000, {});
        REQUIRE(pruned.ok());
        CHECK(pruned.value->finished);
        return pruned.value->deleted;
    };
    CHECK(prune("2026-06-01T00:00:00.000Z") == 0);  // an empty outbox
    Raw raw(db.file);
    raw.exec("INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');"
             "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, "
             "updated_at) VALUES (1, 'i1', 'W', 1, '\"a\"', 'S', 'running', '[]', '[]', 't', 't')");
    // Rows 1 to 5001: made in January, delivered a second later, except three: row 10 still
    // pending, row 20 dead, and row 30 delivered only in July. Rows 5002 to 5004: made and
    // delivered in July, or still pending.
    raw.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5001) "
             "INSERT INTO outbox (row, id, instance, workflow, key, type, target, payload, status, next_attempt_ms, created_at, "
             "delivered_at) SELECT i, 'c' || i, 'i1', 'W', '\"a\"', 'T', 't', '{}', "
             "CASE i WHEN 10 THEN 'pending' WHEN 20 THEN 'dead' ELSE 'delivered' END, 0, "
             "printf('2026-01-%02dT00:00:%02d.000Z', 1 + i / 200, i % 60), "
             "CASE i WHEN 10 THEN NULL WHEN 20 THEN NULL WHEN 30 THEN '2026-07-02T00:00:00.000Z' "
             "ELSE printf('2026-01-%02dT00:00:%02d.500Z', 1 + i / 200, i % 60) END FROM n;"
             "INSERT INTO outbox (row, id, instance, workflow, key, type, target, payload, status, next_attempt_ms, created_at, "
             "delivered_at) VALUES "
             "(5002, 'c5002', 'i1', 'W', '\"a\"', 'T', 't', '{}', 'delivered', 0, '2026-07-01T00:00:00.000Z', '2026-07-01T00:00:01.000Z'), "
             "(5003, 'c5003', 'i1', 'W', '\"a\"', 'T', 't', '{}', 'delivered', 0, '2026-07-01T00:00:02.000Z', '2026-07-01T00:00:03.000Z'), "
             "(5004, 'c5004', 'i1', 'W', '\"a\"', 'T', 't', '{}', 'pending', 0, '2026-07-01T00:00:04.000Z', NULL)");
    // A cutoff before everything deletes nothing.
    CHECK(prune("2025-12-31T00:00:00.000Z") == 0);
    CHECK(raw.rows("SELECT count(*) FROM outbox") == "5004");
    // A cutoff in June: every January delivery, across several transactions, and nothing else.
    CHECK(prune("2026-06-01T00:00:00.000Z") == 4998);
    CHECK(raw.rows("SELECT group_concat(row || ':' || status, ' ') FROM (SELECT * FROM outbox ORDER BY row)") ==
          "10:pending 20:dead 30:delivered 5002:delivered 5003:delivered 5004:pending");
    CHECK(prune("2026-06-01T00:00:00.000Z") == 0);
    // A cutoff between the two July deliveries takes the first only; one after them takes the
    // late delivery of a January command too; pending and dead commands stay whatever their age.
    CHECK(prune("2026-07-01T00:00:02.000Z") == 1);
    CHECK(prune("2026-08-01T00:00:00.000Z") == 2);
    CHECK(raw.rows("SELECT group_concat(row, ' ') FROM (SELECT row FROM outbox ORDER BY row)") == "10 20 5004");
}

TEST_CASE("integers at their extremes, stored by hand, are read within their ranges") {
    StoreOnDisk db;
    Raw raw(db.file);
    raw.exec("INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');"
             "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, "
             "updated_at) VALUES (1, 'i1', 'W', 1, '\"a\"', 'S', 'running', '[]', '[]', 't', 't');"
             "INSERT INTO outbox (row, id, instance, workflow, key, type, target, payload, status, attempts, next_attempt_ms, created_at) "
             "VALUES (1, 'c1', 'i1', 'W', '\"a\"', 'T', 't', '{}', 'pending', 2147483647, 0, '2026-01-01T00:00:00.000Z'),"
             "(2, 'c2', 'i1', 'W', '\"a\"', 'T', 't', '{}', 'pending', -5, 0, '2026-01-01T00:00:00.000Z'),"
             "(3, 'c3', 'i1', 'W', '\"a\"', 'T', 't', '{}', 'pending', 99999999999, 0, '2026-01-01T00:00:00.000Z')");
    auto commands = db.store->outbox("pending", 10);
    REQUIRE(commands.ok());
    REQUIRE(commands.value->size() == 3);
    // Room for one attempt more: the relay counts attempts + 1 (a signed overflow before).
    CHECK((*commands.value)[0].attempts == std::numeric_limits<int>::max() - 1);
    CHECK((*commands.value)[1].attempts == 0);
    CHECK((*commands.value)[2].attempts == std::numeric_limits<int>::max() - 1);
    // A row numbered 2^63 - 1, made long ago: the search for the first row made after the cutoff
    // stepped past it with a signed overflow, and could go round for ever.
    raw.exec("UPDATE outbox SET status = 'delivered', delivered_at = '2026-01-01T00:00:01.000Z';"
             "UPDATE outbox SET row = 9223372036854775807 WHERE row = 3");
    auto pruned = db.store->prune_delivered("2026-06-01T00:00:00.000Z", 1000, {});
    REQUIRE(pruned.ok());
    CHECK(pruned.value->finished);
    // The rows below it go; it stays, as the last row of all never counts as made before a cutoff.
    CHECK(raw.rows("SELECT group_concat(row) FROM outbox") == "9223372036854775807");
}

TEST_CASE("a prune looks at no more rows than it is given, and says whether any remain") {
    StoreOnDisk db;
    Raw raw(db.file);
    raw.exec("INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');"
             "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, "
             "updated_at) VALUES (1, 'i1', 'W', 1, '\"a\"', 'S', 'running', '[]', '[]', 't', 't');"
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
             "INSERT INTO outbox (row, id, instance, workflow, key, type, target, payload, status, next_attempt_ms, created_at, "
             "delivered_at) SELECT i, 'c' || i, 'i1', 'W', '\"a\"', 'T', 't', '{}', CASE i WHEN 1 THEN 'dead' ELSE 'delivered' END, 0, "
             "'2026-01-01T00:00:00.000Z', CASE i WHEN 1 THEN NULL ELSE '2026-01-01T00:00:01.000Z' END FROM n");
    std::vector<std::pair<std::int64_t, bool>> rounds;
    store::Store::PruneCursor from;
    for (int round = 0; round < 5 && (rounds.empty() || !rounds.back().second); ++round) {
        auto pruned = db.store->prune_delivered("2026-06-01T00:00:00.000Z", 2000, from);
        REQUIRE(pruned.ok());
        rounds.emplace_back(pruned.value->deleted, pruned.value->finished);
        from = pruned.value->resume;
    }
    // 2,000 rows looked at per call, each call going on where the last one stopped: the dead
    // one is looked at once.
    CHECK(rounds == std::vector<std::pair<std::int64_t, bool>>{{1999, false}, {2000, false}, {1000, true}});
    CHECK(raw.rows("SELECT group_concat(row) FROM outbox") == "1");
    // Fewer rows asked for than a transaction holds: no more are looked at.
    raw.exec("WITH RECURSIVE n(i) AS (SELECT 5001 UNION ALL SELECT i + 1 FROM n WHERE i < 6000) "
             "INSERT INTO outbox (row, id, instance, workflow, key, type, target, payload, status, next_attempt_ms, created_at, "
             "delivered_at) SELECT i, 'c' || i, 'i1', 'W', '\"a\"', 'T', 't', '{}', 'delivered', 0, '2026-01-01T00:00:00.000Z', "
             "'2026-01-01T00:00:01.000Z' FROM n");
    auto part = db.store->prune_delivered("2026-06-01T00:00:00.000Z", 300, {});
    REQUIRE(part.ok());
    CHECK(part.value->deleted == 299);  // the dead row 1 and rows 5001 to 5299: the dead one kept
    CHECK_FALSE(part.value->finished);
    CHECK(part.value->resume == store::Store::PruneCursor{0, 5299});
}

TEST_CASE("dead commands in front of older deliveries do not hold the prune up: it goes on where it stopped") {
    StoreOnDisk db;
    Raw raw(db.file);
    // 3,000 dead commands (a target down for an hour), then 1,000 delivered ones, all of January.
    raw.exec("INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');"
             "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, "
             "updated_at) VALUES (1, 'i1', 'W', 1, '\"a\"', 'S', 'running', '[]', '[]', 't', 't');"
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) "
             "INSERT INTO outbox (row, id, instance, workflow, key, type, target, payload, status, next_attempt_ms, created_at, "
             "delivered_at) SELECT i, 'c' || i, 'i1', 'W', '\"a\"', 'T', 't', '{}', CASE WHEN i <= 3000 THEN 'dead' ELSE 'delivered' END, "
             "0, '2026-01-01T00:00:00.000Z', CASE WHEN i <= 3000 THEN NULL ELSE '2026-01-01T00:00:01.000Z' END FROM n");
    std::int64_t deleted = 0;
    store::Store::PruneCursor from;
    bool finished = false;
    for (int round = 0; round < 3 && !finished; ++round) {  // as flowd's retention calls it
        auto pruned = db.store->prune_delivered("2026-06-01T00:00:00.000Z", 2000, from);
        REQUIRE(pruned.ok());
        deleted += pruned.value->deleted;
        finished = pruned.value->finished;
        from = pruned.value->resume;
    }
    CHECK(deleted == 1000);
    CHECK(raw.rows("SELECT count(*), min(status), max(status) FROM outbox") == "3000|dead|dead");
}

TEST_CASE("an ended instance that changed after the prune read it is kept: its dead command deleted meanwhile moves its end on") {
    // The prune reads its candidates on a reader while another writer holds the database, then
    // waits to delete them; meanwhile that writer deletes the instance's dead command, as
    // DELETE /v1/outbox/{id} does, which makes its last change now. `kept_as_changed` says the
    // prune did read the instance first: a prune whose thread started only after the change
    // would find nothing to delete for another reason, so that round proves nothing and is run
    // again, with a longer head start.
    for (int head_start_ms : {300, 1000, 3000}) {
        CAPTURE(head_start_ms);
        StoreOnDisk db(true);
        Raw raw(db.file);
        raw.exec("INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');"
                 "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, updated_at) "
                 "VALUES (1, 'i1', 'W', 1, '\"1\"', NULL, 'failed', '[]', '[]', '2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z');"
                 "INSERT INTO outbox (id, instance, workflow, key, type, target, payload, status, next_attempt_ms, created_at) "
                 "VALUES ('c1', 'i1', 'W', '\"1\"', 'T', 't', '{}', 'dead', 0, '2026-01-01T00:00:00.000Z')");
        raw.exec("BEGIN IMMEDIATE");
        auto pruning = std::async(std::launch::async, [&] { return db.store->prune_ended_instances("2026-06-01T00:00:00.000Z", 1000, {}); });
        std::this_thread::sleep_for(std::chrono::milliseconds(head_start_ms));
        raw.exec("UPDATE instances SET updated_at = '2026-07-01T00:00:00.000Z' WHERE id = 'i1';"
                 "DELETE FROM outbox WHERE id = 'c1';"
                 "INSERT INTO history (instance, at, kind, detail) VALUES ('i1', '2026-07-01T00:00:00.000Z', 'command_deleted', '{}');"
                 "COMMIT");
        auto pruned = pruning.get();
        REQUIRE(pruned.ok());
        CHECK(pruned.value->deleted == 0);
        CHECK(raw.rows("SELECT id || ' ' || updated_at FROM instances") == "i1 2026-07-01T00:00:00.000Z");
        CHECK(raw.rows("SELECT kind FROM history") == "command_deleted");
        if (pruned.value->kept_as_changed == 1) return;
        REQUIRE(pruned.value->kept_as_changed == 0);
    }
    FAIL("the prune never read the instance before it changed, so its check again before deleting went untested");
}

TEST_CASE("pruning ended instances deletes each ended before the cutoff with all it owns, and keeps the rest") {
    StoreOnDisk db(true);
    store::Store& s = *db.store;
    auto prune = [&](const std::string& before) {
        auto pruned = s.prune_ended_instances(before, 1000000, {});
        REQUIRE(pruned.ok());
        CHECK(pruned.value->finished);
        CHECK(pruned.value->kept_as_changed == 0);  // nothing changes while it runs
        return pruned.value->deleted;
    };
    CHECK(prune("2026-06-01T00:00:00.000Z") == 0);  // no instance
    Raw raw(db.file);
    const std::string jan = "'2026-01-01T00:00:00.000Z'", jan2 = "'2026-01-02T00:00:00.000Z'", jul = "'2026-07-01T00:00:00.000Z'";
    auto instance = [&](int row, const std::string& status, const std::string& created, const std::string& updated) {
        return "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, updated_at) "
               "VALUES (" + std::to_string(row) + ", 'i" + std::to_string(row) + "', 'W', 1, '\"" + std::to_string(row) + "\"', NULL, '" +
               status + "', '{}', '[]', " + created + ", " + updated + ");"
               "INSERT INTO history (instance, at, kind, detail) VALUES ('i" + std::to_string(row) + "', " + created + ", 'transition', '{}'), "
               "('i" + std::to_string(row) + "', " + updated + ", 'transition', '{}');";
    };
    auto command = [&](int instance_row, const std::string& status) {
        const std::string i = std::to_string(instance_row);
        return "INSERT INTO outbox (id, instance, workflow, key, type, target, payload, status, next_attempt_ms, created_at, "
               "delivered_at) VALUES ('c" + i + status + "', 'i" + i + "', 'W', '\"" + i + "\"', 'T', 't', '{}', '" + status + "', 0, " + jan +
               ", " + (status == "delivered" ? jan2 : "NULL") + ");";
    };
    raw.exec("INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');" +
             // 1: completed in January, a command delivered, a timer left (none should be): deleted.
             instance(1, "completed", jan, jan2) + command(1, "delivered") +
             "INSERT INTO timers (instance, state, timer, due_ms, sequence) VALUES ('i1', 0, 0, 0, 1);" +
             // 2: failed in January, a command still pending: kept until it is delivered.
             instance(2, "failed", jan, jan2) + command(2, "delivered") + command(2, "pending") +
             // 3: cancelled in January, a command dead: kept, the operator's to retry.
             instance(3, "cancelled", jan, jan2) + command(3, "dead") +
             // 4: running since January: kept.
             instance(4, "running", jan, jan2) + command(4, "delivered") +
             // 5: made in January, completed in July: kept until a cutoff after July.
             instance(5, "completed", jan, jul) +
             // 6: made and ended in July.
             instance(6, "failed", jul, jul) +
             // 7: cancelled in January, nothing else: deleted.
             instance(7, "cancelled", jan, jan2) +
             "INSERT INTO inbox VALUES ('e1', 'T', '{}', " + jan + ");");
    CHECK(prune("2025-12-31T00:00:00.000Z") == 0);
    CHECK(prune("2026-06-01T00:00:00.000Z") == 2);
    CHECK(raw.rows("SELECT group_concat(id, ' ') FROM (SELECT id FROM instances ORDER BY row)") == "i2 i3 i4 i5 i6");
    CHECK(raw.rows("SELECT group_concat(DISTINCT instance) FROM (SELECT instance FROM history ORDER BY row)") == "i2,i3,i4,i5,i6");
    CHECK(raw.rows("SELECT group_concat(id, ' ') FROM (SELECT id FROM outbox ORDER BY row)") ==
          "c2delivered c2pending c3dead c4delivered");
    CHECK(raw.rows("SELECT count(*) FROM timers") == "0");
    CHECK(raw.rows("SELECT count(*) FROM inbox") == "1");  // an event id stays known
    CHECK(raw.rows("PRAGMA foreign_key_check").empty());
    CHECK(prune("2026-06-01T00:00:00.000Z") == 0);
    auto gone = s.instance_detail("i1");
    REQUIRE(gone.ok());
    CHECK_FALSE(gone.value->has_value());
    // A cutoff after July takes the two that ended then; the pending and the dead command still
    // keep theirs, until the pending one is delivered.
    CHECK(prune("2026-08-01T00:00:00.000Z") == 2);
    CHECK(raw.rows("SELECT group_concat(id, ' ') FROM (SELECT id FROM instances ORDER BY row)") == "i2 i3 i4");
    raw.exec("UPDATE outbox SET status = 'delivered', delivered_at = " + jul + " WHERE id = 'c2pending'");
    CHECK(prune("2026-08-01T00:00:00.000Z") == 1);
    CHECK(raw.rows("SELECT group_concat(id, ' ') FROM (SELECT id FROM instances ORDER BY row)") == "i3 i4");
    CHECK(raw.rows("SELECT group_concat(id, ' ') FROM (SELECT id FROM outbox ORDER BY row)") == "c3dead c4delivered");
    // The dead command deleted by its operator, its instance goes with a prune after the deletion's
    // time and the retention.
    {
        auto tx = s.begin();  // holds the writer's lock until it goes
        REQUIRE(tx.ok());
        auto refused = (*tx.value)->delete_dead("c4delivered", "2026-09-01T00:00:00.000Z");
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error->kind == store::StoreError::Kind::Conflict);
        CHECK(refused.error->message == "command 'c4delivered' is delivered, not dead");
        auto unknown = (*tx.value)->delete_dead("c9", "2026-09-01T00:00:00.000Z");
        REQUIRE_FALSE(unknown.ok());
        CHECK(unknown.error->kind == store::StoreError::Kind::NotFound);
        auto deleted = (*tx.value)->delete_dead("c3dead", "2026-09-01T00:00:00.000Z");
        REQUIRE(deleted.ok());
        CHECK(deleted.value->instance == "i3");
        CHECK(deleted.value->status == "dead");
        REQUIRE_FALSE((*tx.value)->commit());
    }
    CHECK(raw.rows("SELECT group_concat(id, ' ') FROM (SELECT id FROM outbox ORDER BY row)") == "c4delivered");
    // The deletion changed the instance: it is kept for the retention from then, with its account.
    CHECK(raw.rows("SELECT updated_at FROM instances WHERE id = 'i3'") == "2026-09-01T00:00:00.000Z");
    CHECK(raw.rows("SELECT updated_at FROM instances WHERE id = 'i4'") == "2026-01-02T00:00:00.000Z");
    CHECK(prune("2026-08-01T00:00:00.000Z") == 0);
    CHECK(prune("2026-10-01T00:00:00.000Z") == 1);
    CHECK(raw.rows("SELECT group_concat(id, ' ') FROM (SELECT id FROM instances ORDER BY row)") == "i4");
}

TEST_CASE("a prune of ended instances looks at no more rows than it is given, and goes on where it stopped") {
    StoreOnDisk db(true);
    Raw raw(db.file);
    // 1,200 instances completed, all made in January: the first 600 ended only in July.
    raw.exec("INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');"
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) "
             "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, updated_at) "
             "SELECT i, 'i' || i, 'W', 1, '\"' || i || '\"', NULL, 'completed', '{}', '[]', '2026-01-01T00:00:00.000Z', "
             "CASE WHEN i <= 600 THEN '2026-07-01T00:00:00.000Z' ELSE '2026-01-02T00:00:00.000Z' END FROM n");
    std::vector<std::pair<std::int64_t, bool>> rounds;
    store::Store::PruneCursor from;
    for (int round = 0; round < 5 && (rounds.empty() || !rounds.back().second); ++round) {
        auto pruned = db.store->prune_ended_instances("2026-06-01T00:00:00.000Z", 500, from);
        REQUIRE(pruned.ok());
        rounds.emplace_back(pruned.value->deleted, pruned.value->finished);
        from = pruned.value->resume;
    }
    // 500 looked at per call: the first call finds only instances ended after the cutoff, and
    // the next ones are not held up by them.
    CHECK(rounds == std::vector<std::pair<std::int64_t, bool>>{{0, false}, {400, false}, {200, true}});
    CHECK(raw.rows("SELECT count(*), max(row) FROM instances") == "600|600");
}

TEST_CASE("the outbox is indexed by instance only while ended instances are pruned, which needs it") {
    test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    auto open = [&](bool commands_by_instance) {
        store::SqliteOptions options{file.string(), "FULL"};
        options.commands_by_instance = commands_by_instance;
        auto opened = store::open_sqlite_store(options);
        REQUIRE(opened.ok());
        return std::move(*opened.value);
    };
    auto indexed = [&] {
        Raw raw(file);
        return raw.rows("SELECT count(*) FROM sqlite_schema WHERE name = 'outbox_by_instance'") == "1";
    };
    {
        auto s = open(false);
        CHECK_FALSE(indexed());
        auto refused = s->prune_ended_instances("2026-06-01T00:00:00.000Z", 1000, {});
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error->message == "pruning ended instances needs the index outbox_by_instance "
                                        "(SqliteOptions::commands_by_instance): without it each prune would read the whole table");
    }
    {
        auto s = open(true);
        CHECK(indexed());
        CHECK(s->prune_ended_instances("2026-06-01T00:00:00.000Z", 1000, {}).ok());
    }
    open(true);  // opened again: kept
    CHECK(indexed());
    open(false);  // no longer wanted: dropped, and the schema's version is the same
    CHECK_FALSE(indexed());
    Raw raw(file);
    CHECK(raw.rows("SELECT max(version) FROM schema_version") == std::to_string(store::sqlite_schema_version()));
}

TEST_CASE("pruning the inbox deletes the event ids accepted before the cutoff, the oldest first, and needs its index") {
    test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    {
        auto opened = store::open_sqlite_store({file.string(), "FULL"});
        REQUIRE(opened.ok());
        auto refused = (*opened.value)->prune_inbox("2026-06-01T00:00:00.000Z", 1000);
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error->message ==
              "pruning the inbox needs the index inbox_by_age (SqliteOptions::inbox_by_age): without it each prune would read the whole table");
    }
    store::SqliteOptions options{file.string(), "FULL"};
    options.inbox_by_age = true;
    auto opened = store::open_sqlite_store(options);
    REQUIRE(opened.ok());
    store::Store& s = **opened.value;
    Raw raw(file);
    CHECK(raw.rows("SELECT count(*) FROM sqlite_schema WHERE name = 'inbox_by_age'") == "1");
    // 4,500 event ids of January, in no order of their ids, and two of July.
    raw.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4500) "
             "INSERT INTO inbox SELECT printf('e-%05d', (i * 7919) % 4500), 'T', '{}', printf('2026-01-01T00:00:%02d.%03dZ', i / 1000, i % 1000) FROM n;"
             "INSERT INTO inbox VALUES ('july-1', 'T', '{}', '2026-07-01T00:00:00.000Z'), ('july-2', 'T', '{}', '2026-07-02T00:00:00.000Z')");
    std::vector<std::pair<std::int64_t, bool>> rounds;
    for (int round = 0; round < 6 && (rounds.empty() || !rounds.back().second); ++round) {
        auto pruned = s.prune_inbox("2026-06-01T00:00:00.000Z", 1500);
        REQUIRE(pruned.ok());
        rounds.emplace_back(pruned.value->deleted, pruned.value->finished);
        // The oldest go first, whatever their ids: the first call leaves the 1,501st oldest.
        if (round == 0) CHECK(raw.rows("SELECT min(received_at) FROM inbox") == "2026-01-01T00:00:01.501Z");
    }
    // No more than asked for per call, though a transaction takes up to 2,000.
    CHECK(rounds == std::vector<std::pair<std::int64_t, bool>>{{1500, false}, {1500, false}, {1500, false}, {0, true}});
    CHECK(raw.rows("SELECT group_concat(event_id, ' ') FROM (SELECT event_id FROM inbox ORDER BY event_id)") == "july-1 july-2");
    auto known = s.recorded_event("july-1");
    REQUIRE(known.ok());
    CHECK(known.value->has_value());
    auto forgotten = s.recorded_event("e-00001");
    REQUIRE(forgotten.ok());
    CHECK_FALSE(forgotten.value->has_value());
    auto pruned = s.prune_inbox("2026-07-01T12:00:00.000Z", 2000);
    REQUIRE(pruned.ok());
    CHECK(pruned.value->deleted == 1);
    CHECK(raw.rows("SELECT group_concat(event_id) FROM inbox") == "july-2");
    CHECK(raw.rows("EXPLAIN QUERY PLAN DELETE FROM inbox WHERE event_id IN "
                   "(SELECT event_id FROM inbox WHERE received_at < 't' ORDER BY received_at LIMIT 5)")
              .find("USING COVERING INDEX inbox_by_age (received_at<?)") != std::string::npos);
    opened.value->reset();
    REQUIRE(store::open_sqlite_store({file.string(), "FULL"}).ok());  // the setting turned off: the index goes
    CHECK(raw.rows("SELECT count(*) FROM sqlite_schema WHERE name = 'inbox_by_age'") == "0");
}

TEST_CASE("pruning reads only the rows made before its cutoff, by the primary key") {
    test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    store::SqliteOptions options{file.string(), "FULL"};
    options.commands_by_instance = true;
    REQUIRE(store::open_sqlite_store(options).ok());
    Raw raw(file);
    auto plan = [&](const std::string& sql) { return raw.rows("EXPLAIN QUERY PLAN " + sql); };
    const std::string batch = plan("SELECT count(*), max(row) FROM (SELECT row FROM outbox WHERE row > 1 AND row < 5 ORDER BY row LIMIT 2000)");
    CHECK(batch.find("SEARCH outbox USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)") != std::string::npos);
    CHECK(batch.find("SCAN outbox") == std::string::npos);
    const std::string remove = plan("DELETE FROM outbox WHERE row > 1 AND row <= 5 AND status = 'delivered' AND delivered_at < 't'");
    CHECK(remove.find("SEARCH outbox USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)") != std::string::npos);
    CHECK(remove.find("SCAN outbox") == std::string::npos);
    CHECK(plan("SELECT row, created_at FROM outbox WHERE row >= 5 ORDER BY row LIMIT 1").find("SEARCH outbox USING INTEGER PRIMARY KEY (rowid>?)") !=
          std::string::npos);    // The ended instances, one status at a time, through the index by status and row; what an
    // instance owns, through the indexes by instance.
    const std::string ended = plan("SELECT row, id, updated_at < 't' FROM instances WHERE status = 'completed' AND row > 1 AND row < 5 "
                                   "ORDER BY row LIMIT 500");
    CHECK(ended.find("SEARCH instances USING INDEX instances_by_status (status=? AND row>? AND row<?)") != std::string::npos);
    CHECK(ended.find("TEMP B-TREE") == std::string::npos);
    CHECK(plan("SELECT 1 FROM outbox WHERE instance = 'i' AND status <> 'delivered' LIMIT 1").find("INDEX outbox_by_instance (instance=?)") !=
          std::string::npos);
    CHECK(plan("DELETE FROM outbox WHERE instance = 'i'").find("INDEX outbox_by_instance (instance=?)") != std::string::npos);
    CHECK(plan("DELETE FROM history WHERE instance = 'i'").find("INDEX history_by_instance (instance=?)") != std::string::npos);
    CHECK(plan("DELETE FROM timers WHERE instance = 'i'").find("INDEX sqlite_autoindex_timers_1 (instance=?)") != std::string::npos);
    // The relay's check for an earlier pending command of the instance keeps its partial index.
    CHECK(plan("SELECT 1 FROM outbox p WHERE p.instance = 'i' AND p.status = 'pending' AND p.row < 5").find("outbox_pending_by_instance") !=
          std::string::npos);
    // So do the writer's look-ups of an instance's pending commands, as flowd prepares them (with
    // parameters): through the index of every command by instance, each would read the
    // instance's delivered commands too, one table look-up each.
    const std::string waits = plan(store::outbox_order_sql::add_command_behind_pending);
    CHECK(waits.find("outbox_pending_by_instance") != std::string::npos);
    CHECK(waits.find("outbox_by_instance") == std::string::npos);
    const std::string release = plan(store::outbox_order_sql::release_next_commands);
    CHECK(release.find("outbox_pending_by_instance") != std::string::npos);
    CHECK(release.find("outbox_by_instance") == std::string::npos);
}

TEST_CASE("a signed message is bound to its first headers' digest until it is too old to be replayed") {
    StoreOnDisk db;
    const fs::path& file = db.file;
    store::Store& s = *db.store;
    using Reading = store::Transaction::WebhookReading;
    auto bind_reading = [&](const std::string& id, const std::string& digest, const std::string& ids, std::int64_t now,
                            std::int64_t forget_before) {
        auto tx = s.begin();
        REQUIRE(tx.ok());
        auto bound = (*tx.value)->bind_webhook_message(id, digest, ids, now, forget_before);
        REQUIRE(bound.ok());
        REQUIRE_FALSE((*tx.value)->commit());
        return *bound.value;
    };
    // Whether it was read the same way (each digest its own ids here).
    auto bind = [&](const std::string& id, const std::string& digest, std::int64_t now, std::int64_t forget_before) {
        return bind_reading(id, digest, "ids of " + digest, now, forget_before) == Reading::Same;
    };
    CHECK(bind("msg_1", "d1", 1000, 0));
    CHECK(bind("msg_1", "d1", 2000, 0));         // the sender's retry: the same headers, kept from 2000 on
    CHECK_FALSE(bind("msg_1", "d2", 3000, 0));   // a replay with others (which does not keep it)
    CHECK(bind("msg_2", "d2", 3000, 0));         // another message may carry them
    CHECK_FALSE(bind("msg_1", "d2", 4000, 2000));  // last bound at 2000: not before 2000, so kept
    CHECK(bind("msg_3", "d3", 5000, 2001));        // forgets msg_1 ...
    CHECK(bind("msg_1", "d2", 5000, 2001));        // ... which binds anew
    Raw raw(file);
    CHECK(raw.rows("SELECT message_digest, unsigned_digest, ids_digest, bound_ms FROM webhook_messages ORDER BY message_digest") ==
          "msg_1|d2|ids of d2|5000\nmsg_2|d2|ids of d2|3000\nmsg_3|d3|ids of d3|5000");
    // Read otherwise under the ids it first carried, or under others; none when unreadable.
    CHECK(bind_reading("msg_5", "d5", "i5", 7000, 0) == Reading::Same);
    CHECK(bind_reading("msg_5", "d6", "i5", 7000, 0) == Reading::SameIds);
    CHECK(bind_reading("msg_5", "d6", "i6", 7000, 0) == Reading::Other);
    CHECK(bind_reading("msg_6", "unreadable", "", 7000, 0) == Reading::Same);
    CHECK(bind_reading("msg_6", "d7", "", 7000, 0) == Reading::Other);
    // A binding from before the ids were kept (schema version 6) has none: Other.
    raw.exec("UPDATE webhook_messages SET ids_digest = '' WHERE message_digest = 'msg_5'");
    CHECK(bind_reading("msg_5", "d6", "i5", 7000, 0) == Reading::Other);
    CHECK(bind_reading("msg_5", "d5", "i5", 7000, 0) == Reading::Same);
    // A transaction rolled back binds nothing.
    {
        auto tx = s.begin();
        REQUIRE(tx.ok());
        REQUIRE((*tx.value)->bind_webhook_message("msg_4", "d4", "i4", 6000, 0).ok());
    }
    CHECK(raw.rows("SELECT count(*) FROM webhook_messages WHERE message_digest = 'msg_4'") == "0");
}

TEST_CASE("the API's reads run at once, each on its own connection, each seeing one whole commit") {
    StoreOnDisk db;
    store::Store& s = *db.store;
    Raw raw(db.file);
    raw.exec("INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');"
             "INSERT INTO instances (id, workflow, version, key, state, status, vars, compensations, created_at, updated_at) VALUES "
             "('i', 'W', 1, '\"a\"', NULL, 'running', '[]', '[]', 't', '0');");
    // Each commit adds one history entry and writes the count into `updated_at`: a read that saw
    // parts of two commits would find them apart.
    std::atomic<bool> writing{true};
    std::atomic<int> reads{0}, torn{0}, failed{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t) {
        readers.emplace_back([&] {
            while (writing || reads < 30) {
                auto detail = s.instance_detail("i");
                auto listed = s.instances({});
                if (!detail.ok() || !detail.value->has_value() || !listed.ok() || listed.value->size() != 1) {
                    ++failed;
                    continue;
                }
                const auto& d = **detail.value;
                if (std::to_string(d.history.size()) != d.instance.updated_at) ++torn;
                ++reads;
            }
        });
    }
    for (int n = 1; n <= 150; ++n)
        raw.exec("BEGIN; INSERT INTO history (instance, at, kind, detail) VALUES ('i', 't', 'delivery', '{}');"
                 "UPDATE instances SET updated_at = '" + std::to_string(n) + "' WHERE id = 'i'; COMMIT;");
    writing = false;
    for (auto& r : readers) r.join();
    CHECK(failed == 0);
    CHECK(torn == 0);
    CHECK(reads >= 30);
    auto last = s.instance_detail("i");
    REQUIRE(last.ok());
    CHECK((*last.value)->history.size() == 150);
}
