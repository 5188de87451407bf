#include "runtime/service/retention.hpp"

#include "runtime/service/log.hpp"
#include "runtime/service/processor.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace flow::service {

void Retention::start() {
    if (config_.retention_hours > 0 || config_.instance_retention_hours > 0 || config_.inbox_retention_hours > 0)
        loop_.start("flowd-retention", [this] { return round(); });
}

template <typename PruneRows>
Retention::Outcome Retention::prune(const Kind& kind, std::int64_t now_ms, const PruneRows& prune_rows) {
    Outcome outcome;
    if (kind.hours <= 0) return outcome;
    const std::string before = timestamp(now_ms - kind.hours * 3600000);
    auto cannot = [&](const store::StoreError& error) {
        // The next round, a minute later, tries again (a full disk, a lock held by a repair).
        log(now_ms_(), "warn", "cannot prune", {{"what", kind.what}, {"error", error.message}});
    };
    for (std::int64_t looked_at = 0; looked_at < kind.per_round && !loop_.stopping(); looked_at += kind.per_call) {
        auto pruned = prune_rows(before, std::min(kind.per_call, kind.per_round - looked_at), kind.from);
        if (!pruned.ok()) {
            cannot(*pruned.error);
            outcome.more = false;
            break;
        }
        outcome.deleted += pruned.value->deleted;
        kind.from = pruned.value->finished ? store::Store::PruneCursor{} : pruned.value->resume;
        outcome.more = !pruned.value->finished;
        if (pruned.value->error) {
            cannot(*pruned.value->error);
            outcome.more = false;
            break;
        }
        if (pruned.value->finished) break;
    }
    metrics_.pruned(kind.what, outcome.deleted);
    return outcome;
}

std::chrono::milliseconds Retention::round() {
    const std::int64_t now = now_ms_();
    const Outcome commands =
        prune({"commands", config_.retention_hours, shares_.commands_per_round, shares_.commands_per_call, commands_from_}, now,
              [&](const std::string& before, std::int64_t most_rows, store::Store::PruneCursor from) {
                  return store_.prune_delivered(before, most_rows, from);
              });
    const Outcome instances =
        prune({"instances", config_.instance_retention_hours, shares_.instances_per_round, shares_.instances_per_call, instances_from_},
              now, [&](const std::string& before, std::int64_t most_rows, store::Store::PruneCursor from) {
                  return store_.prune_ended_instances(before, most_rows, from);
              });
    const Outcome events =
        prune({"events", config_.inbox_retention_hours, shares_.events_per_round, shares_.events_per_call, events_from_}, now,
              [&](const std::string& before, std::int64_t most_rows, store::Store::PruneCursor) {
                  return store_.prune_inbox(before, most_rows);
              });
    nlohmann::json deleted = nlohmann::json::object();
    if (commands.deleted > 0) deleted["commands"] = commands.deleted;
    if (instances.deleted > 0) deleted["instances"] = instances.deleted;
    if (events.deleted > 0) deleted["events"] = events.deleted;
    if (!deleted.empty()) log(now_ms_(), "info", "pruned", {{"deleted", deleted}});
    return commands.more || instances.more || events.more ? std::chrono::seconds(1) : std::chrono::seconds(60);
}

}  // namespace flow::service
