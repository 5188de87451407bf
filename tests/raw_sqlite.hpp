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

}  // namespace flow::test
