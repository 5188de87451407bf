#include "runtime/http/server.hpp"

#include "runtime/http/request_framing.hpp"
#include "runtime/http/strict_read.hpp"
#include "runtime/http/wire_text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <array>
#include <optional>
#include <unistd.h>

namespace flow::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

template <class Stream>
asio::awaitable<void> send(Stream& stream, Response res, std::chrono::milliseconds timeout) {
    beast::get_lowest_layer(stream).expires_after(timeout);
    if (res.chunked()) {
        co_await beast_http::async_write(stream, res, tuple_awaitable);
        co_return;
    }
    // A HEAD's answer keeps the Content-Length of the body it leaves out.
    if (!res.has_content_length()) res.prepare_payload();
    const std::string wire = wire_text(res.base(), res.body());
    co_await asio::async_write(stream, asio::buffer(wire), tuple_awaitable);
}

// Sends a refusal and closes without losing it: the client may still be sending a body we
// will not read, and closing with unread data would reset the connection before the client
// reads the answer. So: answer, stop sending, read and drop what still comes for a moment.
template <class Stream>
asio::awaitable<void> refuse_and_close(Stream& stream, Response res, std::chrono::milliseconds timeout) {
    res.keep_alive(false);
    co_await send(stream, std::move(res), timeout);
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
    beast::get_lowest_layer(stream).expires_after(std::chrono::milliseconds(500));
    std::array<char, 8192> sink;
    for (std::size_t drained = 0; drained < (1u << 20);) {
        auto [error, n] = co_await stream.async_read_some(asio::buffer(sink), tuple_awaitable);
        if (error) break;
        drained += n;
    }
}

// What a chunk's size line (with its extensions) or a trailer section may take beyond a header.
constexpr std::size_t max_chunk_line_bytes = 16384;

// Drops the empty lines at the start of the buffer; whether there were any.
bool skip_empty_lines(beast::flat_buffer& buffer) {
    std::size_t empty = 0;
    const auto* data = static_cast<const char*>(buffer.data().data());
    while (empty < buffer.size() && (data[empty] == '\r' || data[empty] == '\n')) ++empty;
    buffer.consume(empty);
    return empty > 0;
}

