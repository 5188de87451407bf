// libFuzzer target: raw bytes as one HTTP/1.1 request, read by flowd's strict reader
// (runtime/http/strict_read.hpp) as they would arrive over a connection that then goes quiet, in
// three ways (all at once, a byte at a time, and in pieces of sizes drawn from the input), and
// compared with Beast's parser given the whole input at once, with the same chunk-extension
// check. Checked, for every way:
// - the reader accepts exactly what Beast accepts, with the same start line, fields and body;
// - what it refuses, Beast refuses too or waits on (a line ended by a bare LF, which Beast waits
//   on for its CRLF);
// - when it waits for more, no line it waits on has ended in a bare LF.
#include "runtime/http/strict_read.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using RequestParser = beast_http::request_parser<beast_http::string_body>;

// flowd's limits (server.cpp): inputs are shorter than the header limit, so the read buffer's
// bound (the header limit and 16 KiB) is never what stops a read.
constexpr std::uint32_t header_limit = 16384;
constexpr std::uint64_t body_limit = 1 << 20;

// A connection's bytes as the reader would receive them: at most `piece(n)` bytes per read, the
// n-th read; then nothing more (`would_block`, standing for a wait without end).
template <class Piece>
class PiecewiseStream {
public:
    using executor_type = asio::io_context::executor_type;
    PiecewiseStream(asio::io_context& io, std::string_view data, Piece piece) : io_(io), data_(data), piece_(piece) {}
    executor_type get_executor() { return io_.get_executor(); }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return asio::async_initiate<Token, void(beast::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& into) {
                beast::error_code error;
                std::size_t n = 0;
                if (position_ == data_.size()) {
                    error = asio::error::would_block;  // the connection goes quiet: the reader waits
                } else {
                    n = std::min({piece_(reads_++), data_.size() - position_, asio::buffer_size(into)});
                    asio::buffer_copy(into, asio::buffer(data_.data() + position_, n));
                    position_ += n;
                }
                asio::post(io_, [handler = std::move(handler), error, n]() mutable { std::move(handler)(error, n); });
            },
            token, buffers);
    }

private:
    asio::io_context& io_;
    std::string_view data_;
    Piece piece_;
    std::size_t position_ = 0;
    std::size_t reads_ = 0;
};

struct Outcome {
    beast::error_code error;  // none: a whole request was read; would_block: waiting for more
    std::optional<beast_http::request<beast_http::string_body>> request;
    std::string waiting_on;   // what the reader had not parsed when it began to wait
};

bool waits(const Outcome& o) { return o.error == asio::error::would_block; }

flow::http::ChunkExtensionCheck chunk_extension_check;

void prepare(RequestParser& parser) {
    parser.header_limit(header_limit);
    parser.body_limit(body_limit);
    parser.on_chunk_header(chunk_extension_check);
}

template <class Stream>
asio::awaitable<void> read_request(Stream& stream, Outcome& outcome) {
    beast::flat_buffer buffer(header_limit + 16384);
    RequestParser parser;
    prepare(parser);
    outcome.error = co_await flow::http::read_strictly(stream, buffer, parser, flow::http::Reading::Header);
    if (!outcome.error) outcome.error = co_await flow::http::read_strictly(stream, buffer, parser, flow::http::Reading::Body);
    if (!outcome.error) outcome.request = parser.release();
    if (waits(outcome)) outcome.waiting_on.assign(static_cast<const char*>(buffer.data().data()), buffer.size());
}

template <class Piece>
Outcome read_strictly_in_pieces(std::string_view input, Piece piece) {
    asio::io_context io;
    PiecewiseStream<Piece> stream(io, input, piece);
    Outcome outcome;
    asio::co_spawn(io, read_request(stream, outcome), asio::detached);
    io.run();
    return outcome;
}

// Beast's parser given every byte at once.
Outcome read_whole(std::string_view input) {
    RequestParser parser;
    prepare(parser);
    parser.eager(true);
    Outcome outcome;
    std::size_t offset = 0;
    while (!parser.is_done()) {
        const std::size_t used = parser.put(asio::buffer(input.data() + offset, input.size() - offset), outcome.error);
        offset += used;
        if (outcome.error || used == 0) break;
    }
    if (outcome.error == beast_http::error::need_more || (!outcome.error && !parser.is_done())) outcome.error = asio::error::would_block;
    if (!outcome.error) outcome.request = parser.release();
    return outcome;
}

// Whether a line has ended in a bare LF (an LF after anything but a CR), by this harness's own
// reading of RFC 9112 rather than the reader's.
bool holds_bare_lf(std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i)
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) return true;
    return false;
}

bool same_request(const beast_http::request<beast_http::string_body>& a, const beast_http::request<beast_http::string_body>& b) {
    if (a.method_string() != b.method_string() || a.target() != b.target() || a.version() != b.version() || a.body() != b.body())
        return false;
    auto i = a.begin();
    auto j = b.begin();
    for (; i != a.end() && j != b.end(); ++i, ++j)
        if (i->name_string() != j->name_string() || i->value() != j->value()) return false;
    return i == a.end() && j == b.end();
}

void compare(const Outcome& whole, const Outcome& strict) {
    if (!strict.error) {
        if (whole.error || !same_request(*whole.request, *strict.request)) __builtin_trap();
        return;
    }
    if (!whole.error) __builtin_trap();  // Beast reads it whole; the reader, in pieces, does not
    // Waiting, it may leave unread a fault Beast finds in the same bytes given at once (Beast
    // parses a header only once all of it has come, unless its first piece held it all), but
    // never a line that has ended bare.
    if (waits(strict) && holds_bare_lf(strict.waiting_on)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > header_limit) return 0;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const Outcome whole = read_whole(input);
    std::uint32_t state = 2166136261u;  // the pieces' sizes, from the input (FNV-1a, then an LCG)
    for (const std::uint8_t byte : input) state = (state ^ byte) * 16777619u;
    const Outcome outcomes[] = {
        read_strictly_in_pieces(input, [](std::size_t) { return std::size_t{1} << 20; }),
        read_strictly_in_pieces(input, [](std::size_t) { return std::size_t{1}; }),
        read_strictly_in_pieces(input, [state](std::size_t n) {
            return static_cast<std::size_t>(((state + n * 2654435761u) >> 7) % 23 + 1);
        }),
    };
    for (const Outcome& strict : outcomes) compare(whole, strict);
    return 0;
}
