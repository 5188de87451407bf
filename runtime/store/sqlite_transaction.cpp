#include "runtime/store/sqlite_transaction.hpp"

#include "runtime/store/instance_list_sql.hpp"
#include "runtime/store/outbox_order_sql.hpp"
#include "runtime/store/sqlite_rows.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <unordered_map>

namespace flow::store {

namespace {

using sqlite::Connection;
using sqlite::Use;
using nlohmann::json;

// A write transaction. It keeps the instance cache right by these rules:
// - an instance it writes leaves the cache at once, and its new state is staged;
// - its look-ups take from what it staged first, then from the cache, then read the database;
// - a commit puts what it staged into the cache; a rollback, of the whole or to a savepoint,
//   drops what it staged (the database then answers for those instances);
// - a timer dropped or postponed (their instance may be anywhere) clears the cache and the stage.
// So whatever the cache holds for an instance is what the database holds for it.
class SqliteTransaction : public Transaction {
public:
    SqliteTransaction(Connection& db, std::unique_lock<std::mutex> lock, CachedInstances& cached)
        : db_(db), lock_(std::move(lock)), cached_(cached) {}
    ~SqliteTransaction() override {
        if (open_) (void)db_.exec("ROLLBACK");
    }

    Status begin() {
        if (auto e = db_.exec("BEGIN IMMEDIATE")) return e;
        open_ = true;
        changes_at_begin_ = db_.total_changes();
        // Another connection (a second process, a repair by hand) wrote since the last look:
        // nothing cached can be trusted.
        // (One that cannot be read trusts nothing either, now or at the next look.)
        const std::optional<std::int64_t> version = db_.data_version();
        if (!version || *version != cached_.data_version) cached_.cache.clear();
        cached_.data_version = version.value_or(-1);
        return std::nullopt;
    }

    Result<std::optional<std::string>> recorded_event(const std::string& event_id) override {
        return recorded_response(db_, event_id);
    }

    Status record_event(const std::string& event_id, const std::string& type, const std::string& response,
                        const std::string& at) override {
        Use s(db_.prepare("INSERT INTO inbox (event_id, type, response, received_at) VALUES (?, ?, ?, ?)"));
        s->bind_kept(1, event_id).bind_kept(2, type).bind_kept(3, response).bind_kept(4, at);
        return s->run();
    }

    Result<WebhookReading> bind_webhook_message(const std::string& message_digest, const std::string& read_digest,
                                                const std::string& ids_digest, std::int64_t now_ms,
                                                std::int64_t forget_before_ms) override {
        // Each message is deleted once, by a later bind: a short seek on the index by age.
        Use forget(db_.prepare("DELETE FROM webhook_messages WHERE bound_ms < ?"));
        forget->bind(1, forget_before_ms);
        if (auto e = forget->run()) return fail<WebhookReading>(*e);
        // A new message is bound; the same one read the same way (valid for 5 minutes from its
        // timestamp) is kept from now on; read otherwise, nothing changes.
        Use bind(db_.prepare("INSERT INTO webhook_messages (message_digest, unsigned_digest, ids_digest, bound_ms) "
                             "VALUES (?, ?, ?, ?) ON CONFLICT (message_digest) DO UPDATE SET bound_ms = excluded.bound_ms "
                             "WHERE webhook_messages.unsigned_digest = excluded.unsigned_digest"));
        bind->bind_kept(1, message_digest).bind_kept(2, read_digest).bind_kept(3, ids_digest).bind(4, now_ms);
        if (auto e = bind->run()) return fail<WebhookReading>(*e);
        if (db_.changes() > 0) return Result<WebhookReading>::success(WebhookReading::Same);
        // Read otherwise: with the ids it was first read as carrying, or not. (A binding of
        // schema version 6 or before has no ids: Other.)
        Use first(db_.prepare("SELECT ids_digest FROM webhook_messages WHERE message_digest = ?"));
        first->bind_kept(1, message_digest);
        const int code = first->step();
        if (code != SQLITE_ROW) return fail<WebhookReading>(first->error(code));
        const bool same_ids = !ids_digest.empty() && first->text(0) == ids_digest;
        return Result<WebhookReading>::success(same_ids ? WebhookReading::SameIds : WebhookReading::Other);
    }

