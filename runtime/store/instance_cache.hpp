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

#include <atomic>
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
    // At most `capacity` instances, whose stored text (key, variables, compensations) comes to
    // at most `max_bytes` together: a parsed instance holds a few times its text, so a few
    // workflows with large variables cannot make the cache hold gigabytes.
    static constexpr std::size_t default_max_bytes = 32u << 20;
    explicit InstanceCache(std::size_t capacity, std::size_t max_bytes = default_max_bytes)
        : capacity_(capacity), max_bytes_(max_bytes) {}

    // The key of a running instance: its workflow's name and its key as stored (JSON text).
    static std::string key_of(std::string_view workflow, std::string_view key_json);

    // Removes and returns the entry, when there is one.
    std::optional<StoredInstance> take(const std::string& key);
    // Adds or replaces the entry, `bytes` the size of its stored text; past the capacity or the
    // bytes, the least recently put ones go. One larger than all the bytes is not kept.
    void put(const std::string& key, StoredInstance instance, std::size_t bytes);
    void erase(const std::string& key);
    void clear();

    std::size_t size() const { return index_.size(); }
    std::size_t capacity() const { return capacity_; }
    std::size_t bytes() const { return bytes_; }

    // Look-ups that found their instance and that did not, and the entries held: the only
    // thing another thread may read while the owner uses the cache (for /metrics).
    InstanceCacheCounts counts() const {
        return {hits_.load(std::memory_order_relaxed), misses_.load(std::memory_order_relaxed),
                entries_.load(std::memory_order_relaxed)};
    }

private:
    struct Entry {
        std::string key;
        StoredInstance instance;
        std::size_t bytes;
    };
    void drop(std::list<Entry>::iterator entry);

    std::size_t capacity_;
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;  // of the entries held
    std::list<Entry> recent_;  // the most recently put first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
    // Written by the owner alone (a load and a store, no read-modify-write), read by anyone.
    std::atomic<std::uint64_t> hits_ = 0;
    std::atomic<std::uint64_t> misses_ = 0;
    std::atomic<std::size_t> entries_ = 0;  // index_.size(), as of the last change
};

}  // namespace flow::store
