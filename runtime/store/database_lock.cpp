#include "runtime/store/database_lock.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace flow::store::sqlite {

Result<DatabaseLock> DatabaseLock::take(const std::string& path) {
    if (path.empty()) return Result<DatabaseLock>::success(DatabaseLock(-1));
    int descriptor = -1;
    do descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    while (descriptor < 0 && errno == EINTR);
    if (descriptor < 0)
        return Result<DatabaseLock>::failure({StoreError::Kind::Unavailable, "cannot open " + path + " to lock it: " + std::strerror(errno)});
    DatabaseLock lock(descriptor);
    int code = 0;
    do code = ::flock(descriptor, LOCK_EX | LOCK_NB);
    while (code != 0 && errno == EINTR);
    if (code == 0) return Result<DatabaseLock>::success(std::move(lock));
    if (errno == EWOULDBLOCK)
        return Result<DatabaseLock>::failure(
            {StoreError::Kind::Conflict, "the database " + path +
                                             " is in use by another flowd: one flowd per database (stop the other one, or give this "
                                             "one another --db)"});
    // A file system without flock(2) (ENOLCK, EINVAL): waiting would not help, and going on
    // unlocked would leave the database open to a second flowd.
    return Result<DatabaseLock>::failure({StoreError::Kind::Conflict, "cannot lock " + path + ": " + std::strerror(errno)});
}

DatabaseLock& DatabaseLock::operator=(DatabaseLock&& other) noexcept {
    if (this != &other) {
        if (descriptor_ >= 0) ::close(descriptor_);
        descriptor_ = other.descriptor_;
        other.descriptor_ = -1;
    }
    return *this;
}

DatabaseLock::~DatabaseLock() {
    if (descriptor_ >= 0) ::close(descriptor_);  // the lock goes with it
}

}  // namespace flow::store::sqlite