    Result<std::optional<StoredInstance>> running_instance(const std::string& workflow, const std::string& key_json) override {
        const std::string cache_key = InstanceCache::key_of(workflow, key_json);
        if (auto found = staged_.find(cache_key); found != staged_.end()) {
            std::optional<StoredInstance> out = std::move(found->second.instance);  // empty: the instance ended in this transaction
            staged_.erase(found);
            return Result<std::optional<StoredInstance>>::success(std::move(out));
        }
        if (auto cached = cached_.cache.take(cache_key)) return Result<std::optional<StoredInstance>>::success(std::move(cached));
        static const std::string sql =
            std::string("SELECT ") + instance_columns + " FROM instances WHERE workflow = ? AND key = ? AND status = 'running'";
        Use s(db_.prepare(sql));
        s->bind(1, workflow).bind(2, key_json);
        int code = s->step();
        if (code == SQLITE_DONE) return Result<std::optional<StoredInstance>>::success(std::nullopt);
        if (code != SQLITE_ROW) return fail<std::optional<StoredInstance>>(s->error(code));
        auto read = read_instance(*s, db_);
        if (!read.ok()) return fail<std::optional<StoredInstance>>(*read.error);
        return Result<std::optional<StoredInstance>>::success(std::move(*read.value));
    }

    Result<std::optional<StoredInstance>> instance(const std::string& id) override { return instance_by_id(db_, id); }

    Status save_instance(StoredInstance stored, InstanceChanges changes) override {
        const engine::Instance& i = stored.instance;
        const std::string key = json_text(i.key);
        const std::string cache_key = InstanceCache::key_of(stored.workflow, key);
        cached_.cache.erase(cache_key);
        staged_.erase(cache_key);
        std::size_t bytes = 0;
        if (auto e = write_instance(stored, key, changes, bytes)) return e;  // gives a new one its row
        if (changes.is_new) stored.created_at = stored.updated_at;
        if (i.status == engine::Status::Running) {
            stored.instance.workflow = -1;  // as a read from the database gives it: the caller resolves
            staged_.emplace(cache_key, Staged{std::move(stored), bytes});
        } else {
            staged_.emplace(cache_key, Staged{std::nullopt, 0});
        }
        return std::nullopt;
    }

    Status end_cancelled(const StoredInstance& stored, const std::string& updated_at) override {
        const std::string cache_key = InstanceCache::key_of(stored.workflow, json_text(stored.instance.key));
        cached_.cache.erase(cache_key);
        staged_.erase(cache_key);
        Use s(db_.prepare("UPDATE instances SET status = 'cancelled', updated_at = ? WHERE id = ? AND status = 'running'"));
        s->bind_kept(1, updated_at).bind_kept(2, stored.instance.id);
        if (auto e = s->run()) return e;
        Use clear(db_.prepare("DELETE FROM timers WHERE instance = ?"));
        clear->bind_kept(1, stored.instance.id);
        if (auto e = clear->run()) return e;
        staged_.emplace(cache_key, Staged{std::nullopt, 0});
        return std::nullopt;
    }

    Status add_command(const OutboxCommand& c) override {
        // Behind a pending command of its instance, it waits for it (and for those before it).
        Use s(db_.prepare(c.first_of_instance
                              ? "INSERT INTO outbox (id, instance, workflow, key, type, target, payload, status, attempts, "
                                "next_attempt_ms, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?8, ?9)"
                              : outbox_order_sql::add_command_behind_pending));
        s->bind_kept(1, c.id).bind_kept(2, c.instance).bind_kept(3, c.workflow).bind_kept(4, c.key).bind_kept(5, c.type);
        s->bind_kept(6, c.target).bind_kept(7, c.payload).bind(8, c.next_attempt_ms).bind_kept(9, c.created_at);
        return s->run();
    }

