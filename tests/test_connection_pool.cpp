// The pool of the API's reader connections: each connection lent to one holder at a time, a
// lease waiting while all are lent, and the store reading through several at once.
#include "runtime/store/connection_pool.hpp"
#include "runtime/store/sqlite.hpp"

#include "support.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>
#include <vector>

using namespace flow::store;
namespace fs = std::filesystem;

namespace {

std::vector<std::unique_ptr<sqlite::Connection>> connections(const fs::path& db, int n) {
    std::vector<std::unique_ptr<sqlite::Connection>> out;
    for (int i = 0; i < n; ++i) {
        auto c = sqlite::Connection::open(db.string(), "FULL", false);
        REQUIRE(c.ok());
        out.push_back(std::move(*c.value));
    }
    return out;
}

}  // namespace

TEST_CASE("a pool lends each connection to one holder at a time, the last given back first") {
    flow::test::TempDir dir;
    sqlite::ConnectionPool pool(connections(dir.path / "p.db", 3));
    CHECK(pool.size() == 3);
    CHECK(pool.lent() == 0);
    std::set<sqlite::Connection*> seen;
    {
        auto a = pool.lease();
        auto b = pool.lease();
        auto c = pool.lease();
        seen = {&*a, &*b, &*c};
        CHECK(seen.size() == 3);
        CHECK(pool.lent() == 3);
    }
    CHECK(pool.lent() == 0);
    sqlite::Connection* warm = nullptr;
    {
        auto a = pool.lease();
        warm = &*a;
    }
    auto again = pool.lease();
    CHECK(&*again == warm);  // its page cache holds what the last read read
    auto moved = std::move(again);
    CHECK(pool.lent() == 1);
    sqlite::Use s(moved->prepare("SELECT 1"));
    CHECK(s->step() == SQLITE_ROW);
}

TEST_CASE("a lease waits while every connection is lent, and takes the one given back") {
    flow::test::TempDir dir;
    sqlite::ConnectionPool pool(connections(dir.path / "p.db", 2));
    auto first = std::make_unique<sqlite::ConnectionPool::Lease>(pool.lease());
    auto second = pool.lease();
    sqlite::Connection* given_back = &**first;
    std::atomic<bool> leased{false};
    sqlite::Connection* got = nullptr;
    std::thread waiter([&] {
        auto lease = pool.lease();
        got = &*lease;
        leased = true;
    });
    // The waiter cannot have a connection while both are held, however long it is given.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK_FALSE(leased.load());
    first.reset();
    waiter.join();
    CHECK(leased.load());
    CHECK(got == given_back);
    CHECK(pool.lent() == 1);  // `second`, still held
}

TEST_CASE("a pool needs a connection") {
    CHECK_THROWS_AS(sqlite::ConnectionPool(std::vector<std::unique_ptr<sqlite::Connection>>{}), std::invalid_argument);
}
