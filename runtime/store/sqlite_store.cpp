#include "runtime/store/sqlite_store.hpp"

#include "runtime/engine/json_writer.hpp"
#include "runtime/store/connection_pool.hpp"
#include "runtime/store/database_lock.hpp"
#include "runtime/store/instance_cache.hpp"
#include "runtime/store/instance_list_sql.hpp"
#include "runtime/store/outbox_order_sql.hpp"
#include "runtime/store/sqlite.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iterator>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

namespace flow::store {

namespace {

using sqlite::DatabaseLock;
using sqlite::Connection;
using sqlite::Use;
using nlohmann::json;

// Each migration takes the schema from version i to i + 1; applied in order at open.
// `migration_rebuilding_tables` is the one that rebuilds tables others refer to.
const char* const migrations[] = {
    R"sql(
    CREATE TABLE workflows (
        name TEXT NOT NULL, version INTEGER NOT NULL, hash TEXT NOT NULL, ir TEXT NOT NULL,
        sources TEXT NOT NULL, deployed_at TEXT NOT NULL, PRIMARY KEY (name, version));
    CREATE TABLE instances (
        row INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
        workflow TEXT NOT NULL, version INTEGER NOT NULL, key TEXT NOT NULL, state TEXT,
        status TEXT NOT NULL, vars TEXT NOT NULL, compensations TEXT NOT NULL, error TEXT,
        uuid_counter INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        FOREIGN KEY (workflow, version) REFERENCES workflows (name, version));
    CREATE UNIQUE INDEX instances_running ON instances (workflow, key) WHERE status = 'running';
    CREATE INDEX instances_by_status ON instances (status, row);
    CREATE INDEX instances_by_workflow ON instances (workflow, row);
    CREATE INDEX instances_by_key ON instances (key, row);
    CREATE TABLE inbox (
        event_id TEXT PRIMARY KEY, type TEXT NOT NULL, response TEXT NOT NULL, received_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
        row INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
        instance TEXT NOT NULL REFERENCES instances (id), workflow TEXT NOT NULL, key TEXT NOT NULL,
        type TEXT NOT NULL, target TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL, last_error TEXT,
        created_at TEXT NOT NULL, delivered_at TEXT);
    CREATE INDEX outbox_by_status ON outbox (status, next_attempt_ms);
    CREATE INDEX outbox_by_instance ON outbox (instance, status, row);
    CREATE TABLE timers (
        instance TEXT NOT NULL REFERENCES instances (id), state INTEGER NOT NULL, timer INTEGER NOT NULL,
        due_ms INTEGER NOT NULL, sequence INTEGER NOT NULL, PRIMARY KEY (instance, sequence));
    CREATE INDEX timers_due ON timers (due_ms, sequence);
    CREATE TABLE history (
        row INTEGER PRIMARY KEY AUTOINCREMENT, instance TEXT NOT NULL, at TEXT NOT NULL,
        kind TEXT NOT NULL, detail TEXT NOT NULL);
    CREATE INDEX history_by_instance ON history (instance, row);
    )sql",
    // Version 2: a leaner write per event, with fewer index entries to write:
    // - no AUTOINCREMENT (a row id is the largest so far plus one without a read and write of
    //   sqlite_sequence per insert; rows are deleted only once old: delivered commands, and
    //   ended instances with their history, so ids still only grow while any newer row is kept);
    // - no index on instances by workflow (a filter on it reads instances in order);
    // - the outbox indexes hold only the pending and the dead commands: delivering a command
    //   removes its entries instead of moving them, and delivered ones cost no index space.
    // The three tables are rebuilt (copied), as SQLite cannot change a column's definition.
    R"sql(
    CREATE TABLE instances_v2 (
        row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
        workflow TEXT NOT NULL, version INTEGER NOT NULL, key TEXT NOT NULL, state TEXT,
        status TEXT NOT NULL, vars TEXT NOT NULL, compensations TEXT NOT NULL, error TEXT,
        uuid_counter INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        FOREIGN KEY (workflow, version) REFERENCES workflows (name, version));
    INSERT INTO instances_v2 SELECT row, id, workflow, version, key, state, status, vars, compensations, error,
        uuid_counter, created_at, updated_at FROM instances;
    DROP TABLE instances;
    ALTER TABLE instances_v2 RENAME TO instances;
    CREATE UNIQUE INDEX instances_running ON instances (workflow, key) WHERE status = 'running';
    CREATE INDEX instances_by_status ON instances (status, row);
    CREATE INDEX instances_by_key ON instances (key, row);

