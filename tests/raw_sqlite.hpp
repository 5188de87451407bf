// The bare SQLite C API in tests: a statement run on a connection of the test's own, failing the
// test with SQLite's message.
#pragma once

#include <doctest/doctest.h>

#include <sqlite3.h>

#include <string>

namespace flow::test {

inline void exec_raw(sqlite3* db, const std::string& sql) {
    char* error = nullptr;
    int code = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    INFO(sql);
    INFO((error ? error : ""));
    sqlite3_free(error);
    REQUIRE(code == SQLITE_OK);
}

// The text of the first column of the first row `sql` gives (empty when there is none).
inline std::string query_text(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    INFO(sql);
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
    std::string text;
    if (sqlite3_step(statement) == SQLITE_ROW) {
        const unsigned char* p = sqlite3_column_text(statement, 0);
        if (p) text.assign(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(statement, 0)));
    }
    sqlite3_finalize(statement);
    return text;
}

}  // namespace flow::test
