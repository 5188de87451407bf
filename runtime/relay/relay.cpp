#include "runtime/relay/relay.hpp"

#include "runtime/http/webhook_signature.hpp"
#include "runtime/service/log.hpp"
#include "runtime/service/processor.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace flow::relay {

using nlohmann::json;

Relay::Relay(store::Store& store, const service::Config& config, service::Metrics& metrics, std::function<std::int64_t()> now_ms,
             RecordAttempts record_attempts)
    : store_(store), config_(config), metrics_(metrics), now_ms_(std::move(now_ms)), record_attempts_(std::move(record_attempts)) {
    for (const auto& [target, binding] : config_.targets)
        for (int i = 0; i < lanes_per_target; ++i) lanes_.push_back(std::make_unique<Lane>(io_, target));
    for (int i = 0; i < lanes_per_target; ++i) lanes_.push_back(std::make_unique<Lane>(io_, std::string()));
}

Relay::~Relay() { stop(); }

void Relay::start() {
    lanes_running_ = static_cast<int>(lanes_.size());
    for (auto& lane : lanes_)
        boost::asio::co_spawn(io_, run_lane(*lane), [this](std::exception_ptr failure) {
            if (failure) std::rethrow_exception(failure);  // as a thread's would: out of run(), and terminate
            // A lookup left to finish on Asio's thread would keep run() going: the lanes are done.
            if (--lanes_running_ == 0) io_.stop();
        });
    io_thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "flowd-lanes");
        io_.run();
    });
    loop_.start("flowd-relay", [this] { return round(); });
}

void Relay::wake_lanes() {
    boost::asio::post(io_, [this] {
        std::lock_guard lock(mutex_);
        for (auto& lane : lanes_)
            if (lane->waiting && next_to_send(*lane) != targets_.end()) lane->idle.cancel();
    });
}

void Relay::stop(std::chrono::milliseconds grace) {
    loop_.stop();  // no more commands handed out, nor attempts recorded by the dispatcher
    {
        std::lock_guard lock(mutex_);
        lanes_stopping_ = true;
    }
    // The lanes waiting for a command end at once. A target that hangs would hold the stop for
    // its whole timeout: past the grace, the attempts in progress are cut off. At least once
    // still holds: a target that got the command before the cut gets it again, with the same
    // Idempotency-Key. The I/O thread ends with the last lane, whatever the timer.
    boost::asio::post(io_, [this, grace] {
        for (auto& lane : lanes_)
            if (lane->waiting) lane->idle.cancel();
        cut_off_.expires_after(grace);
        cut_off_.async_wait([this](boost::system::error_code cancelled) {
            if (!cancelled)
                for (auto& lane : lanes_) lane->client.abort();
        });
    });
    if (io_thread_.joinable()) io_thread_.join();
    std::vector<store::DeliveryAttempt> last;
    {
        std::lock_guard lock(mutex_);
        last.swap(finished_);
    }
    if (!last.empty()) record(std::move(last), true);
}

namespace {

// Appends a JSON string. The ids, types and names a command carries are plain ASCII as a rule,
// and are copied as they are; any other text goes through the JSON library, which escapes it
// and replaces bytes that are not UTF-8.
void append_quoted(std::string& out, const std::string& text) {
    const bool plain = std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
    if (!plain) {
        out += json(text).dump(-1, ' ', false, json::error_handler_t::replace);
        return;
    }
    out += '"';
    out += text;
    out += '"';
}

}  // namespace

// {"id", "type", "workflow", "instance", "key", "data"}: the key and the data are stored as
// JSON text by the processor, so they are spliced in as they are instead of parsed again.
std::string Relay::wire_body(const store::OutboxCommand& command) {
    std::string text;
    text.reserve(128 + command.id.size() + command.type.size() + command.workflow.size() + command.instance.size() +
                 command.key.size() + command.payload.size());
    text += "{\"id\":";
    append_quoted(text, command.id);
    text += ",\"type\":";
    append_quoted(text, command.type);
    text += ",\"workflow\":";
    append_quoted(text, command.workflow);
    text += ",\"instance\":";
    append_quoted(text, command.instance);
    text += ",\"key\":";
    text += command.key.empty() ? std::string_view("null") : std::string_view(command.key);
    text += ",\"data\":";
    text += command.payload.empty() ? std::string_view("null") : std::string_view(command.payload);
    text += '}';
    return text;
}

