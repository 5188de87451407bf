// The writer's cache of running instances: its bounds, and that a transaction reading through it
// always sees what the database holds, whatever commits, rolls back or writes beside it.
#include "runtime/store/instance_cache.hpp"
#include "runtime/store/sqlite_store.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>

#include <cmath>
#include <filesystem>
#include <string>

using namespace flow;
namespace fs = std::filesystem;

namespace {

store::StoredInstance instance(const std::string& id, const std::string& key, const std::string& var) {
    store::StoredInstance s;
    s.instance.id = id;
    s.instance.key = key;
    s.instance.vars = {var};
    s.workflow = "W";
    s.state = "Waiting";
    s.created_at = s.updated_at = "2026-01-01T00:00:00.000Z";
    return s;
}

struct Database {
    fs::path dir = fs::temp_directory_path() / ("flow-cache-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
    fs::path file = dir / "flow.db";
    std::unique_ptr<store::Store> store;

    explicit Database(std::size_t cache = 100) {
        fs::create_directories(dir);
        auto opened = store::open_sqlite_store({file.string(), "FULL", 0, false, cache});
        REQUIRE(opened.ok());
        store = std::move(*opened.value);
        REQUIRE_FALSE(store->deploy({"W", 1, "h", "{}", "{}", "2026-01-01T00:00:00.000Z"}));
    }
    ~Database() {
        store.reset();
        fs::remove_all(dir);
    }

    std::unique_ptr<store::Transaction> begin() {
        auto tx = store->begin();
        REQUIRE(tx.ok());
        return std::move(*tx.value);
    }
    // The first variable of the running instance with key `key`, as a transaction reads it;
    // "none" when there is none.
    std::string var_of(store::Transaction& tx, const std::string& key) {
        auto found = tx.running_instance("W", "\"" + key + "\"");
        REQUIRE(found.ok());
        if (!*found.value) return "none";
        return (**found.value).instance.vars.at(0).get<std::string>();
    }
    std::string committed_var(const std::string& key) {
        auto tx = begin();
        return var_of(*tx, key);  // rolled back as the transaction goes: a read changes nothing
    }
    void save(store::Transaction& tx, store::StoredInstance s, bool is_new) {
        REQUIRE_FALSE(tx.save_instance(std::move(s), {is_new, is_new, is_new}));
    }
    void create(const std::string& key, const std::string& var) {
        auto tx = begin();
        save(*tx, instance("i-" + key, key, var), true);
        REQUIRE_FALSE(tx->commit());
    }
};

}  // namespace

TEST_CASE("the instance cache: taking removes, and past its capacity the least recently put goes") {
    store::InstanceCache cache(2);
    cache.put("a", instance("1", "a", "x"), 10);
    cache.put("b", instance("2", "b", "y"), 10);
    cache.put("c", instance("3", "c", "z"), 10);
    CHECK(cache.size() == 2);
    CHECK_FALSE(cache.take("a"));  // the oldest went
    auto b = cache.take("b");
    REQUIRE(b);
    CHECK(b->instance.id == "2");
    CHECK_FALSE(cache.take("b"));  // taken out
    cache.put("c", instance("4", "c", "w"), 10);  // replaces
    CHECK(cache.size() == 1);
    CHECK(cache.bytes() == 10);
    CHECK(cache.take("c")->instance.id == "4");
    CHECK(cache.bytes() == 0);
    CHECK(cache.counts().hits == 2);
    CHECK(cache.counts().misses == 2);
    CHECK(cache.counts().entries == 0);

    store::InstanceCache none(0);
    none.put("a", instance("1", "a", "x"), 10);
    CHECK(none.size() == 0);
    CHECK(store::InstanceCache::key_of("W", "\"k\"") != store::InstanceCache::key_of("W\"", "k\""));
}

TEST_CASE("the instance cache holds at most its bytes of stored text: the least recently put go first") {
    store::InstanceCache cache(100, 1000);
    cache.put("a", instance("1", "a", "x"), 400);
    cache.put("b", instance("2", "b", "y"), 400);
    CHECK(cache.size() == 2);
    cache.put("c", instance("3", "c", "z"), 300);  // 1,100 bytes: the oldest goes
    CHECK(cache.size() == 2);
    CHECK(cache.bytes() == 700);
    CHECK_FALSE(cache.take("a"));
    cache.put("b", instance("4", "b", "w"), 100);  // replacing gives its bytes back
    CHECK(cache.bytes() == 400);
    cache.put("huge", instance("5", "huge", "v"), 1001);  // larger than all: not kept, and evicts nothing
    CHECK(cache.size() == 2);
    CHECK_FALSE(cache.take("huge"));
    cache.put("big", instance("6", "big", "u"), 1000);  // all of it: the others go
    CHECK(cache.size() == 1);
    CHECK(cache.bytes() == 1000);
    cache.clear();
    CHECK(cache.bytes() == 0);
}

TEST_CASE("a transaction reads through the cache what the database holds") {
    Database db;
    db.create("k1", "v1");

    SUBCASE("a committed step is read back, bookkeeping included") {
        {
            auto tx = db.begin();
            auto found = tx->running_instance("W", "\"k1\"");
            REQUIRE(found.ok());
            REQUIRE(*found.value);
            store::StoredInstance s = std::move(**found.value);
            CHECK(s.row == 1);
            CHECK(s.created_at == "2026-01-01T00:00:00.000Z");
            s.instance.vars = {"v2"};
            s.updated_at = "2026-01-01T00:00:01.000Z";
            db.save(*tx, std::move(s), false);
            REQUIRE_FALSE(tx->commit());
        }
        auto tx = db.begin();
        auto found = tx->running_instance("W", "\"k1\"");
        REQUIRE(*found.value);
        CHECK((**found.value).instance.vars.at(0) == "v2");
        CHECK((**found.value).row == 1);
        CHECK((**found.value).created_at == "2026-01-01T00:00:00.000Z");
        CHECK((**found.value).updated_at == "2026-01-01T00:00:01.000Z");
    }

    SUBCASE("a step rolled back leaves the committed state") {
        {
            auto tx = db.begin();
            CHECK(db.var_of(*tx, "k1") == "v1");
            db.save(*tx, instance("i-k1", "k1", "rolled back"), false);
            CHECK(db.var_of(*tx, "k1") == "rolled back");  // its own write, within the transaction
        }  // no commit: rolled back
        CHECK(db.committed_var("k1") == "v1");
    }

    SUBCASE("a rollback to a savepoint undoes that step, and keeps the earlier ones") {
        db.create("k2", "w1");
        {
            auto tx = db.begin();
            db.save(*tx, instance("i-k2", "k2", "w2"), false);  // an earlier event of the batch
            REQUIRE_FALSE(tx->savepoint());
            db.save(*tx, instance("i-k1", "k1", "undone"), false);
            db.save(*tx, instance("i-k2", "k2", "undone"), false);
            REQUIRE_FALSE(tx->rollback_to_savepoint());
            CHECK(db.var_of(*tx, "k1") == "v1");
            CHECK(db.var_of(*tx, "k2") == "w2");
            REQUIRE_FALSE(tx->commit());
        }
        CHECK(db.committed_var("k1") == "v1");
        CHECK(db.committed_var("k2") == "w2");
    }

    SUBCASE("an instance that ends is no longer the running one, in the transaction and after") {
        {
            auto tx = db.begin();
            store::StoredInstance ended = instance("i-k1", "k1", "done");
            ended.instance.status = engine::Status::Completed;
            REQUIRE_FALSE(tx->save_instance(ended, {false, true, true}));
            CHECK(db.var_of(*tx, "k1") == "none");
            REQUIRE_FALSE(tx->commit());
        }
        CHECK(db.committed_var("k1") == "none");
        {
            auto tx = db.begin();
            db.save(*tx, instance("i-k1-again", "k1", "again"), true);  // a new instance with the key
            REQUIRE_FALSE(tx->commit());
        }
        CHECK(db.committed_var("k1") == "again");
    }

    SUBCASE("another connection's write is seen, not the cached state") {
        {
            auto tx = db.begin();
            db.save(*tx, instance("i-k1", "k1", "cached"), false);
            REQUIRE_FALSE(tx->commit());
        }
        const store::InstanceCacheCounts before = db.store->instance_cache_counts();
        CHECK(before.entries == 1);
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open(db.file.c_str(), &raw) == SQLITE_OK);
        REQUIRE(sqlite3_exec(raw, "UPDATE instances SET vars = '[\"by hand\"]' WHERE id = 'i-k1'", nullptr, nullptr, nullptr) ==
                SQLITE_OK);
        sqlite3_close(raw);
        CHECK(db.committed_var("k1") == "by hand");
        // The cached state was dropped and the database read: the look-up missed.
        CHECK(db.store->instance_cache_counts().misses == before.misses + 1);
        CHECK(db.store->instance_cache_counts().hits == before.hits);
    }

