// The outbox relay: delivers committed commands to their targets, at least once, in emit
// order per instance, up to four at a time (never two of one instance). Woken after every
// commit (push), and polling as a safety net (pull), so a crash between commit and delivery
// only delays a command. A target that gives no answer is not tried again in the same round.
#pragma once

#include "runtime/relay/http_client.hpp"
#include "runtime/service/config.hpp"
#include "runtime/service/metrics.hpp"
#include "runtime/store/store.hpp"

#include "runtime/service/background_loop.hpp"

#include <chrono>
#include <functional>
#include <random>
#include <vector>

namespace flow::relay {

class Relay {
public:
    // Records the attempts of one round durably; the result of their commit. flowd passes them
    // to the writer, so that they share its transactions (and fsyncs) with the events.
    using RecordAttempts = std::function<store::Status(std::vector<store::DeliveryAttempt>)>;

    Relay(store::Store& store, const service::Config& config, service::Metrics& metrics, std::function<std::int64_t()> now_ms,
          RecordAttempts record_attempts);
    ~Relay();
    void start() { loop_.start("flowd-relay", [this] { return round(); }); }
    void wake() { loop_.wake(); }
    // Stops after the round in progress; delivery attempts still waiting on their targets after
    // `grace` are cut off (recorded as failed attempts, to be retried after the next start).
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(2));

    // The delay before attempt `attempts + 1`: exponential from the initial backoff, with
    // jitter (between half and all of it), at most the maximum; Retry-After wins, cut to it.
    static std::int64_t backoff_ms(const service::RetryPolicy& policy, int attempts, std::optional<std::int64_t> retry_after_ms,
                                   std::mt19937_64& random);
    // The JSON body a command is POSTed with (INTERFACES.md, "Commands on the wire").
    static std::string wire_body(const store::OutboxCommand& command);

private:
    // Delivers what is due; returns how long to sleep.
    std::chrono::milliseconds round();
    // What one delivery thread owns: its keep-alive connections and its jitter.
    struct Lane {
        HttpClient client;
        std::mt19937_64 random{std::random_device{}()};
    };
    static constexpr std::size_t lane_count = 4;
    // What became of one command sent, and whether its target gave no answer at all.
    struct Delivery {
        store::DeliveryAttempt attempt;
        bool no_answer = false;
    };
    Delivery deliver(const store::OutboxCommand& command, Lane& lane);

    store::Store& store_;
    const service::Config& config_;
    service::Metrics& metrics_;
    std::function<std::int64_t()> now_ms_;
    RecordAttempts record_attempts_;
    std::vector<Lane> lanes_;  // the first is used by the relay's own thread
    std::int64_t last_prune_ms_ = 0;
    service::BackgroundLoop loop_;  // last: stopped first, while the members it uses still exist
};

}  // namespace flow::relay
