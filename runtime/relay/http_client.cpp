#include "runtime/relay/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <charconv>
#include <ctime>

namespace flow::relay {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;

namespace {

// Runs the io_context until the operation started before it completes.
void wait(asio::io_context& io) {
    io.restart();
    io.run();
}

}  // namespace

std::optional<std::int64_t> parse_retry_after(const std::string& value, std::int64_t now_ms) {
    std::int64_t seconds = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (error == std::errc() && end == value.data() + value.size()) return seconds < 0 ? 0 : seconds * 1000;
    std::tm tm{};
    if (strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
        std::int64_t at = static_cast<std::int64_t>(timegm(&tm)) * 1000;
        return at > now_ms ? at - now_ms : 0;
    }
    return std::nullopt;
}

HttpResult HttpClient::post(const std::string& url, const std::string& body,
                            const std::vector<std::pair<std::string, std::string>>& headers, std::chrono::milliseconds timeout) {
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed) return {0, "invalid URL " + url, std::nullopt};
    std::string host(parsed->host());
    std::string port = parsed->has_port() ? std::string(parsed->port()) : "80";
    std::string target(parsed->encoded_target());
    if (target.empty()) target = "/";
    std::string endpoint = host + ":" + port;

    for (int attempt = 0; attempt < 2; ++attempt) {
        auto& stream = connections_[endpoint];
        bool reused = stream != nullptr;
        beast::error_code ec;
        if (!stream) {
            stream = std::make_unique<beast::tcp_stream>(io_);
            asio::ip::tcp::resolver resolver(io_);
            auto results = resolver.resolve(host, port, ec);
            if (ec) {
                connections_.erase(endpoint);
                return {0, "cannot resolve " + host + ": " + ec.message(), std::nullopt};
            }
            stream->expires_after(timeout);
            stream->async_connect(results, [&](beast::error_code e, auto) { ec = e; });
            wait(io_);
            if (ec) {
                connections_.erase(endpoint);
                return {0, "cannot connect to " + endpoint + ": " + ec.message(), std::nullopt};
            }
        }
        beast_http::request<beast_http::string_body> req{beast_http::verb::post, target, 11};
        req.set(beast_http::field::host, parsed->has_port() ? endpoint : host);
        req.set(beast_http::field::user_agent, "flowd");
        for (const auto& [name, value] : headers) req.set(name, value);
        req.body() = body;
        req.keep_alive(true);
        req.prepare_payload();
        stream->expires_after(timeout);
        beast_http::async_write(*stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
        wait(io_);
        beast::flat_buffer buffer;
        beast_http::response_parser<beast_http::string_body> parser;
        parser.body_limit(1 << 20);
        if (!ec) {
            beast_http::async_read(*stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
            wait(io_);
        }
        if (ec) {
            connections_.erase(endpoint);
            // A kept-alive connection the target closed meanwhile: try once on a new one.
            if (reused && ec != beast::error::timeout) continue;
            return {0, ec == beast::error::timeout ? "timed out after " + std::to_string(timeout.count()) + " ms" : ec.message(),
                    std::nullopt};
        }
        auto& res = parser.get();
        HttpResult result;
        result.status = static_cast<int>(res.result_int());
        result.error = res.body().substr(0, 200);
        auto retry_after = res.find(beast_http::field::retry_after);
        if (retry_after != res.end())
            result.retry_after_ms = parse_retry_after(std::string(retry_after->value()),
                                                      std::chrono::duration_cast<std::chrono::milliseconds>(
                                                          std::chrono::system_clock::now().time_since_epoch())
                                                          .count());
        if (!res.keep_alive()) connections_.erase(endpoint);
        return result;
    }
    return {0, "connection closed", std::nullopt};
}

}  // namespace flow::relay
