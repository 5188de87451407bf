// A SQLite VFS over the default one that gathers a transaction's writes to the WAL file and
// hands them to the file system in one write when SQLite syncs it.
//
// SQLite writes each WAL frame as two writes, its 24-byte header and then its page, so a commit
// of 34 pages costs 68 `pwrite` calls before its `fdatasync`. Here they are kept in memory while
// they follow one another in the file and written together before anything reads the file,
// asks its size, truncates or syncs it, and before the connection releases any lock of the
// WAL index (so no other connection can write where this one still holds writes). Only the
// main database and its WAL are wrapped; every other file is the default VFS's own.
//
// It is correct only where every commit syncs the WAL before the commit is published to other
// connections, which is `synchronous = FULL` or `EXTRA`: with `NORMAL` a commit is published
// without a sync, and a reader would find frames not yet in the file. `Connection::open` uses
// it for those levels only.
#pragma once

#include <cstdint>

namespace flow::store::sqlite {

// The VFS's name for `sqlite3_open_v2`, registered on first use (not as the default).
const char* wal_write_buffer_vfs();

// Counts, since the process started, of the writes SQLite made to WAL files through this VFS
// and of the writes this VFS made to the files (for tests and benchmarks).
struct WalWriteCounts {
    std::uint64_t writes_from_sqlite = 0;
    std::uint64_t writes_to_file = 0;
};
WalWriteCounts wal_write_counts();

}  // namespace flow::store::sqlite
