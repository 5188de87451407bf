#include "runtime/store/sqlite.hpp"

#include "runtime/store/page_cache.hpp"
#include "runtime/store/wal_write_buffer.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>
#include <sys/stat.h>

namespace flow::store::sqlite {

StoreError error_from(int code, const std::string& message) {
    switch (code & 0xff) {
    case SQLITE_CONSTRAINT: return {StoreError::Kind::Conflict, message};
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return {StoreError::Kind::Corrupt, message};
    default: return {StoreError::Kind::Unavailable, message};  // full, busy, locked, read-only, I/O
    }
}

StoreError error_of(sqlite3* db, int code, const std::string& message) {
    if ((code & 0xff) == SQLITE_IOERR) {
        // A failed write of the WAL's kept frames is this thread's (a commit's, which SQLite
        // keeps no reason for); any other I/O error's reason is SQLite's.
        int system = failed_wal_write_errno();
        if (system == 0 && db) system = sqlite3_system_errno(db);
        if (system != 0) return error_from(code, message + " (" + std::strerror(system) + ")");
    }
    return error_from(code, message);
}

Status Statement::run() {
    int code = 0;
    while ((code = step()) == SQLITE_ROW) {
    }
    if (code != SQLITE_DONE) return error(code);
    return std::nullopt;
}

void configure_library() {
    static std::once_flag once;
    std::call_once(once, [] {
        // Each fails harmlessly (SQLITE_MISUSE) once the library has started.
        (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        (void)install_page_cache();
    });
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, const std::string& synchronous, bool read_only, bool wal) {
    configure_library();
    sqlite3* db = nullptr;
    int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    flags |= SQLITE_OPEN_NOMUTEX;  // each connection is used under its owner's mutex
    // Where every commit syncs the WAL, its frames are written to it in one call per commit
    // (runtime/store/wal_write_buffer.hpp); with NORMAL a commit is published unsynced.
    const bool syncs_every_commit = synchronous == "FULL" || synchronous == "EXTRA";
    const char* vfs = syncs_every_commit ? wal_write_buffer_vfs() : nullptr;
    mode_t previous = umask(077);  // a new database file (and its WAL) is readable by its owner only
    int code = sqlite3_open_v2(path.c_str(), &db, flags, vfs);
    umask(previous);
    if (code != SQLITE_OK) {
        std::string message = db ? sqlite3_errmsg(db) : "cannot open";
        sqlite3_close(db);
        return Result<std::unique_ptr<Connection>>::failure(error_from(code, "cannot open " + path + ": " + message));
    }
    std::unique_ptr<Connection> connection(new Connection(db));
    if (!read_only && sqlite3_db_readonly(db, "main") == 1)  // SQLite fell back to reading only
        return Result<std::unique_ptr<Connection>>::failure({StoreError::Kind::Unavailable, path + " is read-only"});
    sqlite3_busy_timeout(db, 5000);
    sqlite3_extended_result_codes(db, 1);
    // A larger page cache keeps the indexes in memory; a checkpoint every 4,000 pages instead of
    // 1,000 writes the WAL back into the database less often.
    for (const std::string& pragma : {std::string("PRAGMA foreign_keys = ON"), "PRAGMA synchronous = " + synchronous,
                                      std::string("PRAGMA cache_size = -65536"), std::string("PRAGMA wal_autocheckpoint = 4000"),
                                      std::string("PRAGMA temp_store = MEMORY")}) {
        if (auto error = connection->exec(pragma)) return Result<std::unique_ptr<Connection>>::failure(*error);
    }
    if (!read_only && wal) {
        if (auto error = connection->exec("PRAGMA journal_mode = WAL")) return Result<std::unique_ptr<Connection>>::failure(*error);
    }
    return Result<std::unique_ptr<Connection>>::success(std::move(connection));
}

Connection::~Connection() {
    statements_.clear();
    sqlite3_close(db_);
}

Statement& Connection::prepare(std::string_view sql) {
    auto found = statements_.find(sql);
    if (found != statements_.end()) return *found->second;
    sqlite3_stmt* stmt = nullptr;
    int code = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (code != SQLITE_OK) {
        sqlite3_finalize(stmt);
        // One for each text, kept while the connection lives and never replaced, so that no
        // reference to it dangles: a later failure of the same text updates its reason.
        std::unique_ptr<Statement>& kept = unprepared_[std::string(sql)];
        if (kept) kept->failed_again(code, sqlite3_errmsg(db_));
        else kept = std::make_unique<Statement>(db_, code, std::string(sqlite3_errmsg(db_)));
        return *kept;
    }
    auto [it, inserted] = statements_.emplace(sql, std::make_unique<Statement>(db_, stmt));
    return *it->second;
}

Status Connection::exec(const std::string& sql) {
    char* message = nullptr;
    int code = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    if (code == SQLITE_OK) return std::nullopt;
    std::string text = message ? message : sqlite3_errstr(code);
    sqlite3_free(message);
    return error_of(db_, code, text);
}

std::optional<std::int64_t> Connection::data_version() {
    Use s(prepare("PRAGMA data_version"));
    if (s->step() != SQLITE_ROW) return std::nullopt;
    return s->integer(0);
}

}  // namespace flow::store::sqlite

namespace flow::store::sqlite {

void Connection::profile_statements() {
    sqlite3_trace_v2(
        db_, SQLITE_TRACE_PROFILE,
        [](unsigned, void* self, void* statement, void* nanoseconds) {
            const char* sql = sqlite3_sql(static_cast<sqlite3_stmt*>(statement));
            Spent& spent = static_cast<Connection*>(self)->profile_[sql ? sql : "?"];
            spent.nanoseconds += *static_cast<sqlite3_int64*>(nanoseconds);
            ++spent.runs;
            return 0;
        },
        this);
}

std::string Connection::statement_profile() const {
    std::vector<std::pair<std::string, Spent>> rows(profile_.begin(), profile_.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.nanoseconds > b.second.nanoseconds; });
    std::string out;
    for (const auto& [sql, spent] : rows) {
        char line[200];
        std::snprintf(line, sizeof line, "%10.1f ms %9lld runs %8.2f us/run  %.80s\n", static_cast<double>(spent.nanoseconds) / 1e6,
                      static_cast<long long>(spent.runs),
                      static_cast<double>(spent.nanoseconds) / 1e3 / static_cast<double>(std::max<std::int64_t>(spent.runs, 1)),
                      sql.c_str());
        out += line;
    }
    return out;
}

}  // namespace flow::store::sqlite
