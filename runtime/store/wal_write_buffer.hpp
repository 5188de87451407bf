// A SQLite VFS over the default one that gathers a transaction's writes to the WAL file and
// hands them to the file system in one write when SQLite syncs it.
//
// SQLite writes each WAL frame as two writes, its 24-byte header and then its page, so a commit
// of 34 pages costs 68 `pwrite` calls before its `fdatasync`. Here they are kept in memory while
// they follow one another in the file and written together before anything reads the file,
// asks its size, truncates or syncs it, before SQLite publishes a commit (the barrier between
// the two copies of the WAL index's header), and before the connection releases any lock (so no
// other connection can write where this one still holds writes). A failed write of them fails
// every call until the write transaction ends, as an I/O error: SQLite then rolls the whole
// transaction back. Only the main database and its WAL are wrapped; every other file is the
// default VFS's own.
//
// `Connection::open` uses it where every commit also syncs the WAL, `synchronous = FULL` or
// `EXTRA`; with `NORMAL` the default VFS is used unchanged.
#pragma once

#include <cstdint>

namespace flow::store::sqlite {

// The VFS's name for `sqlite3_open_v2`, registered on first use (not as the default); null when
// it cannot be registered, and SQLite's default VFS is then used.
const char* wal_write_buffer_vfs();

// Counts, since the process started, of the writes SQLite made to WAL files through this VFS
// and of the writes this VFS made to the files (for tests and benchmarks).
struct WalWriteCounts {
    std::uint64_t writes_from_sqlite = 0;
    std::uint64_t writes_to_file = 0;
};
WalWriteCounts wal_write_counts();

// The system's reason (an `errno`: ENOSPC for a full disk) for this thread's last write of kept
// bytes that failed, until one succeeds; 0 when none failed. SQLite reports such a failure as
// "disk I/O error" and, at a commit, keeps no reason of its own.
int failed_wal_write_errno();

}  // namespace flow::store::sqlite
