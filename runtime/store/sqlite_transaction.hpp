#pragma once
// The SQLite store's write transaction: the inbox, instances, timers, the outbox and the history,
// written on the writer connection, with the writer's cache of running instances kept right.
#include "runtime/store/instance_cache.hpp"
#include "runtime/store/sqlite.hpp"
#include "runtime/store/store.hpp"

#include <cstdint>
#include <memory>
#include <mutex>

namespace flow::store {

// The running instances the writer read or wrote last, and what tells whether another
// connection wrote since (SQLite's data version moves only with other connections' commits).
struct CachedInstances {
    explicit CachedInstances(std::size_t capacity) : cache(capacity) {}
    InstanceCache cache;
    std::int64_t data_version = -1;
};

// Begins a write transaction on the writer connection `db` (BEGIN IMMEDIATE). It holds `lock`
// (the writer's) until it ends, and keeps `cached` right (sqlite_transaction.cpp says how). One
// destroyed before its commit is rolled back.
Result<std::unique_ptr<Transaction>> begin_write_transaction(sqlite::Connection& db, std::unique_lock<std::mutex> lock,
                                                             CachedInstances& cached);

}  // namespace flow::store
