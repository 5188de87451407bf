// A command target for benchmarks: answers every request `200 {}` over keep-alive and counts
// them (a request that asks to close its connection is answered and the connection kept: the relay
// never asks), so that the relay's rate is measured against a receiver that is not the bottleneck.
// `GET /count` answers the number of commands received so far. Run by hand:
//
//   command_sink PORT
#include "lean_http.hpp"

#include <boost/asio.hpp>

#include <atomic>
#include <charconv>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::atomic<std::uint64_t> received_commands{0};

// One connection: reads requests with bench/lean_http.hpp and answers each, the answers to the
// requests that came together written together, reusing its buffers from one request to the next.
asio::awaitable<void> serve(tcp::socket socket) {
    static constexpr std::string_view ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    std::vector<char> received(16 * 1024);
    std::size_t have = 0;  // bytes of `received` not yet framed
    std::string answers;
    for (;;) {
        if (have == received.size()) received.resize(2 * received.size());
        auto [read_error, got] = co_await socket.async_read_some(asio::buffer(received.data() + have, received.size() - have),
                                                                 asio::as_tuple(asio::use_awaitable));
        if (read_error) co_return;
        have += got;
        answers.clear();
        std::size_t framed = 0;
        bool close = false;
        bench::Message request;
        for (;;) {
            auto framing = bench::frame_message({received.data() + framed, have - framed}, request);
            if (framing == bench::Framing::incomplete) break;
            if (framing == bench::Framing::malformed) {
                std::cerr << "command_sink: a request it cannot read (chunked, or a bad Content-Length); closing\n";
                close = true;
                break;
            }
            framed += request.size;
            if (request.head.starts_with("GET /count ")) {
                std::string count = std::to_string(received_commands.load());
                answers += "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ";
                answers += std::to_string(count.size());
                answers += "\r\n\r\n";
                answers += count;
            } else {
                ++received_commands;
                answers += ok;
            }
        }
        std::memmove(received.data(), received.data() + framed, have - framed);
        have -= framed;
        if (!answers.empty()) {
            auto [write_error, written] = co_await asio::async_write(socket, asio::buffer(answers), asio::as_tuple(asio::use_awaitable));
            if (write_error) co_return;
        }
        if (close) co_return;
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
