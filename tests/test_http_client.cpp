// The relay's HTTP client against a raw target that records the bytes of each request: the
// request line and Host header a URL gives, one kept-alive connection per scheme, host and port
// whatever the path, and a refusal of what is no http(s) URL.
#include "runtime/relay/http_client.hpp"

#include <boost/asio.hpp>
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using flow::relay::HttpClient;
using flow::relay::HttpResult;

namespace {

// Reads whole requests (a header, then Content-Length bytes) on every connection it accepts and
// answers each `200`; keeps each request's text and counts the connections.
class RecordingTarget {
public:
    RecordingTarget(asio::io_context& io, const char* address, std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        : answer_(std::move(answer)), acceptor_(io, {asio::ip::make_address(address), 0}) {
        asio::co_spawn(io, accept(), asio::detached);
    }
    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    std::vector<std::string> requests;
    int connections = 0;

private:
    asio::awaitable<void> accept() {
        for (;;) {
            auto [error, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
            if (error) co_return;
            ++connections;
            asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket)), asio::detached);
        }
    }
    asio::awaitable<void> serve(tcp::socket socket) {
        std::string data;
        for (;;) {
            auto [error, read] = co_await asio::async_read_until(socket, asio::dynamic_buffer(data), "\r\n\r\n",
                                                                 asio::as_tuple(asio::use_awaitable));
            if (error) co_return;
            const std::string header = data.substr(0, read);
            std::size_t length = 0;
            if (auto at = header.find("Content-Length: "); at != std::string::npos) length = std::stoul(header.substr(at + 16));
            if (data.size() < read + length) {
                auto [body_error, more] = co_await asio::async_read(socket, asio::dynamic_buffer(data),
                                                                    asio::transfer_exactly(read + length - data.size()),
                                                                    asio::as_tuple(asio::use_awaitable));
                if (body_error) co_return;
            }
            requests.push_back(data.substr(0, read + length));
            data.erase(0, read + length);
            auto [write_error, written] = co_await asio::async_write(socket, asio::buffer(answer_), asio::as_tuple(asio::use_awaitable));
            if (write_error) co_return;
        }
    }
    std::string answer_;  // to every request
    tcp::acceptor acceptor_;
};

// Posts `body` to each URL in turn on one client, and gives back the results.
std::vector<HttpResult> post_all(asio::io_context& io, HttpClient& client, std::vector<std::string> urls, const std::string& body) {
    std::vector<HttpResult> results;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            for (const auto& url : urls) {
                std::vector<std::pair<std::string, std::string>> headers;
                headers.emplace_back("Content-Type", "application/json");
                headers.emplace_back("Idempotency-Key", "c-1");
                results.push_back(co_await client.post(url, body, std::move(headers), std::chrono::milliseconds(5000)));
            }
        },
        [&](std::exception_ptr) { io.stop(); });
    io.run();
    return results;
}

// Posts `{}` `times` times to a RecordingTarget that gives `answer` to every request, on one
// client: the results, and what the target saw.
struct Posted {
    std::vector<HttpResult> results;
    int connections;
    std::size_t requests;
};
Posted post_to_target(const std::string& answer, int times) {
    asio::io_context io;
    RecordingTarget target(io, "127.0.0.1", answer);
    HttpClient client(io);
    const std::string url = "http://127.0.0.1:" + std::to_string(target.port()) + "/commands";
    auto results = post_all(io, client, std::vector<std::string>(times, url), "{}");
    return {std::move(results), target.connections, target.requests.size()};
}

}  // namespace

TEST_CASE("the client sends a URL's path and query, its Host with the port, and keeps one connection per host and port") {
    asio::io_context io;
    RecordingTarget target(io, "127.0.0.1");
    HttpClient client(io);
    const std::string base = "http://127.0.0.1:" + std::to_string(target.port());
    auto results = post_all(io, client, {base + "/commands?tenant=a%20b", base + "/commands?tenant=a%20b", base, base + "/other", base + "?q=1"},
                            "{\"n\":1}");

    REQUIRE(results.size() == 5);
    for (const auto& result : results) CHECK(result.status == 200);
    REQUIRE(target.requests.size() == 5);
    const std::string host = "Host: 127.0.0.1:" + std::to_string(target.port()) + "\r\n";
    CHECK(target.requests[0] == "POST /commands?tenant=a%20b HTTP/1.1\r\n" + host +
                                    "User-Agent: flowd\r\nContent-Type: application/json\r\nIdempotency-Key: c-1\r\n"
                                    "Content-Length: 7\r\n\r\n{\"n\":1}");
    CHECK(target.requests[1] == target.requests[0]);  // the same URL again: parsed once, sent the same
    CHECK(target.requests[2].rfind("POST / HTTP/1.1\r\n" + host, 0) == 0);  // no path: "/"
    CHECK(target.requests[3].rfind("POST /other HTTP/1.1\r\n" + host, 0) == 0);
    CHECK(target.requests[4].rfind("POST /?q=1 HTTP/1.1\r\n" + host, 0) == 0);  // a query and no path: "/?q=1"
    CHECK(target.connections == 1);  // every path of one host and port on one kept-alive connection
}