    Status drop_timer(const std::string& instance, std::uint64_t sequence) override {
        forget_instances();
        Use s(db_.prepare("DELETE FROM timers WHERE instance = ? AND sequence = ?"));
        s->bind(1, instance).bind(2, static_cast<std::int64_t>(sequence));
        return s->run();
    }

    Status postpone_timer(const std::string& instance, std::uint64_t sequence, std::int64_t due_ms) override {
        forget_instances();
        Use s(db_.prepare("UPDATE timers SET due_ms = ? WHERE instance = ? AND sequence = ?"));
        s->bind(1, due_ms).bind(2, instance).bind(3, static_cast<std::int64_t>(sequence));
        return s->run();
    }

    Status retry_dead(const std::string& id, std::int64_t now_ms) override {
        auto dead = dead_command(id);
        if (!dead.ok()) return dead.error;
        Use s(db_.prepare("UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_ms = ? WHERE row = ?"));
        s->bind(1, now_ms).bind(2, dead.value->row);
        return s->run();
    }

    Result<DeadRetried> retry_dead_commands(const std::string& target, std::int64_t after_row, int limit,
                                            std::int64_t now_ms) override {
        auto page = dead_rows(target, after_row, limit);
        if (!page.ok()) return fail<DeadRetried>(*page.error);
        for (const auto& [row, id] : page.value->rows) {
            Use s(db_.prepare("UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_ms = ? WHERE row = ?"));
            s->bind(1, now_ms).bind(2, row);
            if (auto e = s->run()) return fail<DeadRetried>(*e);
        }
        return Result<DeadRetried>::success({static_cast<int>(page.value->rows.size()), page.value->next_after_row});
    }

    Result<Expedited> expedite_pending(const std::string& target, int limit, std::int64_t now_ms) override {
        // Through the index of pending commands by due time, which stops once the page is full.
        Use find(db_.prepare("SELECT row FROM outbox WHERE status = 'pending' AND next_attempt_ms > ?1 AND next_attempt_ms < ?2 "
                             "AND target = ?3 ORDER BY next_attempt_ms, row LIMIT ?4"));
        find->bind(1, now_ms).bind(2, OutboxCommand::waits_for_earlier_command).bind(3, target).bind(4, std::int64_t{limit} + 1);
        std::vector<std::int64_t> rows;
        int code;
        while ((code = find->step()) == SQLITE_ROW) rows.push_back(find->integer(0));
        if (code != SQLITE_DONE) return fail<Expedited>(find->error(code));
        const bool more = rows.size() > static_cast<std::size_t>(limit);
        if (more) rows.resize(static_cast<std::size_t>(limit));
        for (std::int64_t row : rows) {
            Use s(db_.prepare("UPDATE outbox SET next_attempt_ms = ? WHERE row = ?"));
            s->bind(1, now_ms).bind(2, row);
            if (auto e = s->run()) return fail<Expedited>(*e);
        }
        return Result<Expedited>::success({static_cast<int>(rows.size()), more});
    }

    Result<DeadPage> dead_commands(const std::string& target, std::int64_t after_row, int limit) override {
        auto page = dead_rows(target, after_row, limit);
        if (!page.ok()) return fail<DeadPage>(*page.error);
        DeadPage out{{}, page.value->next_after_row};
        for (auto& [row, id] : page.value->rows) out.ids.push_back(std::move(id));
        return Result<DeadPage>::success(std::move(out));
    }

