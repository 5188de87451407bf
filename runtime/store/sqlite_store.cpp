// The SQLite Store: its connections (one writer, a pool of readers for the API, one reader for
// the relay and the timers), deployment, the reads, and opening the database. The write
// transaction, the rows' forms, the schema with its migrations, and pruning are in the
// sqlite_*.cpp beside it.
#include "runtime/store/sqlite_store.hpp"

#include "runtime/store/connection_pool.hpp"
#include "runtime/store/database_lock.hpp"
#include "runtime/store/instance_list_sql.hpp"
#include "runtime/store/outbox_order_sql.hpp"
#include "runtime/store/sqlite.hpp"
#include "runtime/store/sqlite_pruner.hpp"
#include "runtime/store/sqlite_rows.hpp"
#include "runtime/store/sqlite_schema.hpp"
#include "runtime/store/sqlite_transaction.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>

namespace flow::store {

namespace {

using sqlite::DatabaseLock;
using sqlite::Connection;
using sqlite::Use;
using nlohmann::json;

// The targets with a pending command, each found through the index (a loose index scan): as
// many look-ups as targets, however many commands wait.
constexpr const char* pending_targets_sql =
    "WITH RECURSIVE t(target) AS (SELECT (SELECT min(target) FROM outbox WHERE status = 'pending') UNION ALL "
    "SELECT (SELECT min(target) FROM outbox WHERE status = 'pending' AND target > t.target) FROM t WHERE t.target IS NOT NULL) "
    "SELECT target FROM t WHERE target IS NOT NULL";

class SqliteStore : public Store {
public:
    SqliteStore(DatabaseLock database_lock, std::unique_ptr<Connection> writer, std::vector<std::unique_ptr<Connection>> readers,
                std::unique_ptr<Connection> background_reader, bool profile, std::size_t instance_cache)
        : database_lock_(std::move(database_lock)), writer_(std::move(writer)), readers_(std::move(readers)), background_reader_(std::move(background_reader)),
          profile_(profile), cached_(instance_cache) {
        if (profile_) writer_->profile_statements();
    }
    ~SqliteStore() override {
        if (profile_) std::fputs(("statements of the writer connection:\n" + writer_->statement_profile()).c_str(), stderr);
    }

    Status deploy_all(const std::vector<Definition>& definitions) override {
        // A version changed under its number is refused whether or not the database can be
        // written now: finding it takes a read, which another process's write lock does not
        // hold up, so a start that would wait for the lock is refused at once.
        if (auto changed = changed_version(*readers_.lease(), definitions)) return changed;
        std::lock_guard lock(write_mutex_);
        if (auto e = writer_->exec("BEGIN IMMEDIATE")) return e;
        Status failed;
        for (const Definition& d : definitions) {
            if ((failed = deploy_one(d))) break;
        }
        if (!failed) failed = writer_->exec("COMMIT");
        if (failed) (void)writer_->exec("ROLLBACK");
        return failed;
    }

    static StoreError changed_since_deployed(const Definition& d, const std::string& stored_hash) {
        return StoreError{StoreError::Kind::Conflict, "workflow '" + d.workflow + "' version " + std::to_string(d.version) +
                                                          " changed since it was deployed (hash " + stored_hash + ", now " +
                                                          d.hash + "): give the changed workflow a new 'version'"};
    }

    // The first definition stored under its name and version with another hash, read on
    // `reader`. A read that fails finds none: the write that follows reports the trouble.
    static Status changed_version(Connection& reader, const std::vector<Definition>& definitions) {
        for (const Definition& d : definitions) {
            Use find(reader.prepare("SELECT hash FROM workflows WHERE name = ? AND version = ?"));
            find->bind(1, d.workflow).bind(2, d.version);
            if (find->step() == SQLITE_ROW && find->text(0) != d.hash) return changed_since_deployed(d, find->text(0));
        }
        return std::nullopt;
    }

