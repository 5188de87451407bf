#include "runtime/store/sqlite_rows.hpp"

#include "runtime/engine/json_reader.hpp"
#include "runtime/engine/json_writer.hpp"
#include "runtime/store/instance_list_sql.hpp"

#include <algorithm>
#include <limits>

namespace flow::store {

using sqlite::Connection;
using sqlite::Use;
using nlohmann::json;

std::string json_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

namespace {

constexpr auto compact = engine::JsonWriter::Layout::Compact;

// The compensations as compensations_text wrote them; none from text that is not a JSON list.
std::vector<engine::Command> compensations_from_json(const std::string& text) {
    std::vector<engine::Command> out;
    json list = engine::read_stored_json(text);
    if (!list.is_array()) return out;
    for (const json& c : list) out.push_back({-1, c.value("type", ""), c.value("target", ""), c.value("data", json())});
    return out;
}

// An instance's status from its column; a text of no other status is `running`.
engine::Status status_from(const std::string& s) {
    if (s == "completed") return engine::Status::Completed;
    if (s == "failed") return engine::Status::Failed;
    if (s == "cancelled") return engine::Status::Cancelled;
    return engine::Status::Running;
}

}  // namespace

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
    json list = engine::read_stored_json(detail);
    if (!list.is_array()) return;
    for (const json& e : list)
        out.push_back({e.value("at", at), e.value("kind", ""), e.contains("detail") ? json_text(e["detail"]) : "{}"});
}

Result<StoredInstance> read_instance(sqlite::Statement& s, Connection& db) {
    StoredInstance out;
    out.row = s.integer(0);
    engine::Instance& i = out.instance;
    i.id = s.text(1);
    out.workflow = s.text(2);
    i.version = static_cast<int>(s.integer(3));
    i.key = engine::read_stored_json(s.text(4));
    out.state = s.text(5);
    i.status = status_from(s.text(6));
    json vars = engine::read_stored_json(s.text(7));
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
    // Held to what an int counts, with a margin for the next attempt: flowd counts from 0, and
    // only a hand edit stores what lies outside.
    c.attempts = static_cast<int>(std::clamp<std::int64_t>(s.integer(9), 0, std::numeric_limits<int>::max() - 1));
    c.next_attempt_ms = s.integer(10);
    c.last_error = s.text(11);
    c.created_at = s.text(12);
    return c;
}

const char* const command_columns =
    "row, id, instance, workflow, key, type, target, payload, status, attempts, next_attempt_ms, last_error, created_at";

}  // namespace flow::store