TEST_CASE("the client reaches an IPv6 address, and names it in brackets in Host") {
    asio::io_context io;
    boost::system::error_code no_ipv6;
    tcp::acceptor probe(io);
    probe.open(tcp::v6(), no_ipv6);
    if (!no_ipv6) probe.bind({asio::ip::make_address("::1"), 0}, no_ipv6);
    probe.close();
    if (no_ipv6) return;  // a machine without IPv6 loopback has nothing to test here
    RecordingTarget target(io, "::1");
    HttpClient client(io);
    auto results = post_all(io, client, {"http://[::1]:" + std::to_string(target.port()) + "/v6"}, "{}");
    REQUIRE(results.size() == 1);
    CHECK(results[0].status == 200);
    REQUIRE(target.requests.size() == 1);
    CHECK(target.requests[0].rfind("POST /v6 HTTP/1.1\r\nHost: [::1]:" + std::to_string(target.port()) + "\r\n", 0) == 0);
}

TEST_CASE("the client refuses what is no http or https URL, each time, without a connection") {
    asio::io_context io;
    HttpClient client(io);
    auto results = post_all(io, client, {"ftp://127.0.0.1:9/x", "ftp://127.0.0.1:9/x", "not a url"}, "{}");
    REQUIRE(results.size() == 3);
    CHECK(results[0].error == "invalid URL ftp://127.0.0.1:9/x");
    CHECK(results[1].error == "invalid URL ftp://127.0.0.1:9/x");
    CHECK(results[2].error == "invalid URL not a url");
    for (const auto& result : results) {
        CHECK(result.status == 0);
        CHECK_FALSE(result.answered);
    }
}

TEST_CASE("an answer with a trailer field too large for Beast is a malformed answer, not an exception out of the client") {
    // Beast's parser takes its header limit for the header only, and throws std::length_error
    // for a trailer field of 64 KiB or more: before, that left the relay's thread, and flowd
    // ended at each try of the command.
    asio::io_context io;
    const std::string trailer = "X-Padding: " + std::string(70000, 'a');
    RecordingTarget target(io, "127.0.0.1", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n" + trailer + "\r\n\r\n");
    HttpClient client(io);
    const std::string url = "http://127.0.0.1:" + std::to_string(target.port()) + "/commands";
    auto results = post_all(io, client, {url, url}, "{}");
    REQUIRE(results.size() == 2);  // the first did not end the client's coroutine
    for (const HttpResult& result : results) {
        // Answered from its header on (docs/runtime.md): the status stands, the connection is not kept.
        CHECK(result.answered);
        CHECK(result.status == 200);
    }
    CHECK(target.connections == 2);
    CHECK(target.requests.size() == 2);
}

TEST_CASE("the bounded read buffer still takes answers larger than it: a long body, in one piece or in large chunks") {
    const std::string long_text(900000, 'b');
    std::string chunked = "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) chunked += "30d40\r\n" + std::string(200000, 'c') + "\r\n";  // 0x30d40 = 200,000
    chunked += "0\r\nX-Done: yes\r\n\r\n";
    for (const std::string& answer : {"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 900000\r\n\r\n" + long_text, chunked}) {
        auto posted = post_to_target(answer, 2);
        REQUIRE(posted.results.size() == 2);
        for (const HttpResult& result : posted.results) {
            CHECK(result.answered);
            CHECK(result.status == 503);
            CHECK(result.error.size() == 200);  // the body's first 200 bytes, for last_error
        }
        CHECK(posted.connections == 1);  // read whole: the connection kept
    }
}

TEST_CASE("a header value with a line break, or longer than a header can be, is not sent") {
    // Only a database edited by hand gives a command such an id. Before, a line break went on the
    // wire as it was (a header of the target's choosing after it), and a value of 64 KiB made
    // Beast throw out of the relay's coroutine, which ended flowd.
    asio::io_context io;
    RecordingTarget target(io, "127.0.0.1");
    HttpClient client(io);
    const std::string url = "http://127.0.0.1:" + std::to_string(target.port()) + "/commands";
    std::vector<HttpResult> results;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            const std::vector<std::string> ids = {"c-1\r\nX-Injected: yes", std::string(70000, 'c'), std::string("c-\0", 3)};
            for (const std::string& id : ids) {
                std::vector<std::pair<std::string, std::string>> headers;
                headers.emplace_back("Idempotency-Key", id);
                results.push_back(co_await client.post(url, "{}", std::move(headers), std::chrono::milliseconds(5000)));
            }
        },
        [&](std::exception_ptr) { io.stop(); });
    io.run();
    REQUIRE(results.size() == 3);
    CHECK(results[0].error == "cannot send the command: its header Idempotency-Key would hold a line break or a NUL");
    CHECK(results[1].error == "cannot send the command: its header Idempotency-Key would be 70000 bytes long, over 8192");
    CHECK(results[2].error == "cannot send the command: its header Idempotency-Key would hold a line break or a NUL");
    for (const HttpResult& result : results) {
        CHECK_FALSE(result.answered);
        CHECK(result.cannot_send);  // the relay makes it dead at once
    }
    CHECK(target.connections == 0);
}

