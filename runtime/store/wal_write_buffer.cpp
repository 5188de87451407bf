#include "runtime/store/wal_write_buffer.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace flow::store::sqlite {
namespace {

// The writes are handed on in pieces of at most this size: the default VFS on Unix writes no
// more than 128 KiB in one call (it masks the size to 17 bits, and reports a disk full when a
// larger write comes up short). 30 frames of 4 KiB fit.
constexpr int buffer_capacity = 120 * 1024;

std::atomic<std::uint64_t> writes_from_sqlite{0};
std::atomic<std::uint64_t> writes_to_file{0};

sqlite3_vfs* base_vfs = nullptr;  // the default VFS, set once at registration

// The system's reason for this thread's last failed write of kept bytes, until one succeeds
// (failed_wal_write_errno). SQLite asks the VFS for it too (sqlite3_system_errno), where the
// default VFS could only guess from `errno` by then.
thread_local int failed_write_errno = 0;

struct WalFile;

// Each wrapper is followed in the same allocation by the default VFS's own file object, `real`.
struct DatabaseFile {
    sqlite3_file base;
    sqlite3_file* real;
    WalFile* wal;  // this connection's WAL while it is open
};

struct WalFile {
    sqlite3_file base;
    sqlite3_file* real;
    DatabaseFile* database;  // null once the database file is closed
    char* data;              // the writes kept, from offset `start`, `used` bytes
    int used;
    sqlite3_int64 start;
    // A write of the kept bytes failed: every call fails until the write transaction ends, so
    // that SQLite rolls it back whole and no commit can lean on frames that are not in the file.
    bool failed;
};

constexpr int header_size = static_cast<int>((std::max(sizeof(DatabaseFile), sizeof(WalFile)) + 15) / 16 * 16);

sqlite3_file* real_of(sqlite3_file* file) { return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + header_size); }

// Writes the kept bytes out. A failure is reported as an I/O error, never as SQLITE_FULL (which
// SQLite may answer by rolling back one statement and going on), and stays until the write
// transaction ends.
int flush(WalFile& wal) {
    if (wal.failed) return SQLITE_IOERR_WRITE;
    if (wal.used == 0) return SQLITE_OK;
    writes_to_file.fetch_add(1, std::memory_order_relaxed);
    errno = 0;
    int code = wal.real->pMethods->xWrite(wal.real, wal.data, wal.used, wal.start);
    const int system_error = errno;
    wal.used = 0;
    if (code == SQLITE_OK) {
        failed_write_errno = 0;
        return SQLITE_OK;
    }
    failed_write_errno = system_error != 0 ? system_error : (code & 0xff) == SQLITE_FULL ? ENOSPC : EIO;
    wal.failed = true;
    return SQLITE_IOERR_WRITE;
}

// --- The WAL file -------------------------------------------------------------------------

WalFile& wal_of(sqlite3_file* file) { return *reinterpret_cast<WalFile*>(file); }

int wal_close(sqlite3_file* file) {
    WalFile& wal = wal_of(file);
    int flushed = flush(wal);
    if (wal.database) wal.database->wal = nullptr;
    std::free(wal.data);
    wal.data = nullptr;
    int closed = wal.real->pMethods->xClose(wal.real);
    return flushed != SQLITE_OK ? flushed : closed;
}

int wal_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
    WalFile& wal = wal_of(file);
    if (int code = flush(wal); code != SQLITE_OK) return code;
    return wal.real->pMethods->xRead(wal.real, out, amount, offset);
}

