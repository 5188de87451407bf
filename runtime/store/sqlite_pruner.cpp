#include "runtime/store/sqlite_pruner.hpp"

#include <algorithm>
#include <iterator>
#include <limits>
#include <thread>

namespace flow::store {

Result<Store::Pruned> SqlitePruner::prune_delivered(const std::string& before, std::int64_t most_rows, PruneCursor from) {
    // Only the rows made before the cutoff are read: a command is delivered after it is made,
    // and rows are numbered in the order they are made. Every row deleted is checked against
    // the cutoff itself, so a time out of order costs no row: one that looks older than the
    // rows after it only widens what is read; one that looks newer (a clock set back) may
    // keep older rows until a later prune.
    auto boundary = first_row_made_at_or_after("outbox", before);
    if (!boundary.ok()) return fail<Pruned>(*boundary.error);
    // A few thousand rows per transaction, each row looked at once (the pending and dead ones
    // are kept, and not read again by the next transaction, nor by the next call when this
    // one stops at `most_rows`), and a pause between them: a mutex favours no waiter, and
    // the writer must get in.
    constexpr std::int64_t rows_per_transaction = 2000;
    Pruned pruned;
    std::int64_t after_row = from.after_row;
    for (std::int64_t looked_at = 0;;) {
        if (looked_at >= most_rows) {
            pruned.finished = false;
            pruned.resume = {0, after_row};
            return Result<Pruned>::success(pruned);
        }
        if (looked_at > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::lock_guard lock(write_mutex_);
        sqlite::Use batch(writer_.prepare("SELECT count(*), max(row) FROM (SELECT row FROM outbox WHERE row > ?1 AND row < ?2 "
                                   "ORDER BY row LIMIT ?3)"));
        const std::int64_t limit = std::min(rows_per_transaction, most_rows - looked_at);
        batch->bind(1, after_row).bind(2, *boundary.value).bind(3, limit);
        const int code = batch->step();
        if (code != SQLITE_ROW) return stopped(pruned, {0, after_row}, batch->error(code));
        const std::int64_t rows = batch->integer(0);
        if (rows == 0) return Result<Pruned>::success(pruned);
        const std::int64_t last_row = batch->integer(1);
        sqlite::Use remove(writer_.prepare("DELETE FROM outbox WHERE row > ?1 AND row <= ?2 AND status = 'delivered' AND delivered_at < ?3"));
        remove->bind(1, after_row).bind(2, last_row).bind(3, before);
        if (auto e = remove->run()) return stopped(pruned, {0, after_row}, *e);
        pruned.deleted += writer_.changes();
        after_row = last_row;
        looked_at += rows;
        if (rows < limit) return Result<Pruned>::success(pruned);
    }
}

Result<Store::Pruned> SqlitePruner::prune_ended_instances(const std::string& before, std::int64_t most_rows, PruneCursor from) {
    if (auto e = have(commands_by_instance_)) return fail<Pruned>(*e);
    // The ended instances of each end status in turn, through the index by status and row,
    // and only those made before the cutoff (an instance ends after it is made); each is
    // checked against the cutoff by the time of its last change, its end. Read on the reader
    // connection: what may still change (its commands' status, and its last change: a dead
    // command deleted by an operator moves it on) is checked again in the transaction that
    // deletes it.
    static constexpr const char* ended[] = {"cancelled", "completed", "failed"};
    constexpr int parts = static_cast<int>(std::size(ended));
    auto boundary = first_row_made_at_or_after("instances", before);
    if (!boundary.ok()) return fail<Pruned>(*boundary.error);
    constexpr std::int64_t rows_per_read = 100;
    Pruned pruned;
    PruneCursor at = from;
    bool wrote = false;
    for (std::int64_t looked_at = 0; at.part < parts;) {
        if (looked_at >= most_rows) {
            pruned.finished = false;
            pruned.resume = at;
            return Result<Pruned>::success(pruned);
        }
        std::vector<PruneCandidate> old;  // of the rows read, those that ended before the cutoff
        const std::int64_t limit = std::min(rows_per_read, most_rows - looked_at);
        std::int64_t rows = 0, last_row = at.after_row;
        {
            auto reader = readers_.lease();
            sqlite::Use read(reader->prepare("SELECT row, id, updated_at < ?4 FROM instances WHERE status = ?1 AND row > ?2 AND row < ?3 "
                                      "ORDER BY row LIMIT ?5"));
            read->bind(1, std::string(ended[at.part])).bind(2, at.after_row).bind(3, *boundary.value).bind(4, before);
            read->bind(5, limit);
            int code;
            while ((code = read->step()) == SQLITE_ROW) {
                ++rows;
                last_row = read->integer(0);
                if (read->integer(2) != 0) old.push_back({last_row, read->text(1)});
            }
            if (code != SQLITE_DONE) return stopped(pruned, at, read->error(code));
        }
        looked_at += rows;
        // The writer waits while an instance is deleted: a few milliseconds of deletions per
        // transaction, and a pause between transactions, since a mutex favours no waiter.
        for (std::size_t next = 0; next < old.size();) {
            if (wrote) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            wrote = true;
            auto done = delete_instances(old, next, before);
            if (!done.ok()) return stopped(pruned, at, *done.error);
            next = done.value->next;
            pruned.deleted += done.value->deleted;
            pruned.kept_as_changed += done.value->kept_as_changed;
        }
        if (rows < limit) at = {at.part + 1, 0};
        else at.after_row = last_row;
    }
    return Result<Pruned>::success(pruned);
}

Result<SqlitePruner::DeletedInstances> SqlitePruner::delete_instances(const std::vector<PruneCandidate>& candidates, std::size_t next,
                                                                       const std::string& before) {
    using Done = DeletedInstances;
    std::lock_guard lock(write_mutex_);
    const auto deadline = std::chrono::steady_clock::now() + transaction_budget;
    if (auto e = writer_.exec("BEGIN IMMEDIATE")) return fail<Done>(*e);
    struct RollBackUnlessCommitted {
        sqlite::Connection& db;
        bool committed = false;
        ~RollBackUnlessCommitted() {
            if (!committed) (void)db.exec("ROLLBACK");
        }
    } transaction{writer_};
    std::int64_t deleted = 0, kept_as_changed = 0;
    for (; next < candidates.size() && (deleted == 0 || std::chrono::steady_clock::now() < deadline); ++next) {
        const PruneCandidate& candidate = candidates[next];
        // Changed since it was read (a dead command of it deleted): kept, as it now ended later.
        sqlite::Use still_old(writer_.prepare("SELECT 1 FROM instances WHERE row = ? AND updated_at < ? AND status IN "
                                       "('cancelled', 'completed', 'failed')"));
        still_old->bind(1, candidate.row).bind(2, before);
        const int old_code = still_old->step();
        if (old_code == SQLITE_DONE) {
            ++kept_as_changed;
            continue;
        }
        if (old_code != SQLITE_ROW) return fail<Done>(still_old->error(old_code));
        sqlite::Use undelivered(writer_.prepare("SELECT 1 FROM outbox WHERE instance = ? AND status <> 'delivered' LIMIT 1"));
        undelivered->bind(1, candidate.id);
        const int code = undelivered->step();
        if (code == SQLITE_ROW) continue;
        if (code != SQLITE_DONE) return fail<Done>(undelivered->error(code));
        for (const char* sql : {"DELETE FROM outbox WHERE instance = ?", "DELETE FROM timers WHERE instance = ?",
                                "DELETE FROM history WHERE instance = ?"}) {
            sqlite::Use remove(writer_.prepare(sql));
            remove->bind(1, candidate.id);
            if (auto e = remove->run()) return fail<Done>(*e);
        }
        sqlite::Use remove(writer_.prepare("DELETE FROM instances WHERE row = ?"));
        remove->bind(1, candidate.row);
        if (auto e = remove->run()) return fail<Done>(*e);
        ++deleted;
    }
    if (auto e = writer_.exec("COMMIT")) return fail<Done>(*e);
    transaction.committed = true;
    return Result<Done>::success({next, deleted, kept_as_changed});
}

Result<Store::Pruned> SqlitePruner::stopped(Pruned pruned, PruneCursor resume, StoreError error) {
    if (pruned.deleted == 0) return fail<Pruned>(std::move(error));
    pruned.finished = false;
    pruned.resume = resume;
    pruned.error = std::move(error);
    return Result<Pruned>::success(std::move(pruned));
}

Status SqlitePruner::have(OptionalIndex& index) {
    std::lock_guard lock(write_mutex_);
    if (index.exists) return std::nullopt;
    if (!index.wanted)
        return StoreError{StoreError::Kind::Conflict, std::string(index.needed_by) + " needs the index " + index.name + " (" +
                                                          index.option + "): without it each prune would read the whole table"};
    if (auto e = writer_.exec(index.create_sql))
        return StoreError{e->kind, std::string("cannot build the index ") + index.name + ", which " + index.needed_by + " needs: " + e->message};
    index.exists = true;
    return std::nullopt;
}

Result<Store::Pruned> SqlitePruner::prune_inbox(const std::string& before, std::int64_t most_rows) {
    if (auto e = have(inbox_by_age_)) return fail<Pruned>(*e);
    // Every entry before the cutoff goes, the oldest first, through the index by age: a few
    // thousand per transaction, and a pause between them, as for the outbox.
    constexpr std::int64_t rows_per_transaction = 2000;
    Pruned pruned;
    for (std::int64_t looked_at = 0;;) {
        if (looked_at >= most_rows) {
            pruned.finished = false;
            return Result<Pruned>::success(pruned);
        }
        if (looked_at > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::lock_guard lock(write_mutex_);
        sqlite::Use remove(writer_.prepare("DELETE FROM inbox WHERE event_id IN "
                                    "(SELECT event_id FROM inbox WHERE received_at < ?1 ORDER BY received_at LIMIT ?2)"));
        const std::int64_t limit = std::min(rows_per_transaction, most_rows - looked_at);
        remove->bind(1, before).bind(2, limit);
        if (auto e = remove->run()) return stopped(pruned, {}, *e);
        const std::int64_t rows = writer_.changes();
        pruned.deleted += rows;
        looked_at += rows;
        if (rows < limit) return Result<Pruned>::success(pruned);
    }
}

Result<std::int64_t> SqlitePruner::first_row_made_at_or_after(const std::string& table, const std::string& time) {
    auto reader = readers_.lease();
    sqlite::Use s(reader->prepare("SELECT row, created_at FROM " + table + " WHERE row >= ? ORDER BY row LIMIT 1"));
    std::int64_t low = 0;  // every row below is made before `time`
    std::int64_t high = std::numeric_limits<std::int64_t>::max();  // the answer is at most this
    while (low < high) {
        const std::int64_t middle = low + (high - low) / 2;
        s->reset();
        s->bind(1, middle);
        const int code = s->step();
        if (code == SQLITE_DONE) {
            high = middle;  // no row from here on
        } else if (code != SQLITE_ROW) {
            return fail<std::int64_t>(s->error(code));
        } else if (s->text(1) >= time) {
            high = middle;  // the first row from `middle` on is new, and so are all after it
        } else {
            // That row is old, and so are all before it. The largest row number (only a hand
            // edit gives one) has no row after it: the search ends there.
            const std::int64_t row = s->integer(0);
            if (row == std::numeric_limits<std::int64_t>::max()) return Result<std::int64_t>::success(row);
            low = row + 1;
        }
    }
    return Result<std::int64_t>::success(low);
}

}  // namespace flow::store
