// One flowd per database: an advisory lock on the database file, held for as long as the store
// is open.
//
// Two flowd on one file would each relay the outbox and fire the timers, and each writer keeps
// the running instances it has read in memory (instance_cache.hpp), so one would overwrite what
// the other wrote. The lock is `flock(2)` on the database file itself: the kernel drops it when
// its holder ends, however it ends, so a crash leaves nothing to clean up, and it does not meet
// SQLite's own locks, which are `fcntl(2)` byte ranges. Other programs (the `sqlite3` shell, a
// backup) take no such lock and are not kept out.
//
// The descriptor must be closed only after every SQLite connection of this process to the file
// is: closing any descriptor of a file drops the process's `fcntl` locks on it. The store keeps
// the lock as its first member, so that it goes last.
#pragma once

#include "runtime/store/store.hpp"

#include <string>

namespace flow::store::sqlite {

class DatabaseLock {
public:
    // Takes the lock on the database file at `path`, as SQLite resolved it (an empty path, a
    // database in memory, takes none). Conflict when another holds it or the file system cannot
    // lock; Unavailable when the file cannot be opened.
    static Result<DatabaseLock> take(const std::string& path);

    DatabaseLock(DatabaseLock&& other) noexcept : descriptor_(other.descriptor_) { other.descriptor_ = -1; }
    DatabaseLock& operator=(DatabaseLock&& other) noexcept;
    DatabaseLock(const DatabaseLock&) = delete;
    DatabaseLock& operator=(const DatabaseLock&) = delete;
    ~DatabaseLock();

private:
    explicit DatabaseLock(int descriptor) : descriptor_(descriptor) {}
    int descriptor_ = -1;
};

}  // namespace flow::store::sqlite
