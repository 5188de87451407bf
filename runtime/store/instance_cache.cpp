#include "runtime/store/instance_cache.hpp"

namespace flow::store {

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
        ++misses_;
        return std::nullopt;
    }
    ++hits_;
    std::optional<StoredInstance> out(std::move(found->second->second));
    recent_.erase(found->second);
    index_.erase(found);
    return out;
}

void InstanceCache::put(const std::string& key, StoredInstance instance) {
    if (capacity_ == 0) return;
    erase(key);
    recent_.emplace_front(key, std::move(instance));
    index_.emplace(key, recent_.begin());
    if (index_.size() > capacity_) {
        index_.erase(recent_.back().first);
        recent_.pop_back();
    }
}

void InstanceCache::erase(const std::string& key) {
    auto found = index_.find(key);
    if (found == index_.end()) return;
    recent_.erase(found->second);
    index_.erase(found);
}

void InstanceCache::clear() {
    recent_.clear();
    index_.clear();
}

}  // namespace flow::store
