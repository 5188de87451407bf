#include "runtime/store/sqlite_schema.hpp"

#include "runtime/store/sqlite_store.hpp"

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

namespace flow::store {

namespace {

// Each migration takes the schema from version i to i + 1; applied in order at open, each in its
// own transaction. Their count is the schema version this build writes (sqlite_schema_version()).
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

Status foreign_keys_hold(sqlite::Connection& writer) {
    sqlite::Use check(writer.prepare("PRAGMA foreign_key_check"));
    int code = check->step();
    if (code == SQLITE_ROW)
        return StoreError{StoreError::Kind::Corrupt, "a row of table '" + check->text(0) + "' refers to a missing row of '" +
                                                         check->text(2) + "'"};
    if (code != SQLITE_DONE) return check->error(code);
    return std::nullopt;
}

// The migration that rebuilds tables others refer to: the foreign keys are checked after it.
constexpr std::int64_t migration_rebuilding_tables = 1;  // to version 2: instances, outbox and history

// Takes the schema from version `v` to `v + 1` in one transaction: all of it or none. Only
// a migration that rebuilds tables others refer to checks the references: the check reads
// every row that has one (every command kept), which the others, that add a column, an
// index or a table, or change no reference, would pay for nothing, and a reference broken
// by hand would stop every later upgrade.
Status apply_migration(sqlite::Connection& writer, std::int64_t v) {
    if (auto e = writer.exec("BEGIN IMMEDIATE")) return e;
    Status e = writer.exec(migrations[v]);
    if (!e && v == migration_rebuilding_tables) e = foreign_keys_hold(writer);
    if (!e) e = writer.exec("INSERT INTO schema_version (version) VALUES (" + std::to_string(v + 1) + ")");
    if (!e) e = writer.exec("COMMIT");
    if (e) (void)writer.exec("ROLLBACK");
    return e;
}

}  // namespace

int sqlite_schema_version() { return static_cast<int>(std::size(migrations)); }

OptionalIndex commands_by_instance_index() {
    return {"outbox_by_instance", "CREATE INDEX IF NOT EXISTS outbox_by_instance ON outbox (instance)",
            "pruning ended instances", "SqliteOptions::commands_by_instance"};
}

OptionalIndex inbox_by_age_index() {
    return {"inbox_by_age", "CREATE INDEX IF NOT EXISTS inbox_by_age ON inbox (received_at)", "pruning the inbox",
            "SqliteOptions::inbox_by_age"};
}

Status refuse_foreign_tables(sqlite::Connection& writer) {
    // The first column of every row the query gives.
    const auto column = [&](const char* sql, int index, std::vector<std::string>& out) -> Status {
        sqlite::Use s(writer.prepare(sql));
        int code;
        while ((code = s->step()) == SQLITE_ROW) out.push_back(s->text(index));
        return code == SQLITE_DONE ? Status() : s->error(code);
    };
    std::vector<std::string> tables;
    if (auto e = column("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name", 0,
                        tables))
        return e;
    if (tables.empty()) return std::nullopt;  // a new database
    const auto has = [&](const char* name) { return std::find(tables.begin(), tables.end(), name) != tables.end(); };
    const auto foreign = [](const std::string& which) {
        return StoreError{StoreError::Kind::Corrupt,
                          "the database holds tables of another program (" + which + ") and none of flowd's: give flowd a database of its own"};
    };
    if (!has("schema_version")) return foreign("'" + tables.front() + "'");
    // flowd's table of versions has the one column, and from version 1 on its tables stand beside
    // it: any of them will do, so that a damaged database of flowd's (a table dropped by hand) is
    // refused for what it lacks, later, not taken for another program's.
    std::vector<std::string> columns;
    if (auto e = column("PRAGMA table_info(schema_version)", 1, columns)) return e;
    if (columns != std::vector<std::string>{"version"}) return foreign("a 'schema_version' that is not flowd's");
    std::vector<std::string> version;
    if (auto e = column("SELECT coalesce(max(version), 0) FROM schema_version", 0, version)) return e;
    if (version != std::vector<std::string>{"0"} &&
        !(has("workflows") || has("instances") || has("inbox") || has("outbox") || has("timers") || has("history")))
        return foreign("a 'schema_version' without flowd's tables");
    return std::nullopt;
}

Status migrate(sqlite::Connection& writer) {
    if (auto e = writer.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")) return e;
    std::int64_t version = 0;
    {
        sqlite::Use s(writer.prepare("SELECT max(version) FROM schema_version"));
        const int code = s->step();
        if (code != SQLITE_ROW) return s->error(code);  // not read: no migration from a version guessed
        if (!s->is_null(0)) version = s->integer(0);
    }
    const std::int64_t latest = static_cast<std::int64_t>(std::size(migrations));
    if (version > latest)
        return StoreError{StoreError::Kind::Corrupt, "the database has schema version " + std::to_string(version) +
                                                         ", newer than this flowd (" + std::to_string(latest) + ")"};
    if (version == latest) return std::nullopt;
    // A migration may rebuild a table that others refer to: SQLite's way is to turn foreign
    // keys off (outside any transaction), rebuild, and check them all before the commit.
    if (auto e = writer.exec("PRAGMA foreign_keys = OFF")) return e;
    Status failed;
    for (std::int64_t v = version; v < latest && !failed; ++v) failed = apply_migration(writer, v);
    if (auto e = writer.exec("PRAGMA foreign_keys = ON"); e && !failed) failed = e;
    return failed;
}

Status open_optional_index(sqlite::Connection& writer, OptionalIndex& index, bool wanted) {
    index.wanted = wanted;
    if (!wanted) {
        if (auto e = writer.exec(std::string("DROP INDEX IF EXISTS ") + index.name)) return e;
        index.exists = false;
        return std::nullopt;
    }
    index.exists = !writer.exec(index.create_sql);
    return std::nullopt;
}

}  // namespace flow::store
