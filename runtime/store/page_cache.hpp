// SQLite's own page cache, with one call made cheap: the truncation at the end of every write
// transaction, when it has nothing to drop.
//
// At each commit SQLite asks its page cache to drop the pages past the end of the database. The
// default cache keeps only the largest page number it has seen since the last truncation, and
// scans its whole hash table when that number is far past the limit. A B-tree's balance gives a
// page a temporary number far past the end for a moment (the page of the lock byte, 262,145 with
// 4 KiB pages), so after most commits with a page split it scanned every slot: 16,384 of them
// for flowd's 64 MiB cache, 4.6 % of flowd's CPU at 10,000 events/s.
//
// This wrapper hands every call to the default cache, and keeps the page numbers at or past the
// last truncation's limit that were fetched or renumbered since, minus those renumbered away.
// A truncation at or past the last one's limit, with none of those numbers at or past its own
// limit, has nothing to drop, and is not handed on. Any other truncation is, and so is every
// one after more than a few thousand such numbers (a bulk load). The pages a cache holds, and so
// every read, are the same as without it.
#pragma once

#include <cstdint>

namespace flow::store::sqlite {

// Installs the wrapper as SQLite's page cache. Must run before SQLite initializes (the first
// connection): false, and nothing changed, after that.
bool install_page_cache();

// Truncations asked for and truncations handed on to the default cache, since the process
// started (for tests and benchmarks).
struct PageCacheCounts {
    std::uint64_t truncations = 0;
    std::uint64_t truncations_handed_on = 0;
};
PageCacheCounts page_cache_counts();

}  // namespace flow::store::sqlite