    // The rows and ids of a page of dead commands, through a partial index of them (by target
    // when one is named), in row order; one more row read than given tells whether any remain.
    struct DeadRows {
        std::vector<std::pair<std::int64_t, std::string>> rows;
        std::int64_t next_after_row = 0;
    };
    Result<DeadRows> dead_rows(const std::string& target, std::int64_t after_row, int limit) {
        DeadRows out;
        Use find(db_.prepare(target.empty()
                                 ? "SELECT row, id FROM outbox WHERE status = 'dead' AND row > ?1 ORDER BY row LIMIT ?2"
                                 : "SELECT row, id FROM outbox WHERE status = 'dead' AND row > ?1 AND target = ?3 ORDER BY row LIMIT ?2"));
        find->bind(1, after_row).bind(2, static_cast<std::int64_t>(limit) + 1);
        if (!target.empty()) find->bind(3, target);
        int code;
        while ((code = find->step()) == SQLITE_ROW) out.rows.emplace_back(find->integer(0), find->text(1));
        if (code != SQLITE_DONE) return fail<DeadRows>(find->error(code));
        if (out.rows.size() > static_cast<std::size_t>(limit)) {
            out.rows.pop_back();
            out.next_after_row = out.rows.back().first;
        }
        return Result<DeadRows>::success(std::move(out));
    }

    Result<OutboxCommand> delete_dead(const std::string& id, const std::string& at) override {
        auto dead = dead_command(id);
        if (!dead.ok()) return dead;
        OutboxCommand& command = *dead.value;
        {
            Use s(db_.prepare("DELETE FROM outbox WHERE row = ?"));
            s->bind(1, command.row);
            if (auto e = s->run()) return fail<OutboxCommand>(*e);
        }
        // The instance changed (its history will say what was deleted): an ended one is then
        // kept for instance_retention_hours from now, with that account of it.
        forget_instances();
        Use touch(db_.prepare("UPDATE instances SET updated_at = ? WHERE id = ?"));
        touch->bind(1, at).bind(2, command.instance);
        if (auto e = touch->run()) return fail<OutboxCommand>(*e);
        return dead;
    }

    // The command, when it is dead; NotFound, or Conflict naming its status.
    Result<OutboxCommand> dead_command(const std::string& id) {
        static const std::string sql = std::string("SELECT ") + command_columns + " FROM outbox WHERE id = ?";
        Use find(db_.prepare(sql));
        find->bind(1, id);
        int code = find->step();
        if (code == SQLITE_DONE) return Result<OutboxCommand>::failure({StoreError::Kind::NotFound, "no command '" + id + "'"});
        if (code != SQLITE_ROW) return fail<OutboxCommand>(find->error(code));
        OutboxCommand command = read_command(*find);
        if (command.status != "dead")
            return Result<OutboxCommand>::failure({StoreError::Kind::Conflict, "command '" + id + "' is " + command.status + ", not dead"});
        return Result<OutboxCommand>::success(std::move(command));
    }

    Status record_attempts(const std::vector<DeliveryAttempt>& attempts) override {
        std::vector<std::string> finished_instances;  // of the commands now delivered or dead
        std::int64_t finished_due_ms = std::numeric_limits<std::int64_t>::max();
        for (const DeliveryAttempt& a : attempts) {
            // A row the relay read is found by its row id, and checked against the id: one index
            // descent fewer than by the id alone.
            const bool by_row = a.row > 0;
            if (a.result == DeliveryAttempt::Result::Retry) {
                static const std::string mark_retry = "UPDATE outbox SET attempts = ?, next_attempt_ms = ?, last_error = ? WHERE id = ? AND status = 'pending'";
                static const std::string mark_retry_by_row = mark_retry + " AND row = ?";
                Use s(db_.prepare(by_row ? mark_retry_by_row : mark_retry));
                s->bind(1, a.attempts).bind(2, a.next_attempt_ms).bind(3, a.error).bind(4, a.id);
                if (by_row) s->bind(5, a.row);
                if (auto e = s->run()) return e;
                continue;
            }
            const bool delivered = a.result == DeliveryAttempt::Result::Delivered;
            if (a.instance.empty()) {  // not named by the caller: as the row has them, before it changes
                Use find(db_.prepare("SELECT instance, next_attempt_ms FROM outbox WHERE id = ? AND status = 'pending'"));
                find->bind(1, a.id);
                const int code = find->step();
                if (code == SQLITE_ROW) {
                    finished_instances.push_back(find->text(0));
                    finished_due_ms = std::min(finished_due_ms, find->integer(1));
                } else if (code != SQLITE_DONE) {
                    return find->error(code);
                }
            }
            static const std::string mark_delivered = "UPDATE outbox SET status = 'delivered', attempts = ?, delivered_at = ?, last_error = NULL "
                                                      "WHERE id = ? AND status = 'pending'";
            static const std::string mark_dead = "UPDATE outbox SET status = 'dead', attempts = ?, last_error = ? WHERE id = ? AND status = 'pending'";
            static const std::string mark_delivered_by_row = mark_delivered + " AND row = ?", mark_dead_by_row = mark_dead + " AND row = ?";
            Use s(db_.prepare(delivered ? (by_row ? mark_delivered_by_row : mark_delivered) : (by_row ? mark_dead_by_row : mark_dead)));
            s->bind(1, a.attempts).bind(2, delivered ? a.at : a.error).bind(3, a.id);
            if (by_row) s->bind(4, a.row);
            if (auto e = s->run()) return e;
            if (db_.changes() == 0 || a.instance.empty()) continue;  // no longer pending: nothing waits on it
            finished_instances.push_back(a.instance);
            finished_due_ms = std::min(finished_due_ms, a.due_ms);
        }
        return release_next_commands(finished_instances, finished_due_ms);
    }

