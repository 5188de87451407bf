#include "runtime/service/metrics.hpp"

#include <cstdio>

namespace flow::service {

namespace {

std::string number(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.10g", v);
    return buffer;
}

std::string escape_label(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

// The HELP line of each gauge the routes read from the store and the writer.
std::string gauge_help(const std::string& family) {
    if (family == "flow_instances") return "Instances, by status.";
    if (family == "flow_outbox_commands") return "Commands in the outbox, by status.";
    if (family == "flow_timers_pending") return "Timers waiting to fire.";
    if (family == "flow_database_available") return "Whether the database answers (0 while flowd waits for it).";
    if (family == "flow_writer_queue") return "Jobs waiting for the writer thread.";
    if (family == "flow_instance_cache_entries") return "Running instances the writer holds in memory.";
    return family + ".";
}

std::string counter_help(const std::string& family) {
    if (family == "flow_instance_cache_lookups_total")
        return "The writer's look-ups of a running instance, by whether its cache held it (hit) or the database was read (miss).";
    return family + ".";
}

// `# HELP` and `# TYPE` once per family, then each series; `help` gives a family's text.
template <typename Number, typename Format>
void render_family_series(std::string& out, const std::vector<std::pair<std::string, Number>>& series, const char* type,
                          std::string (*help)(const std::string&), Format format) {
    std::string last_family;
    for (const auto& [name, value] : series) {
        std::string family = name.substr(0, name.find('{'));
        if (family != last_family) out += "# HELP " + family + " " + help(family) + "\n# TYPE " + family + " " + type + "\n";
        last_family = family;
        out += name + " " + format(value) + "\n";
    }
}

}  // namespace

void Histogram::observe(double value) {
    std::size_t i = 0;
    while (i < bounds_.size() && value > bounds_[i]) ++i;
    ++counts_[i];
    sum_ += value;
    ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
    std::uint64_t cumulative = 0;
    std::string prefix = labels.empty() ? "" : labels + ",";
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        cumulative += counts_[i];
        out += name + "_bucket{" + prefix + "le=\"" + number(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += name + "_bucket{" + prefix + "le=\"+Inf\"} " + std::to_string(count_) + "\n";
    std::string braces = labels.empty() ? "" : "{" + labels + "}";
    out += name + "_sum" + braces + " " + number(sum_) + "\n";
    out += name + "_count" + braces + " " + std::to_string(count_) + "\n";
}

Metrics::Metrics() {
    for (const char* outcome : {"accepted", "duplicate", "rejected_400", "rejected_401", "rejected_413", "rejected_422", "unavailable"})
        events_[outcome] = 0;
}

void Metrics::count_deliveries_to(const std::vector<std::string>& targets) {
    std::lock_guard lock(mutex_);
    for (const std::string& target : targets)
        for (const char* result : {"delivered", "retry", "dead"}) deliveries_.try_emplace({target, result}, 0);
}

void Metrics::event(const std::string& outcome) {
    std::lock_guard lock(mutex_);
    ++events_[outcome];
}

void Metrics::ingest_latency(double seconds) {
    std::lock_guard lock(mutex_);
    ingest_.observe(seconds);
}

void Metrics::batch(std::size_t size) {
    std::lock_guard lock(mutex_);
    batches_.observe(static_cast<double>(size));
}

void Metrics::delivery(const std::string& target, const std::string& result, std::optional<double> seconds) {
    std::lock_guard lock(mutex_);
    ++deliveries_[{target, result}];
    if (!seconds) return;  // decided without sending: no latency to count
    auto found = delivery_latency_.find(target);
    if (found == delivery_latency_.end())
        found = delivery_latency_.emplace(target, Histogram({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})).first;
    found->second.observe(*seconds);
}

void Metrics::timer_fired() {
    std::lock_guard lock(mutex_);
    ++timers_fired_;
}

void Metrics::pruned(const std::string& what, std::int64_t rows) {
    std::lock_guard lock(mutex_);
    pruned_[what] += static_cast<std::uint64_t>(rows);
}

void Metrics::build_info(const std::string& version, const std::string& sqlite_version) {
    std::lock_guard lock(mutex_);
    build_labels_ = "version=\"" + escape_label(version) + "\",sqlite=\"" + escape_label(sqlite_version) + "\"";
}

std::string Metrics::render(const std::vector<std::pair<std::string, double>>& gauges,
                            const std::vector<std::pair<std::string, std::uint64_t>>& counters) const {
    std::lock_guard lock(mutex_);
    std::string out;
    if (!build_labels_.empty())
        out += "# HELP flow_build_info The release of flowd and of the SQLite library it runs on; always 1.\n"
               "# TYPE flow_build_info gauge\nflow_build_info{" + build_labels_ + "} 1\n";
    out += "# HELP flow_events_total Events received, by outcome.\n# TYPE flow_events_total counter\n";
    for (const auto& [outcome, n] : events_)
        out += "flow_events_total{outcome=\"" + escape_label(outcome) + "\"} " + std::to_string(n) + "\n";
    out += "# HELP flow_ingest_seconds Time from an accepted request's body being read to its durable acknowledgement.\n"
           "# TYPE flow_ingest_seconds histogram\n";
    ingest_.render(out, "flow_ingest_seconds", "");
    out += "# HELP flow_commit_batch_size Jobs committed per transaction (group commit).\n"
           "# TYPE flow_commit_batch_size histogram\n";
    batches_.render(out, "flow_commit_batch_size", "");
    out += "# HELP flow_delivery_attempts_total Command delivery attempts, by target and result.\n"
           "# TYPE flow_delivery_attempts_total counter\n";
    for (const auto& [key, n] : deliveries_)
        out += "flow_delivery_attempts_total{target=\"" + escape_label(key.first) + "\",result=\"" + escape_label(key.second) +
               "\"} " + std::to_string(n) + "\n";
    out += "# HELP flow_delivery_seconds Command delivery latency, by target.\n# TYPE flow_delivery_seconds histogram\n";
    for (const auto& [target, h] : delivery_latency_) h.render(out, "flow_delivery_seconds", "target=\"" + escape_label(target) + "\"");
    out += "# HELP flow_timers_fired_total Timers fired.\n# TYPE flow_timers_fired_total counter\n";
    out += "flow_timers_fired_total " + std::to_string(timers_fired_) + "\n";
    out += "# HELP flow_pruned_total Rows deleted by retention: delivered commands, ended instances, accepted event ids.\n# TYPE flow_pruned_total counter\n";
    for (const auto& [what, rows] : pruned_) out += "flow_pruned_total{what=\"" + what + "\"} " + std::to_string(rows) + "\n";
    render_family_series(out, gauges, "gauge", gauge_help, [](double value) { return number(value); });
    render_family_series(out, counters, "counter", counter_help, [](std::uint64_t value) { return std::to_string(value); });
    return out;
}

}  // namespace flow::service
