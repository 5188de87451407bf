// The benchmark programs' framing of HTTP/1.1 (bench/lean_http.hpp): a wrong frame would make
// the load generator count answers it never had, or the sink commands it never read.
#include "bench/lean_http.hpp"

#include <doctest/doctest.h>

#include <string>

using bench::Framing;
using bench::Message;

TEST_CASE("lean framing: a message is whole once its head and Content-Length bytes of body came") {
    const std::string answer = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{\"a\"}";
    Message m;
    for (std::size_t cut = 0; cut < answer.size(); ++cut) CHECK(bench::frame_message(std::string_view(answer).substr(0, cut), m) == Framing::incomplete);
    const std::string two = answer + "HTTP/1.1 503 Busy\r\ncontent-length:0\r\n\r\n";
    REQUIRE(bench::frame_message(two, m) == Framing::complete);
    CHECK(m.size == answer.size());
    CHECK(m.body == "{\"a\"}");
    CHECK(bench::status_of(m.head) == 202);
    REQUIRE(bench::frame_message(std::string_view(two).substr(m.size), m) == Framing::complete);
    CHECK(m.body.empty());
    CHECK(bench::status_of(m.head) == 503);  // the field's name in any case, no space before its value
}

TEST_CASE("lean framing: no Content-Length is an empty body; chunked or a bad length is refused") {
    Message m;
    REQUIRE(bench::frame_message("GET /count HTTP/1.1\r\nHost: x\r\n\r\nrest", m) == Framing::complete);
    CHECK(m.head == "GET /count HTTP/1.1\r\nHost: x");
    CHECK(m.size == 32);  // "rest" is the next message's
    CHECK(bench::frame_message("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n", m) == Framing::malformed);
    CHECK(bench::frame_message("POST / HTTP/1.1\r\nContent-Length: x1\r\n\r\n", m) == Framing::malformed);
    CHECK(bench::frame_message("POST / HTTP/1.1\r\nContent-Length: 5abc\r\n\r\n", m) == Framing::malformed);
    CHECK(bench::frame_message("POST / HTTP/1.1\r\nContent-Length: 5, 7\r\n\r\n", m) == Framing::malformed);
    REQUIRE(bench::frame_message("POST / HTTP/1.1\r\nContent-Length: 2 \r\n\r\n{}", m) == Framing::complete);
    CHECK(m.body == "{}");
    // A field whose name ends in Content-Length is another field.
    REQUIRE(bench::frame_message("HTTP/1.1 200 OK\r\nX-Content-Length: 5\r\n\r\nnext", m) == Framing::complete);
    CHECK(m.body.empty());
    CHECK(bench::status_of("HTTP/1.1 2xx Odd") == 0);
    CHECK(bench::status_of("HTTP/1.1 2") == 0);
    CHECK(bench::status_of("garbage here") == 0);
}
