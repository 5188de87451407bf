#pragma once
// The SQLite store's schema: its versions, each reached by one migration applied at open, and the
// indexes only a setting needs.
#include "runtime/store/sqlite.hpp"
#include "runtime/store/store.hpp"

#include <cstdint>

namespace flow::store {

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
OptionalIndex commands_by_instance_index();
// The inbox by the time each event was accepted, which pruning the inbox needs (without it each
// prune reads the whole inbox).
OptionalIndex inbox_by_age_index();

// Refuses (Corrupt) a database with tables but none of flowd's: another program's, to which flowd
// would add its own tables, or fail half-way on a name they share. Read before anything is
// written to the file, its journal mode included.
Status refuse_foreign_tables(sqlite::Connection& writer);

// On the writer connection, which the caller holds. Brings the schema to this build's version,
// each migration in a transaction of its own: a failure leaves the database at the last version
// reached. A database of a newer version is refused (Corrupt), and so is a migration that
// leaves a reference to a missing row.
Status migrate(sqlite::Connection& writer);

// At open: builds the index when it is wanted (a failure, such as a full disk, leaves it to the
// first prune that needs it: `exists` false), drops it when it is not.
Status open_optional_index(sqlite::Connection& writer, OptionalIndex& index, bool wanted);

}  // namespace flow::store
