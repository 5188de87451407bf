// Reading a request's header and body with Beast's parser, strictly: as
// beast::http::async_read_header and async_read do, except that a line ending in a bare LF is
// refused as soon as it has arrived (see stopped_at_bare_lf). The server reads every request
// with it; a fuzz target compares it with Beast's parser given the whole input at once.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace flow::http {

// Whether a read failed on what the client sent (a bad request line, header or chunk), rather
// than on the connection (closed, reset, timed out), which leaves no one to answer.
inline bool is_malformed(const boost::beast::error_code& error) {
    if (!error || error.category() != boost::beast::http::make_error_code(boost::beast::http::error::bad_method).category()) return false;
    return error != boost::beast::http::error::end_of_stream && error != boost::beast::http::error::partial_message &&
           error != boost::beast::http::error::need_more && error != boost::beast::http::error::need_buffer &&
           error != boost::beast::http::error::body_limit && error != boost::beast::http::error::header_limit &&
           error != boost::beast::http::error::buffer_overflow && error != boost::beast::http::error::short_read;
}

// Where the parser stopped in the buffer, at a line that ends in a bare LF: `anywhere` in what it
// left (it stopped wanting more), or only in the `first` line (it stopped at an error there).
// What Beast leaves in the buffer is the start of a line it could not parse (of a header, a
// chunk or a trailer), and HTTP/1.1 ends each of those lines in CRLF (RFC 9112 2.2, 7.1). Beast
// looks for CRLF alone: it would wait for the rest of a line that has ended, and refuse the
// request only at its deadline, or name another fault of the line ("bad version"). Empty lines
// before a request line are allowed (server.cpp drops them): `empty_lines_first` passes over them.
// The first `checked` bytes are known to hold none (they were looked at before and are unchanged).
enum class LineSearch { Anywhere, First };
inline bool stopped_at_bare_lf(const boost::beast::flat_buffer& buffer, bool empty_lines_first, LineSearch search, std::size_t checked = 0) {
    const auto* data = static_cast<const char*>(buffer.data().data());
    std::size_t start = 0;
    if (empty_lines_first)
        while (start < buffer.size() && (data[start] == '\r' || data[start] == '\n')) ++start;
    for (std::size_t i = std::max(start, checked); i < buffer.size(); ++i) {
        if (data[i] != '\n') continue;
        if (i == start || data[i - 1] != '\r') return true;
        if (search == LineSearch::First) return false;
    }
    return false;
}

// Refuses a chunk extension holding a control character other than HTAB (RFC 9112 7.1.1: a token,
// or a quoted string, which holds none). Beast takes any byte inside a quoted one, so without
// this an LF there would be read or refused depending on where the packets happened to split.
// Set it on a request's parser with on_chunk_header; it must outlive the parser.
struct ChunkExtensionCheck {
    void operator()(std::uint64_t, boost::beast::string_view extensions, boost::beast::error_code& error) const {
        for (const char c : extensions)
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
                error = boost::beast::http::error::bad_chunk_extension;
                return;
            }
    }
};

enum class Reading { Header, Body };

// Runs the parser over the connection until it has the header or the whole body, as
// boost::beast::http::async_read_header and async_read do, except that a line ending in a bare LF is
// refused (`bad_line_ending`) as soon as it has arrived.
template <class Stream, class Parser>
boost::asio::awaitable<boost::beast::error_code> read_strictly(Stream& stream, boost::beast::flat_buffer& buffer, Parser& parser, Reading reading) {
    const auto done = [&] { return reading == Reading::Header ? parser.is_header_done() : parser.is_done(); };
    parser.eager(reading == Reading::Body);  // a body's chunks are parsed as many at a time as have come
    bool consumed = false;
    std::size_t checked = 0;  // the bytes at the buffer's start already found to hold no bare LF
    for (;;) {
        // Parse what the buffer holds first, so that what is left is what the parser waits on.
        boost::beast::error_code error;
        while (!done() && buffer.size() > 0) {
            const std::size_t used = parser.put(buffer.data(), error);
            buffer.consume(used);
            if (used > 0) checked = 0;
            consumed = consumed || used > 0;
            if (error || used == 0) break;
        }
        const bool empty_lines_first = reading == Reading::Header && !consumed;
        if (error == boost::beast::http::error::need_more) {
            // A line sent a byte at a time is looked at once, not once per byte.
            if (stopped_at_bare_lf(buffer, empty_lines_first, LineSearch::Anywhere, checked)) co_return boost::beast::http::error::bad_line_ending;
            checked = buffer.size();
        } else if (error) {
            if (is_malformed(error) && stopped_at_bare_lf(buffer, empty_lines_first, LineSearch::First))
                co_return boost::beast::http::error::bad_line_ending;
            co_return error;
        }
        if (done()) co_return boost::beast::error_code{};
        const std::size_t room = boost::beast::read_size(buffer, 65536);  // what Beast's reads take: the buffer grows as needed
        if (room == 0) co_return boost::beast::http::error::buffer_overflow;
        auto [read_error, bytes] = co_await stream.async_read_some(buffer.prepare(room), boost::asio::as_tuple(boost::asio::use_awaitable));
        buffer.commit(bytes);
        if (read_error == boost::asio::error::eof) {
            if (!parser.got_some()) co_return boost::beast::http::error::end_of_stream;
            boost::beast::error_code at_end;
            parser.put_eof(at_end);  // a message cut short: partial_message
            co_return at_end;
        }
        if (read_error) co_return read_error;
    }
}

}  // namespace flow::http