    // Within deploy_all's transaction.
    Status deploy_one(const Definition& d) {
        Use find(writer_->prepare("SELECT hash FROM workflows WHERE name = ? AND version = ?"));
        find->bind(1, d.workflow).bind(2, d.version);
        int code = find->step();
        if (code == SQLITE_ROW) {
            if (find->text(0) == d.hash) return std::nullopt;
            return changed_since_deployed(d, find->text(0));
        }
        if (code != SQLITE_DONE) return find->error(code);
        Use insert(writer_->prepare("INSERT INTO workflows (name, version, hash, ir, sources, deployed_at) VALUES (?, ?, ?, ?, ?, ?)"));
        insert->bind(1, d.workflow).bind(2, d.version).bind(3, d.hash).bind(4, d.ir).bind(5, d.sources).bind(6, d.deployed_at);
        return insert->run();
    }

    Result<std::vector<Definition>> definitions() override {
        auto reader = readers_.lease();
        Use s(reader->prepare("SELECT name, version, hash, ir, sources, deployed_at FROM workflows ORDER BY name, version"));
        std::vector<Definition> out;
        int code;
        while ((code = s->step()) == SQLITE_ROW)
            out.push_back({s->text(0), static_cast<int>(s->integer(1)), s->text(2), s->text(3), s->text(4), s->text(5)});
        if (code != SQLITE_DONE) return fail<std::vector<Definition>>(s->error(code));
        return Result<std::vector<Definition>>::success(std::move(out));
    }

    Result<std::unique_ptr<Transaction>> begin() override {
        return begin_write_transaction(*writer_, std::unique_lock(write_mutex_), cached_);
    }

    Result<std::vector<StoredInstance>> instances(const InstanceFilter& f) override {
        auto reader = readers_.lease();
        Use s(reader->prepare(instance_list_sql(f)));
        int index = 1;
        s->bind(index++, f.after_row);
        if (!f.workflow.empty()) s->bind(index++, f.workflow);
        if (!f.status.empty()) s->bind(index++, f.status);
        if (!f.state.empty()) s->bind(index++, f.state);
        if (!f.key.empty()) {
            s->bind(index++, f.key);
            if (!f.key_alternative.empty()) s->bind(index++, f.key_alternative);
        }
        s->bind(index, f.limit);
        std::vector<StoredInstance> out;
        int code;
        while ((code = s->step()) == SQLITE_ROW) {
            auto read = read_instance(*s, *reader);
            if (!read.ok()) return fail<std::vector<StoredInstance>>(*read.error);
            out.push_back(std::move(*read.value));
        }
        if (code != SQLITE_DONE) return fail<std::vector<StoredInstance>>(s->error(code));
        return Result<std::vector<StoredInstance>>::success(std::move(out));
    }

    Result<std::optional<StoredInstance>> instance(const std::string& id) override {
        auto reader = readers_.lease();
        return instance_by_id(*reader, id);
    }

    Result<std::optional<std::string>> recorded_event(const std::string& event_id) override {
        auto reader = readers_.lease();
        return recorded_response(*reader, event_id);
    }

    Result<std::optional<InboxRecord>> inbox_record(const std::string& event_id) override {
        auto reader = readers_.lease();
        Use s(reader->prepare("SELECT type, response, received_at FROM inbox WHERE event_id = ?"));
        s->bind(1, event_id);
        const int code = s->step();
        if (code == SQLITE_DONE) return Result<std::optional<InboxRecord>>::success(std::nullopt);
        if (code != SQLITE_ROW) return fail<std::optional<InboxRecord>>(s->error(code));
        return Result<std::optional<InboxRecord>>::success(InboxRecord{s->text(0), s->text(1), s->text(2)});
    }

    // A read transaction on the API's reader, ended when it goes out of scope: its reads all see
    // the same commit (WAL keeps it while the writer goes on).
    struct ReadTransaction {
        Connection& db;
        ~ReadTransaction() {
            if (db.exec("COMMIT")) (void)db.exec("ROLLBACK");  // never left open: later reads would see this moment
        }
    };