TEST_CASE("a status line without a reason phrase, or without the space before it, is an answer, and the connection is kept") {
    // RFC 9112 asks for `HTTP/1.1 200 ` (a space, then an optional reason); servers send
    // `HTTP/1.1 200` too, and clients take it. Before, Beast's "bad status" made it no answer:
    // the command was sent again (once at once on a kept-alive connection), and ended dead.
    for (const std::string& status_line : {"HTTP/1.1 200", "HTTP/1.1 200 ", "HTTP/1.0 202", "HTTP/1.1 503"}) {
        CAPTURE(status_line);
        auto posted = post_to_target(status_line + "\r\nContent-Length: 2\r\n\r\nok", 2);
        REQUIRE(posted.results.size() == 2);
        for (const HttpResult& result : posted.results) {
            CHECK(result.answered);
            CHECK(result.status == std::stoi(status_line.substr(9, 3)));
        }
        CHECK(posted.requests == 2);  // each sent once
        CHECK(posted.connections == (status_line.find("1.0") != std::string::npos ? 2 : 1));
    }
    // What is no status line stays no answer.
    for (const std::string& answer : {std::string("HTTP/1.1 20\r\nContent-Length: 0\r\n\r\n"), std::string("HTTP/1.1 2000\r\nContent-Length: 0\r\n\r\n"),
                                      std::string("HTTP/1.1 200\nContent-Length: 0\n\n")}) {
        CAPTURE(answer);
        auto posted = post_to_target(answer, 1);
        REQUIRE(posted.results.size() == 1);
        CHECK_FALSE(posted.results[0].answered);
        CHECK(posted.results[0].error.find("no answer from 127.0.0.1:") == 0);
    }
}

TEST_CASE("a kept-alive connection idle for longer than the client's limit is not used again: a new one is opened") {
    // A firewall or NAT that forgets an idle connection drops what is sent on it without a word:
    // before, the next command on it waited out its whole timeout, and used up an attempt.
    for (auto [max_idle, connections] : {std::pair{std::chrono::milliseconds(100), 2}, std::pair{std::chrono::milliseconds(60000), 1}}) {
        CAPTURE(max_idle.count());
        asio::io_context io;
        RecordingTarget target(io, "127.0.0.1");
        HttpClient client(io, max_idle);
        const std::string url = "http://127.0.0.1:" + std::to_string(target.port()) + "/commands";
        auto first = post_all(io, client, {url}, "{}");
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        io.restart();
        auto second = post_all(io, client, {url}, "{}");
        REQUIRE(first.size() == 1);
        REQUIRE(second.size() == 1);
        CHECK(first[0].status == 200);
        CHECK(second[0].status == 200);
        CHECK(target.requests.size() == 2);
        CHECK(target.connections == connections);
    }
}
