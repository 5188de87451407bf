#pragma once
// The workflow versions a database holds from earlier starts, run again for their instances.
#include "runtime/service/config.hpp"
#include "runtime/service/deployment.hpp"
#include "runtime/store/store.hpp"

#include <cstdint>
#include <functional>
#include <vector>

namespace flow::daemon {

// Adds to `deployment` each recorded version it has no engine for, compiled again from the
// sources it was deployed with (each distinct text once: the sources of a start hold all its
// workflows). A version left out is logged as a warning, and its instances cannot run (their
// `cannot_run` says so): one whose sources no longer compile or no longer hold the workflow,
// and one that compiles to another program than its recorded hash (its instances hold their
// variables by position and their timers by index, and would run with their values in the
// wrong places). A version added that sends commands to targets `config` does not bind is
// logged too: what its running instances send there goes dead.
// `now_ms` stamps the log lines.
void add_older_versions(service::Deployment& deployment, const std::vector<store::Definition>& definitions,
                        const service::Config& config, const std::function<std::int64_t()>& now_ms);

}  // namespace flow::daemon