    Result<std::optional<InstanceDetail>> instance_detail(const std::string& id) override {
        using Found = std::optional<InstanceDetail>;
        std::optional<InstanceDetail> detail;
        std::vector<HistoryEntry> rows;  // as stored: a step's entries packed in one
        {
            auto reader = readers_.lease();
            if (auto e = reader->exec("BEGIN")) return fail<Found>(*e);
            ReadTransaction read{*reader};
            auto found = instance_by_id(*reader, id);
            if (!found.ok()) return fail<Found>(*found.error);
            if (!*found.value) return Result<Found>::success(std::nullopt);
            detail.emplace(InstanceDetail{std::move(**found.value), {}});
            Use s(reader->prepare("SELECT at, kind, detail FROM history WHERE instance = ? ORDER BY row"));
            s->bind(1, id);
            int code;
            while ((code = s->step()) == SQLITE_ROW) rows.push_back({s->text(0), s->text(1), s->text(2)});
            if (code != SQLITE_DONE) return fail<Found>(s->error(code));
        }
        // Unpacked once the reader is free: a long history would hold up the API's other reads.
        for (HistoryEntry& row : rows) unpack_history(std::move(row.at), std::move(row.kind), std::move(row.detail), detail->history);
        return Result<Found>::success(std::move(detail));
    }

    Result<std::optional<HistoryPage>> history(const std::string& instance, std::optional<HistoryPosition> after,
                                               int limit) override {
        using Found = std::optional<HistoryPage>;
        auto reader = readers_.lease();
        if (auto e = reader->exec("BEGIN")) return fail<Found>(*e);
        ReadTransaction read{*reader};
        {
            Use known(reader->prepare("SELECT 1 FROM instances WHERE id = ?"));
            known->bind(1, instance);
            int code = known->step();
            if (code == SQLITE_DONE) return Result<Found>::success(std::nullopt);
            if (code != SQLITE_ROW) return fail<Found>(known->error(code));
        }
        HistoryPage page;
        page.last = after;
        // From the row of the entry `after` on: the rest of its entries, then the rows after it.
        Use s(reader->prepare("SELECT row, at, kind, detail FROM history WHERE instance = ? AND row >= ? ORDER BY row"));
        s->bind(1, instance).bind(2, after ? after->row : 0);
        std::vector<HistoryEntry> row_entries;
        int code;
        bool after_found = !after;  // (trivially, without one)
        while ((code = s->step()) == SQLITE_ROW) {
            const std::int64_t row = s->integer(0);
            row_entries.clear();
            unpack_history(s->text(1), s->text(2), s->text(3), row_entries);
            std::size_t first = 0;
            if (!after_found) {
                // The entry `after` must be one of this instance's: a place made up, or taken from
                // another instance's pages, would skip entries without a word.
                if (row != after->row || static_cast<std::uint64_t>(after->index) >= row_entries.size()) break;
                after_found = true;
                first = static_cast<std::size_t>(after->index) + 1;
            }
            for (std::size_t i = first; i < row_entries.size() && !page.more; ++i) {
                if (page.entries.size() == static_cast<std::size_t>(limit)) page.more = true;  // full, and more follow
                else {
                    page.entries.push_back(std::move(row_entries[i]));
                    page.last = HistoryPosition{row, static_cast<std::int64_t>(i)};
                }
            }
            if (page.more) break;
        }
        if (code != SQLITE_ROW && code != SQLITE_DONE) return fail<Found>(s->error(code));
        page.after_unknown = !after_found;
        return Result<Found>::success(std::move(page));
    }

    Result<std::optional<CommandDetail>> command(const std::string& id) override {
        using Found = std::optional<CommandDetail>;
        auto reader = readers_.lease();
        static const std::string sql = std::string("SELECT ") + command_columns + ", delivered_at FROM outbox WHERE id = ?";
        Use s(reader->prepare(sql));
        s->bind(1, id);
        int code = s->step();
        if (code == SQLITE_DONE) return Result<Found>::success(std::nullopt);
        if (code != SQLITE_ROW) return fail<Found>(s->error(code));
        CommandDetail detail{read_command(*s), s->text(13)};
        return Result<Found>::success(std::move(detail));
    }