int wal_write(sqlite3_file* file, const void* in, int amount, sqlite3_int64 offset) {
    WalFile& wal = wal_of(file);
    writes_from_sqlite.fetch_add(1, std::memory_order_relaxed);
    if (wal.failed) return SQLITE_IOERR_WRITE;
    const bool follows = wal.used > 0 && offset == wal.start + wal.used;
    if (follows && wal.used + amount <= buffer_capacity) {
        std::memcpy(wal.data + wal.used, in, static_cast<std::size_t>(amount));
        wal.used += amount;
        return SQLITE_OK;
    }
    // Anything else (a gap, a write over bytes kept, a full buffer) first writes out what is
    // kept, so that the file receives every write in the order SQLite made them.
    if (int code = flush(wal); code != SQLITE_OK) return code;
    if (!wal.data) wal.data = static_cast<char*>(std::malloc(buffer_capacity));
    if (amount >= buffer_capacity || !wal.data) {  // too large to keep, or no memory to keep it in
        writes_to_file.fetch_add(1, std::memory_order_relaxed);
        return wal.real->pMethods->xWrite(wal.real, in, amount, offset);
    }
    std::memcpy(wal.data, in, static_cast<std::size_t>(amount));
    wal.used = amount;
    wal.start = offset;
    return SQLITE_OK;
}

int wal_truncate(sqlite3_file* file, sqlite3_int64 size) {
    WalFile& wal = wal_of(file);
    if (int code = flush(wal); code != SQLITE_OK) return code;
    return wal.real->pMethods->xTruncate(wal.real, size);
}

int wal_sync(sqlite3_file* file, int flags) {
    WalFile& wal = wal_of(file);
    if (int code = flush(wal); code != SQLITE_OK) return code;
    return wal.real->pMethods->xSync(wal.real, flags);
}

int wal_file_size(sqlite3_file* file, sqlite3_int64* size) {
    WalFile& wal = wal_of(file);
    if (int code = flush(wal); code != SQLITE_OK) return code;
    return wal.real->pMethods->xFileSize(wal.real, size);
}

// The write transaction has ended: a failure of this connection's writes is over with it.
void end_write_transaction(WalFile& wal) {
    (void)flush(wal);  // nothing is kept after it, written or not
    wal.failed = false;
}

int wal_lock(sqlite3_file* file, int level) { return wal_of(file).real->pMethods->xLock(wal_of(file).real, level); }
int wal_unlock(sqlite3_file* file, int level) { return wal_of(file).real->pMethods->xUnlock(wal_of(file).real, level); }
int wal_check_reserved_lock(sqlite3_file* file, int* out) {
    return wal_of(file).real->pMethods->xCheckReservedLock(wal_of(file).real, out);
}

int wal_file_control(sqlite3_file* file, int op, void* argument) {
    WalFile& wal = wal_of(file);
    if (int code = flush(wal); code != SQLITE_OK) return code;
    return wal.real->pMethods->xFileControl(wal.real, op, argument);
}

int wal_sector_size(sqlite3_file* file) { return wal_of(file).real->pMethods->xSectorSize(wal_of(file).real); }
int wal_device_characteristics(sqlite3_file* file) {
    return wal_of(file).real->pMethods->xDeviceCharacteristics(wal_of(file).real);
}

// Version 1: SQLite maps no WAL file into memory and keeps no shared memory of its own in it.
const sqlite3_io_methods wal_methods = {
    1, wal_close, wal_read, wal_write, wal_truncate, wal_sync, wal_file_size, wal_lock, wal_unlock,
    wal_check_reserved_lock, wal_file_control, wal_sector_size, wal_device_characteristics,
    nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};

// --- The main database file: every call handed on; a lock of the WAL index is released only
// after the connection's WAL writes are out ------------------------------------------------

DatabaseFile& database_of(sqlite3_file* file) { return *reinterpret_cast<DatabaseFile*>(file); }
sqlite3_file* real_database(sqlite3_file* file) { return database_of(file).real; }

