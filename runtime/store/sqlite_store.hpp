// The SQLite implementation of the Store: WAL, synchronous=FULL by default, foreign keys on,
// a schema version with migrations applied at open.
#pragma once

#include "runtime/store/store.hpp"

#include <cstddef>
#include <memory>
#include <string>

namespace flow::store {

struct SqliteOptions {
    std::string path = "flow.db";
    std::string synchronous = "FULL";  // FULL, NORMAL (or EXTRA); never OFF by default
    std::int64_t max_megabytes = 0;    // the database's size limit (PRAGMA max_page_count); 0: none
    bool profile_statements = false;   // benchmarks: print the time per statement to stderr at close
    std::size_t instance_cache = 10000;  // running instances the writer keeps parsed (instance_cache.hpp); 0: none
    // The API's reader connections (connection_pool.hpp): reads that run at once, each on its own.
    int readers = 4;
    // An index of the outbox by instance, built at open (dropped when false): pruning ended
    // instances needs it, and refuses to run without it; each command's insert pays for it.
    bool commands_by_instance = false;
    // An index of the inbox by age, the same way, for pruning the inbox.
    bool inbox_by_age = false;
};

// Opens the database, creating and migrating it as needed.
Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& options);

// The schema version this build writes.
int sqlite_schema_version();

}  // namespace flow::store