    Result<std::vector<OutboxCommand>> outbox(const std::string& status, int limit, std::int64_t after_row,
                                              const std::string& target) override {
        auto reader = readers_.lease();
        // The status is written into the statement when it is one of the three, so that
        // SQLite sees that a partial index (pending or dead commands only) answers it; with a
        // target, the dead are read from outbox_dead_by_target in row order, the pending from
        // outbox_pending_by_target (then sorted), the delivered by a walk in row order.
        std::string sql = std::string("SELECT ") + command_columns + " FROM outbox";
        const bool known = status == "pending" || status == "delivered" || status == "dead";
        sql += " WHERE row > ?";
        if (known) sql += " AND status = '" + status + "'";
        else if (!status.empty()) sql += " AND status = ?";
        if (!target.empty()) sql += " AND target = ?";
        sql += " ORDER BY row LIMIT ?";
        Use s(reader->prepare(sql));
        int index = 1;
        s->bind(index++, after_row);
        if (!known && !status.empty()) s->bind(index++, status);
        if (!target.empty()) s->bind(index++, target);
        s->bind(index, limit);
        return read_commands(*s);
    }

    InstanceCacheCounts instance_cache_counts() const override { return cached_.cache.counts(); }

    Result<std::vector<std::pair<std::string, std::int64_t>>> counts() override {
        auto reader = readers_.lease();
        Use s(reader->prepare(
            "SELECT 'instances_' || status, count(*) FROM instances GROUP BY status "
            "UNION ALL SELECT 'outbox_pending', count(*) FROM outbox WHERE status = 'pending' "
            "UNION ALL SELECT 'outbox_dead', count(*) FROM outbox WHERE status = 'dead' "
            "UNION ALL SELECT 'outbox', count(*) FROM outbox "
            "UNION ALL SELECT 'timers_pending', count(*) FROM timers"));
        std::vector<std::pair<std::string, std::int64_t>> out;
        int code;
        // The pending and the dead are counted from their own indexes; the delivered are the rest.
        std::int64_t outbox_others = 0, outbox_all = 0;
        while ((code = s->step()) == SQLITE_ROW) {
            std::string name = s->text(0);
            if (name == "outbox") {
                outbox_all = s->integer(1);
                continue;
            }
            if (name == "outbox_pending" || name == "outbox_dead") outbox_others += s->integer(1);
            out.emplace_back(std::move(name), s->integer(1));
        }
        if (code != SQLITE_DONE) return fail<std::vector<std::pair<std::string, std::int64_t>>>(s->error(code));
        out.emplace_back("outbox_delivered", outbox_all - outbox_others);
        return Result<std::vector<std::pair<std::string, std::int64_t>>>::success(std::move(out));
    }

    Result<std::vector<OutboxCommand>> deliverable(std::int64_t now_ms, const std::function<int(const std::string&)>& limit,
                                                   const RowsByTarget& skip) override {
        std::lock_guard lock(background_mutex_);
        std::vector<std::string> targets;
        {
            Use list(background_reader_->prepare(pending_targets_sql));
            int code;
            while ((code = list->step()) == SQLITE_ROW) targets.push_back(list->text(0));
            if (code != SQLITE_DONE) return fail<std::vector<OutboxCommand>>(list->error(code));
        }
        // The oldest pending command of each instance, when no earlier command of the same
        // instance is still pending (delivered or dead ones do not hold it back), whatever its
        // target. A target's rows to skip come as one JSON array, so that one prepared
        // statement serves any number; they are checked against the index, before any row of
        // the table is read.
        std::string skipped;  // declared first: it outlives the statement's use, as bind_kept needs
        Use s(background_reader_->prepare(std::string("SELECT ") + command_columns +
                               " FROM outbox o WHERE status = 'pending' AND target = ? AND next_attempt_ms <= ? "
                               "AND row NOT IN (SELECT value FROM json_each(?)) AND NOT EXISTS "
                               "(SELECT 1 FROM outbox p WHERE p.instance = o.instance AND p.status = 'pending' AND p.row < o.row) "
                               "ORDER BY next_attempt_ms, row LIMIT ?"));
        std::vector<OutboxCommand> out;
        for (const std::string& target : targets) {
            const int most = limit(target);
            if (most <= 0) continue;
            auto rows = skip.find(target);
            skipped = rows == skip.end() ? std::string("[]") : json_text(json(rows->second));
            s->bind(1, target).bind(2, now_ms).bind_kept(3, skipped).bind(4, most);
            auto commands = read_commands(*s);
            s->reset();
            if (!commands.ok()) return commands;
            std::move(commands.value->begin(), commands.value->end(), std::back_inserter(out));
        }
        return Result<std::vector<OutboxCommand>>::success(std::move(out));
    }

