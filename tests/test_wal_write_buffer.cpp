// The WAL write buffer below the store's connections: a commit's frames reach the file in a few
// writes, every other connection reads them, and nothing kept in memory outlives the lock that
// made it safe to keep.
#include "runtime/store/sqlite.hpp"
#include "runtime/store/wal_write_buffer.hpp"

#include "raw_sqlite.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <filesystem>
#include <memory>
#include <string>

using namespace flow::store;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<sqlite::Connection> open(const fs::path& file, const std::string& synchronous) {
    auto opened = sqlite::Connection::open(file.string(), synchronous, false);
    REQUIRE(opened.ok());
    return std::move(*opened.value);
}

void exec(sqlite::Connection& c, const std::string& sql) {
    auto error = c.exec(sql);
    INFO(sql);
    INFO((error ? error->message : std::string()));
    REQUIRE_FALSE(error);
}

// A new database with one table `t (i, body)`, on a connection of the store's kind.
struct TableOnDisk {
    flow::test::TempDir dir;
    fs::path file = dir.path / "flow.db";
    std::unique_ptr<sqlite::Connection> c;
    explicit TableOnDisk(const std::string& synchronous) : c(open(file, synchronous)) {
        exec(*c, "CREATE TABLE t (i INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    }
};

// One column of one row, through a connection of the default VFS (no buffer of its own).
std::string read_through_default_vfs(const fs::path& file, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW) {
        const unsigned char* text = sqlite3_column_text(s, 0);
        out = text ? reinterpret_cast<const char*>(text) : "NULL";
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
}

void exec_through_default_vfs(const fs::path& file, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    flow::test::exec_raw(db, sql);
    sqlite3_close(db);
}

// Rows of about 1 KiB, four to a page: `count` of them fill count / 4 pages of the table.
std::string insert_rows(int first, int count) {
    return "WITH RECURSIVE n(i) AS (SELECT " + std::to_string(first) + " UNION ALL SELECT i + 1 FROM n WHERE i < " +
           std::to_string(first + count - 1) + ") INSERT INTO t (i, body) SELECT i, hex(zeroblob(500)) || i FROM n";
}

sqlite::WalWriteCounts since(const sqlite::WalWriteCounts& before) {
    auto now = sqlite::wal_write_counts();
    return {now.writes_from_sqlite - before.writes_from_sqlite, now.writes_to_file - before.writes_to_file};
}

}  // namespace

TEST_CASE("with synchronous FULL a commit's WAL frames reach the file in a few writes, and other connections read them") {
    TableOnDisk db("FULL");
    const fs::path& file = db.file;
    auto& c = db.c;

    SUBCASE("a commit of about 25 pages: SQLite writes each frame's header and page apart, the file gets one write") {
        const auto before = sqlite::wal_write_counts();
        exec(*c, insert_rows(1, 100));
        const auto made = since(before);
        CHECK(made.writes_from_sqlite >= 50);  // two per frame
        CHECK(made.writes_to_file == 1);
    }
    SUBCASE("a commit larger than one write's limit is written in pieces of at most 120 KiB, in order") {
        const auto before = sqlite::wal_write_counts();
        exec(*c, insert_rows(1, 1000));  // some 250 pages: 1 MiB of frames
        const auto made = since(before);
        CHECK(made.writes_from_sqlite >= 500);
        CHECK(made.writes_to_file >= 9);
        CHECK(made.writes_to_file <= 12);
        CHECK(read_through_default_vfs(file, "SELECT count(*) || ',' || sum(i) || ',' || min(length(body)) FROM t") ==
              "1000,500500,1001");
    }
    // Another connection, in this process or another, reads the committed frames from the file:
    // each commit is out of the buffer before it becomes visible.
    for (int round = 0; round < 5; ++round) exec(*c, insert_rows(10000 + round * 50, 50));
    CHECK(read_through_default_vfs(file, "SELECT count(*) FROM t WHERE i >= 10000") == "250");
    CHECK(read_through_default_vfs(file, "PRAGMA integrity_check") == "ok");
}

TEST_CASE("with synchronous NORMAL no write is kept back: a commit is visible before any sync") {
    TableOnDisk db("NORMAL");
    const fs::path& file = db.file;
    auto& c = db.c;
    const auto before = sqlite::wal_write_counts();
    exec(*c, insert_rows(1, 100));
    const auto made = since(before);
    CHECK(made.writes_from_sqlite == 0);  // the default VFS's own files
    CHECK(made.writes_to_file == 0);
    CHECK(read_through_default_vfs(file, "SELECT count(*) FROM t") == "100");
}

TEST_CASE("a transaction rolled back after its pages spilled to the WAL leaves nothing for the next writer to meet") {
    TableOnDisk db("FULL");
    const fs::path& file = db.file;
    auto& c = db.c;
    exec(*c, insert_rows(1, 40));
    // A cache of 20 pages: a transaction of 200 pages writes most of them to the WAL before it
    // ends (uncommitted frames), here kept in the buffer.
    exec(*c, "PRAGMA cache_size = 20");
    exec(*c, "BEGIN");
    const auto before = sqlite::wal_write_counts();
    exec(*c, insert_rows(1000, 800));
    CHECK(since(before).writes_from_sqlite > 0);  // spilled
    exec(*c, "ROLLBACK");

    // Another connection now writes its commit where the rolled-back frames were: had the buffer
    // kept them past the rollback, this connection's next read would write them over it. (SQLite
    // 3.40's rollback reads from the WAL, which writes the buffer out already; the release of the
    // WAL's write lock does so too, whatever a rollback reads.)
    exec_through_default_vfs(file, insert_rows(5000, 200));
    {
        sqlite::Use count(c->prepare("SELECT count(*) FROM t WHERE i >= 5000"));
        REQUIRE(count->step() == SQLITE_ROW);
        CHECK(count->integer(0) == 200);
    }
    exec(*c, insert_rows(7000, 10));
    CHECK(read_through_default_vfs(file, "SELECT count(*) FROM t") == "250");
    CHECK(read_through_default_vfs(file, "PRAGMA integrity_check") == "ok");
    c.reset();
    CHECK(read_through_default_vfs(file, "SELECT count(*) || ',' || sum(i) FROM t") ==
          "250," + std::to_string(40 * 41 / 2 + (5000 + 5199) * 200 / 2 + (7000 + 7009) * 10 / 2));
}

// Past a limit on the size of the files this process writes (RLIMIT_FSIZE), the write of the kept
// frames fails as a full disk's would, at the commit's sync or, when the transaction spilled, in
// the middle of it.
TEST_CASE("a write of the kept frames that fails fails its whole transaction, and the next one commits") {
    TableOnDisk db("FULL");
    auto& c = db.c;
    exec(*c, insert_rows(1, 40));
    exec(*c, "PRAGMA wal_checkpoint(TRUNCATE)");  // the WAL starts again from nothing

    struct sigaction ignore {}, previous {};
    ignore.sa_handler = SIG_IGN;
    REQUIRE(sigaction(SIGXFSZ, &ignore, &previous) == 0);  // a write past the limit then fails with EFBIG
    rlimit unlimited{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &unlimited) == 0);
    auto limit_files_to = [&](rlim_t bytes) {
        rlimit limited = unlimited;
        limited.rlim_cur = bytes;
        REQUIRE(setrlimit(RLIMIT_FSIZE, &limited) == 0);
    };

