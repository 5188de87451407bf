#pragma once
// flowd's life, from its command line to its last log line: it reads the configuration,
// compiles the flows, opens (or waits for) the database and deploys into it, then runs the
// writer, the relay, the timer loop, the retention and the HTTP server until a stop signal, and
// stops them in order.
#include "runtime/daemon/command_line.hpp"

#include <signal.h>

namespace flow::daemon {

// Runs flowd; returns the process's exit status: 0 after a clean stop, 1 when the start failed
// (flows that do not compile, a target not bound, a database that cannot be used, a port that
// cannot be opened), 2 for a mistake in the configuration or the paths given. What went wrong
// is written to standard error; the rest is logged there as JSON lines (service/log.hpp).
//
// `stop_signals` (SIGINT, SIGTERM, SIGHUP) must be blocked in the calling thread, so in every
// thread started from it: they are unblocked once flowd waits for them, and one that came while
// the flows compiled stops flowd then, cleanly, as at any other moment.
int run(const Arguments& arguments, const sigset_t& stop_signals);

}  // namespace flow::daemon