int database_close(sqlite3_file* file) {
    DatabaseFile& database = database_of(file);
    if (database.wal) database.wal->database = nullptr;
    return database.real->pMethods->xClose(database.real);
}
int database_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
    return real_database(file)->pMethods->xRead(real_database(file), out, amount, offset);
}
int database_write(sqlite3_file* file, const void* in, int amount, sqlite3_int64 offset) {
    return real_database(file)->pMethods->xWrite(real_database(file), in, amount, offset);
}
int database_truncate(sqlite3_file* file, sqlite3_int64 size) {
    return real_database(file)->pMethods->xTruncate(real_database(file), size);
}
int database_sync(sqlite3_file* file, int flags) { return real_database(file)->pMethods->xSync(real_database(file), flags); }
int database_file_size(sqlite3_file* file, sqlite3_int64* size) {
    return real_database(file)->pMethods->xFileSize(real_database(file), size);
}
int database_lock(sqlite3_file* file, int level) { return real_database(file)->pMethods->xLock(real_database(file), level); }
int database_unlock(sqlite3_file* file, int level) {
    // In exclusive locking mode the WAL index takes no locks: the database file's own lock is
    // the one that lets other connections in.
    if (WalFile* wal = database_of(file).wal) end_write_transaction(*wal);
    return real_database(file)->pMethods->xUnlock(real_database(file), level);
}
int database_check_reserved_lock(sqlite3_file* file, int* out) {
    return real_database(file)->pMethods->xCheckReservedLock(real_database(file), out);
}
int database_file_control(sqlite3_file* file, int op, void* argument) {
    return real_database(file)->pMethods->xFileControl(real_database(file), op, argument);
}
int database_sector_size(sqlite3_file* file) { return real_database(file)->pMethods->xSectorSize(real_database(file)); }
int database_device_characteristics(sqlite3_file* file) {
    return real_database(file)->pMethods->xDeviceCharacteristics(real_database(file));
}
int database_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
    return real_database(file)->pMethods->xShmMap(real_database(file), region, size, extend, out);
}
// The lock of the WAL index that a writer holds for its whole transaction (SQLite's
// WAL_WRITE_LOCK, the first of its locks).
constexpr int wal_write_lock = 0;

int database_shm_lock(sqlite3_file* file, int offset, int count, int flags) {
    DatabaseFile& database = database_of(file);
    if ((flags & SQLITE_SHM_UNLOCK) && database.wal) {
        // Released, a lock lets another connection write at the offsets this one still holds
        // writes for (those of a transaction rolled back).
        if (offset == wal_write_lock) end_write_transaction(*database.wal);
        else if (int code = flush(*database.wal); code != SQLITE_OK) {
            (void)database.real->pMethods->xShmLock(database.real, offset, count, flags);
            return code;
        }
    }
    return database.real->pMethods->xShmLock(database.real, offset, count, flags);
}
// SQLite publishes a commit to other connections by writing the WAL index's header in two
// copies with a barrier between them: every write of the commit is in the file before the second
// copy makes it visible, whether or not it was synced (a commit padded to a sector boundary
// writes the last frame's tail after its sync).
void database_shm_barrier(sqlite3_file* file) {
    if (WalFile* wal = database_of(file).wal) (void)flush(*wal);
    real_database(file)->pMethods->xShmBarrier(real_database(file));
}
int database_shm_unmap(sqlite3_file* file, int delete_too) {
    return real_database(file)->pMethods->xShmUnmap(real_database(file), delete_too);
}
int database_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
    return real_database(file)->pMethods->xFetch(real_database(file), offset, amount, out);
}
int database_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
    return real_database(file)->pMethods->xUnfetch(real_database(file), offset, page);
}

const sqlite3_io_methods database_methods = {
    3, database_close, database_read, database_write, database_truncate, database_sync, database_file_size,
    database_lock, database_unlock, database_check_reserved_lock, database_file_control, database_sector_size,
    database_device_characteristics, database_shm_map, database_shm_lock, database_shm_barrier, database_shm_unmap,
    database_fetch, database_unfetch};

// --- The VFS --------------------------------------------------------------------------------

