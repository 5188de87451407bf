// Counters and histograms for GET /metrics, in the Prometheus text format. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace flow::service {

class Histogram {
public:
    explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
    void observe(double value);
    // `name{labels,le="…"} n` lines, then _sum and _count.
    void render(std::string& out, const std::string& name, const std::string& labels) const;

private:
    std::vector<double> bounds_;
    std::vector<std::uint64_t> counts_;
    double sum_ = 0;
    std::uint64_t count_ = 0;
};

class Metrics {
public:
    // Every event outcome starts at 0, so that a counter's first increase is seen by rate():
    // a series that appears only with its first event hides that event.
    Metrics();
    // The same for the delivery results of each target bound.
    void count_deliveries_to(const std::vector<std::string>& targets);
    void event(const std::string& outcome);  // accepted, duplicate, rejected_400, …
    void ingest_latency(double seconds);
    void batch(std::size_t size);
    void delivery(const std::string& target, const std::string& result, std::optional<double> seconds);
    void timer_fired();
    void pruned(const std::string& what, std::int64_t rows);  // "commands", "instances" or "events"
    // The release and the SQLite library the process runs, shown as `flow_build_info` (not
    // shown until set).
    void build_info(const std::string& version, const std::string& sqlite_version);
    // The text exposition; `gauges` and `counters` are name{labels} -> value pairs read from the
    // store, each family's series together.
    std::string render(const std::vector<std::pair<std::string, double>>& gauges,
                       const std::vector<std::pair<std::string, std::uint64_t>>& counters = {}) const;

private:
    mutable std::mutex mutex_;  // guards everything below
    std::map<std::string, std::uint64_t> events_;
    Histogram ingest_{{0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}};
    Histogram batches_{{1, 2, 4, 8, 16, 32, 64, 128, 256}};
    std::map<std::pair<std::string, std::string>, std::uint64_t> deliveries_;
    std::map<std::string, Histogram> delivery_latency_;
    std::uint64_t timers_fired_ = 0;
    std::map<std::string, std::uint64_t> pruned_{{"commands", 0}, {"events", 0}, {"instances", 0}};
    std::string build_labels_;  // `version="…",sqlite="…"`, or empty
};

}  // namespace flow::service