// Reads requests and answers them, one after the other, until the connection closes or the
// client stops keeping it alive. `Stream` is a TCP stream, or a TLS stream over one.
template <class Stream>
asio::awaitable<void> serve_requests(Stream& stream, ServerLimits limits, Server::Handler& handler,
                                     std::shared_ptr<Server::State> state) {
    // Bounded: what the parser must hold at once (a header, a chunk's size line, the trailer
    // section) fits in it, or the request is refused. Without a bound, a chunk line that never
    // ends is buffered for as long as the body may take, and a trailer field past 64 KiB makes
    // Beast throw.
    beast::flat_buffer buffer(limits.max_header_bytes + max_chunk_line_bytes);
    auto& transport = beast::get_lowest_layer(stream);
    // The header's deadline: empty lines sent before it do not put it off.
    std::optional<std::chrono::steady_clock::time_point> header_deadline;
    for (;;) {
        // Empty lines before a request line are ignored (RFC 9112 2.2): some clients end a
        // body with an extra CRLF.
        skip_empty_lines(buffer);
        ChunkExtensionCheck chunk_extension_check;  // outlives the parser, which keeps a reference
        beast_http::request_parser<beast_http::string_body> parser;
        parser.on_chunk_header(chunk_extension_check);
        parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
        parser.body_limit(limits.max_body_bytes);
        if (!header_deadline) header_deadline = std::chrono::steady_clock::now() + limits.header_timeout;
        transport.expires_at(*header_deadline);
        const beast::error_code read_error =
            co_await read_strictly(stream, buffer, parser, Reading::Header);
        // A request is in progress from its header (or a refusal of it) until its answer is
        // sent, or the connection given up: what a stop waits for.
        struct InProgress {
            Server::State& state;
            explicit InProgress(Server::State& s) : state(s) { ++state.in_progress; }
            ~InProgress() { --state.in_progress; }
            InProgress(const InProgress&) = delete;
            InProgress& operator=(const InProgress&) = delete;
        } in_progress(*state);
        auto& header = parser.get();
        // A refusal of a HEAD request keeps its body's length but not its body (RFC 9110 9.3.2):
        // whenever the request line was read, even if what follows it was not.
        const bool head = header.method() == beast_http::verb::head;
        auto bodiless_for_head = [head](Response res) {
            if (head) leave_out_body(res);
            return res;
        };
        auto refusal = [&](unsigned status, std::string message) {
            if (state->refused) state->refused(header, status);
            return bodiless_for_head(error_response(status, std::move(message), header.version()));
        };
        if (read_error == beast_http::error::header_limit) {
            co_await refuse_and_close(stream, bodiless_for_head(error_response(431, "the request header is too large")), limits.write_timeout);
            break;
        }
        if (read_error == beast_http::error::body_limit) {
            // Beast compares Content-Length with the limit as soon as the header is complete.
            co_await refuse_and_close(stream, refusal(413, "the body is larger than " + std::to_string(limits.max_body_bytes) + " bytes"),
                                      limits.write_timeout);
            break;
        }
        if (read_error == beast_http::error::bad_method && skip_empty_lines(buffer)) continue;  // they came late
        header_deadline.reset();
        if (is_malformed(read_error)) {
            // The header as far as it was read: a request line that did not parse has no method.
            if (state->refused) state->refused(header, 400);
            co_await refuse_and_close(stream,
                                      bodiless_for_head(error_response(400, "the request is not valid HTTP/1.1: " + read_error.message())),
                                      limits.write_timeout);
            break;
        }
        if (read_error) break;  // closed or timed out: nothing was accepted
        if (auto framing = refuse_framing(header)) {
            co_await refuse_and_close(stream, refusal(framing->status, framing->error), limits.write_timeout);
            break;
        }
        // The body limit is enforced from Content-Length alone, before any of the body is read.
        if (parser.content_length() && *parser.content_length() > limits.max_body_bytes) {
            co_await refuse_and_close(stream, refusal(413, "the body is larger than " + std::to_string(limits.max_body_bytes) + " bytes"),
                                      limits.write_timeout);
            break;
        }
        // HTTP/1.0 knows no 100 Continue: its expectation is ignored (RFC 9110 10.1.1).
        if (header.version() >= 11 && beast::iequals(header[beast_http::field::expect], "100-continue")) {
            beast_http::response<beast_http::empty_body> cont{beast_http::status::continue_, header.version()};
            transport.expires_after(limits.write_timeout);
            co_await beast_http::async_write(stream, cont, tuple_awaitable);
        }
        // The body's deadline is a timer of its own that cancels the read, rather than the
        // stream's expiry: that one closes the socket, and the 408 could not be sent. Most
        // bodies come with their header and are read without waiting: those need no timer.
        transport.expires_never();
        // Trailer fields are not merged into the header (RFC 9110 6.5.1): a chunked request is
        // answered from the header it came with.
        std::optional<beast_http::request_header<>> sent_header;
        if (parser.chunked()) sent_header = header.base();
        asio::steady_timer body_deadline(transport.get_executor());
        // Shared with the timer's handler, which may run after this frame is gone: a timer that
        // fell due in the same pass as the read's end is already queued with success, and its
        // cancel() below comes too late. The handler reads `read_ended` (both run on the
        // connection's strand) and then touches nothing else.
        struct BodyWait {
            bool late = false;
            bool read_ended = false;
        };
        auto body_wait = std::make_shared<BodyWait>();
        const bool body_in_buffer = parser.content_length() && buffer.size() >= *parser.content_length();
        if (!body_in_buffer) {
            body_deadline.expires_after(limits.body_timeout);
            body_deadline.async_wait([body_wait, &transport](beast::error_code e) {
                if (e || body_wait->read_ended) return;  // cancelled, or the read ended first
                body_wait->late = true;
                beast::error_code ignored;
                transport.socket().cancel(ignored);
            });
        }
        const beast::error_code body_error = co_await read_strictly(stream, buffer, parser, Reading::Body);
        body_wait->read_ended = true;
        const bool body_late = body_wait->late;
        if (!body_in_buffer) body_deadline.cancel();
        if (body_error == beast_http::error::body_limit) {
            co_await refuse_and_close(stream, refusal(413, "the body is larger than " + std::to_string(limits.max_body_bytes) + " bytes"),
                                      limits.write_timeout);
            break;
        }
        if (body_error && body_late) {
            co_await refuse_and_close(stream, refusal(408, "the body did not arrive in time"), limits.write_timeout);
            break;
        }
        if (body_error == beast_http::error::buffer_overflow) {
            co_await refuse_and_close(stream,
                                      refusal(400, "the request body is not valid HTTP/1.1: a chunk line or the trailer section is "
                                                   "longer than " + std::to_string(buffer.max_size()) + " bytes"),
                                      limits.write_timeout);
            break;
        }
        if (is_malformed(body_error)) {
            co_await refuse_and_close(stream, refusal(400, "the request body is not valid HTTP/1.1: " + body_error.message()),
                                      limits.write_timeout);
            break;
        }
        if (body_error) break;
        Request request = parser.release();
        if (sent_header) static_cast<beast_http::request_header<>&>(request) = std::move(*sent_header);
        // The handler may answer later and from another thread (after the group commit): the
        // answer is posted back to this connection's executor.
        //
        // An exception out of the handler (memory running out, say) is answered `500` here: it
        // would otherwise leave the initiation, which runs outside the coroutine, and end the
        // I/O thread's run(), and the process. The first answer alone is sent.
        Response response = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Response)>(
            [&handler, &request](auto completion) {
                auto executor = asio::get_associated_executor(completion);
                auto waiting = std::make_shared<decltype(completion)>(std::move(completion));
                auto answered = std::make_shared<std::atomic<bool>>(false);
                auto send_once = [waiting, executor, answered](Response response) {
                    if (answered->exchange(true)) return;
                    asio::post(executor, [waiting, response = std::move(response)]() mutable { (*waiting)(std::move(response)); });
                };
                try {
                    handler(request, Reply(send_once, [executor](std::function<void()> work) { asio::post(executor, std::move(work)); }));
                } catch (const std::exception& e) {
                    send_once(error_response(500, std::string("the request could not be handled: ") + e.what(), request.version()));
                }
            },
            asio::use_awaitable);
        // A HEAD's answer carries no body, whichever handler built it (a 503 while the database
        // is not open, say): a body would be read as the start of the next answer on this
        // connection. Its Content-Length still tells the size.
        if (request.method() == beast_http::verb::head) leave_out_body(response);
        // A handler that answers `Connection: close` ends the connection (a 413 of too many events).
        const bool handler_closes = beast_http::token_list(response[beast_http::field::connection]).exists("close");
        bool keep_alive = request.keep_alive() && !handler_closes && !state->stopping;
        response.keep_alive(keep_alive);
        co_await send(stream, std::move(response), limits.write_timeout);
        if (!keep_alive) break;
    }
}

