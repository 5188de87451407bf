// What a request's header must say before its body can be read safely (RFC 9112): how the
// body is framed, and which host it is for. A request that fails here is refused and its
// connection closed, since where its body ends, and so where the next request starts, is unknown.
#pragma once

#include <boost/beast/http/message.hpp>

#include <optional>
#include <string>

namespace flow::http {

struct FramingRefusal {
    unsigned status;  // 400, or 501 for a transfer coding flowd does not implement
    std::string error;
};

// Refuses a Transfer-Encoding other than plain `chunked` (one whose last coding is not
// `chunked` leaves the body's end unknown; other codings are not implemented), and a Host
// that an HTTP/1.1 request lacks, repeats, or that is not `host[:port]`.
std::optional<FramingRefusal> refuse_framing(const boost::beast::http::request_header<>& header);

}  // namespace flow::http
