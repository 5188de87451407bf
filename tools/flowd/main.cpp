// flowd: runs compiled workflows as a durable server (runtime/daemon/daemon.hpp). This main
// prepares the process, reads the command line and hands over.
#include "runtime/daemon/command_line.hpp"
#include "runtime/daemon/daemon.hpp"

#include <sqlite3.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <pthread.h>
#include <signal.h>
#include <string>
#include <unistd.h>

namespace {

// glibc keeps at most 7 freed blocks of each size per thread; past that, a free goes back to the
// shared heap, under its lock. Events are allocated on the I/O threads and freed on the writer's
// and the other way round, so with the default most frees take that path: 8-11 % of the
// throughput over HTTP (docs/performance.md). A glibc tunable raises the count, but it is read
// only when a process starts, so flowd starts itself again once with it set. Operators who set
// GLIBC_TUNABLES themselves keep theirs; where the exec fails, flowd goes on with the defaults.
void restart_with_larger_malloc_caches(char** argv) {
#ifdef __GLIBC__
    if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
    if (setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=1000", 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("GLIBC_TUNABLES");
#else
    (void)argv;
#endif
}

// Started again through /proc/self/exe, the process would be named `exe`, the name ps, top,
// pgrep -x and killall go by: it takes the name of the file it was started as, which the
// threads started later inherit unless they are given their own.
void keep_the_name_started_as(const char* argv0) {
    if (argv0 == nullptr) return;
    const char* slash = std::strrchr(argv0, '/');
    const std::string name = std::string(slash ? slash + 1 : argv0).substr(0, 15);  // the kernel keeps 15 bytes
    if (!name.empty()) pthread_setname_np(pthread_self(), name.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    restart_with_larger_malloc_caches(argv);
    keep_the_name_started_as(argv[0]);
    // Until flowd waits for them, the stop signals are held pending: one that comes while the
    // flows compile stops flowd cleanly once it can, as at any other moment, where it killed it
    // (exit 143, nothing logged). Threads started meanwhile keep them blocked.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, s);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    std::string problem;
    auto args = flow::daemon::parse_arguments(argc, argv, problem);
    if (!args) {
        std::cerr << "flowd: " << problem << "\n" << flow::daemon::usage_text;
        return 2;
    }
    if (args->help) {
        std::cout << flow::daemon::usage_text << flow::daemon::help_text;
        return 0;
    }
    if (args->version) {
        std::cout << "flowd " FLOW_VERSION " (Flow language 1, SQLite " << sqlite3_libversion() << ")\n";
        return 0;
    }
    return flow::daemon::run(*args, stop_signals);
}