    SUBCASE("at the commit") {
        limit_files_to(64 * 1024);
        auto failed = c->exec(insert_rows(1000, 400));  // some 100 pages: 400 KiB of frames
        REQUIRE(setrlimit(RLIMIT_FSIZE, &unlimited) == 0);
        REQUIRE(failed);
        CHECK(failed->kind == StoreError::Kind::Unavailable);
    }
    SUBCASE("in a transaction whose pages spilled to the WAL") {
        exec(*c, "PRAGMA cache_size = 20");
        limit_files_to(64 * 1024);
        bool any_failed = c->exec("BEGIN").has_value();
        for (int round = 0; round < 10 && !any_failed; ++round) any_failed = c->exec(insert_rows(1000 + round * 100, 100)).has_value();
        auto committed = c->exec("COMMIT");
        REQUIRE(setrlimit(RLIMIT_FSIZE, &unlimited) == 0);
        CHECK(any_failed);
        CHECK(committed);  // no transaction left to commit, or its commit refused: never a part of it
        (void)c->exec("ROLLBACK");
    }
    REQUIRE(sigaction(SIGXFSZ, &previous, nullptr) == 0);

    CHECK(read_through_default_vfs(db.file, "SELECT count(*) FROM t WHERE i >= 1000") == "0");
    exec(*c, insert_rows(5000, 100));
    CHECK(read_through_default_vfs(db.file, "SELECT count(*) || ',' || sum(i) FROM t") ==
          "140," + std::to_string(40 * 41 / 2 + (5000 + 5099) * 100 / 2));
    CHECK(read_through_default_vfs(db.file, "PRAGMA integrity_check") == "ok");
}

// Without power-safe overwrite (`psow=0`) SQLite pads each commit to a sector boundary by writing
// its last frame again, and syncs in the middle of that last frame: part of the commit is
// written after its sync, and must still be in the file when the commit is published.
TEST_CASE("a commit padded to a sector boundary reaches the file whole") {
    flow::test::TempDir dir;
    const fs::path file = dir.path / "flow.db";
    const char* vfs = sqlite::wal_write_buffer_vfs();
    REQUIRE(vfs);
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(("file:" + file.string() + "?psow=0").c_str(), &db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, vfs) == SQLITE_OK);
    auto run = [&](const std::string& sql) { flow::test::exec_raw(db, sql); };
    run("PRAGMA journal_mode = WAL");
    run("PRAGMA synchronous = FULL");
    run("CREATE TABLE t (i INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    const auto before = sqlite::wal_write_counts();
    for (int round = 0; round < 20; ++round) run(insert_rows(1 + round * 7, 7));  // a page or two each
    const auto made = since(before);
    // Two writes to the file per commit: all up to the sync, then the tail after it (with psow=1
    // the same commits make one each).
    CHECK(made.writes_to_file == 40);
    CHECK(made.writes_from_sqlite > 200);
    // Read through the default VFS while this connection still holds the WAL open.
    CHECK(read_through_default_vfs(file, "SELECT count(*) || ',' || sum(i) FROM t") == "140," + std::to_string(140 * 141 / 2));
    CHECK(read_through_default_vfs(file, "PRAGMA integrity_check") == "ok");
    sqlite3_close(db);
    CHECK(read_through_default_vfs(file, "SELECT count(*) FROM t") == "140");
}
