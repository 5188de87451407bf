// The page cache under the store's connections: the truncation at the end of a write
// transaction is handed to SQLite's own cache only when a page past the limit may be there.
#include "runtime/store/page_cache.hpp"
#include "runtime/store/sqlite.hpp"

#include "support.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

using namespace flow::store;
namespace fs = std::filesystem;

namespace {

void exec(sqlite::Connection& c, const std::string& sql) {
    auto error = c.exec(sql);
    INFO(sql);
    INFO((error ? error->message : std::string()));
    REQUIRE_FALSE(error);
}

std::string first_column(sqlite::Connection& c, const std::string& sql) {
    sqlite::Use s(c.prepare(sql));
    REQUIRE(s->step() == SQLITE_ROW);
    return s->text(0);
}

// Rows whose index entries land all over the index (random keys), so that inserts split pages in
// the middle of its B-tree: the balance that numbers a page past the end for a moment. One
// statement per row, in one transaction: a statement over a generated series would add an
// ephemeral table, whose cache is cleared (a truncation handed on) when it closes.
void insert_rows(sqlite::Connection& c, int first, int count, const std::string& tag, bool own_transaction = true) {
    if (own_transaction) exec(c, "BEGIN");
    const std::string body = tag + std::string(200, '.');
    for (int i = first; i < first + count; ++i) {
        sqlite::Use s(c.prepare("INSERT INTO t (i, k, body) VALUES (?, hex(randomblob(16)), ?)"));
        s->bind(1, static_cast<std::int64_t>(i)).bind_kept(2, body);
        REQUIRE_FALSE(s->run());
    }
    if (own_transaction) exec(c, "COMMIT");
}

sqlite::PageCacheCounts since(const sqlite::PageCacheCounts& before) {
    auto now = sqlite::page_cache_counts();
    return {now.truncations - before.truncations, now.truncations_handed_on - before.truncations_handed_on};
}

}  // namespace

TEST_CASE("commits that split pages in the middle of an index leave the default cache's truncation alone") {
    REQUIRE(sqlite::install_page_cache());  // the tests' main configured the library first
    flow::test::TempDir dir;
    auto opened = sqlite::Connection::open((dir.path / "flow.db").string(), "FULL", false);
    REQUIRE(opened.ok());
    sqlite::Connection& c = **opened.value;
    exec(c, "CREATE TABLE t (i INTEGER PRIMARY KEY, k TEXT NOT NULL, body TEXT NOT NULL)");
    exec(c, "CREATE INDEX t_by_k ON t (k)");
    insert_rows(c, 1, 2000, "a");

    const auto before = sqlite::page_cache_counts();
    for (int round = 0; round < 50; ++round) insert_rows(c, 10000 + round * 20, 20, "b");
    const auto made = since(before);
    CHECK(made.truncations >= 50);  // one at least per commit
    CHECK(made.truncations_handed_on == 0);
    CHECK(first_column(c, "SELECT count(*) || ',' || sum(i) FROM t") ==
          "3000," + std::to_string(2000 * 2001 / 2 + (10000 + 10999) * 1000 / 2));
    CHECK(first_column(c, "PRAGMA integrity_check") == "ok");
}

TEST_CASE("a transaction that grew the database and rolled back has its new pages dropped: the next growth reads none of them") {
    REQUIRE(sqlite::install_page_cache());
    flow::test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    auto opened = sqlite::Connection::open(file.string(), "FULL", false);
    REQUIRE(opened.ok());
    sqlite::Connection& c = **opened.value;
    exec(c, "CREATE TABLE t (i INTEGER PRIMARY KEY, k TEXT NOT NULL, body TEXT NOT NULL)");
    exec(c, "CREATE INDEX t_by_k ON t (k)");
    insert_rows(c, 1, 200, "a");
    const std::string pages_before = first_column(c, "PRAGMA page_count");

    exec(c, "BEGIN");
    insert_rows(c, 1000, 2000, "rolled-back", false);  // some 100 pages past the end, in the cache
    CHECK(first_column(c, "PRAGMA page_count") != pages_before);
    const auto before = sqlite::page_cache_counts();
    exec(c, "ROLLBACK");
    CHECK(since(before).truncations_handed_on >= 1);

    // The same page numbers again, with other rows. The count above is what says the cache
    // dropped the rolled-back pages: SQLite rewrites a page it allocates whole, so their bytes
    // may not show here even if they were kept; what follows checks that none does.
    insert_rows(c, 5000, 2000, "kept");
    CHECK(first_column(c, "SELECT count(*) FROM t WHERE body LIKE 'rolled-back%'") == "0");
    opened.value->reset();  // closed: what follows reads the file through a new connection
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open_v2(file.c_str(), &other, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    auto scalar = [&](const char* sql) {
        sqlite3_stmt* s = nullptr;
        REQUIRE(sqlite3_prepare_v2(other, sql, -1, &s, nullptr) == SQLITE_OK);
        REQUIRE(sqlite3_step(s) == SQLITE_ROW);
        std::string out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
        return out;
    };
    CHECK(scalar("PRAGMA integrity_check") == "ok");
    CHECK(scalar("SELECT count(*) || ',' || sum(body LIKE 'kept%') || ',' || sum(body LIKE 'rolled-back%') FROM t") == "2200,2000,0");
    sqlite3_close(other);
}
