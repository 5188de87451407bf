#include "runtime/relay/relay.hpp"

#include "runtime/http/webhook_signature.hpp"
#include "runtime/service/processor.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace flow::relay {

using nlohmann::json;

Relay::Relay(store::Store& store, const service::Config& config, service::Metrics& metrics, std::function<std::int64_t()> now_ms,
             RecordAttempts record_attempts)
    : store_(store), config_(config), metrics_(metrics), now_ms_(std::move(now_ms)), record_attempts_(std::move(record_attempts)),
      lanes_(lane_count) {}

Relay::~Relay() { stop(); }

void Relay::stop(std::chrono::milliseconds grace) {
    // A target that hangs would hold the stop for its whole timeout: past the grace, the
    // attempts in progress are cut off. At least once still holds: a target that got the
    // command before the cut gets it again, with the same Idempotency-Key.
    std::mutex mutex;
    std::condition_variable stopped;
    bool done = false;
    std::thread cutter([&] {
        std::unique_lock lock(mutex);
        if (!stopped.wait_for(lock, grace, [&] { return done; }))
            for (Lane& lane : lanes_) lane.client.abort();
    });
    loop_.stop();
    {
        std::lock_guard lock(mutex);
        done = true;
    }
    stopped.notify_one();
    cutter.join();
}