    // The first pending command of each of `instances` (whose earlier command was just delivered
    // or dead), when it waits for an earlier one: due from `due_ms`, the earliest time one of the
    // finished commands was due when sent, so that it keeps about its place among its target's
    // commands. One that is due already (a dead command retried before the finished one was)
    // stands as it is. One statement for all of a batch's: measured with callgrind, this adds
    // about 5,300 instructions to a delivery's record, a statement per delivery 6,800, and an
    // UPDATE … RETURNING of the delivery itself (instead of a plain update) 33,000.
    Status release_next_commands(const std::vector<std::string>& instances, std::int64_t due_ms) {
        if (instances.empty()) return std::nullopt;
        const std::string listed = json_text(json(instances));
        Use s(db_.prepare(outbox_order_sql::release_next_commands));
        s->bind_kept(1, listed).bind(2, due_ms);
        return s->run();
    }

    Status add_history(const std::string& instance, const std::vector<HistoryEntry>& entries) override {
        if (entries.empty()) return std::nullopt;
        std::string packed;  // declared first: it outlives the statement's use, as bind_kept needs
        Use s(db_.prepare("INSERT INTO history (instance, at, kind, detail) VALUES (?, ?, ?, ?)"));
        s->bind_kept(1, instance).bind_kept(2, entries.front().at);
        if (entries.size() == 1) {
            s->bind_kept(3, entries.front().kind).bind_kept(4, entries.front().detail);
        } else {
            packed = pack_history(entries);
            s->bind(3, packed_history_kind).bind_kept(4, packed);
        }
        return s->run();
    }

    bool intact() const override { return open_ && db_.in_transaction(); }
    std::int64_t rows_written() const override { return db_.total_changes() - changes_at_begin_; }

    // Prepared once, like every other statement: parsing them per event showed in profiles.
    Status savepoint() override { return Use(db_.prepare("SAVEPOINT event"))->run(); }
    Status release_savepoint() override { return Use(db_.prepare("RELEASE event"))->run(); }
    Status rollback_to_savepoint() override {
        staged_.clear();  // some of it is undone; the database answers for all of it
        if (auto e = Use(db_.prepare("ROLLBACK TO event"))->run()) return e;
        return Use(db_.prepare("RELEASE event"))->run();
    }

    Status commit() override {
        Status e = db_.exec("COMMIT");
        if (e) (void)db_.exec("ROLLBACK");
        open_ = false;
        if (!e)
            for (auto& [cache_key, staged] : staged_)
                if (staged.instance) cached_.cache.put(cache_key, std::move(*staged.instance), staged.bytes);
        staged_.clear();
        return e;
    }

private:
    // A write whose instance is not at hand: nothing cached or staged is kept.
    void forget_instances() {
        cached_.cache.clear();
        staged_.clear();
    }

