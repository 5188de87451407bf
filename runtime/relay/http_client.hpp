// A small blocking HTTP/1.1 client for the relay, on Beast: one keep-alive connection per
// host and port, a deadline on every request, and no exception for a target that fails.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace flow::relay {

struct HttpResult {
    int status = 0;            // 0 when no answer came (refused, reset, timed out)
    std::string error;         // why there was no answer, or the start of the answer's body
    std::optional<std::int64_t> retry_after_ms;
};

class HttpClient {
public:
    HttpResult post(const std::string& url, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers, std::chrono::milliseconds timeout);

private:
    boost::asio::io_context io_;
    std::map<std::string, std::unique_ptr<boost::beast::tcp_stream>> connections_;  // "host:port" -> open stream
};

// Reads a Retry-After value: seconds, or an HTTP date relative to now.
std::optional<std::int64_t> parse_retry_after(const std::string& value, std::int64_t now_ms);

}  // namespace flow::relay