asio::awaitable<void> session(tcp::socket socket, ServerLimits limits, Server::Handler& handler,
                              std::shared_ptr<Server::State> state, asio::ssl::context* tls) {
    struct Leave {
        std::shared_ptr<Server::State> state;
        ~Leave() { --state->active; }
    } leave{state};
    beast::tcp_stream transport(std::move(socket));
    beast::error_code ignored;
    if (!tls) {
        co_await serve_requests(transport, limits, handler, state);
        transport.socket().shutdown(tcp::socket::shutdown_both, ignored);
        co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(transport), *tls);
    // The handshake must finish within the header deadline, like a request's header.
    beast::get_lowest_layer(stream).expires_after(limits.header_timeout);
    auto [handshake_error] = co_await stream.async_handshake(asio::ssl::stream_base::server, tuple_awaitable);
    if (handshake_error) co_return;  // not TLS, a bad certificate on the client's side, or too slow
    co_await serve_requests(stream, limits, handler, state);
    beast::get_lowest_layer(stream).expires_after(std::chrono::milliseconds(1000));
    co_await stream.async_shutdown(tuple_awaitable);
}

// A connection's reads, writes, deadlines and the answers posted back from the writer's thread
// must never run at the same time (Beast's timeouts rely on it). So a connection runs on an I/O
// context of `spread`, which one thread each runs, taken in turn; or, without `spread`, on a
// strand of its own over `io`. A socket moves to its context by its descriptor, so that nothing
// of one context is ever held by another's pending operations.
tcp::socket to_its_context(tcp::socket accepted, const std::vector<asio::io_context*>& spread, std::size_t& turn) {
    if (spread.empty()) return accepted;
    beast::error_code ec;
    const auto protocol = accepted.local_endpoint(ec).protocol();
    if (ec) return accepted;
    const auto descriptor = accepted.release(ec);
    if (ec) return accepted;
    tcp::socket moved(*spread[turn++ % spread.size()]);
    moved.assign(protocol, descriptor, ec);
    if (ec) ::close(descriptor);
    return moved;
}

// The next connection: on a strand of its own over `io`, or on `io` until it is moved.
asio::awaitable<std::tuple<beast::error_code, tcp::socket>> accept_next(tcp::acceptor& acceptor, asio::io_context& io, bool on_strand) {
    if (on_strand) {
        auto [error, socket] = co_await acceptor.async_accept(asio::make_strand(io), tuple_awaitable);
        co_return std::tuple<beast::error_code, tcp::socket>{error, tcp::socket(std::move(socket))};
    }
    co_return co_await acceptor.async_accept(tuple_awaitable);
}

