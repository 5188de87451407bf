// The statements that keep an instance's commands in order in the outbox: a command added behind
// a pending one of its instance waits (its next attempt at `waits_for_earlier_command`) until
// that one is delivered or dead. In a header of their own, so that a test reads the plans of the
// very text the store prepares.
#pragma once

#include "runtime/store/store.hpp"

// OutboxCommand::waits_for_earlier_command as the statements spell it (the migration to version
// 9 writes it out, as migrations never change).
#define FLOW_WAITING_MS 9223372036854775807
#define FLOW_SQL_NUMBER(n) FLOW_SQL_TEXT(n)
#define FLOW_SQL_TEXT(n) #n
#define WAITING_MS_SQL FLOW_SQL_NUMBER(FLOW_WAITING_MS)

namespace flow::store::outbox_order_sql {

static_assert(OutboxCommand::waits_for_earlier_command == FLOW_WAITING_MS);

// Both look for an instance's pending commands through the partial index of those alone: given
// no statistics, SQLite would rather take the index of every command by instance where pruning
// ended instances has it made, and read the instance's delivered commands too, one table look-up
// each (28 ms per command added, for an instance with 100,000 delivered).

// ?1 id, ?2 instance, ?3 workflow, ?4 key, ?5 type, ?6 target, ?7 payload, ?8 next attempt,
// ?9 created at.
inline constexpr const char* add_command_behind_pending =
    "INSERT INTO outbox (id, instance, workflow, key, type, target, payload, status, attempts, next_attempt_ms, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, "
    "CASE WHEN EXISTS (SELECT 1 FROM outbox INDEXED BY outbox_pending_by_instance WHERE instance = ?2 AND status = 'pending') "
    "THEN " WAITING_MS_SQL " ELSE ?8 END, ?9)";

// ?1 a JSON list of instances whose command was delivered or died, ?2 the next one's due time.
inline constexpr const char* release_next_commands =
    "UPDATE outbox SET next_attempt_ms = ?2 WHERE next_attempt_ms = " WAITING_MS_SQL " AND row IN "
    "(SELECT (SELECT min(row) FROM outbox INDEXED BY outbox_pending_by_instance WHERE status = 'pending' AND instance = j.value) "
    "FROM json_each(?1) j)";

}  // namespace flow::store::outbox_order_sql
