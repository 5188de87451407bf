// Deleting ended instances (instance_retention_hours): a database of N completed instances, each
// with four history entries and two delivered commands, M of them ended before the cutoff; the
// store's prune runs as flowd's retention calls it (500 instances looked at per call, going on
// where the last call stopped), while a second thread opens and commits an empty write
// transaction due every millisecond, as the writer would: how long after it was due each got the
// database's write lock tells how long the prune held the writer up. Run by hand:
//   instance_prune_bench [INSTANCES] [OLD_INSTANCES] [ROUNDS] [FILE]
#include "runtime/store/sqlite_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point start, Clock::time_point end) {
    return std::chrono::duration<double, std::milli>(end - start).count();
}

void exec(sqlite3* db, const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
        std::fprintf(stderr, "instance_prune_bench: %s\n", error ? error : "?");
        std::exit(1);
    }
}

flow::store::SqliteOptions options_for(const std::string& file) {
    flow::store::SqliteOptions options{file, "FULL"};
    options.commands_by_instance = true;
    return options;
}

// flowd's schema, with `instances` completed instances: the first `old` made and ended in
// November, the rest in the cutoff's week.
void fill(const std::string& file, long instances, long old) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file + suffix);
    if (!flow::store::open_sqlite_store(options_for(file)).ok()) std::exit(1);
    sqlite3* db = nullptr;
    sqlite3_open(file.c_str(), &db);
    const std::string n = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(instances) + ") ";
    const std::string when = "CASE WHEN i <= " + std::to_string(old) + " THEN '2026-11-01T00:00:00.000Z' ELSE '2026-12-05T00:00:00.000Z' END";
    const std::string id = "printf('0190%028d', i)";
    exec(db, "BEGIN; INSERT INTO workflows VALUES ('W', 1, 'h', '{}', '{}', 't');" + n +
                 "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, updated_at) "
                 "SELECT i, " + id + ", 'W', 1, printf('\"c-%06d\"', i), NULL, 'completed', '{\"attempts\":1}', '[]', " + when + ", " + when +
                 " FROM n;" + n +
                 "INSERT INTO history (instance, at, kind, detail) SELECT " + id + ", " + when +
                 ", 'transition', '{\"from\":\"Publishing\",\"to\":null,\"status\":\"completed\"}' FROM n, (SELECT 1 UNION ALL SELECT 2 "
                 "UNION ALL SELECT 3 UNION ALL SELECT 4);" + n +
                 "INSERT INTO outbox (id, instance, workflow, key, type, target, payload, status, next_attempt_ms, created_at, delivered_at) "
                 "SELECT " + id + " || '-' || c, " + id + ", 'W', printf('\"c-%06d\"', i), 'SubmitAdvertisement', 'publishing', "
                 "'{\"campaignId\":\"c-000001\"}', 'delivered', 0, " + when + ", " + when + " FROM n, (SELECT 1 AS c UNION ALL SELECT 2);"
                 "COMMIT;");
    sqlite3_close(db);
}

// The value at quantile q of sorted values.
double at(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return 0;
    return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(q * static_cast<double>(sorted.size())))];
}

}  // namespace

int main(int argc, char** argv) {
    const long instances = argc > 1 ? std::atol(argv[1]) : 200000;
    const long old = argc > 2 ? std::atol(argv[2]) : 100000;
    const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
    const std::string file = argc > 4 ? argv[4] : "instance_prune_bench.db";
    const std::string cutoff = "2026-11-28T00:00:00.000Z";
    for (int round = 1; round <= rounds; ++round) {
        fill(file, instances, old);
        auto opened = flow::store::open_sqlite_store(options_for(file));
        if (!opened.ok()) return 1;
        flow::store::Store& store = **opened.value;
        std::atomic<bool> done{false};
        std::vector<double> waits_ms;
        std::thread writer([&] {
            // One transaction due every millisecond, whatever happened before: each wait counts
            // from when it was due, so a long hold counts against every transaction it delayed.
            const auto first = Clock::now();
            for (long i = 0; !done; ++i) {
                const auto due = first + std::chrono::milliseconds(i);
                std::this_thread::sleep_until(due);
                auto tx = store.begin();
                const auto got = Clock::now();
                if (!tx.ok() || (*tx.value)->commit()) std::exit(1);
                waits_ms.push_back(ms_between(due, got));
            }
        });
        const auto start = Clock::now();
        std::int64_t deleted = 0;
        int calls = 0;
        flow::store::Store::PruneCursor from;
        for (bool finished = false; !finished; ++calls) {
            auto pruned = store.prune_ended_instances(cutoff, 500, from);
            if (!pruned.ok()) return 1;
            deleted += pruned.value->deleted;
            finished = pruned.value->finished;
            from = pruned.value->resume;
        }
        const double ms = ms_between(start, Clock::now());
        done = true;
        writer.join();
        std::sort(waits_ms.begin(), waits_ms.end());
        std::printf("{\"round\":%d,\"instances\":%ld,\"deleted\":%lld,\"calls\":%d,\"ms\":%.1f,\"us_per_instance\":%.1f,"
                    "\"writer_waits\":%zu,\"writer_wait_median_ms\":%.2f,\"writer_wait_p99_ms\":%.2f,\"writer_wait_max_ms\":%.2f}\n",
                    round, instances, static_cast<long long>(deleted), calls, ms, deleted ? ms * 1000 / static_cast<double>(deleted) : 0.0,
                    waits_ms.size(), at(waits_ms, 0.5), at(waits_ms, 0.99), at(waits_ms, 1.0));
    }
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file + suffix);
}
