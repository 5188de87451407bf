#include "runtime/store/instance_cache.hpp"

#include <iterator>

namespace flow::store {

namespace {

// One more on a counter only its owner writes: no locked instruction on the writer's path.
void count_one(std::atomic<std::uint64_t>& counter) {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace

std::string InstanceCache::key_of(std::string_view workflow, std::string_view key_json) {
    std::string key;
    key.reserve(workflow.size() + 1 + key_json.size());
    key.append(workflow).push_back('\n');  // a workflow's name is an identifier: no line breaks
    key.append(key_json);
    return key;
}

std::optional<StoredInstance> InstanceCache::take(const std::string& key) {
    auto found = index_.find(key);
    if (found == index_.end()) {
        count_one(misses_);
        return std::nullopt;
    }
    count_one(hits_);
    std::optional<StoredInstance> out(std::move(found->second->instance));
    drop(found->second);
    return out;
}

void InstanceCache::put(const std::string& key, StoredInstance instance, std::size_t bytes) {
    erase(key);
    if (capacity_ == 0 || bytes > max_bytes_) return;
    recent_.push_front(Entry{key, std::move(instance), bytes});
    index_.emplace(key, recent_.begin());
    bytes_ += bytes;
    while (index_.size() > capacity_ || bytes_ > max_bytes_) drop(std::prev(recent_.end()));
    entries_.store(index_.size(), std::memory_order_relaxed);
}

void InstanceCache::erase(const std::string& key) {
    auto found = index_.find(key);
    if (found != index_.end()) drop(found->second);
}

void InstanceCache::drop(std::list<Entry>::iterator entry) {
    bytes_ -= entry->bytes;
    index_.erase(entry->key);
    recent_.erase(entry);
    entries_.store(index_.size(), std::memory_order_relaxed);
}

void InstanceCache::clear() {
    recent_.clear();
    index_.clear();
    bytes_ = 0;
    entries_.store(0, std::memory_order_relaxed);
}

}  // namespace flow::store
