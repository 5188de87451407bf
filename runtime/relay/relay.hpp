// The outbox relay: delivers committed commands to their targets, at least once, in emit
// order per instance. A dispatcher thread hands the due commands out (never two of one
// instance: only an instance's first pending command is due, and it stays handed out until its
// attempt is recorded) and records the attempts the lanes finish, in the writer's batches. Eight
// lanes, each a thread with its own keep-alive connections, send them; a target never holds
// more than half of the lanes, so one that hangs leaves the others theirs. The dispatcher is
// woken after every commit and every finished attempt (push), and polls as a safety net (pull),
// so a crash between commit and delivery only delays a command. A target that gives no answer
// is not tried again until its retry is due: its other commands wait for the same backoff.
#pragma once

#include "runtime/relay/http_client.hpp"
#include "runtime/service/config.hpp"
#include "runtime/service/metrics.hpp"
#include "runtime/store/store.hpp"

#include "runtime/service/background_loop.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>
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
    void start();
    void wake() { loop_.wake(); }
    // Stops handing out commands, lets the attempts in progress finish and records them; those
    // still waiting on their targets after `grace` are cut off (recorded as failed attempts, to
    // be retried after the next start). Commands handed out but not yet sent stay pending.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(2));

    // The delay before attempt `attempts + 1`: exponential from the initial backoff, with
    // jitter (between half and all of it), at most the maximum; Retry-After wins, cut to it.
    static std::int64_t backoff_ms(const service::RetryPolicy& policy, int attempts, std::optional<std::int64_t> retry_after_ms,
                                   std::mt19937_64& random);
    // The JSON body a command is POSTed with (INTERFACES.md, "Commands on the wire").
    static std::string wire_body(const store::OutboxCommand& command);

    static constexpr std::size_t lane_count = 8;
    static constexpr int lanes_per_target = lane_count / 2;  // a target that hangs leaves half the lanes
    static constexpr int handed_out_per_target = 64;         // more of a target wait in the database

private:
    // The dispatcher's round: records the attempts finished, hands out the commands due;
    // returns how long to sleep.
    std::chrono::milliseconds round();
    // What one delivery thread owns: its keep-alive connections and its jitter.
    struct Lane {
        HttpClient client;
        std::mt19937_64 random{std::random_device{}()};
        std::thread thread;
    };
    void run_lane(Lane& lane);
    // What became of one command sent, and whether its target gave no answer at all.
    struct Delivery {
        store::DeliveryAttempt attempt;
        bool no_answer = false;
    };
    Delivery deliver(const store::OutboxCommand& command, Lane& lane);
    // The first command handed out whose target has a lane to spare; queue_.end() if none.
    std::deque<store::OutboxCommand>::iterator next_to_send();
    void record(std::vector<store::DeliveryAttempt> attempts);

    store::Store& store_;
    const service::Config& config_;
    service::Metrics& metrics_;
    std::function<std::int64_t()> now_ms_;
    RecordAttempts record_attempts_;
    std::int64_t last_prune_ms_ = 0;

    // Shared by the dispatcher and the lanes, under mutex_.
    struct TargetLoad {
        int handed_out = 0;  // queued or being sent
        int sending = 0;
    };
    struct Silence {
        std::string error;
        std::int64_t until_ms = 0;
    };
    std::mutex mutex_;
    std::condition_variable to_send_;
    std::deque<store::OutboxCommand> queue_;            // handed out, not yet taken by a lane
    std::unordered_set<std::string> unrecorded_;        // ids handed out whose attempt is not yet recorded
    std::map<std::string, TargetLoad> load_;            // by target
    std::map<std::string, Silence> silent_;             // targets that gave no answer, until their retry
    std::vector<store::DeliveryAttempt> finished_;      // attempts made, to record
    bool lanes_stopping_ = false;

    std::vector<Lane> lanes_;
    service::BackgroundLoop loop_;  // last: stopped first, while the members it uses still exist
};

}  // namespace flow::relay
