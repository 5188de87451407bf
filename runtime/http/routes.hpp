// The HTTP API as plain functions from a request to a response: no sockets here, so the
// tests call them directly. INTERFACES.md fixes every path, status and shape.
#pragma once

#include "runtime/service/config.hpp"
#include "runtime/service/metrics.hpp"
#include "runtime/service/processor.hpp"
#include "runtime/service/writer.hpp"
#include "runtime/store/store.hpp"

#include <boost/beast/http.hpp>

#include <functional>

namespace flow::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// What the routes work with. `timer_sequence` is touched only inside writer jobs.
struct Services {
    const service::Config& config;
    store::Store& store;
    service::Writer& writer;
    service::Processor& processor;
    const service::Deployment& deployment;
    service::Metrics& metrics;
    std::function<std::int64_t()> now_ms;
    std::uint64_t& timer_sequence;
    // Where the answer to committed events is built and sent from: flowd posts it to its I/O
    // threads, so that the writer's thread spends its time on the database alone. Empty: at once,
    // on the writer's thread.
    std::function<void(std::function<void()>)> answer_elsewhere = {};
};

// Called exactly once with the answer, from any thread.
using Reply = std::function<void(Response)>;

// Answers a request. `POST /v1/events` replies once its batch has committed (nothing waits
// meanwhile), from the writer's thread or through `answer_elsewhere`; every other route
// replies before returning, and may block on the database, so callers run those off the I/O
// threads.
void handle_async(const Request& request, Services& services, Reply reply);
// The same, waiting for the answer.
Response handle(const Request& request, Services& services);
// Whether handle_async answers this request without blocking the calling thread.
bool is_event_post(const Request& request);

// A JSON error response: {"error": message}.
Response error_response(unsigned status, const std::string& message, unsigned version = 11);

}  // namespace flow::http
