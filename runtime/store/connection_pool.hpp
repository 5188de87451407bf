// Connections lent out one at a time. The API reads through a few of them: a long read (an
// instance's whole history, a list of many instances, the counts behind /metrics) holds one,
// and the other reads go on with the others, where one connection made every read wait behind it.
#pragma once

#include "runtime/store/sqlite.hpp"

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace flow::store::sqlite {

class ConnectionPool {
public:
    explicit ConnectionPool(std::vector<std::unique_ptr<Connection>> connections);
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    // A connection for the lease's lifetime, and no one else's meanwhile.
    class Lease {
    public:
        Lease(Lease&& other) noexcept : pool_(other.pool_), connection_(other.connection_) { other.connection_ = nullptr; }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        Lease& operator=(Lease&&) = delete;
        ~Lease() {
            if (connection_) pool_->give_back(connection_);
        }
        Connection& operator*() const { return *connection_; }
        Connection* operator->() const { return connection_; }

    private:
        friend class ConnectionPool;
        Lease(ConnectionPool& pool, Connection* connection) : pool_(&pool), connection_(connection) {}
        ConnectionPool* pool_;
        Connection* connection_;
    };

    // The connection given back last (its page cache is the warmest), waiting while all are lent.
    Lease lease();
    std::size_t size() const { return connections_.size(); }
    // How many are lent out now (for tests).
    std::size_t lent() const;

private:
    void give_back(Connection* connection);

    std::vector<std::unique_ptr<Connection>> connections_;
    mutable std::mutex mutex_;
    std::condition_variable returned_;
    std::vector<Connection*> free_;  // guarded by mutex_; the last is lent first
};

}  // namespace flow::store::sqlite
