// The query of a page of GET /v1/instances, in a header of its own so that a test reads the plan
// of the very text the store prepares.
#pragma once

#include "runtime/store/store.hpp"

#include <string>

namespace flow::store {

// The columns every read of an instance takes, in the order the store reads them.
inline constexpr const char* instance_columns =
    "row, id, workflow, version, key, state, status, vars, compensations, error, uuid_counter, created_at, updated_at";

// Parameters in order: the row after which the page starts, then the workflow, the status, the
// state and the key (and its other form, when it has one), each when the filter has it, then the
// limit. No index holds the state (each event would write it): it only filters the rows the
// other filters' index, or the table's order, gives.
// With one form of the key, its index gives the rows in order; with two, they are sorted. A key has a few instances
// where a status may have millions: with a key, its index drives and the status only filters
// (`+status`), since SQLite, given parameters and no statistics, would rather walk the status's
// index, which needs no sort, through every instance of that status.
inline std::string instance_list_sql(const InstanceFilter& f) {
    std::string sql = std::string("SELECT ") + instance_columns + " FROM instances WHERE row > ?";
    if (!f.workflow.empty()) sql += " AND workflow = ?";
    if (!f.status.empty()) sql += f.key.empty() ? " AND status = ?" : " AND +status = ?";
    if (!f.state.empty()) sql += " AND state = ?";
    if (!f.key.empty()) sql += f.key_alternative.empty() ? " AND key = ?" : " AND key IN (?, ?)";
    sql += " ORDER BY row LIMIT ?";
    return sql;
}

}  // namespace flow::store
