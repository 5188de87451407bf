#include "runtime/store/page_cache.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <vector>

namespace flow::store::sqlite {
namespace {

// Past this many page numbers at or past the limit (a transaction that grows the database by
// 16 MiB), a cache stops keeping them and hands its next truncation on.
constexpr std::size_t most_kept = 4096;

sqlite3_pcache_methods2 default_cache{};

std::atomic<std::uint64_t> truncations{0};
std::atomic<std::uint64_t> truncations_handed_on{0};

struct Cache {
    sqlite3_pcache* inner = nullptr;
    // Every page the cache may hold numbered `limit` or more is in `beyond` (sorted), unless
    // `overflowed`. A connection's cache is used by one thread at a time.
    unsigned limit = 1;  // nothing is numbered below 1: at first every page is kept
    std::vector<unsigned> beyond;
    bool overflowed = false;

    void keep(unsigned key) {
        if (key < limit || overflowed) return;
        auto at = std::lower_bound(beyond.begin(), beyond.end(), key);
        if (at != beyond.end() && *at == key) return;
        if (beyond.size() >= most_kept) {
            overflow();
            return;
        }
        try {
            beyond.insert(at, key);
        } catch (const std::bad_alloc&) {  // no exception may leave a callback of SQLite's
            overflow();
        }
    }
    void overflow() {
        overflowed = true;
        beyond.clear();
    }
    void forget(unsigned key) {
        auto at = std::lower_bound(beyond.begin(), beyond.end(), key);
        if (at != beyond.end() && *at == key) beyond.erase(at);
    }
    // Whether no page numbered `from` or more can be in the cache.
    bool holds_none_from(unsigned from) const {
        return !overflowed && from >= limit && (beyond.empty() || beyond.back() < from);
    }
};

Cache* of(sqlite3_pcache* cache) { return reinterpret_cast<Cache*>(cache); }

int init(void* argument) { return default_cache.xInit(argument); }
void shutdown(void* argument) {
    if (default_cache.xShutdown) default_cache.xShutdown(argument);
}

sqlite3_pcache* create(int page_size, int extra_size, int purgeable) {
    sqlite3_pcache* inner = default_cache.xCreate(page_size, extra_size, purgeable);
    if (!inner) return nullptr;
    auto* cache = new (std::nothrow) Cache;
    if (cache) cache->inner = inner;
    if (!cache) {
        default_cache.xDestroy(inner);
        return nullptr;
    }
    return reinterpret_cast<sqlite3_pcache*>(cache);
}

void cache_size(sqlite3_pcache* cache, int pages) { default_cache.xCachesize(of(cache)->inner, pages); }
int page_count(sqlite3_pcache* cache) { return default_cache.xPagecount(of(cache)->inner); }

sqlite3_pcache_page* fetch(sqlite3_pcache* cache, unsigned key, int create_flag) {
    Cache& c = *of(cache);
    sqlite3_pcache_page* page = default_cache.xFetch(c.inner, key, create_flag);
    if (page) c.keep(key);
    return page;
}

void unpin(sqlite3_pcache* cache, sqlite3_pcache_page* page, int discard) { default_cache.xUnpin(of(cache)->inner, page, discard); }

void rekey(sqlite3_pcache* cache, sqlite3_pcache_page* page, unsigned old_key, unsigned new_key) {
    Cache& c = *of(cache);
    default_cache.xRekey(c.inner, page, old_key, new_key);
    c.forget(old_key);
    c.keep(new_key);
}

void truncate(sqlite3_pcache* cache, unsigned from) {
    Cache& c = *of(cache);
    truncations.fetch_add(1, std::memory_order_relaxed);
    if (!c.holds_none_from(from)) {
        truncations_handed_on.fetch_add(1, std::memory_order_relaxed);
        default_cache.xTruncate(c.inner, from);
    }
    // Either way no page numbered `from` or more is left.
    c.limit = from;
    c.beyond.clear();
    c.overflowed = false;
}

void destroy(sqlite3_pcache* cache) {
    default_cache.xDestroy(of(cache)->inner);
    delete of(cache);
}

void shrink(sqlite3_pcache* cache) { default_cache.xShrink(of(cache)->inner); }

}  // namespace

bool install_page_cache() {
    if (default_cache.xCreate) return true;  // installed already
    sqlite3_pcache_methods2 found{};
    if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &found) != SQLITE_OK || !found.xCreate) return false;
    default_cache = found;
    sqlite3_pcache_methods2 wrapper{1,      found.pArg, init,   shutdown, create,  cache_size, page_count,
                                    fetch,  unpin,      rekey,  truncate, destroy, shrink};
    if (sqlite3_config(SQLITE_CONFIG_PCACHE2, &wrapper) != SQLITE_OK) {
        default_cache = {};
        return false;
    }
    return true;
}

PageCacheCounts page_cache_counts() {
    return {truncations.load(std::memory_order_relaxed), truncations_handed_on.load(std::memory_order_relaxed)};
}

}  // namespace flow::store::sqlite