namespace {

std::string quoted(const std::string& text) { return json(text).dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

// {"id", "type", "workflow", "instance", "key", "data"}: the key and the data are stored as
// JSON text by the processor, so they are spliced in as they are instead of parsed again.
std::string Relay::wire_body(const store::OutboxCommand& command) {
    std::string text;
    text.reserve(128 + command.key.size() + command.payload.size());
    text += "{\"id\":" + quoted(command.id);
    text += ",\"type\":" + quoted(command.type);
    text += ",\"workflow\":" + quoted(command.workflow);
    text += ",\"instance\":" + quoted(command.instance);
    text += ",\"key\":" + (command.key.empty() ? std::string("null") : command.key);
    text += ",\"data\":" + (command.payload.empty() ? std::string("null") : command.payload);
    text += '}';
    return text;
}

std::int64_t Relay::backoff_ms(const service::RetryPolicy& policy, int attempts, std::optional<std::int64_t> retry_after_ms,
                               std::mt19937_64& random) {
    if (retry_after_ms) return std::min(*retry_after_ms, policy.max_backoff_ms);
    std::int64_t delay = policy.initial_backoff_ms;
    for (int i = 1; i < attempts && delay < policy.max_backoff_ms; ++i) delay *= 2;
    delay = std::min(delay, policy.max_backoff_ms);
    std::uniform_int_distribution<std::int64_t> jitter(delay / 2, delay);
    return jitter(random);
}

std::chrono::milliseconds Relay::round() {
    std::int64_t now = now_ms_();
    auto batch = store_.deliverable(now, 256);
    if (batch.ok() && !batch.value->empty()) {
        // A round holds at most one command per instance (the first one pending), so its
        // commands may go out in parallel without breaking the order within an instance: a few
        // lanes, each with its own connections, so that one slow target does not hold the rest.
        const std::vector<store::OutboxCommand>& commands = *batch.value;
        std::vector<store::DeliveryAttempt> outcomes(commands.size());
        std::vector<char> sent(commands.size(), 0);  // not vector<bool>: lanes write neighbours at once
        std::atomic<std::size_t> next{0};
        // Targets that gave no answer in this round (a timeout, a refused or reset connection):
        // their other commands are not tried again in it, or a hanging target would hold the
        // round for one timeout per command. They wait for the same backoff instead.
        std::mutex silent_mutex;
        std::map<std::string, std::pair<std::string, std::int64_t>> silent;  // target -> (error, retry at)
        auto silence = [&](const std::string& target) -> std::optional<std::pair<std::string, std::int64_t>> {
            std::lock_guard lock(silent_mutex);
            auto found = silent.find(target);
            if (found == silent.end()) return std::nullopt;
            return found->second;
        };
        auto work = [&](Lane& lane) {
            for (std::size_t i = next++; i < commands.size() && !loop_.stopping(); i = next++) {
                const store::OutboxCommand& command = commands[i];
                if (auto reason = silence(command.target)) {
                    outcomes[i] = {store::DeliveryAttempt::Result::Retry, command.id, command.attempts, reason->second,
                                   "not sent: target '" + command.target + "' gave no answer to another command (" +
                                       reason->first + ")",
                                   ""};
                } else {
                    Delivery delivery = deliver(command, lane);
                    outcomes[i] = std::move(delivery.attempt);
                    if (delivery.no_answer) {
                        std::lock_guard lock(silent_mutex);
                        std::int64_t retry_at = outcomes[i].result == store::DeliveryAttempt::Result::Retry
                                                    ? outcomes[i].next_attempt_ms
                                                    : now_ms_() + config_.targets.at(command.target).retry.initial_backoff_ms;
                        silent.try_emplace(command.target, outcomes[i].error, retry_at);
                    }
                }
                sent[i] = 1;
            }
        };
        std::size_t helpers = std::min(lanes_.size(), commands.size()) - 1;
        std::vector<std::thread> threads;
        for (std::size_t l = 1; l <= helpers; ++l) threads.emplace_back(work, std::ref(lanes_[l]));
        work(lanes_[0]);
        for (std::thread& t : threads) t.join();
        std::vector<store::DeliveryAttempt> attempts;  // those made: stopping may have cut the round short
        for (std::size_t i = 0; i < commands.size(); ++i)
            if (sent[i]) attempts.push_back(std::move(outcomes[i]));
        // A crash before this commit only means these commands are sent again: at least once.
        if (auto e = record_attempts_(std::move(attempts)))
            std::cerr << json({{"ts", service::timestamp(now_ms_())}, {"level", "error"}, {"msg", "cannot record deliveries"},
                               {"error", e->message}})
                             .dump(-1, ' ', false, json::error_handler_t::replace)
                      << std::endl;
    }
    if (config_.retention_hours > 0 && now - last_prune_ms_ > 60000) {
        last_prune_ms_ = now;
        (void)store_.prune_delivered(service::timestamp(now - config_.retention_hours * 3600000));
    }
    if (batch.ok() && !batch.value->empty()) return std::chrono::milliseconds(0);
    // Nothing to send now: sleep until woken, the next retry is due, or a poll second passes.
    std::int64_t sleep_ms = 1000;
    auto next = store_.next_command_due();
    if (next.ok() && *next.value) sleep_ms = std::clamp<std::int64_t>(**next.value - now_ms_(), 1, 1000);
    return std::chrono::milliseconds(sleep_ms);
}

Relay::Delivery Relay::deliver(const store::OutboxCommand& command, Lane& lane) {
    using Attempt = store::DeliveryAttempt;
    auto found = config_.targets.find(command.target);
    int attempts = command.attempts + 1;
    if (found == config_.targets.end())
        return {{Attempt::Result::Dead, command.id, attempts, 0, "target '" + command.target + "' has no binding", ""}, false};
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
    HttpResult result = lane.client.post(target.url, text, headers, std::chrono::milliseconds(target.timeout_ms), target.ca_file);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (result.status >= 200 && result.status < 300) {
        metrics_.delivery(command.target, "delivered", seconds);
        return {{Attempt::Result::Delivered, command.id, attempts, 0, "", service::timestamp(now_ms_())}, false};
    }
    bool no_answer = result.status == 0;
    bool retryable = result.status == 0 || result.status == 408 || result.status == 429 || result.status >= 500;
    std::string error = result.status ? "HTTP " + std::to_string(result.status) + (result.error.empty() ? "" : ": " + result.error)
                                      : result.error;
    if (!retryable || attempts >= target.retry.max_attempts) {
        metrics_.delivery(command.target, "dead", seconds);
        std::cerr << json({{"ts", service::timestamp(now_ms_())}, {"level", "warn"}, {"msg", "command dead"},
                           {"command", command.id}, {"target", command.target}, {"attempts", attempts}, {"error", error}})
                         .dump(-1, ' ', false, json::error_handler_t::replace)
                  << std::endl;
        return {{Attempt::Result::Dead, command.id, attempts, 0, error, ""}, no_answer};
    }
    metrics_.delivery(command.target, "retry", seconds);
    std::int64_t delay = backoff_ms(target.retry, attempts, result.retry_after_ms, lane.random);
    return {{Attempt::Result::Retry, command.id, attempts, now_ms_() + delay, error, ""}, no_answer};
}

}  // namespace flow::relay
