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

TEST_CASE("a bound address refuses connections until listen(), and one in use is refused at bind() with the address") {
    asio::io_context io;
    auto answer = [](const flow::http::Request& request, flow::http::Reply reply) {
        flow::http::Response res{beast_http::status::ok, request.version()};
        res.body() = "fine";
        res.prepare_payload();
        reply(std::move(res));
    };
    flow::http::Server server(io, {}, answer);
    REQUIRE_FALSE(server.bind({asio::ip::make_address("127.0.0.1"), 0}));
    const tcp::endpoint at = server.local_endpoint();
    CHECK(at.port() != 0);
    std::thread running([&io] {
        auto guard = asio::make_work_guard(io);
        io.run();
    });
    {
        asio::io_context client;
        tcp::socket socket(client);
        boost::system::error_code ec;
        socket.connect(at, ec);
        CHECK(ec == asio::error::connection_refused);
    }
    REQUIRE_FALSE(server.listen());
    auto fine = get(at, "/fine");
    CHECK(fine.result_int() == 200);
    CHECK(fine.body() == "fine");
    // (Two addresses bound and not listening may share a port: the second to listen is refused.)
    flow::http::Server second(io, {}, answer);
    const auto taken = second.bind(at);
    REQUIRE(taken);
    CHECK(*taken == "cannot listen on 127.0.0.1:" + std::to_string(at.port()) + ": Address already in use");

    server.stop_accepting();
    io.stop();
    running.join();
}

TEST_CASE("a HEAD is answered without the body its handler built, and the next answer on the connection reads whole") {
    // Before, a handler's body went on the wire after a HEAD's header, where the client reads the
    // start of the next answer.
    asio::io_context io;
    flow::http::Server server(io, {}, [](const flow::http::Request& request, flow::http::Reply reply) {
        flow::http::Response res{beast_http::status::service_unavailable, request.version()};
        res.body() = R"({"error":"the database is not available yet"})";
        res.prepare_payload();
        reply(std::move(res));
    });
    REQUIRE_FALSE(server.listen({asio::ip::make_address("127.0.0.1"), 0}));
    std::thread running([&io] { io.run(); });

    asio::io_context client;
    beast::tcp_stream stream(client);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(server.local_endpoint());
    beast_http::request<beast_http::empty_body> head{beast_http::verb::head, "/metrics", 11};
    head.set(beast_http::field::host, "test");
    beast_http::request<beast_http::empty_body> get{beast_http::verb::get, "/metrics", 11};
    get.set(beast_http::field::host, "test");
    beast_http::write(stream, head);
    beast::flat_buffer buffer;
    beast_http::response_parser<beast_http::string_body> head_answer;
    head_answer.skip(true);  // what a client does for a HEAD: no body follows, whatever Content-Length says
    beast_http::read(stream, buffer, head_answer);
    CHECK(head_answer.get().result_int() == 503);
    CHECK(head_answer.get()[beast_http::field::content_length] == "45");
    beast_http::write(stream, get);
    beast_http::response<beast_http::string_body> get_answer;
    beast::error_code error;
    beast_http::read(stream, buffer, get_answer, error);
    CHECK_FALSE(error);
    CHECK(get_answer.result_int() == 503);
    CHECK(get_answer.body() == R"({"error":"the database is not available yet"})");

    server.stop_accepting();
    io.stop();
    running.join();
}
