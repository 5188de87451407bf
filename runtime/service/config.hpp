// flowd's configuration: the JSON file of docs/runtime.md, with the defaults documented in
// docs/runtime.md, and command-line overrides applied on top.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace flow::service {

struct RetryPolicy {
    int max_attempts = 12;
    std::int64_t initial_backoff_ms = 1000;
    std::int64_t max_backoff_ms = 3600000;
};

struct Target {
    std::string url;     // http://host:port/path or https://…
    std::string ca_file; // https: the PEM file of the authorities to trust (empty: the system's)
    std::string secret;  // signs commands (Standard Webhooks) when set
    std::int64_t timeout_ms = 10000;
    RetryPolicy retry;
};

struct Config {
    std::map<std::string, Target> targets;
    std::vector<std::string> webhook_secrets;
    std::string admin_token;
    std::size_t max_body_bytes = 1048576;
    // A CloudEvents batch holds at most this many events. The default is more than a batch of the
    // smallest CloudEvents can hold under the default max_body_bytes (about 19,400), so that a
    // sender within the contract's limits never meets it.
    std::size_t max_batch_events = 20000;
    std::string synchronous = "FULL";
    std::size_t max_connections = 1024;
    std::int64_t header_timeout_ms = 10000;
    std::int64_t body_timeout_ms = 30000;
    std::int64_t retention_hours = 168;  // delivered commands are pruned after this; 0 keeps them
    std::int64_t instance_retention_hours = 0;  // ended instances are pruned after this; 0 keeps them
    std::int64_t inbox_retention_hours = 0;     // accepted event ids are forgotten after this; 0 keeps them
    std::string metrics_listen;          // a separate address for /metrics and /healthz, if set
    std::int64_t max_database_mb = 0;    // the database may grow to this size; 0: no limit but the disk's
    std::string tls_certificate;         // PEM certificate chain: when set (with the key), the API is served over TLS
    std::string tls_private_key;         // PEM private key
};

// Reads a config file; the message says what is wrong and where.
std::optional<std::string> load_config(const std::string& path, Config& config);
// Parses "name=url" from --target.
std::optional<std::string> add_target_flag(const std::string& flag, Config& config);

}  // namespace flow::service