    CREATE TABLE outbox_v2 (
        row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
        instance TEXT NOT NULL REFERENCES instances (id), workflow TEXT NOT NULL, key TEXT NOT NULL,
        type TEXT NOT NULL, target TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL, last_error TEXT,
        created_at TEXT NOT NULL, delivered_at TEXT);
    INSERT INTO outbox_v2 SELECT row, id, instance, workflow, key, type, target, payload, status, attempts,
        next_attempt_ms, last_error, created_at, delivered_at FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v2 RENAME TO outbox;
    CREATE INDEX outbox_pending ON outbox (next_attempt_ms, row) WHERE status = 'pending';
    CREATE INDEX outbox_pending_by_instance ON outbox (instance, row) WHERE status = 'pending';
    CREATE INDEX outbox_dead ON outbox (row) WHERE status = 'dead';

    CREATE TABLE history_v2 (
        row INTEGER PRIMARY KEY, instance TEXT NOT NULL, at TEXT NOT NULL,
        kind TEXT NOT NULL, detail TEXT NOT NULL);
    INSERT INTO history_v2 SELECT row, instance, at, kind, detail FROM history;
    DROP TABLE history;
    ALTER TABLE history_v2 RENAME TO history;
    CREATE INDEX history_by_instance ON history (instance, row);
    )sql",
    // Version 3: a pending timer keeps its place in a chain of timers that fire one after
    // another without time moving on (engine::PendingTimer::chain), so that a timer loop is
    // stopped across transactions and restarts. Timers written before start no chain.
    R"sql(
    ALTER TABLE timers ADD COLUMN chain INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE timers ADD COLUMN chain_latest_ms INTEGER NOT NULL DEFAULT 0;
    )sql",
    // Version 4: the ids of signed event messages, each bound to a digest of the headers its
    // signature does not cover, kept while a replay could still pass the timestamp check.
    R"sql(
    CREATE TABLE webhook_messages (
      webhook_id TEXT PRIMARY KEY, unsigned_digest TEXT NOT NULL, bound_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX webhook_messages_by_age ON webhook_messages (bound_ms);
    )sql",
    // Version 5: a signed message is known by a digest of its id and body, not by its id alone:
    // a sender that reuses an id for another body is not refused, while every signed copy of a
    // message (a retry signed later included) shares one binding. The bindings of version 4
    // cannot be carried over (their bodies are not kept); they lasted 15 minutes.
    R"sql(
    DROP TABLE webhook_messages;
    CREATE TABLE webhook_messages (
      message_digest TEXT PRIMARY KEY, unsigned_digest TEXT NOT NULL, bound_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX webhook_messages_by_age ON webhook_messages (bound_ms);
    )sql",
    // Version 6: the pending commands indexed by target first, so that the relay reads each
    // target's due commands on their own, and a target's backlog never stands in front of
    // another target's commands.
    R"sql(
    DROP INDEX outbox_pending;
    CREATE INDEX outbox_pending_by_target ON outbox (target, next_attempt_ms, row) WHERE status = 'pending';
    )sql",
    // Version 7: a signed message's binding also keeps a digest of the event ids it was first
    // read as carrying, so that a copy read otherwise but under those ids is told apart (a
    // repeated id, answered as a duplicate) from one under other ids (a replay, refused).
    R"sql(
    ALTER TABLE webhook_messages ADD COLUMN ids_digest TEXT NOT NULL DEFAULT '';
    )sql",
    // Version 8: the dead commands indexed by target too, so that retrying a target's dead
    // commands reads only theirs, however many other targets' are dead.
    R"sql(
    CREATE INDEX outbox_dead_by_target ON outbox (target, row) WHERE status = 'dead';
    )sql",
    // Version 9: a pending command behind an earlier pending command of its instance waits
    // (OutboxCommand::waits_for_earlier_command) until that one is delivered or dead, where the
    // relay used to read past it at every look for the commands it may send: a long queue of one
    // instance made each look read the whole queue.
    R"sql(
    UPDATE outbox SET next_attempt_ms = 9223372036854775807 WHERE status = 'pending' AND EXISTS
        (SELECT 1 FROM outbox p WHERE p.instance = outbox.instance AND p.status = 'pending' AND p.row < outbox.row);
    )sql",
};
constexpr std::int64_t migration_rebuilding_tables = 1;  // to version 2: instances, outbox and history

