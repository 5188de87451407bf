// A command target for benchmarks: answers every request `200 {}` over keep-alive and counts
// them, so that the relay's rate is measured against a receiver that is not the bottleneck.
// `GET /count` answers the number of commands received so far. Run by hand:
//
//   command_sink PORT
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <charconv>
#include <iostream>
#include <string>
#include <string_view>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::atomic<std::uint64_t> received{0};

asio::awaitable<void> serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> request;
        auto [read_error, n] = co_await http::async_read(stream, buffer, request, asio::as_tuple(asio::use_awaitable));
        if (read_error) break;
        http::response<http::string_body> response{http::status::ok, request.version()};
        response.set(http::field::content_type, "application/json");
        if (request.method() == http::verb::get && request.target() == "/count") {
            response.body() = std::to_string(received.load());
        } else {
            ++received;
            response.body() = "{}";
        }
        response.keep_alive(request.keep_alive());
        response.prepare_payload();
        auto [write_error, m] = co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
        if (write_error || !request.keep_alive()) break;
    }
}

asio::awaitable<void> accept(tcp::acceptor acceptor) {
    for (;;) {
        auto [error, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (error) continue;
        asio::co_spawn(acceptor.get_executor(), serve(std::move(socket)), asio::detached);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const char* usage = "usage: command_sink PORT   (answers every POST on 127.0.0.1:PORT with 200; GET /count)\n";
    unsigned port = 0;
    std::string_view text = argc == 2 ? argv[1] : "";
    auto [end, problem] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (argc != 2 || problem != std::errc() || end != text.data() + text.size() || port == 0 || port > 65535) {
        std::cerr << usage;
        return text == "--help" || text == "-h" ? 0 : 2;
    }
    asio::io_context io(1);
    boost::system::error_code error;
    tcp::acceptor acceptor(io);
    const tcp::endpoint endpoint{asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)};
    acceptor.open(endpoint.protocol(), error);
    if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
    if (!error) acceptor.bind(endpoint, error);
    if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
    if (error) {
        std::cerr << "command_sink: cannot listen on 127.0.0.1:" << port << ": " << error.message() << "\n";
        return 1;
    }
    asio::co_spawn(io, accept(std::move(acceptor)), asio::detached);
    io.run();
}
