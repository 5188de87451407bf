// The outbox's pruning of delivered commands, on an outbox of N rows of which M fall before the
// cutoff: the store's prune (bisection, then 2,000 rows per transaction) against the single
// DELETE over the whole table that flowd ran before, alternating, each on a freshly filled
// database. Run by hand: prune_bench [ROWS] [ROWS_TO_DELETE] [ROUNDS] [FILE].
#include "runtime/store/sqlite_store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

double ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void exec(sqlite3* db, const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
        std::fprintf(stderr, "prune_bench: %s\n", error ? error : "?");
        std::exit(1);
    }
}

// A database of flowd's schema whose outbox holds `rows` delivered commands: the first `old`
// made and delivered in November, the rest on the day of the cutoff's week. Its pages are read
// once, as a running flowd has them in its cache.
void fill(const std::string& file, long rows, long old) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file + suffix);
    if (!flow::store::open_sqlite_store({file, "FULL"}).ok()) std::exit(1);
    sqlite3* db = nullptr;
    sqlite3_open(file.c_str(), &db);
    const std::string is_old = "i <= " + std::to_string(old);
    exec(db, "BEGIN; INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');"
             "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, updated_at) "
             "VALUES (1, 'i1', 'W', 1, '\"a\"', 'S', 'running', '[]', '[]', 't', 't');"
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(rows) + ") "
             "INSERT INTO outbox (row, id, instance, workflow, key, type, target, payload, status, next_attempt_ms, created_at, "
             "delivered_at) SELECT i, printf('0190%028d', i), 'i1', 'W', '\"a\"', 'SubmitAdvertisement', 'publishing', "
             "'{\"campaignId\":\"c-000001\",\"advertising\":{\"title\":\"x\",\"budget\":100}}', 'delivered', 0, "
             "CASE WHEN " + is_old + " THEN '2026-11-01T00:00:00.000Z' ELSE '2026-12-05T00:00:00.000Z' END, "
             "CASE WHEN " + is_old + " THEN '2026-11-01T00:00:01.000Z' ELSE '2026-12-05T00:00:01.000Z' END FROM n; COMMIT;"
             "SELECT count(*) FROM outbox");
    sqlite3_close(db);
}

}  // namespace

int main(int argc, char** argv) {
    const long rows = argc > 1 ? std::atol(argv[1]) : 1000000;
    const long old = argc > 2 ? std::atol(argv[2]) : 0;
    const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
    const std::string file = argc > 4 ? argv[4] : "prune_bench.db";
    const std::string cutoff = "2026-11-28T00:00:00.000Z";
    for (int round = 1; round <= rounds; ++round) {
        fill(file, rows, old);
        {
            sqlite3* db = nullptr;
            sqlite3_open(file.c_str(), &db);
            const auto start = std::chrono::steady_clock::now();
            exec(db, "DELETE FROM outbox WHERE status = 'delivered' AND delivered_at < '" + cutoff + "'");
            std::printf("{\"round\":%d,\"prune\":\"one DELETE\",\"rows\":%ld,\"deleted\":%lld,\"ms\":%.2f}\n", round, rows,
                        static_cast<long long>(sqlite3_changes64(db)), ms_since(start));
            sqlite3_close(db);
        }
        fill(file, rows, old);
        {
            auto store = flow::store::open_sqlite_store({file, "FULL"});
            if (!store.ok()) return 1;
            const auto start = std::chrono::steady_clock::now();
            std::int64_t total = 0;
            flow::store::Store::PruneCursor from;
            for (bool finished = false; !finished;) {  // as flowd's retention calls it, without its pause between calls
                auto pruned = (*store.value)->prune_delivered(cutoff, 50000, from);
                if (!pruned.ok()) return 1;
                total += pruned.value->deleted;
                finished = pruned.value->finished;
                from = pruned.value->resume;
            }
            std::printf("{\"round\":%d,\"prune\":\"store\",\"rows\":%ld,\"deleted\":%lld,\"ms\":%.2f}\n", round, rows,
                        static_cast<long long>(total), ms_since(start));
        }
    }
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file + suffix);
}