// An index only a setting needs, and every insert into its table pays for: not in the schema's
// versions, but built at open while the setting is on and dropped while it is off. One that a
// full disk kept from being built at open is built by the first prune that needs it and finds
// room (a full disk must not stop the start, and pruning is what frees room).
struct OptionalIndex {
    const char* name;
    const char* create_sql;
    const char* needed_by;
    const char* option;
    bool wanted = false;
    bool exists = false;
};

// Every command by its instance, which deleting an ended instance with its delivered commands
// needs: without it, each deletion reads the whole outbox, once for the commands and once more
// for the foreign key. It costs about 6 % of the writer's events per second (docs/performance.md,
// run 30).
OptionalIndex commands_by_instance_index() {
    return {"outbox_by_instance", "CREATE INDEX IF NOT EXISTS outbox_by_instance ON outbox (instance)",
            "pruning ended instances", "SqliteOptions::commands_by_instance"};
}

// The inbox by the time each event was accepted, which pruning the inbox needs (without it each
// prune reads the whole inbox).
OptionalIndex inbox_by_age_index() {
    return {"inbox_by_age", "CREATE INDEX IF NOT EXISTS inbox_by_age ON inbox (received_at)", "pruning the inbox",
            "SqliteOptions::inbox_by_age"};
}

// The targets with a pending command, each found through the index (a loose index scan): as
// many look-ups as targets, however many commands wait.
constexpr const char* pending_targets_sql =
    "WITH RECURSIVE t(target) AS (SELECT (SELECT min(target) FROM outbox WHERE status = 'pending') UNION ALL "
    "SELECT (SELECT min(target) FROM outbox WHERE status = 'pending' AND target > t.target) FROM t WHERE t.target IS NOT NULL) "
    "SELECT target FROM t WHERE target IS NOT NULL";

constexpr auto replace = json::error_handler_t::replace;
std::string dump(const json& j) { return j.dump(-1, ' ', false, replace); }

template <typename T>
Result<T> fail(StoreError e) {
    return Result<T>::failure(std::move(e));
}

constexpr auto compact = engine::JsonWriter::Layout::Compact;

// Variables and compensations are written so that they read back as they were: a whole `number`
// as `2.0`, not `2`, which would read back as an int (the instance cache holds them as written).
std::string compensations_text(const std::vector<engine::Command>& commands) {
    std::string out;
    engine::JsonWriter w(out, compact);
    w.marking_whole_numbers().begin_list();
    for (const engine::Command& c : commands)
        w.item().open().key("type").string(c.type).key("target").string(c.target).key("data").value(c.data).close();
    w.end_list();
    return out;
}

std::string vars_text(const std::vector<Value>& vars) {
    std::string out;
    engine::JsonWriter w(out, compact);
    w.marking_whole_numbers().begin_list();
    for (const Value& v : vars) w.item().value(v);
    w.end_list();
    return out;
}

std::vector<engine::Command> compensations_from_json(const std::string& text) {
    std::vector<engine::Command> out;
    json list = json::parse(text, nullptr, false);
    if (!list.is_array()) return out;
    for (const json& c : list) out.push_back({-1, c.value("type", ""), c.value("target", ""), c.value("data", json())});
    return out;
}

// The entries of one step share a history row: `kind` is "entries" and `detail` a JSON array
// of {"at", "kind", "detail"}. Rows of one entry keep the plain form (and schema version 1
// wrote only those), so reading handles both.
const char* const packed_history_kind = "entries";

std::string pack_history(const std::vector<HistoryEntry>& entries) {
    std::string out;
    engine::JsonWriter w(out, compact);
    w.begin_list();
    for (const HistoryEntry& e : entries)
        w.item().open().key("at").string(e.at).key("kind").string(e.kind).key("detail").raw(e.detail.empty() ? "{}" : e.detail).close();
    w.end_list();
    return out;
}

void unpack_history(std::string at, std::string kind, std::string detail, std::vector<HistoryEntry>& out) {
    if (kind != packed_history_kind) {
        out.push_back({std::move(at), std::move(kind), std::move(detail)});
        return;
    }
    json list = json::parse(detail, nullptr, false);
    if (!list.is_array()) return;
    for (const json& e : list)
        out.push_back({e.value("at", at), e.value("kind", ""), e.contains("detail") ? dump(e["detail"]) : "{}"});
}

