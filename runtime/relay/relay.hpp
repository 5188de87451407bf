// The outbox relay: delivers committed commands to their targets, at least once, in emit
// order per instance. A dispatcher thread reads each target's due commands on their own, no more
// than the target can take (so no target's backlog stands before another's), hands them out
// (never two of one instance: only an instance's first pending command is due, it stays handed
// out until its attempt is recorded, and meanwhile no other command of its instance is handed
// out, not even a dead one retried ahead of it) and records the attempts the lanes finish, in the
// writer's batches. Lanes, coroutines on one I/O thread, each with its own keep-alive
// connections, send them: each bound target has four lanes of its own, and the commands of
// targets without a binding share four more, so targets that hang, however many, leave the
// others their lanes. The dispatcher is woken after every commit and every finished attempt
// (push), and polls as a safety net (pull), so a crash between commit and delivery only delays
// a command. A target that gives no answer is not tried again until its retry is due: its other
// commands wait for the same backoff.
#pragma once

#include "runtime/relay/http_client.hpp"
#include "runtime/service/config.hpp"
#include "runtime/service/metrics.hpp"
#include "runtime/store/store.hpp"

#include "runtime/service/background_loop.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
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
    // After a commit: the outbox may hold new commands.
    void wake() {
        commits_since_read_ = true;
        loop_.wake();
    }
    // An operator says the target answers again: its commands are no longer held back for the
    // silence of an earlier one (POST /v1/outbox/expedite). From any thread.
    void forget_silence(const std::string& target) {
        std::lock_guard lock(mutex_);
        silent_.erase(target);
    }
    // Stops handing out commands, lets the attempts in progress finish and records them; those
    // still waiting on their targets after `grace` are cut off (recorded as attempts that never
    // make a command dead, to be sent again after the next start). Commands handed out but not
    // yet sent stay pending.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(2));

    // The delay before attempt `attempts + 1`: exponential from the initial backoff, with
    // jitter (between half and all of it), at most the maximum; Retry-After wins, cut to it, unless
    // it names no wait (zero, or a date past).
    static std::int64_t backoff_ms(const service::RetryPolicy& policy, int attempts, std::optional<std::int64_t> retry_after_ms,
                                   std::mt19937_64& random);
    // The JSON body a command is POSTed with (docs/http-api.md, "Commands on the wire").
    static std::string wire_body(const store::OutboxCommand& command);

    static constexpr int lanes_per_target = 4;  // each bound target's own, and those the unbound ones share
    static constexpr int handed_out_per_target = 256;        // more of a target wait in the database
    // Finished attempts are recorded together, in one job of the writer: once this many have
    // finished, once no lane is sending, or once the oldest has waited `record_delay`.
    static constexpr std::size_t record_batch = 128;
    static constexpr std::chrono::milliseconds record_delay{10};

