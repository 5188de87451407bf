// A bounded cache of running instances, by workflow and key: what the writer's look-up of the
// instance an event correlates to would otherwise read (a row, its timers) and parse (its key,
// variables and compensations) once per event.
//
// It holds committed states only, and only ever fewer of them than the database: an entry is
// taken out (moved, not copied) when a transaction reads it, and a transaction puts back what it
// wrote only once it has committed. So a miss costs a read of the database, never a wrong answer;
// the rules that keep it so are the transaction's (`sqlite_store.cpp`).
#pragma once

#include "runtime/store/store.hpp"

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace flow::store {

class InstanceCache {
public:
    explicit InstanceCache(std::size_t capacity) : capacity_(capacity) {}

    // The key of a running instance: its workflow's name and its key as stored (JSON text).
    static std::string key_of(std::string_view workflow, std::string_view key_json);

    // Removes and returns the entry, when there is one.
    std::optional<StoredInstance> take(const std::string& key);
    // Adds or replaces the entry; past the capacity the least recently put one goes.
    void put(const std::string& key, StoredInstance instance);
    void erase(const std::string& key);
    void clear();

    std::size_t size() const { return index_.size(); }
    std::size_t capacity() const { return capacity_; }
    std::uint64_t hits() const { return hits_; }
    std::uint64_t misses() const { return misses_; }

private:
    using Entry = std::pair<std::string, StoredInstance>;
    std::size_t capacity_;
    std::list<Entry> recent_;  // the most recently put first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
    std::uint64_t hits_ = 0;
    std::uint64_t misses_ = 0;
};

}  // namespace flow::store
