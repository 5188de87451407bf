// The disk's limit for a process manager, with no engine, no JSON and no HTTP: per event, the
// three writes any durable process manager makes (the event into an inbox, the instance's new
// state, one command into an outbox), straight through SQLite's C API with prepared statements,
// in WAL mode. It gives the same-run yardsticks that flowd's figures are read against. Run by hand:
//
//   sqlite_limit [--events N] [--batch B] [--synchronous FULL|OFF] [--db PATH]
//
// `--batch B` commits every B events (1: one transaction per event). The instances (1,000) are
// created before the clock starts; each event updates one of them in turn.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace {

struct Options {
    long events = 30000;
    long batch = 100;
    std::string synchronous = "FULL";
    std::string db = "sqlite_limit.db";
};

constexpr long instance_count = 1000;

[[noreturn]] void fail(sqlite3* db, const char* what) {
    std::fprintf(stderr, "sqlite_limit: %s: %s\n", what, db ? sqlite3_errmsg(db) : "cannot open");
    std::exit(1);
}

void exec(sqlite3* db, const std::string& sql) {
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) fail(db, sql.c_str());
}

sqlite3_stmt* prepare(sqlite3* db, const char* sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) fail(db, sql);
    return statement;
}

void bind(sqlite3_stmt* statement, int index, const std::string& text) {
    sqlite3_bind_text(statement, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

void run(sqlite3* db, sqlite3_stmt* statement) {
    if (sqlite3_step(statement) != SQLITE_DONE) fail(db, sqlite3_sql(statement));
    sqlite3_reset(statement);
}

// Ids of the length of flowd's (36 characters), unique per counter value.
std::string id(const char* kind, long n) {
    char text[48];
    std::snprintf(text, sizeof text, "%.8s-%027ld", kind, n);
    return text;
}

Options parse(int argc, char** argv) {
    Options options;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string flag = argv[i];
        const char* value = argv[i + 1];
        if (flag == "--events") options.events = std::atol(value);
        else if (flag == "--batch") options.batch = std::atol(value);
        else if (flag == "--synchronous") options.synchronous = value;
        else if (flag == "--db") options.db = value;
        else {
            std::fprintf(stderr, "usage: sqlite_limit [--events N] [--batch B] [--synchronous FULL|OFF] [--db PATH]\n");
            std::exit(2);
        }
    }
    if (options.events <= 0 || options.batch <= 0 || (options.synchronous != "FULL" && options.synchronous != "OFF")) {
        std::fprintf(stderr, "sqlite_limit: --events and --batch must be positive, --synchronous FULL or OFF\n");
        std::exit(2);
    }
    return options;
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = parse(argc, argv);
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(options.db + suffix);

    sqlite3* db = nullptr;
    if (sqlite3_open(options.db.c_str(), &db) != SQLITE_OK) fail(db, "open");
    exec(db, "PRAGMA journal_mode = WAL");
    exec(db, "PRAGMA synchronous = " + options.synchronous);
    exec(db, "CREATE TABLE inbox (event_id TEXT PRIMARY KEY, type TEXT NOT NULL, received_at TEXT NOT NULL)");
    exec(db, "CREATE TABLE instances (id TEXT PRIMARY KEY, state TEXT NOT NULL, vars TEXT NOT NULL, updated_at TEXT NOT NULL)");
    exec(db, "CREATE TABLE outbox (id TEXT PRIMARY KEY, instance TEXT NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL, "
             "status TEXT NOT NULL)");

    const std::string vars = R"({"campaign":"C-000123","channel":"email","attempts":1,"approved_by":"editor@example.com"})";
    const std::string payload = R"({"campaign":"C-000123","channel":"email","scheduled_for":"2026-01-05T10:00:00Z","priority":2})";
    const std::string at = "2026-01-05T10:00:00.000Z";

    sqlite3_stmt* create = prepare(db, "INSERT INTO instances (id, state, vars, updated_at) VALUES (?, 'Waiting', ?, ?)");
    exec(db, "BEGIN");
    for (long i = 0; i < instance_count; ++i) {
        const std::string instance = id("instance", i);
        bind(create, 1, instance);
        bind(create, 2, vars);
        bind(create, 3, at);
        run(db, create);
    }
    exec(db, "COMMIT");

    sqlite3_stmt* inbox = prepare(db, "INSERT INTO inbox (event_id, type, received_at) VALUES (?, 'PublishingConfirmed', ?)");
    sqlite3_stmt* update = prepare(db, "UPDATE instances SET state = 'Published', vars = ?, updated_at = ? WHERE id = ?");
    sqlite3_stmt* outbox = prepare(db, "INSERT INTO outbox (id, instance, type, payload, status) "
                                       "VALUES (?, ?, 'NotifySubscribers', ?, 'pending')");

    const auto began = std::chrono::steady_clock::now();
    for (long n = 0; n < options.events; ++n) {
        if (n % options.batch == 0) exec(db, "BEGIN");
        const std::string event = id("event", n);
        const std::string instance = id("instance", n % instance_count);
        const std::string command = id("command", n);
        bind(inbox, 1, event);
        bind(inbox, 2, at);
        run(db, inbox);
        bind(update, 1, vars);
        bind(update, 2, at);
        bind(update, 3, instance);
        run(db, update);
        bind(outbox, 1, command);
        bind(outbox, 2, instance);
        bind(outbox, 3, payload);
        run(db, outbox);
        if ((n + 1) % options.batch == 0 || n + 1 == options.events) exec(db, "COMMIT");
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();

    for (sqlite3_stmt* statement : {create, inbox, update, outbox}) sqlite3_finalize(statement);
    sqlite3_close(db);
    std::printf("events=%ld batch=%ld synchronous=%s seconds=%.3f events_per_second=%.0f\n", options.events, options.batch,
                options.synchronous.c_str(), seconds, static_cast<double>(options.events) / seconds);
    return 0;
}