std::int64_t Relay::backoff_ms(const service::RetryPolicy& policy, int attempts, std::optional<std::int64_t> retry_after_ms,
                               std::mt19937_64& random) {
    // A Retry-After of zero (or a date past) names no wait: the backoff stands, or a target
    // that keeps answering so would use up every attempt within milliseconds.
    if (retry_after_ms && *retry_after_ms > 0) return std::min(*retry_after_ms, policy.max_backoff_ms);
    std::int64_t delay = policy.initial_backoff_ms;
    for (int i = 1; i < attempts && delay > 0 && delay < policy.max_backoff_ms; ++i) delay *= 2;
    delay = std::min(delay, policy.max_backoff_ms);
    std::uniform_int_distribution<std::int64_t> jitter(delay / 2, delay);
    return jitter(random);
}

bool Relay::record(std::vector<store::DeliveryAttempt> attempts, bool last_chance) {
    // A crash before this only means these commands are sent again: at least once, with the
    // same id.
    auto e = record_attempts_(attempts);
    std::lock_guard lock(mutex_);
    if (!e) {
        record_pause_ = std::chrono::milliseconds(0);
        for (const store::DeliveryAttempt& a : attempts) forget_in_hand(a.id);
        return true;
    }
    json fields = {{"error", e->message}, {"attempts", attempts.size()}};
    if (last_chance) {  // flowd is stopping: the commands are sent again after the restart
        service::log(now_ms_(), "error", "cannot record deliveries", std::move(fields));
        for (const store::DeliveryAttempt& a : attempts) forget_in_hand(a.id);
        return false;
    }
    // Sending the commands again could not be recorded either: they stay in hand, and their
    // attempts are recorded again after a pause.
    using std::chrono::milliseconds;
    record_pause_ = std::clamp(record_pause_ * 2, milliseconds(100), milliseconds(10000));
    record_again_at_ = std::chrono::steady_clock::now() + record_pause_;
    fields["again_in_ms"] = record_pause_.count();
    service::log(now_ms_(), "error", "cannot record deliveries", std::move(fields));
    if (finished_.empty()) first_finished_ = std::chrono::steady_clock::now();
    finished_.insert(finished_.begin(), std::make_move_iterator(attempts.begin()), std::make_move_iterator(attempts.end()));
    return false;
}

void Relay::forget_in_hand(const std::string& command_id) {
    auto held = unrecorded_.find(command_id);
    if (held == unrecorded_.end()) return;
    auto instance = instances_in_hand_.find(held->second.instance);
    if (instance != instances_in_hand_.end() && --instance->second == 0) instances_in_hand_.erase(instance);
    unrecorded_.erase(held);
}

bool Relay::record_due(std::chrono::steady_clock::time_point now) const {
    if (finished_.empty() || now < record_again_at_) return false;
    return finished_.size() >= record_batch || sending_ == 0 || now - first_finished_ >= record_delay;
}

