#include "runtime/service/retention.hpp"

#include "runtime/service/processor.hpp"

#include <nlohmann/json.hpp>

#include <iostream>

namespace flow::service {

void Retention::start() {
    if (config_.retention_hours > 0 || config_.instance_retention_hours > 0)
        loop_.start("flowd-retention", [this] { return round(); });
}

std::chrono::milliseconds Retention::round() {
    const std::int64_t now = now_ms_();
    nlohmann::json deleted = nlohmann::json::object();
    bool more = false;
    // One kind of row: its cutoff, the store's prune for it, and where it goes on next time.
    auto prune = [&](const char* what, std::int64_t hours, store::Store::PruneCursor& from, const auto& prune_rows) {
        if (hours <= 0) return;
        auto pruned = prune_rows(timestamp(now - hours * 3600000), from);
        if (!pruned.ok()) {
            // The next round tries again (a full disk, a lock held by a repair by hand).
            std::cerr << nlohmann::json({{"ts", timestamp(now)}, {"level", "warn"}, {"msg", "cannot prune"}, {"what", what},
                                         {"error", pruned.error->message}})
                             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                      << "\n";
            return;
        }
        from = pruned.value->finished ? store::Store::PruneCursor{} : pruned.value->resume;
        more = more || !pruned.value->finished;
        metrics_.pruned(what, pruned.value->deleted);
        if (pruned.value->deleted > 0) deleted[what] = pruned.value->deleted;
    };
    prune("commands", config_.retention_hours, commands_from_, [&](const std::string& before, store::Store::PruneCursor from) {
        return store_.prune_delivered(before, commands_per_round, from);
    });
    prune("instances", config_.instance_retention_hours, instances_from_, [&](const std::string& before, store::Store::PruneCursor from) {
        return store_.prune_ended_instances(before, instances_per_round, from);
    });
    if (!deleted.empty())
        std::cerr << nlohmann::json({{"ts", timestamp(now_ms_())}, {"level", "info"}, {"msg", "pruned"}, {"deleted", deleted}}).dump()
                  << "\n";
    return more ? std::chrono::seconds(1) : std::chrono::seconds(60);
}

}  // namespace flow::service