    Result<std::optional<std::int64_t>> next_command_due(std::int64_t after_ms) override {
        // Target by target through the index, as the relay reads them.
        std::lock_guard lock(background_mutex_);
        return next_due(*background_reader_, std::string("WITH pending AS (") + pending_targets_sql +
                            ") SELECT min((SELECT min(next_attempt_ms) FROM outbox WHERE status = 'pending' "
                            "AND target = pending.target AND next_attempt_ms > ?1 AND next_attempt_ms < " WAITING_MS_SQL ")) "
                            "FROM pending",
                        after_ms);
    }

    Result<Pruned> prune_delivered(const std::string& before, std::int64_t most_rows, PruneCursor from) override {
        return pruner_.prune_delivered(before, most_rows, from);
    }
    Result<Pruned> prune_ended_instances(const std::string& before, std::int64_t most_rows, PruneCursor from) override {
        return pruner_.prune_ended_instances(before, most_rows, from);
    }
    Result<Pruned> prune_inbox(const std::string& before, std::int64_t most_rows) override {
        return pruner_.prune_inbox(before, most_rows);
    }

    Result<std::vector<DueTimer>> due_timers(std::int64_t now_ms, int limit) override {
        std::lock_guard lock(background_mutex_);
        Use s(background_reader_->prepare("SELECT instance, state, timer, due_ms, sequence FROM timers WHERE due_ms <= ? "
                               "ORDER BY due_ms, sequence LIMIT ?"));
        s->bind(1, now_ms).bind(2, limit);
        std::vector<DueTimer> out;
        int code;
        while ((code = s->step()) == SQLITE_ROW)
            out.push_back({s->text(0), {static_cast<int>(s->integer(1)), static_cast<int>(s->integer(2)), s->integer(3),
                                        static_cast<std::uint64_t>(s->integer(4))}});
        if (code != SQLITE_DONE) return fail<std::vector<DueTimer>>(s->error(code));
        return Result<std::vector<DueTimer>>::success(std::move(out));
    }

    Result<std::optional<std::int64_t>> next_timer_due() override {
        std::lock_guard lock(background_mutex_);
        // The first in the index by due time; a due time that is no number (a hand edit, which
        // the read of the due timers never finds) is passed over, so that it names no time.
        return next_due(*background_reader_,
                        "SELECT (SELECT due_ms FROM timers WHERE typeof(due_ms) = 'integer' ORDER BY due_ms LIMIT 1)");
    }

    Result<std::uint64_t> max_timer_sequence() override {
        auto r = next_due(*readers_.lease(), "SELECT max(sequence) FROM timers");
        if (!r.ok()) return fail<std::uint64_t>(*r.error);
        return Result<std::uint64_t>::success(r.value->value_or(0) < 0 ? 0 : static_cast<std::uint64_t>(r.value->value_or(0)));
    }

    // A read of the database itself (`SELECT 1` would answer without touching it): a read
    // transaction, and a row of the schema's own table.
    bool healthy() override {
        auto reader = readers_.lease();
        Use s(reader->prepare("SELECT max(version) FROM schema_version"));
        return s->step() == SQLITE_ROW;
    }

    // At open: builds or drops the optional indexes, as the options want them.
    Status open_optional_indexes(const SqliteOptions& options) {
        std::lock_guard lock(write_mutex_);
        if (auto e = open_optional_index(*writer_, commands_by_instance_, options.commands_by_instance)) return e;
        return open_optional_index(*writer_, inbox_by_age_, options.inbox_by_age);
    }

    // At open: brings the schema to this build's version.
    Status migrate() {
        std::lock_guard lock(write_mutex_);
        return store::migrate(*writer_);
    }

private:
    // On `reader`, which the caller holds.
    Result<std::optional<std::int64_t>> next_due(Connection& reader, const std::string& sql,
                                                 std::optional<std::int64_t> parameter = std::nullopt) {
        Use s(reader.prepare(sql));
        if (parameter) s->bind(1, *parameter);
        int code = s->step();
        if (code != SQLITE_ROW) return fail<std::optional<std::int64_t>>(s->error(code));
        if (s->is_null(0)) return Result<std::optional<std::int64_t>>::success(std::nullopt);
        return Result<std::optional<std::int64_t>>::success(s->integer(0));
    }