engine::Status status_from(const std::string& s) {
    if (s == "completed") return engine::Status::Completed;
    if (s == "failed") return engine::Status::Failed;
    if (s == "cancelled") return engine::Status::Cancelled;
    return engine::Status::Running;
}

Result<StoredInstance> read_instance(sqlite::Statement& s, Connection& db) {
    StoredInstance out;
    out.row = s.integer(0);
    engine::Instance& i = out.instance;
    i.id = s.text(1);
    out.workflow = s.text(2);
    i.version = static_cast<int>(s.integer(3));
    i.key = json::parse(s.text(4), nullptr, false);
    out.state = s.text(5);
    i.status = status_from(s.text(6));
    json vars = json::parse(s.text(7), nullptr, false);
    if (vars.is_array()) i.vars.assign(vars.begin(), vars.end());
    i.compensations = compensations_from_json(s.text(8));
    i.error = s.text(9);
    i.uuid_counter = static_cast<std::uint64_t>(s.integer(10));
    out.created_at = s.text(11);
    out.updated_at = s.text(12);
    Use timers(db.prepare("SELECT state, timer, due_ms, sequence, chain, chain_latest_ms FROM timers WHERE instance = ? "
                          "ORDER BY sequence"));
    timers->bind(1, i.id);
    int code;
    while ((code = timers->step()) == SQLITE_ROW)
        i.timers.push_back({static_cast<int>(timers->integer(0)), static_cast<int>(timers->integer(1)), timers->integer(2),
                            static_cast<std::uint64_t>(timers->integer(3)), static_cast<std::uint32_t>(timers->integer(4)),
                            timers->integer(5)});
    if (code != SQLITE_DONE) return fail<StoredInstance>(timers->error(code));  // not an instance with fewer timers
    return Result<StoredInstance>::success(std::move(out));
}

Result<std::optional<StoredInstance>> instance_by_id(Connection& db, const std::string& id) {
    static const std::string sql = std::string("SELECT ") + instance_columns + " FROM instances WHERE id = ?";
    Use s(db.prepare(sql));
    s->bind(1, id);
    int code = s->step();
    if (code == SQLITE_DONE) return Result<std::optional<StoredInstance>>::success(std::nullopt);
    if (code != SQLITE_ROW) return fail<std::optional<StoredInstance>>(s->error(code));
    auto read = read_instance(*s, db);
    if (!read.ok()) return fail<std::optional<StoredInstance>>(*read.error);
    return Result<std::optional<StoredInstance>>::success(std::move(*read.value));
}

Result<std::optional<std::string>> recorded_response(Connection& db, const std::string& event_id) {
    Use s(db.prepare("SELECT response FROM inbox WHERE event_id = ?"));
    s->bind(1, event_id);
    int code = s->step();
    if (code == SQLITE_DONE) return Result<std::optional<std::string>>::success(std::nullopt);
    if (code != SQLITE_ROW) return fail<std::optional<std::string>>(s->error(code));
    return Result<std::optional<std::string>>::success(s->text(0));
}

OutboxCommand read_command(sqlite::Statement& s) {
    OutboxCommand c;
    c.row = s.integer(0);
    c.id = s.text(1);
    c.instance = s.text(2);
    c.workflow = s.text(3);
    c.key = s.text(4);
    c.type = s.text(5);
    c.target = s.text(6);
    c.payload = s.text(7);
    c.status = s.text(8);
    c.attempts = static_cast<int>(s.integer(9));
    c.next_attempt_ms = s.integer(10);
    c.last_error = s.text(11);
    c.created_at = s.text(12);
    return c;
}

const char* command_columns =
    "row, id, instance, workflow, key, type, target, payload, status, attempts, next_attempt_ms, last_error, created_at";

// The running instances the writer read or wrote last, and what tells whether another
// connection wrote since (SQLite's data version moves only with other connections' commits).
struct CachedInstances {
    explicit CachedInstances(std::size_t capacity) : cache(capacity) {}
    InstanceCache cache;
    std::int64_t data_version = -1;
};

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
        const std::string key = dump(i.key);
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
        const std::string cache_key = InstanceCache::key_of(stored.workflow, dump(stored.instance.key));
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
        const std::string listed = dump(json(instances));
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

