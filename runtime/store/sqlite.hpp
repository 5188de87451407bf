// A thin RAII layer over the SQLite C API: a connection that prepares each statement once
// and keeps it, statements that bind by position and reset themselves, and error codes
// turned into StoreError. Internal to the SQLite store.
#pragma once

#include "runtime/store/store.hpp"

#include <sqlite3.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace flow::store {

// A failed Result, of whatever type the caller returns.
template <typename T>
Result<T> fail(StoreError e) {
    return Result<T>::failure(std::move(e));
}

}  // namespace flow::store

namespace flow::store::sqlite {

StoreError error_from(int code, const std::string& message);
// The error of a call on `db` that returned `code`, with SQLite's message. An I/O error also
// names the system's reason ("disk I/O error (No space left on device)"): a full disk and a
// failing one read alike otherwise.
StoreError error_of(sqlite3* db, int code, const std::string& message);

// Settings of the library as a whole, made once, before its first connection in the process
// (`Connection::open` makes them; a program that uses SQLite otherwise first calls this): no
// memory statistics, which take a global mutex on every allocation, and the page cache of
// runtime/store/page_cache.hpp.
void configure_library();

class Statement {
public:
    Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    // One that could not be prepared: binding does nothing, and every step fails with `code`
    // and `message` (SQLite's at the time), through the callers' usual error paths.
    Statement(sqlite3* db, int code, std::string message) : db_(db), failure_code_(code), failure_message_(std::move(message)) {}
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int index, std::string_view text) {
        if (stmt_) sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
        return *this;
    }
    // Binds without a copy (SQLITE_STATIC): `text` must stay alive and unchanged until the
    // statement is reset, at the end of its `Use`. Temporaries are refused at compile time.
    Statement& bind_kept(int index, const std::string& text) {
        if (stmt_) sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
        return *this;
    }
    Statement& bind_kept(int index, std::string&& text) = delete;
    Statement& bind(int index, std::int64_t n) {
        if (stmt_) sqlite3_bind_int64(stmt_, index, n);
        return *this;
    }
    Statement& bind(int index, int n) { return bind(index, static_cast<std::int64_t>(n)); }
    Statement& bind_null(int index) {
        if (stmt_) sqlite3_bind_null(stmt_, index);
        return *this;
    }
    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step() { return stmt_ ? sqlite3_step(stmt_) : failure_code_; }
    // Runs to completion; the error, if any.
    Status run();
    void reset() {
        if (!stmt_) return;
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    std::string text(int column) const {
        const unsigned char* p = sqlite3_column_text(stmt_, column);
        return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
                 : std::string();
    }
    std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
    bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
    StoreError error(int code) const { return error_of(db_, code, stmt_ ? sqlite3_errmsg(db_) : failure_message_); }
    bool prepared() const { return stmt_ != nullptr; }
    // For one that could not be prepared, and again could not: the new reason.
    void failed_again(int code, std::string message) {
        failure_code_ = code;
        failure_message_ = std::move(message);
    }

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
    int failure_code_ = SQLITE_OK;  // why it could not be prepared, when it could not
    std::string failure_message_;
};

// Resets a statement when the scope that used it ends, so it can be reused.
class Use {
public:
    explicit Use(Statement& s) : s_(s) {}
    ~Use() { s_.reset(); }
    Statement* operator->() { return &s_; }
    Statement& operator*() { return s_; }

private:
    Statement& s_;
};

class Connection {
public:
    // Opens (creating it with owner-only permissions when missing) and configures WAL,
    // the synchronous level, foreign keys and a busy timeout.
    // Writable connections are put in WAL mode, unless `wal` is false (the first look at a file
    // that may not be flowd's, which leaves it as it is).
    static Result<std::unique_ptr<Connection>> open(const std::string& path, const std::string& synchronous, bool read_only,
                                                    bool wal = true);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // A cached prepared statement for this SQL text. One that cannot be prepared (the database
    // cannot be read, memory runs out, a table is missing) is not cached: its steps fail with
    // the reason, as a step that fails would, and the next call tries again.
    Statement& prepare(std::string_view sql);
    Status exec(const std::string& sql);
    std::int64_t changes() const { return sqlite3_changes64(db_); }
    // Rows inserted, updated or deleted on this connection since it opened.
    std::int64_t total_changes() const { return sqlite3_total_changes64(db_); }
    // The row id the last insert on this connection gave.
    std::int64_t last_insert_row() const { return sqlite3_last_insert_rowid(db_); }
    // A number that changes when another connection commits (PRAGMA data_version); nothing
    // when it cannot be read.
    std::optional<std::int64_t> data_version();
    // The database file's absolute path as SQLite resolved it; empty for a database in memory.
    std::string file_name() const {
        const char* name = sqlite3_db_filename(db_, "main");
        return name ? name : "";
    }
    // Whether a transaction is open (SQLite may roll one back by itself after an I/O error).
    bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

    // Measures every statement from now on (SQLite's profile callback): for benchmarks.
    void profile_statements();
    // The time spent in each statement so far, the costliest first, as text lines.
    std::string statement_profile() const;

private:
    explicit Connection(sqlite3* db) : db_(db) {}
    sqlite3* db_;
    std::map<std::string, std::unique_ptr<Statement>, std::less<>> statements_;  // looked up without a copy of the text
    // The last failure to prepare each text that failed, kept while the connection lives (a
    // caller may still hold it; there are few texts).
    std::map<std::string, std::unique_ptr<Statement>, std::less<>> unprepared_;
    struct Spent {
        std::int64_t nanoseconds = 0;
        std::int64_t runs = 0;
    };
    std::map<std::string, Spent> profile_;
};

}  // namespace flow::store::sqlite
