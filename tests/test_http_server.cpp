// The HTTP server itself, over a socket, with handlers of the test's own: what it does when a
// handler fails.
#include "runtime/http/server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using asio::ip::tcp;

namespace {

// Sends one GET on a connection of its own and reads the answer.
beast_http::response<beast_http::string_body> get(const tcp::endpoint& server, const std::string& target) {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(10));  // a server that never answers fails the test, not hangs it
    stream.connect(server);
    beast_http::request<beast_http::empty_body> req{beast_http::verb::get, target, 11};
    req.set(beast_http::field::host, "test");
    beast_http::write(stream, req);
    beast::flat_buffer buffer;
    beast_http::response<beast_http::string_body> res;
    beast_http::async_read(stream, buffer, res, [](beast::error_code error, std::size_t) { CHECK_FALSE(error); });
    io.run();
    return res;
}

}  // namespace

TEST_CASE("a handler that throws is answered 500 with the reason, and the server goes on") {
    // Before, the exception left the I/O thread's run(), which nothing caught: the process ended.
    asio::io_context io;
    flow::http::Server server(io, {}, [](const flow::http::Request& request, flow::http::Reply reply) {
        if (request.target() == "/boom") throw std::runtime_error("out of memory, say");
        flow::http::Response res{beast_http::status::ok, request.version()};
        res.body() = "fine";
        res.prepare_payload();
        reply(std::move(res));
    });
    REQUIRE_FALSE(server.listen({asio::ip::make_address("127.0.0.1"), 0}));
    std::thread running([&io] { io.run(); });
    const tcp::endpoint at = server.local_endpoint();

    auto failed = get(at, "/boom");
    CHECK(failed.result_int() == 500);
    CHECK(failed.body().find("the request could not be handled: out of memory, say") != std::string::npos);
    auto next = get(at, "/fine");
    CHECK(next.result_int() == 200);
    CHECK(next.body() == "fine");

    server.stop_accepting();
    io.stop();
    running.join();
}