// An instance that ended before a prune's cutoff.
struct PruneCandidate {
    std::int64_t row;
    std::string id;
};

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

    // Within deploy_all's transaction.
    Status deploy_one(const Definition& d) {
        Use find(writer_->prepare("SELECT hash FROM workflows WHERE name = ? AND version = ?"));
        find->bind(1, d.workflow).bind(2, d.version);
        int code = find->step();
        if (code == SQLITE_ROW) {
            if (find->text(0) == d.hash) return std::nullopt;
            return StoreError{StoreError::Kind::Conflict,
                              "workflow '" + d.workflow + "' version " + std::to_string(d.version) +
                                  " changed since it was deployed (hash " + find->text(0) + ", now " + d.hash +
                                  "): give the changed workflow a new 'version'"};
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
        auto tx = std::make_unique<SqliteTransaction>(*writer_, std::unique_lock(write_mutex_), cached_);
        if (auto e = tx->begin()) return fail<std::unique_ptr<Transaction>>(*e);
        return Result<std::unique_ptr<Transaction>>::success(std::move(tx));
    }

    Result<std::vector<StoredInstance>> instances(const InstanceFilter& f) override {
        auto reader = readers_.lease();
        Use s(reader->prepare(instance_list_sql(f)));
        int index = 1;
        s->bind(index++, f.after_row);
        if (!f.workflow.empty()) s->bind(index++, f.workflow);
        if (!f.status.empty()) s->bind(index++, f.status);
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
            skipped = rows == skip.end() ? std::string("[]") : dump(json(rows->second));
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
            Use batch(writer_->prepare("SELECT count(*), max(row) FROM (SELECT row FROM outbox WHERE row > ?1 AND row < ?2 "
                                       "ORDER BY row LIMIT ?3)"));
            const std::int64_t limit = std::min(rows_per_transaction, most_rows - looked_at);
            batch->bind(1, after_row).bind(2, *boundary.value).bind(3, limit);
            const int code = batch->step();
            if (code != SQLITE_ROW) return stopped(pruned, {0, after_row}, batch->error(code));
            const std::int64_t rows = batch->integer(0);
            if (rows == 0) return Result<Pruned>::success(pruned);
            const std::int64_t last_row = batch->integer(1);
            Use remove(writer_->prepare("DELETE FROM outbox WHERE row > ?1 AND row <= ?2 AND status = 'delivered' AND delivered_at < ?3"));
            remove->bind(1, after_row).bind(2, last_row).bind(3, before);
            if (auto e = remove->run()) return stopped(pruned, {0, after_row}, *e);
            pruned.deleted += writer_->changes();
            after_row = last_row;
            looked_at += rows;
            if (rows < limit) return Result<Pruned>::success(pruned);
        }
    }

    Result<Pruned> prune_ended_instances(const std::string& before, std::int64_t most_rows, PruneCursor from) override {
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
                Use read(reader->prepare("SELECT row, id, updated_at < ?4 FROM instances WHERE status = ?1 AND row > ?2 AND row < ?3 "
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
                next = done.value->first;
                pruned.deleted += done.value->second;
            }
            if (rows < limit) at = {at.part + 1, 0};
            else at.after_row = last_row;
        }
        return Result<Pruned>::success(pruned);
    }

    // Deletes, in one transaction, candidates from `next` on that still ended before `before` and
    // have no command waiting (pending) or given up (dead), with their delivered commands, timers
    // and history, until all
    // are looked at or the transaction has held the writer for `transaction_budget`: where the
    // next transaction goes on, and how many it deleted. Shorter transactions barely shorten
    // the writer's waits (mostly the commit's sync) and cost each instance twice as much
    // (docs/performance.md, run 30).
    static constexpr std::chrono::microseconds transaction_budget{2000};
    Result<std::pair<std::size_t, std::int64_t>> delete_instances(const std::vector<PruneCandidate>& candidates, std::size_t next,
                                                                  const std::string& before) {
        using Done = std::pair<std::size_t, std::int64_t>;
        std::lock_guard lock(write_mutex_);
        const auto deadline = std::chrono::steady_clock::now() + transaction_budget;
        if (auto e = writer_->exec("BEGIN IMMEDIATE")) return fail<Done>(*e);
        struct RollBackUnlessCommitted {
            Connection& db;
            bool committed = false;
            ~RollBackUnlessCommitted() {
                if (!committed) (void)db.exec("ROLLBACK");
            }
        } transaction{*writer_};
        std::int64_t deleted = 0;
        for (; next < candidates.size() && (deleted == 0 || std::chrono::steady_clock::now() < deadline); ++next) {
            const PruneCandidate& candidate = candidates[next];
            // Changed since it was read (a dead command of it deleted): kept, as it now ended later.
            Use still_old(writer_->prepare("SELECT 1 FROM instances WHERE row = ? AND updated_at < ? AND status IN "
                                           "('cancelled', 'completed', 'failed')"));
            still_old->bind(1, candidate.row).bind(2, before);
            const int old_code = still_old->step();
            if (old_code == SQLITE_DONE) continue;
            if (old_code != SQLITE_ROW) return fail<Done>(still_old->error(old_code));
            Use undelivered(writer_->prepare("SELECT 1 FROM outbox WHERE instance = ? AND status <> 'delivered' LIMIT 1"));
            undelivered->bind(1, candidate.id);
            const int code = undelivered->step();
            if (code == SQLITE_ROW) continue;
            if (code != SQLITE_DONE) return fail<Done>(undelivered->error(code));
            for (const char* sql : {"DELETE FROM outbox WHERE instance = ?", "DELETE FROM timers WHERE instance = ?",
                                    "DELETE FROM history WHERE instance = ?"}) {
                Use remove(writer_->prepare(sql));
                remove->bind(1, candidate.id);
                if (auto e = remove->run()) return fail<Done>(*e);
            }
            Use remove(writer_->prepare("DELETE FROM instances WHERE row = ?"));
            remove->bind(1, candidate.row);
            if (auto e = remove->run()) return fail<Done>(*e);
            ++deleted;
        }
        if (auto e = writer_->exec("COMMIT")) return fail<Done>(*e);
        transaction.committed = true;
        return Result<Done>::success({next, deleted});
    }

    // A prune stopped by `error`: a failure when it has deleted nothing yet, otherwise what it
    // deleted (committed, to be counted), with the error, and where to go on.
    static Result<Pruned> stopped(Pruned pruned, PruneCursor resume, StoreError error) {
        if (pruned.deleted == 0) return fail<Pruned>(std::move(error));
        pruned.finished = false;
        pruned.resume = resume;
        pruned.error = std::move(error);
        return Result<Pruned>::success(std::move(pruned));
    }

    // An optional index a prune needs: built now if it was wanted at open and could not be built
    // then.
    Status have(OptionalIndex& index) {
        std::lock_guard lock(write_mutex_);
        if (index.exists) return std::nullopt;
        if (!index.wanted)
            return StoreError{StoreError::Kind::Conflict, std::string(index.needed_by) + " needs the index " + index.name + " (" +
                                                              index.option + "): without it each prune would read the whole table"};
        if (auto e = writer_->exec(index.create_sql))
            return StoreError{e->kind, std::string("cannot build the index ") + index.name + ", which " + index.needed_by + " needs: " + e->message};
        index.exists = true;
        return std::nullopt;
    }

    Result<Pruned> prune_inbox(const std::string& before, std::int64_t most_rows) override {
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
            Use remove(writer_->prepare("DELETE FROM inbox WHERE event_id IN "
                                        "(SELECT event_id FROM inbox WHERE received_at < ?1 ORDER BY received_at LIMIT ?2)"));
            const std::int64_t limit = std::min(rows_per_transaction, most_rows - looked_at);
            remove->bind(1, before).bind(2, limit);
            if (auto e = remove->run()) return stopped(pruned, {}, *e);
            const std::int64_t rows = writer_->changes();
            pruned.deleted += rows;
            looked_at += rows;
            if (rows < limit) return Result<Pruned>::success(pruned);
        }
    }

    // The lowest row of `table` (the outbox or the instances) made at or after `time`, or past
    // the last row: a bisection over the row ids, one look-up of the primary key per step.
    Result<std::int64_t> first_row_made_at_or_after(const std::string& table, const std::string& time) {
        auto reader = readers_.lease();
        Use s(reader->prepare("SELECT row, created_at FROM " + table + " WHERE row >= ? ORDER BY row LIMIT 1"));
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
                low = s->integer(0) + 1;  // that row is old, and so are all before it
            }
        }
        return Result<std::int64_t>::success(low);
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
        return next_due(*background_reader_, "SELECT min(due_ms) FROM timers");
    }

    Result<std::uint64_t> max_timer_sequence() override {
        auto r = next_due(*readers_.lease(), "SELECT max(sequence) FROM timers");
        if (!r.ok()) return fail<std::uint64_t>(*r.error);
        return Result<std::uint64_t>::success(r.value->value_or(0) < 0 ? 0 : static_cast<std::uint64_t>(r.value->value_or(0)));
    }

    bool healthy() override {
        auto reader = readers_.lease();
        Use s(reader->prepare("SELECT 1"));
        return s->step() == SQLITE_ROW;
    }

    // At open: builds or drops the optional indexes, as the options want them.
    Status open_optional_indexes(const SqliteOptions& options) {
        if (auto e = open_optional_index(commands_by_instance_, options.commands_by_instance)) return e;
        return open_optional_index(inbox_by_age_, options.inbox_by_age);
    }

    Status open_optional_index(OptionalIndex& index, bool wanted) {
        std::lock_guard lock(write_mutex_);
        index.wanted = wanted;
        if (!wanted) {
            if (auto e = writer_->exec(std::string("DROP INDEX IF EXISTS ") + index.name)) return e;
            index.exists = false;
            return std::nullopt;
        }
        index.exists = !writer_->exec(index.create_sql);
        return std::nullopt;
    }

    Status migrate() {
        std::lock_guard lock(write_mutex_);
        if (auto e = writer_->exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")) return e;
        std::int64_t version = 0;
        {
            Use s(writer_->prepare("SELECT max(version) FROM schema_version"));
            if (s->step() == SQLITE_ROW && !s->is_null(0)) version = s->integer(0);
        }
        const std::int64_t latest = static_cast<std::int64_t>(std::size(migrations));
        if (version > latest)
            return StoreError{StoreError::Kind::Corrupt, "the database has schema version " + std::to_string(version) +
                                                             ", newer than this flowd (" + std::to_string(latest) + ")"};
        if (version == latest) return std::nullopt;
        // A migration may rebuild a table that others refer to: SQLite's way is to turn foreign
        // keys off (outside any transaction), rebuild, and check them all before the commit.
        if (auto e = writer_->exec("PRAGMA foreign_keys = OFF")) return e;
        Status failed;
        for (std::int64_t v = version; v < latest && !failed; ++v) failed = apply_migration(v);
        if (auto e = writer_->exec("PRAGMA foreign_keys = ON"); e && !failed) failed = e;
        return failed;
    }

private:
    // Takes the schema from version `v` to `v + 1` in one transaction: all of it or none. Only
    // a migration that rebuilds tables others refer to checks the references: the check reads
    // every row that has one (every command kept), which the others, that add a column, an
    // index or a table, or change no reference, would pay for nothing, and a reference broken
    // by hand would stop every later upgrade.
    Status apply_migration(std::int64_t v) {
        if (auto e = writer_->exec("BEGIN IMMEDIATE")) return e;
        Status e = writer_->exec(migrations[v]);
        if (!e && v == migration_rebuilding_tables) e = foreign_keys_hold();
        if (!e) e = writer_->exec("INSERT INTO schema_version (version) VALUES (" + std::to_string(v + 1) + ")");
        if (!e) e = writer_->exec("COMMIT");
        if (e) (void)writer_->exec("ROLLBACK");
        return e;
    }

    Status foreign_keys_hold() {
        Use check(writer_->prepare("PRAGMA foreign_key_check"));
        int code = check->step();
        if (code == SQLITE_ROW)
            return StoreError{StoreError::Kind::Corrupt, "a row of table '" + check->text(0) + "' refers to a missing row of '" +
                                                             check->text(2) + "'"};
        if (code != SQLITE_DONE) return check->error(code);
        return std::nullopt;
    }

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
};

}  // namespace

int sqlite_schema_version() { return static_cast<int>(std::size(migrations)); }

Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& options) {
    auto writer = Connection::open(options.path, options.synchronous, false);
    if (!writer.ok()) return Result<std::unique_ptr<Store>>::failure(*writer.error);
    // Before anything is read or written: another flowd may hold the file.
    auto lock = DatabaseLock::take((*writer.value)->file_name());
    if (!lock.ok()) return Result<std::unique_ptr<Store>>::failure(*lock.error);
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