std::chrono::milliseconds Relay::round() {
    std::vector<store::DeliveryAttempt> finished;
    store::Store::RowsByTarget in_hand;  // the rows handed out and not yet recorded: still pending
    std::map<std::string, int> room;    // what each target with commands in hand can take now
    bool room_to_fill = true;           // whether the targets in hand could take a good many more
    std::int64_t record_in_ms = 1000;   // when the finished attempts left for later may be due
    bool records_failing = false;       // whether the last record failed (a full or read-only database)
    {
        std::lock_guard lock(mutex_);
        records_failing = record_pause_.count() > 0;
        auto steady_now = std::chrono::steady_clock::now();
        if (record_due(steady_now)) {
            finished.swap(finished_);
        } else if (!finished_.empty()) {
            const auto at = std::max(first_finished_ + record_delay, record_again_at_);
            record_in_ms = std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::milliseconds>(at - steady_now).count());
        } else if (sending_ > 0) {
            record_in_ms = record_delay.count();  // an attempt may finish meanwhile, without a wake
        }
        for (const auto& [id, held] : unrecorded_) in_hand[held.target].push_back(held.row);
        // Each target's commands are read up to what it can take: a full target's are not read
        // at all, so its backlog never stands in front of another target's commands.
        int most_room = 0;
        for (const auto& [target, queue] : targets_) {
            if (queue.handed_out == 0) continue;
            room[target] = handed_out_per_target - queue.handed_out;
            most_room = std::max(most_room, room[target]);
        }
        room_to_fill = room.empty() || most_room >= static_cast<int>(record_batch);
    }
    std::int64_t now = now_ms_();
    // The outbox is read when it may hold something new to hand out: after a commit (new
    // commands, or the next ones of instances whose attempts were recorded), when the lanes have
    // room for a good many more, or when a retry falls due (at the latest each second).
    const bool committed = commits_since_read_.exchange(false);
    std::size_t handed = 0;
    // Nothing more is handed out while attempts cannot be recorded: each would stay in memory
    // until they can, and be sent again after a restart.
    if (!records_failing && (committed || room_to_fill || now >= read_at_ms_)) {
        // A target that hangs is full only until its silence sends its commands to their
        // retry, out of the ones due.
        auto limit = [&room](const std::string& target) {
            auto found = room.find(target);
            return found == room.end() ? handed_out_per_target : found->second;
        };
        auto batch = store_.deliverable(now, limit, in_hand);
        read_at_ms_ = now + 1000;
        if (batch.ok()) {
            std::lock_guard lock(mutex_);
            for (store::OutboxCommand& command : *batch.value) {
                TargetQueue& queue = targets_[command.target];
                if (queue.handed_out >= handed_out_per_target) continue;
                // Never two of one instance at a time: the next is read again once this
                // instance's attempt is recorded (its commit wakes the dispatcher).
                if (instances_in_hand_.count(command.instance)) continue;
                if (!unrecorded_.emplace(command.id, InHand{command.row, command.target, command.instance}).second) continue;
                ++instances_in_hand_[command.instance];
                ++queue.handed_out;
                queue.waiting.push_back(std::move(command));
                ++handed;
            }
        }
        auto next = store_.next_command_due(now);
        if (next.ok() && *next.value) read_at_ms_ = std::min(read_at_ms_, **next.value);
    }
    if (handed > 0) {
        wake_lanes();
        // Their attempts may finish without a wake (record_due): look again once the first may
        // have waited `record_delay`, so that an instance's next command follows at once.
        record_in_ms = std::min<std::int64_t>(record_in_ms, record_delay.count());
    }
    // Recorded after the hand-out, so that none of these comes back as due before its record.
    const bool recorded = !finished.empty();
    if (recorded) {
        if (record(std::move(finished))) {
            if (records_failing) return std::chrono::milliseconds(0);  // recovered: hand out at once
        } else {
            records_failing = true;
            std::lock_guard lock(mutex_);  // the next try, after the pause record() set
            record_in_ms = std::max<std::int64_t>(
                1, std::chrono::ceil<std::chrono::milliseconds>(record_again_at_ - std::chrono::steady_clock::now()).count());
        }
    }
    // Sleep until woken (a commit, attempts to record), the attempts left for later may be
    // due, the next retry is (unless nothing is read while records fail), or a poll second passes.
    const std::int64_t read_in_ms = records_failing ? 1000 : read_at_ms_ - now_ms_();
    std::int64_t sleep_ms = std::clamp<std::int64_t>(std::min(record_in_ms, read_in_ms), 1, 1000);
    return std::chrono::milliseconds(sleep_ms);
}

std::map<std::string, Relay::TargetQueue>::iterator Relay::next_to_send(const Lane& lane) {
    if (!lane.target.empty()) {
        auto own = targets_.find(lane.target);
        return own != targets_.end() && !own->second.waiting.empty() ? own : targets_.end();
    }
    auto ready = [this](const auto& entry) { return !entry.second.waiting.empty() && !bound(entry.first); };
    auto first = targets_.upper_bound(last_served_);
    for (auto it = first; it != targets_.end(); ++it)
        if (ready(*it)) return it;
    for (auto it = targets_.begin(); it != first; ++it)
        if (ready(*it)) return it;
    return targets_.end();
}

boost::asio::awaitable<void> Relay::run_lane(Lane& lane) {
    for (;;) {
        store::OutboxCommand command;
        std::optional<Silence> silence;
        {
            std::unique_lock lock(mutex_);
            if (lanes_stopping_) co_return;
            auto target = next_to_send(lane);
            if (target == targets_.end()) {
                lock.unlock();
                // Nothing to send: wait until woken. A wake cannot be lost: it is posted to this
                // thread after the hand-out it announces, so it runs after this wait has begun
                // or before this look, which then saw the command.
                lane.idle.expires_at(std::chrono::steady_clock::time_point::max());
                lane.waiting = true;
                co_await lane.idle.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
                lane.waiting = false;
                continue;
            }
            if (lane.target.empty()) last_served_ = target->first;
            command = std::move(target->second.waiting.front());
            target->second.waiting.pop_front();
            ++sending_;
            auto quiet = silent_.find(command.target);
            if (quiet != silent_.end() && quiet->second.until_ms > now_ms_()) silence = quiet->second;
        }
        Delivery delivery;
        if (silence) {
            // Not sent: it waits for the same retry as the command its target did not answer.
            delivery.attempt = {store::DeliveryAttempt::Result::Retry, command.id, command.attempts, silence->until_ms,
                                "not sent: target '" + command.target + "' gave no answer to another command (" + silence->error + ")",
                                ""};
        } else {
            delivery = co_await deliver(command, lane);
        }
        delivery.attempt.instance = command.instance;
        delivery.attempt.due_ms = command.next_attempt_ms;
        delivery.attempt.row = command.row;
        bool wake_dispatcher = false;
        {
            std::lock_guard lock(mutex_);
            const std::int64_t now = now_ms_();
            if (delivery.answered) {
                answered_at_[command.target] = now;
                silent_.erase(command.target);  // it answers
            }
            auto last_answer = answered_at_.find(command.target);
            const bool answers_others = last_answer != answered_at_.end() && last_answer->second >= now - recent_answer_ms;
            if (delivery.no_answer && !answers_others) {
                std::int64_t until = delivery.attempt.result == store::DeliveryAttempt::Result::Retry
                                         ? delivery.attempt.next_attempt_ms
                                         : now + config_.targets.at(command.target).retry.initial_backoff_ms;
                silent_[command.target] = {delivery.attempt.error, until};
            }
            TargetQueue& queue = targets_[command.target];
            --queue.handed_out;
            --sending_;
            auto steady_now = std::chrono::steady_clock::now();
            if (finished_.empty()) first_finished_ = steady_now;
            finished_.push_back(std::move(delivery.attempt));
            // Otherwise the dispatcher looks again within record_delay, while lanes are busy.
            wake_dispatcher = record_due(steady_now);
        }
        if (wake_dispatcher) loop_.wake();
    }
}

