// An HTTP/1.1 message as it goes on the wire, in one piece: its start line, its fields as they
// are and its body. Written with one write of one buffer, it costs less than Beast's serializer,
// which walks a view over many small buffers. For messages with a Content-Length (or none):
// a chunked body is not encoded here.
#pragma once

#include <boost/beast/http/message.hpp>

#include <string>
#include <string_view>

namespace flow::http {

template <bool is_request, class Fields>
std::string wire_text(const boost::beast::http::header<is_request, Fields>& header, std::string_view body) {
    namespace beast_http = boost::beast::http;
    std::string out;
    out.reserve(256 + body.size());
    const std::string_view version = header.version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
    if constexpr (is_request) {
        out.append(header.method_string()).append(" ").append(header.target()).append(" ").append(version);
    } else {
        const std::string_view reason = header.reason();
        out.append(version).append(" ").append(std::to_string(header.result_int())).append(" ");
        out.append(reason.empty() ? std::string_view(beast_http::obsolete_reason(header.result())) : reason);
    }
    out += "\r\n";
    for (const auto& field : header) out.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
    out += "\r\n";
    out.append(body);
    return out;
}

}  // namespace flow::http