int open_file(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
    const bool main_database = (flags & SQLITE_OPEN_MAIN_DB) != 0;
    const bool wal = (flags & SQLITE_OPEN_WAL) != 0;
    if (!main_database && !wal) return base_vfs->xOpen(base_vfs, name, file, flags, out_flags);  // the default's own

    file->pMethods = nullptr;  // until the file is open: SQLite then does not close it
    sqlite3_file* real = real_of(file);
    int code = base_vfs->xOpen(base_vfs, name, real, flags, out_flags);
    if (code != SQLITE_OK) {
        if (real->pMethods) real->pMethods->xClose(real);
        return code;
    }
    if (main_database) {
        if (real->pMethods->iVersion < 3) {  // the default VFS on Unix has version 3; no other is expected
            real->pMethods->xClose(real);
            return SQLITE_CANTOPEN;
        }
        auto* database = reinterpret_cast<DatabaseFile*>(file);
        database->real = real;
        database->wal = nullptr;
        file->pMethods = &database_methods;
        return SQLITE_OK;
    }
    auto* log = reinterpret_cast<WalFile*>(file);
    log->real = real;
    log->data = nullptr;
    log->used = 0;
    log->start = 0;
    log->failed = false;
    log->database = nullptr;
    sqlite3_file* owner = sqlite3_database_file_object(name);
    if (owner && owner->pMethods == &database_methods) {
        log->database = reinterpret_cast<DatabaseFile*>(owner);
        log->database->wal = log;
    }
    file->pMethods = &wal_methods;
    return SQLITE_OK;
}

int delete_file(sqlite3_vfs*, const char* name, int sync_directory) { return base_vfs->xDelete(base_vfs, name, sync_directory); }
int access_file(sqlite3_vfs*, const char* name, int flags, int* out) { return base_vfs->xAccess(base_vfs, name, flags, out); }
int full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
    return base_vfs->xFullPathname(base_vfs, name, size, out);
}
void* dl_open(sqlite3_vfs*, const char* name) { return base_vfs->xDlOpen(base_vfs, name); }
void dl_error(sqlite3_vfs*, int size, char* out) { base_vfs->xDlError(base_vfs, size, out); }
void (*dl_symbol(sqlite3_vfs*, void* library, const char* symbol))(void) { return base_vfs->xDlSym(base_vfs, library, symbol); }
void dl_close(sqlite3_vfs*, void* library) { base_vfs->xDlClose(base_vfs, library); }
int randomness(sqlite3_vfs*, int size, char* out) { return base_vfs->xRandomness(base_vfs, size, out); }
int sleep_for(sqlite3_vfs*, int microseconds) { return base_vfs->xSleep(base_vfs, microseconds); }
int current_time(sqlite3_vfs*, double* out) { return base_vfs->xCurrentTime(base_vfs, out); }
int last_error(sqlite3_vfs*, int size, char* out) {
    if (failed_write_errno != 0) return failed_write_errno;
    return base_vfs->xGetLastError(base_vfs, size, out);
}
int current_time_ms(sqlite3_vfs*, sqlite3_int64* out) { return base_vfs->xCurrentTimeInt64(base_vfs, out); }

sqlite3_vfs buffering_vfs = {
    2, 0, 1024, nullptr, "flow-wal-write-buffer", nullptr, open_file, delete_file, access_file, full_pathname,
    dl_open, dl_error, dl_symbol, dl_close, randomness, sleep_for, current_time, last_error, current_time_ms,
    nullptr, nullptr, nullptr};

}  // namespace

const char* wal_write_buffer_vfs() {
    static std::once_flag once;
    static bool registered = false;
    std::call_once(once, [] {
        base_vfs = sqlite3_vfs_find(nullptr);
        if (!base_vfs || base_vfs->iVersion < 2) return;
        buffering_vfs.szOsFile = header_size + base_vfs->szOsFile;
        buffering_vfs.mxPathname = base_vfs->mxPathname;
        registered = sqlite3_vfs_register(&buffering_vfs, 0) == SQLITE_OK;
    });
    return registered ? buffering_vfs.zName : nullptr;
}

WalWriteCounts wal_write_counts() {
    return {writes_from_sqlite.load(std::memory_order_relaxed), writes_to_file.load(std::memory_order_relaxed)};
}

int failed_wal_write_errno() { return failed_write_errno; }

}  // namespace flow::store::sqlite