void Relay::log_dead(const store::OutboxCommand& command, int attempts, const std::string& error) const {
    service::log(now_ms_(), "warn", "command dead",
                 {{"command", command.id}, {"target", command.target}, {"attempts", attempts}, {"error", error}});
}

boost::asio::awaitable<Relay::Delivery> Relay::deliver(const store::OutboxCommand& command, Lane& lane) {
    using Attempt = store::DeliveryAttempt;
    auto found = config_.targets.find(command.target);
    int attempts = command.attempts + 1;
    if (found == config_.targets.end()) {
        // Its workflow's version is no longer deployed, and the target went with it: dead at once,
        // logged and counted as any other dead command.
        std::string error = "target '" + command.target + "' has no binding";
        metrics_.delivery(command.target, "dead", std::nullopt);
        log_dead(command, attempts, error);
        co_return Delivery{{Attempt::Result::Dead, command.id, attempts, 0, std::move(error), ""}, false};
    }
    const service::Target& target = found->second;
    std::string text = wire_body(command);
    std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/json"}, {"Idempotency-Key", command.id}};
    if (!target.secret.empty()) {
        std::int64_t now_s = now_ms_() / 1000;
        headers.emplace_back("webhook-id", command.id);
        headers.emplace_back("webhook-timestamp", std::to_string(now_s));
        headers.emplace_back("webhook-signature", http::sign_webhook(target.secret, command.id, now_s, text));
    }
    auto started = std::chrono::steady_clock::now();
    HttpResult result =
        co_await lane.client.post(target.url, std::move(text), std::move(headers), std::chrono::milliseconds(target.timeout_ms), target.ca_file);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (result.status >= 200 && result.status < 300) {
        metrics_.delivery(command.target, "delivered", seconds);
        co_return Delivery{{Attempt::Result::Delivered, command.id, attempts, 0, "", service::timestamp(now_ms_())}, false, true};
    }
    if (result.cannot_send) {
        // No attempt will ever send it, and the target has said nothing: dead at once, without
        // counting as a target's silence, which would hold back its other commands.
        metrics_.delivery(command.target, "dead", std::nullopt);
        log_dead(command, attempts, result.error);
        co_return Delivery{{Attempt::Result::Dead, command.id, attempts, 0, result.error, ""}, false};
    }
    if (result.cut_off) {
        // Cut off by a stop: counted (the target may have had it), but it never makes the
        // command dead, even as its last attempt: it is sent again after the next start, at once.
        metrics_.delivery(command.target, "retry", seconds);
        co_return Delivery{{Attempt::Result::Retry, command.id, attempts, now_ms_(), result.error, ""}, false};
    }
    bool no_answer = !result.answered;
    bool retryable = no_answer || result.status == 408 || result.status == 429 || (result.status >= 500 && result.status <= 599);
    std::string error = result.answered ? "HTTP " + std::to_string(result.status) + (result.error.empty() ? "" : ": " + result.error)
                                        : result.error;
    if (!retryable || attempts >= target.retry.max_attempts) {
        metrics_.delivery(command.target, "dead", seconds);
        log_dead(command, attempts, error);
        co_return Delivery{{Attempt::Result::Dead, command.id, attempts, 0, error, ""}, no_answer, result.answered};
    }
    metrics_.delivery(command.target, "retry", seconds);
    std::int64_t delay = backoff_ms(target.retry, attempts, result.retry_after_ms, lane.random);
    co_return Delivery{{Attempt::Result::Retry, command.id, attempts, now_ms_() + delay, error, ""}, no_answer, result.answered};
}

}  // namespace flow::relay
