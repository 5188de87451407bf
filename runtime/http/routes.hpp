// The HTTP API as plain functions from a request to a response: no sockets here, so the
// tests call them directly. docs/http-api.md fixes every path, status and shape.
#pragma once

#include "runtime/service/coalesced_read.hpp"
#include "runtime/service/config.hpp"
#include "runtime/service/metrics.hpp"
#include "runtime/service/processor.hpp"
#include "runtime/service/writer.hpp"
#include "runtime/store/store.hpp"

#include <boost/beast/http.hpp>

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace flow::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// The rows behind /metrics, as Store::counts() gives them.
using TableCounts = store::Result<std::vector<std::pair<std::string, std::int64_t>>>;

// What the routes work with. `timer_sequence` is touched only inside writer jobs.
// `run_blocking` runs work that waits on the database (a read) where no connection's thread
// waits for it: on flowd's workers; by default, at once on the calling thread. `table_counts`
// shares one count of the tables among the scrapes of /metrics that ask at once.
struct Services {
    const service::Config& config;
    store::Store& store;
    service::Writer& writer;
    service::Processor& processor;
    const service::Deployment& deployment;
    service::Metrics& metrics;
    std::function<std::int64_t()> now_ms;
    std::uint64_t& timer_sequence;
    std::function<void(std::function<void()>)> run_blocking = [](std::function<void()> work) { work(); };
    // Tells the relay that an operator expects the target to answer again (POST /v1/outbox/expedite).
    std::function<void(const std::string& target)> forget_target_silence = [](const std::string&) {};
    std::shared_ptr<service::CoalescedRead<TableCounts>> table_counts = std::make_shared<service::CoalescedRead<TableCounts>>();
};

// Takes the answer to a request: called exactly once with it, from any thread.
class Reply {
public:
    // From any callable taking the Response: the answer is sent from the calling thread.
    template <class Send>
        requires(!std::same_as<std::remove_cvref_t<Send>, Reply> && std::invocable<Send&, Response>)
    Reply(Send send) : send_(std::move(send)) {}
    // `run_there` runs work on the thread that will send the answer (a connection's).
    Reply(std::function<void(Response)> send, std::function<void(std::function<void()>)> run_there)
        : send_(std::move(send)), run_there_(std::move(run_there)) {}

    void operator()(Response answer) const { send_(std::move(answer)); }
    // Runs `work` where the answer is sent from, or at once when the sender has no thread of its
    // own: the writer hands the building of the 202 to the connection's thread this way, so that
    // it spends its own time on the database.
    void run_there(std::function<void()> work) const {
        if (run_there_) run_there_(std::move(work));
        else work();
    }

private:
    std::function<void(Response)> send_;
    std::function<void(std::function<void()>)> run_there_;
};

// Answers a request. `POST /v1/events` replies once its batch has committed (nothing waits
// meanwhile), building the answer through `Reply::run_there`; `GET /metrics` replies once a
// count of the tables shared with the other scrapes asking meanwhile is done, read through
// `Services::run_blocking`; every other route replies before returning, and may block on the
// database, so callers run those off the I/O threads.
void handle_async(const Request& request, Services& services, Reply reply);
// The same, waiting for the answer.
Response handle(const Request& request, Services& services);
// Whether handle_async answers this request without blocking the calling thread, given a
// `Services::run_blocking` that hands its work to another thread (with the default, which runs
// it at once, the read happens on the calling thread). Not to be called through handle() from
// a thread that run_blocking hands work to: it would wait on work queued behind itself.
bool answers_without_blocking(const Request& request);
// Whether the request is `POST /v1/events`.
bool is_event_post(const Request& request);
// Whether the request's target names this path: its segments compared once percent-decoded
// (`/v1/%65vents` is `/v1/events`, `/v1%2Fevents` is one segment), whatever its query, in the
// origin or the absolute form. `{}` is `/`.
bool targets_path(const Request& request, std::initializer_list<std::string_view> segments);

// A HEAD's answer (RFC 9110 9.3.2): the body left out, Content-Length still telling its size.
// An answer whose body is out already keeps the length it has.
void leave_out_body(Response& answer);

// A JSON error response: {"error": message}.
Response error_response(unsigned status, const std::string& message, unsigned version = 11);
// GET /metrics while flowd waits for its database: flow_database_available 0.
Response database_waiting_metrics(const Request& request);

}  // namespace flow::http