    SUBCASE("a timer dropped or postponed leaves nothing cached behind") {
        store::StoredInstance with_timer = instance("i-k1", "k1", "timed");
        with_timer.instance.timers = {{0, 0, 1000, 7}};
        {
            auto tx = db.begin();
            REQUIRE_FALSE(tx->save_instance(with_timer, {false, false, true}));
            REQUIRE_FALSE(tx->commit());  // cached with its timer due at 1000
        }
        bool drop = false;
        SUBCASE("dropped") { drop = true; }
        SUBCASE("postponed") { drop = false; }
        {
            auto tx = db.begin();
            REQUIRE_FALSE((drop ? tx->drop_timer("i-k1", 7) : tx->postpone_timer("i-k1", 7, 61000)));
            REQUIRE_FALSE(tx->commit());
        }
        auto tx = db.begin();
        auto found = tx->running_instance("W", "\"k1\"");
        REQUIRE(*found.value);
        const std::vector<engine::PendingTimer>& timers = (**found.value).instance.timers;
        if (drop) {
            CHECK(timers.empty());
        } else {
            REQUIRE(timers.size() == 1);
            CHECK(timers[0].due_ms == 61000);
        }
    }
}

TEST_CASE("what the cache gives is what a read of the database gives: values, timers and bookkeeping") {
    Database db;
    store::StoredInstance fresh = instance("i-k1", "k1", "v1");
    fresh.instance.vars = {Value::object({{"x", 2.0}}), -0.0, 2.5, 7, "s"};
    fresh.instance.timers = {{0, 0, 1000, 7}, {0, 1, 2000, 8}};
    {
        auto tx = db.begin();
        db.save(*tx, fresh, true);  // a new instance, whose timers are inserted after it
        REQUIRE_FALSE(tx->commit());
    }
    auto read = [&](bool from_cache) {
        if (!from_cache) {
            // Another connection's commit makes the next transaction drop what is cached.
            sqlite3* raw = nullptr;
            REQUIRE(sqlite3_open(db.file.c_str(), &raw) == SQLITE_OK);
            REQUIRE(sqlite3_exec(raw, "CREATE TABLE touched (x)", nullptr, nullptr, nullptr) == SQLITE_OK);
            sqlite3_close(raw);
        }
        auto tx = db.begin();
        auto found = tx->running_instance("W", "\"k1\"");
        REQUIRE(found.ok());
        REQUIRE(*found.value);
        store::StoredInstance s = std::move(**found.value);
        db.save(*tx, s, false);  // put back, so that the next read may hit the cache again
        REQUIRE_FALSE(tx->commit());
        return s;
    };
    const store::InstanceCacheCounts at_start = db.store->instance_cache_counts();
    const store::StoredInstance cached = read(true);
    CHECK(db.store->instance_cache_counts().hits == at_start.hits + 1);  // the cache gave it
    const store::StoredInstance stored = read(false);
    CHECK(db.store->instance_cache_counts().misses == at_start.misses + 1);  // the database gave it
    CHECK(db.store->instance_cache_counts().hits == at_start.hits + 1);
    for (const store::StoredInstance* s : {&cached, &stored}) {
        CAPTURE((s == &cached ? "cached" : "stored"));
        const std::vector<Value>& vars = s->instance.vars;
        REQUIRE(vars.size() == 5);
        CHECK(vars[0]["x"].is_number_float());  // 2.0 stays a number; it read back as the int 2 before
        CHECK(vars[1].is_number_float());
        CHECK(std::signbit(vars[1].get<double>()));
        CHECK(vars[2] == 2.5);
        CHECK(vars[3].is_number_integer());
        CHECK(vars[4] == "s");
        CHECK(s->row == 1);  // the instance's row, not its last timer's
        CHECK(s->created_at == "2026-01-01T00:00:00.000Z");
        REQUIRE(s->instance.timers.size() == 2);
        CHECK(s->instance.timers[1].sequence == 8);
    }
    CHECK(cached.instance.vars[0].dump() == stored.instance.vars[0].dump());
}

TEST_CASE("without a cache, the same reads") {
    Database db(0);
    db.create("k1", "v1");
    {
        auto tx = db.begin();
        db.save(*tx, instance("i-k1", "k1", "v2"), false);
        REQUIRE_FALSE(tx->commit());
    }
    CHECK(db.committed_var("k1") == "v2");
    CHECK(db.store->instance_cache_counts().hits == 0);
    CHECK(db.store->instance_cache_counts().entries == 0);
}