asio::awaitable<void> accept_loop(asio::io_context& io, std::vector<asio::io_context*> spread, std::shared_ptr<tcp::acceptor> acceptor,
                                  ServerLimits limits, Server::Handler& handler, std::shared_ptr<Server::State> state,
                                  asio::ssl::context* tls) {
    std::size_t turn = 0;
    for (;;) {
        auto [error, socket] = co_await accept_next(*acceptor, io, spread.empty());
        if (error) {
            if (error == asio::error::operation_aborted || !acceptor->is_open()) co_return;
            if (error == asio::error::no_descriptors || error == boost::system::errc::too_many_files_open_in_system ||
                error == asio::error::no_buffer_space || error == asio::error::no_memory) {
                // Out of file descriptors or memory: accepting again at once would fail again at
                // once, for ever. The connections waiting are taken when some have closed.
                asio::steady_timer pause(co_await asio::this_coro::executor);
                pause.expires_after(std::chrono::milliseconds(100));
                co_await pause.async_wait(tuple_awaitable);
            }
            continue;  // else a connection that failed before it was accepted
        }
        if (state->active >= limits.max_connections) {
            // Over the cap: answer at once and close, so that clients back off. (Under TLS no
            // answer can be sent before a handshake, which is what the cap saves: just close.)
            if (tls) {
                beast::error_code ignored;
                socket.close(ignored);
                continue;
            }
            // Answered on a coroutine of its own, which reads what the client sends meanwhile so
            // that the answer is not lost to a reset, while this loop goes on accepting. A burst
            // of them must not take the descriptors the server needs: past 64 at once, closed.
            constexpr std::size_t max_refusing = 64;
            if (state->refusing >= max_refusing) {
                beast::error_code ignored;
                socket.close(ignored);
                continue;
            }
            ++state->refusing;
            auto refuse = [](tcp::socket refused, std::shared_ptr<Server::State> state) -> asio::awaitable<void> {
                struct Done {
                    Server::State& state;
                    ~Done() { --state.refusing; }
                } done{*state};
                beast::tcp_stream stream(std::move(refused));
                co_await refuse_and_close(stream, error_response(503, "too many connections"), std::chrono::milliseconds(1000));
            };
            auto executor = socket.get_executor();
            asio::co_spawn(executor, refuse(std::move(socket), state), [](std::exception_ptr) {});
            continue;
        }
        tcp::socket placed = to_its_context(std::move(socket), spread, turn);
        if (!placed.is_open()) continue;
        ++state->active;
        auto executor = placed.get_executor();
        // A connection that ends with an exception (one Beast or OpenSSL throws) is dropped:
        // the server and its other connections go on.
        asio::co_spawn(executor, session(std::move(placed), limits, handler, state, tls), [](std::exception_ptr) {});
    }
}

}  // namespace

Server::Server(asio::io_context& io, ServerLimits limits, Handler handler, asio::ssl::context* tls,
               std::vector<asio::io_context*> spread)
    : io_(io), tls_(tls), spread_(std::move(spread)), limits_(limits), handler_(std::move(handler)), state_(std::make_shared<State>()) {}

std::string endpoint_text(const tcp::endpoint& endpoint) {
    const std::string address = endpoint.address().to_string();
    const std::string port = std::to_string(endpoint.port());
    return endpoint.address().is_v6() ? "[" + address + "]:" + port : address + ":" + port;
}

std::optional<std::string> Server::bind(const tcp::endpoint& endpoint) {
    auto acceptor = std::make_shared<tcp::acceptor>(io_);
    beast::error_code ec;
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (ec) return "cannot listen on " + endpoint_text(endpoint) + ": " + ec.message();
    acceptor_ = std::move(acceptor);
    bound_ = endpoint;
    return std::nullopt;
}

std::optional<std::string> Server::listen() {
    beast::error_code ec;
    acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return "cannot listen on " + endpoint_text(bound_) + ": " + ec.message();
    asio::co_spawn(io_, accept_loop(io_, spread_, acceptor_, limits_, handler_, state_, tls_), asio::detached);
    return std::nullopt;
}

std::optional<std::string> Server::listen(const tcp::endpoint& endpoint) {
    if (auto error = bind(endpoint)) return error;
    return listen();
}

tcp::endpoint Server::local_endpoint() const { return acceptor_->local_endpoint(); }

void Server::stop_accepting() {
    state_->stopping = true;
    if (acceptor_) {
        beast::error_code ignored;
        asio::post(io_, [acceptor = acceptor_] {
            beast::error_code ec;
            acceptor->close(ec);
        });
        (void)ignored;
    }
}

}  // namespace flow::http
