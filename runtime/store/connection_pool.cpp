#include "runtime/store/connection_pool.hpp"

#include <stdexcept>

namespace flow::store::sqlite {

ConnectionPool::ConnectionPool(std::vector<std::unique_ptr<Connection>> connections) : connections_(std::move(connections)) {
    if (connections_.empty()) throw std::invalid_argument("a connection pool needs a connection");
    for (const auto& c : connections_) free_.push_back(c.get());
}

ConnectionPool::Lease ConnectionPool::lease() {
    std::unique_lock lock(mutex_);
    returned_.wait(lock, [this] { return !free_.empty(); });
    Connection* connection = free_.back();
    free_.pop_back();
    return Lease(*this, connection);
}

std::size_t ConnectionPool::lent() const {
    std::lock_guard lock(mutex_);
    return connections_.size() - free_.size();
}

void ConnectionPool::give_back(Connection* connection) {
    {
        std::lock_guard lock(mutex_);
        free_.push_back(connection);
    }
    returned_.notify_one();
}

}  // namespace flow::store::sqlite