    Result<std::vector<OutboxCommand>> read_commands(sqlite::Statement& s) {
        std::vector<OutboxCommand> out;
        int code;
        while ((code = s.step()) == SQLITE_ROW) out.push_back(read_command(s));
        if (code != SQLITE_DONE) return fail<std::vector<OutboxCommand>>(s.error(code));
        return Result<std::vector<OutboxCommand>>::success(std::move(out));
    }

    // One flowd per database. First, so that it is released after every connection closes
    // (database_lock.hpp).
    DatabaseLock database_lock_;
    // The writer connection: transactions, relay updates, deployment. `write_mutex_` guards
    // it; a Transaction holds it from begin to commit.
    std::unique_ptr<Connection> writer_;
    std::mutex write_mutex_;
    // The API's reader connections (WAL lets them read while a write is open), each lent to one
    // read at a time: a long read holds up the API's other reads no longer than it takes a
    // connection to come free.
    sqlite::ConnectionPool readers_;
    // The relay's and the timer loop's reader, guarded by `background_mutex_`: a long read of the
    // API (an instance with a long history, a count of a large outbox for /metrics) holds up no
    // delivery and no timer.
    std::unique_ptr<Connection> background_reader_;
    std::mutex background_mutex_;
    bool profile_ = false;
    OptionalIndex commands_by_instance_ = commands_by_instance_index();  // guarded by `write_mutex_`
    OptionalIndex inbox_by_age_ = inbox_by_age_index();
    CachedInstances cached_;  // the writer connection's, guarded by `write_mutex_` like it
    SqlitePruner pruner_{*writer_, write_mutex_, readers_, commands_by_instance_, inbox_by_age_};
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& options) {
    auto writer = Connection::open(options.path, options.synchronous, false, false);
    if (!writer.ok()) return Result<std::unique_ptr<Store>>::failure(*writer.error);
    // Before anything is read or written: another flowd may hold the file.
    auto lock = DatabaseLock::take((*writer.value)->file_name());
    if (!lock.ok()) return Result<std::unique_ptr<Store>>::failure(*lock.error);
    if (auto e = refuse_foreign_tables(**writer.value)) return Result<std::unique_ptr<Store>>::failure(*e);
    if (auto e = (*writer.value)->exec("PRAGMA journal_mode = WAL")) return Result<std::unique_ptr<Store>>::failure(*e);
    std::vector<std::unique_ptr<Connection>> readers;
    for (int i = 0; i < std::max(options.readers, 1); ++i) {
        auto reader = Connection::open(options.path, options.synchronous, false);
        if (!reader.ok()) return Result<std::unique_ptr<Store>>::failure(*reader.error);
        // A quarter of the writer's page cache each: the pages they share the operating system keeps.
        if (auto e = (*reader.value)->exec("PRAGMA cache_size = -16384")) return Result<std::unique_ptr<Store>>::failure(*e);
        readers.push_back(std::move(*reader.value));
    }
    auto background_reader = Connection::open(options.path, options.synchronous, false);
    if (!background_reader.ok()) return Result<std::unique_ptr<Store>>::failure(*background_reader.error);
    if (options.max_megabytes > 0) {
        // Past the limit a write fails with SQLITE_FULL, as on a full disk: 503, nothing committed.
        std::int64_t pages = 0;
        {
            Use s((*writer.value)->prepare("PRAGMA page_size"));
            if (s->step() == SQLITE_ROW) pages = options.max_megabytes * 1048576 / std::max<std::int64_t>(s->integer(0), 512);
        }
        if (auto e = (*writer.value)->exec("PRAGMA max_page_count = " + std::to_string(pages)))
            return Result<std::unique_ptr<Store>>::failure(*e);
    }
    auto store = std::make_unique<SqliteStore>(std::move(*lock.value), std::move(*writer.value), std::move(readers), std::move(*background_reader.value),
                                               options.profile_statements, options.instance_cache);
    if (auto e = store->migrate()) return Result<std::unique_ptr<Store>>::failure(*e);
    if (auto e = store->open_optional_indexes(options)) return Result<std::unique_ptr<Store>>::failure(*e);
    return Result<std::unique_ptr<Store>>::success(std::move(store));
}

}  // namespace flow::store