private:
    // The dispatcher's round: records the attempts finished, hands out the commands due;
    // returns how long to sleep.
    std::chrono::milliseconds round();
    // What one lane owns: its keep-alive connections, its jitter, and the timer it waits on for
    // a command (cancelled to wake it). Used on the I/O thread only.
    struct Lane {
        Lane(boost::asio::io_context& io, std::string target) : target(std::move(target)), client(io), idle(io) {}
        const std::string target;  // the bound target it serves; empty: the targets without a binding
        HttpClient client;
        std::mt19937_64 random{std::random_device{}()};
        boost::asio::steady_timer idle;
        bool waiting = false;  // waits on `idle`
    };
    boost::asio::awaitable<void> run_lane(Lane& lane);
    // Wakes the lanes waiting for a command whose target has one waiting: from any thread.
    void wake_lanes();
    // What became of one command sent, and whether its target gave no answer at all.
    struct Delivery {
        store::DeliveryAttempt attempt;
        bool no_answer = false;  // the target gave no answer (a timeout, a refused or broken connection)
        bool answered = false;   // the target answered, whatever its status
    };
    // `command` lives in the calling lane's frame for the whole call.
    boost::asio::awaitable<Delivery> deliver(const store::OutboxCommand& command, Lane& lane);
    void log_dead(const store::OutboxCommand& command, int attempts, const std::string& error) const;
    // Records attempts; when that fails they are kept to be recorded later, unless this is the
    // last chance (flowd is stopping): then their commands are sent again after the restart.
    // Whether they were recorded.
    bool record(std::vector<store::DeliveryAttempt> attempts, bool last_chance = false);

    store::Store& store_;
    const service::Config& config_;
    service::Metrics& metrics_;
    std::function<std::int64_t()> now_ms_;
    RecordAttempts record_attempts_;
    std::atomic<bool> commits_since_read_{true};  // a commit since the dispatcher last read the outbox
    std::int64_t read_at_ms_ = 0;                 // when to read it at the latest (a retry due, or the poll)

    // Shared by the dispatcher and the lanes, under mutex_.
    struct TargetQueue {
        std::deque<store::OutboxCommand> waiting;  // handed out, not yet taken by a lane
        int handed_out = 0;                        // waiting or being sent
    };
    struct Silence {
        std::string error;
        std::int64_t until_ms = 0;
    };
    // The target whose next command `lane` should send, or targets_.end(): its own target when a
    // command of it waits; for the shared lanes, the targets without a binding in turn.
    std::map<std::string, TargetQueue>::iterator next_to_send(const Lane& lane);
    bool bound(const std::string& target) const { return config_.targets.count(target) > 0; }
    // Whether the finished attempts should be recorded now.
    bool record_due(std::chrono::steady_clock::time_point now) const;

    std::mutex mutex_;
    std::map<std::string, TargetQueue> targets_;
    std::string last_served_;                       // where a shared lane looks first: after it
    int sending_ = 0;                               // over all targets
    struct InHand {
        std::int64_t row;
        std::string target;
        std::string instance;
    };
    std::unordered_map<std::string, InHand> unrecorded_;  // by command id: handed out, attempt not yet recorded
    // The instances with a command in unrecorded_, and how many (one, but for a mistake): a
    // command of one of them waits, even the first pending one, which a dead command retried
    // while a later one of its instance is being sent has become.
    std::unordered_map<std::string, int> instances_in_hand_;
    void forget_in_hand(const std::string& command_id);
    std::map<std::string, Silence> silent_;         // targets that gave no answer, until their retry
    std::map<std::string, std::int64_t> answered_at_;  // when each target last answered a command
    // A target that answered a command this recently is not silent: a command that alone gets no
    // answer (one whose payload breaks the target's handler, say) holds back no other command.
    static constexpr std::int64_t recent_answer_ms = 1000;
    std::vector<store::DeliveryAttempt> finished_;  // attempts made, to record
    std::chrono::steady_clock::time_point first_finished_;  // when the oldest of finished_ finished
    // After a record failed (a full or read-only database): the attempts stay in hand, so that
    // their commands are not sent again, and are recorded again no sooner than this, with a
    // pause that doubles from 100 ms to 10 s while the failures last; meanwhile no command
    // more is handed out, so that those in hand stay at most about twice handed_out_per_target
    // a target (handed out, and finished but not recorded).
    std::chrono::steady_clock::time_point record_again_at_{};
    std::chrono::milliseconds record_pause_{0};
    bool lanes_stopping_ = false;

    boost::asio::io_context io_{1};                 // the lanes' context, run by io_thread_
    boost::asio::steady_timer cut_off_{io_};        // a stop's grace, after which the lanes are cut off
    std::vector<std::unique_ptr<Lane>> lanes_;      // after io_, which they use
    int lanes_running_ = 0;                          // on the I/O thread: the lanes not yet ended
    std::thread io_thread_;
    service::BackgroundLoop loop_;  // last: stopped first, while the members it uses still exist
};

}  // namespace flow::relay
