// The HTTP server: Boost.Beast on Asio, one coroutine per connection. It enforces the
// transport limits (a cap on connections, a deadline for the header and for the body, the
// body limit from Content-Length before reading) and hands each request to a handler that
// answers through a callback, from any thread: the connection's coroutine waits for it
// without holding a thread.
#pragma once

#include "runtime/http/routes.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace flow::http {

struct ServerLimits {
    std::size_t max_connections = 1024;
    std::size_t max_body_bytes = 1048576;
    std::size_t max_header_bytes = 16384;
    std::chrono::milliseconds header_timeout{10000};
    std::chrono::milliseconds body_timeout{30000};
    std::chrono::milliseconds write_timeout{30000};
};

// HOST:PORT as `--listen` takes it back: an IPv6 address in brackets (`[::1]:8080`).
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& endpoint);

class Server {
public:
    // Answers `request` by calling `reply` once; the request lives until then.
    using Handler = std::function<void(const Request& request, Reply reply)>;
    // Told of each request the server refuses itself once its header is read, before any
    // handler sees it (`413` for a body over the limit, `408` for one that came too late, `400`
    // for its framing), with the request as far as it was read: for the metrics.
    using RefusalObserver = std::function<void(const Request& request, unsigned status)>;

    // With `tls`, every connection starts with a TLS handshake (within the header deadline).
    // Accepts on `io`. Connections run each on a strand of its own over `io`; or, when `spread`
    // names I/O contexts each run by exactly one thread, on those in turn, without strands.
    Server(boost::asio::io_context& io, ServerLimits limits, Handler handler, boost::asio::ssl::context* tls = nullptr,
           std::vector<boost::asio::io_context*> spread = {});
    // Takes the address without accepting yet (a client is refused until listen()), so that a
    // port already taken is known before anything else is done; the message says why not.
    std::optional<std::string> bind(const boost::asio::ip::tcp::endpoint& endpoint);
    // Starts accepting on the address bound; the message says why it could not.
    std::optional<std::string> listen();
    // Both at once.
    std::optional<std::string> listen(const boost::asio::ip::tcp::endpoint& endpoint);
    boost::asio::ip::tcp::endpoint local_endpoint() const;
    // Stops accepting; connections finish the request they are in and close.
    void stop_accepting();
    // Set before listen(); called on the refused connection's thread.
    void observe_refusals(RefusalObserver observer) { state_->refused = std::move(observer); }
    std::size_t active_connections() const { return state_->active; }
    // Requests whose header has arrived and whose answer is not yet sent: what a stop waits
    // for. A connection waiting for its next request has none, and is closed by the stop.
    std::size_t requests_in_progress() const { return state_->in_progress; }

    struct State {
        std::atomic<std::size_t> active{0};
        std::atomic<std::size_t> in_progress{0};
        std::atomic<std::size_t> refusing{0};  // connections over the cap being answered 503
        std::atomic<bool> stopping{false};
        RefusalObserver refused;  // may be empty
    };

private:
    boost::asio::io_context& io_;
    boost::asio::ssl::context* tls_;
    std::vector<boost::asio::io_context*> spread_;
    ServerLimits limits_;
    Handler handler_;
    std::shared_ptr<State> state_;
    std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
    boost::asio::ip::tcp::endpoint bound_;  // as asked for: port 0 included
};

}  // namespace flow::http
