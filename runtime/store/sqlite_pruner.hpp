#pragma once
// Pruning the SQLite store (the retention of docs/runtime.md, "Growth and retention"): delivered
// commands, ended instances and the inbox's old entries, a few thousand rows per transaction
// with the writer let in between, resumable where a call stopped.
#include "runtime/store/connection_pool.hpp"
#include "runtime/store/sqlite.hpp"
#include "runtime/store/sqlite_schema.hpp"
#include "runtime/store/store.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace flow::store {

// Works on the store's connections, which it borrows: the writer under `write_mutex` (taken
// for each transaction, never across a pause), the readers through their pool; and on the
// optional indexes the prunes need, guarded by `write_mutex` too. The Store's prune_* calls,
// with their contracts (store.hpp).
class SqlitePruner {
public:
    using Pruned = Store::Pruned;
    using PruneCursor = Store::PruneCursor;

    SqlitePruner(sqlite::Connection& writer, std::mutex& write_mutex, sqlite::ConnectionPool& readers,
                 OptionalIndex& commands_by_instance, OptionalIndex& inbox_by_age)
        : writer_(writer), write_mutex_(write_mutex), readers_(readers), commands_by_instance_(commands_by_instance),
          inbox_by_age_(inbox_by_age) {}

    Result<Pruned> prune_delivered(const std::string& before, std::int64_t most_rows, PruneCursor from);
    Result<Pruned> prune_ended_instances(const std::string& before, std::int64_t most_rows, PruneCursor from);
    Result<Pruned> prune_inbox(const std::string& before, std::int64_t most_rows);

private:
    // An instance that ended before a prune's cutoff.
    struct PruneCandidate {
        std::int64_t row;
        std::string id;
    };

    // Deletes, in one transaction, candidates from `next` on that still ended before `before` and
    // have no command waiting (pending) or given up (dead), with their delivered commands, timers
    // and history, until all are looked at or the transaction has held the writer for
    // `transaction_budget`: where the next transaction goes on, how many it deleted, and how many it
    // kept for having changed since they were read. Shorter
    // transactions barely shorten the writer's waits (mostly the commit's sync) and cost each
    // instance twice as much (docs/performance.md, run 30).
    static constexpr std::chrono::microseconds transaction_budget{2000};
    struct DeletedInstances {
        std::size_t next;
        std::int64_t deleted;
        std::int64_t kept_as_changed;
    };
    Result<DeletedInstances> delete_instances(const std::vector<PruneCandidate>& candidates, std::size_t next, const std::string& before);
    // A prune stopped by `error`: a failure when it has deleted nothing yet, otherwise what it
    // deleted (committed, to be counted), with the error, and where to go on.
    static Result<Pruned> stopped(Pruned pruned, PruneCursor resume, StoreError error);
    // An optional index a prune needs: built now if it was wanted at open and could not be built
    // then.
    Status have(OptionalIndex& index);
    // The lowest row of `table` (the outbox or the instances) made at or after `time`, or past
    // the last row: a bisection over the row ids, one look-up of the primary key per step.
    Result<std::int64_t> first_row_made_at_or_after(const std::string& table, const std::string& time);

    sqlite::Connection& writer_;
    std::mutex& write_mutex_;
    sqlite::ConnectionPool& readers_;
    OptionalIndex& commands_by_instance_;
    OptionalIndex& inbox_by_age_;
};

}  // namespace flow::store
