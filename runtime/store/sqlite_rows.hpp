#pragma once
// How the SQLite store's rows hold instances, their history and their commands, and how they
// are read back: shared by the store and its write transaction.
#include "runtime/store/sqlite.hpp"
#include "runtime/store/store.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace flow::store {

// Compact JSON text; text that is not UTF-8 is written with U+FFFD.
std::string json_text(const nlohmann::json& j);

// Variables and compensations are written so that they read back as they were: a whole `number`
// as `2.0`, not `2`, which would read back as an int (the instance cache holds them as written).
std::string compensations_text(const std::vector<engine::Command>& commands);
std::string vars_text(const std::vector<Value>& vars);

// The entries of one step share a history row: `kind` is "entries" and `detail` a JSON array
// of {"at", "kind", "detail"}. Rows of one entry keep the plain form (and schema version 1
// wrote only those), so reading handles both.
extern const char* const packed_history_kind;
std::string pack_history(const std::vector<HistoryEntry>& entries);
// Appends the entries of one history row to `out`: one for a plain row, those it packs for a
// packed one (none when its text is not a JSON list).
void unpack_history(std::string at, std::string kind, std::string detail, std::vector<HistoryEntry>& out);

// The instance in the statement's current row (its columns as `instance_columns` lists them,
// instance_list_sql.hpp), with its pending timers, read from `db`.
Result<StoredInstance> read_instance(sqlite::Statement& s, sqlite::Connection& db);
Result<std::optional<StoredInstance>> instance_by_id(sqlite::Connection& db, const std::string& id);
// The answer recorded in the inbox for an event id, if it was accepted.
Result<std::optional<std::string>> recorded_response(sqlite::Connection& db, const std::string& event_id);

// The outbox's columns that read_command reads, in its order.
extern const char* const command_columns;
OutboxCommand read_command(sqlite::Statement& s);

}  // namespace flow::store
