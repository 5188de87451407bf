// A small HTTP/1.1 client for the relay, on Beast: one request at a time as a coroutine on the
// relay's I/O context, one keep-alive connection per scheme, host and port, a deadline on every
// step, and no exception for a target that fails. `https://` URLs go over TLS 1.2 or later, with
// the server's certificate verified against the system's trusted authorities (or a PEM file of
// the target's own) and its host name.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace flow::relay {

struct HttpResult {
    int status = 0;            // the answer's status (0 when no answer came: refused, reset, timed out)
    std::string error;         // why there was no answer, or the start of the answer's body
    std::optional<std::int64_t> retry_after_ms;
    bool answered = false;     // an answer came, whatever its status (a `000` included)
    bool cut_off = false;      // not sent or not answered because flowd was stopping (abort())
    bool cannot_send = false;  // never sent: no HTTP request can carry it (a header it cannot hold)
};

// Every member runs on the thread of the context it was made with.
class HttpClient {
public:
    // A kept-alive connection idle for longer than this is closed and a new one opened: a
    // firewall or NAT that forgets an idle connection drops what is sent on it without a word,
    // and the request would wait out its whole timeout.
    static constexpr std::chrono::seconds default_max_idle{60};

    explicit HttpClient(boost::asio::io_context& io, std::chrono::steady_clock::duration max_idle = default_max_idle)
        : io_(io), max_idle_(max_idle) {}

    // `ca_file`: for an https URL, the PEM file of the authorities to trust instead of the
    // system's (empty: the system's). `timeout` bounds each step: the name's resolution, the
    // connection, the TLS handshake, and the request with its answer.
    boost::asio::awaitable<HttpResult> post(std::string url, std::string body,
                                            std::vector<std::pair<std::string, std::string>> headers,
                                            std::chrono::milliseconds timeout, std::string ca_file = "");
    // Cuts off the request in progress: post() then answers "cut off: flowd was stopping" (no
    // status), now and for every later call. For a stop that must not wait on a target that hangs.
    void abort();

private:
    // What a URL names, parsed once per client: the relay posts to a few URLs many times.
    struct Endpoint {
        bool secure = false;
        bool host_is_name = false;      // a name (looked up; sent as SNI), not an address
        std::string host;               // without brackets for IPv6
        std::string port;
        bool has_port = false;          // the URL gives one (port_number: 0 when out of range)
        std::uint16_t port_number = 0;
        std::string target;             // the path and query, "/" at least
        std::string address;            // "host:port", for messages
        std::string host_field;         // the Host header's value
        std::string scheme_and_address; // "scheme://host:port", the start of a connection's key
    };
    // The URL's endpoint, parsed on first use; null when it is not an http(s) URL.
    std::shared_ptr<const Endpoint> endpoint_for(const std::string& url);
    struct Connection {
        std::unique_ptr<boost::beast::tcp_stream> plain;
        std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> secure;
        std::chrono::steady_clock::time_point idle_since;  // the end of its last answer
    };
    // The TLS settings for a CA file (empty: the system's), made once; null with the reason when
    // the file cannot be used.
    boost::asio::ssl::context* tls_for(const std::string& ca_file, std::string& problem);
    HttpResult cut_off(const std::string& key);
    // Whether a kept-alive connection holds data no request asked for (or has failed).
    static bool has_unread_data(Connection& connection);
    static void close(Connection& connection);

    boost::asio::io_context& io_;
    std::chrono::steady_clock::duration max_idle_;
    std::map<std::string, std::shared_ptr<const Endpoint>> endpoints_;  // URL -> what it names (valid URLs only)
    std::map<std::string, Connection> connections_;  // "scheme://host:port ca_file" -> open stream
    std::map<std::string, std::unique_ptr<boost::asio::ssl::context>> tls_;
    std::function<void()> cancel_in_progress_;  // what abort() cancels besides the open connections
    bool aborted_ = false;
};

// Reads a Retry-After value: seconds, or an HTTP date relative to now.
std::optional<std::int64_t> parse_retry_after(const std::string& value, std::int64_t now_ms);

}  // namespace flow::relay