    // The instance's row and, when they changed, its pending timers. A new instance gets its row
    // id; `bytes` is the size of the text written for its key, variables and compensations.
    Status write_instance(StoredInstance& stored, const std::string& key, InstanceChanges changes, std::size_t& bytes) {
        const engine::Instance& i = stored.instance;
        std::string vars = vars_text(i.vars), compensations = compensations_text(i.compensations);
        bytes = key.size() + vars.size() + compensations.size();
        if (changes.is_new) {
            Use s(db_.prepare("INSERT INTO instances (id, workflow, version, key, state, status, vars, compensations, error, "
                              "uuid_counter, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
            s->bind_kept(1, i.id).bind_kept(2, stored.workflow).bind(3, i.version).bind_kept(4, key);
            if (stored.state.empty()) s->bind_null(5); else s->bind_kept(5, stored.state);
            s->bind(6, engine::status_name(i.status)).bind_kept(7, vars).bind_kept(8, compensations);
            if (i.error.empty()) s->bind_null(9); else s->bind_kept(9, i.error);
            s->bind(10, static_cast<std::int64_t>(i.uuid_counter)).bind_kept(11, stored.updated_at).bind_kept(12, stored.updated_at);
            if (auto e = s->run()) return e;
            stored.row = db_.last_insert_row();  // before the timers' inserts give theirs
        } else {
            // Two statements: one that leaves the status (and its two indexes) untouched, for
            // the steps that stay running.
            Use s(db_.prepare(changes.status_changed
                                  ? "UPDATE instances SET state = ?, vars = ?, compensations = ?, error = ?, uuid_counter = ?, "
                                    "updated_at = ?, status = ? WHERE id = ?"
                                  : "UPDATE instances SET state = ?, vars = ?, compensations = ?, error = ?, uuid_counter = ?, "
                                    "updated_at = ? WHERE id = ?"));
            if (stored.state.empty()) s->bind_null(1); else s->bind_kept(1, stored.state);
            s->bind_kept(2, vars).bind_kept(3, compensations);
            if (i.error.empty()) s->bind_null(4); else s->bind_kept(4, i.error);
            s->bind(5, static_cast<std::int64_t>(i.uuid_counter)).bind_kept(6, stored.updated_at);
            if (changes.status_changed) s->bind(7, engine::status_name(i.status)).bind_kept(8, i.id);
            else s->bind_kept(7, i.id);
            if (auto e = s->run()) return e;
            if (!changes.timers_changed) return std::nullopt;
            Use clear(db_.prepare("DELETE FROM timers WHERE instance = ?"));
            clear->bind(1, i.id);
            if (auto e = clear->run()) return e;
        }
        for (const engine::PendingTimer& t : i.timers) {
            Use s(db_.prepare("INSERT INTO timers (instance, state, timer, due_ms, sequence, chain, chain_latest_ms) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?)"));
            s->bind(1, i.id).bind(2, t.state).bind(3, t.timer).bind(4, t.due_ms).bind(5, static_cast<std::int64_t>(t.sequence));
            s->bind(6, static_cast<std::int64_t>(t.chain)).bind(7, t.chain_latest_ms);
            if (auto e = s->run()) return e;
        }
        return std::nullopt;
    }


    Connection& db_;
    std::unique_lock<std::mutex> lock_;
    CachedInstances& cached_;
    // What this transaction wrote of running instances, by cache key; empty where one ended.
    struct Staged {
        std::optional<StoredInstance> instance;
        std::size_t bytes = 0;  // of its stored text (InstanceCache::put)
    };
    std::unordered_map<std::string, Staged> staged_;
    bool open_ = false;
    std::int64_t changes_at_begin_ = 0;
};

}  // namespace

Result<std::unique_ptr<Transaction>> begin_write_transaction(Connection& db, std::unique_lock<std::mutex> lock, CachedInstances& cached) {
    auto tx = std::make_unique<SqliteTransaction>(db, std::move(lock), cached);
    if (auto e = tx->begin()) return fail<std::unique_ptr<Transaction>>(*e);
    return Result<std::unique_ptr<Transaction>>::success(std::move(tx));
}

}  // namespace flow::store
