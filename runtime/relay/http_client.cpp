#include "runtime/relay/http_client.hpp"

#include "runtime/http/wire_text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <charconv>
#include <ctime>
#include <limits>
#include <mutex>
#include <system_error>
#include <thread>

namespace flow::relay {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

using ResponseParser = beast_http::response_parser<beast_http::string_body>;
constexpr std::uint64_t max_answer_body_bytes = 1 << 20;
constexpr std::uint32_t max_answer_header_bytes = 64 * 1024;
// What the parser must hold at once (the header, a chunk's size line, the trailer section) fits
// in the read buffer, or the answer is malformed (`buffer_overflow`). The bound is what keeps a
// trailer field from reaching 65,534 bytes, where Beast throws (its parser limits the header's
// size, not the trailer's), out of an Asio handler, which would end the relay's thread and the
// process, at each try of the command.
constexpr std::size_t max_answer_buffer_bytes = max_answer_header_bytes;
static_assert(max_answer_buffer_bytes <= 65536, "a field held with its name, colon and line ends must stay under 65,534 bytes");

// Whether an answer is an interim one (`100 Continue`, `103 Early Hints`, …) that the final
// answer follows on the same connection (RFC 9110 §15.2). `101` switches protocols: final.
bool is_interim(const ResponseParser& parser) {
    unsigned status = parser.get().result_int();
    return status >= 100 && status < 200 && status != 101;
}

// Gives a status line with no space after its code (`HTTP/1.1 200`, which servers send and
// clients take, where RFC 9112 asks for `HTTP/1.1 200 ` before an optional reason) the space
// Beast's parser needs, in the unread part of `buffer`. False when the buffer starts with
// anything else, which stays malformed.
bool add_missing_reason_space(beast::flat_buffer& buffer) {
    const std::string_view unread(static_cast<const char*>(buffer.data().data()), buffer.size());
    constexpr std::size_t status_line_size = std::string_view("HTTP/1.1 200").size();
    auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    if (unread.size() < status_line_size + 2 || buffer.size() >= buffer.max_size()) return false;
    if (unread.substr(0, 7) != "HTTP/1." || (unread[7] != '0' && unread[7] != '1') || unread[8] != ' ' ||
        !is_digit(unread[9]) || !is_digit(unread[10]) || !is_digit(unread[11]) || unread.substr(12, 2) != "\r\n")
        return false;
    const std::string patched = std::string(unread.substr(0, status_line_size)) + " " + std::string(unread.substr(status_line_size));
    buffer.consume(buffer.size());
    buffer.commit(asio::buffer_copy(buffer.prepare(patched.size()), asio::buffer(patched)));
    return true;
}

// Writes the request and reads the final answer on an open stream, plain or TLS: interim
// answers before the final one are read and passed over. `timeout` bounds it all, however many
// interim answers come.
//
// A target may answer from the header alone (a 413, say) and close without reading the body:
// with the body unread, its close resets the connection, and the write fails. The answer may
// have come before the reset all the same, so it is read: the error is still given back (the
// connection is done for), and `parser` holds the answer when there was one.
template <class Stream>
asio::awaitable<beast::error_code> exchange(Stream& stream, const std::string& request, std::optional<ResponseParser>& parser,
                                            std::chrono::milliseconds timeout) {
    beast::flat_buffer buffer(max_answer_buffer_bytes);
    beast::get_lowest_layer(stream).expires_after(timeout);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto [write_error, written] = co_await asio::async_write(stream, asio::buffer(request), tuple_awaitable);
    if (write_error == beast::error::timeout || write_error == asio::error::operation_aborted) co_return write_error;
    for (;;) {
        parser.emplace();
        parser->header_limit(max_answer_header_bytes);
        parser->body_limit(max_answer_body_bytes);
        auto [read_error, read] = co_await beast_http::async_read(stream, buffer, *parser, tuple_awaitable);
        if (read_error == beast_http::error::bad_status && add_missing_reason_space(buffer)) continue;
        if (write_error && (read_error || !is_interim(*parser))) co_return write_error;
        if (read_error || !is_interim(*parser)) co_return read_error;
        // A target that sends interim answers without end must not hold the lane past its
        // deadline.
        if (std::chrono::steady_clock::now() >= deadline) co_return beast::error::timeout;
    }
}

// A name's resolution, on a thread of its own: `getaddrinfo` blocks, and a name server that
// never answers must hold up neither the other lanes (Asio's resolver runs every lookup of a
// context on one thread, so one stuck lookup would queue all the others behind it) nor a stop
// (a context's destructor joins that thread). The thread is detached: once the lane stops
// waiting (past its deadline, or cut off) it clears `io`, and the thread, which finds out under
// the mutex, touches nothing of the relay's any more.
struct Lookup {
    std::mutex mutex;
    asio::io_context* io = nullptr;        // where the end is announced; null once nobody waits
    bool done = false;
    std::vector<asio::ip::tcp::endpoint> endpoints;
    beast::error_code error;
    asio::steady_timer* waiter = nullptr;  // the lane's timer; touched on the lane's thread only
};

// Starts the lookup; false when no thread could be started for it.
bool start_lookup(const std::shared_ptr<Lookup>& lookup, const std::string& host, const std::string& port) {
    try {
        std::thread([lookup, host, port] {
            asio::io_context own;  // a synchronous resolve runs getaddrinfo on this thread
            asio::ip::tcp::resolver resolver(own);
            beast::error_code error;
            auto found = resolver.resolve(host, port, error);
            std::vector<asio::ip::tcp::endpoint> endpoints;
            for (const auto& entry : found) endpoints.push_back(entry.endpoint());
            std::lock_guard lock(lookup->mutex);
            lookup->error = error;
            lookup->endpoints = std::move(endpoints);
            lookup->done = true;
            if (lookup->io)
                asio::post(*lookup->io, [lookup] {
                    if (lookup->waiter) lookup->waiter->cancel();
                });
        }).detach();
        return true;
    } catch (const std::system_error&) {
        return false;
    }
}

// Why a header cannot go on the wire as it is, if it cannot: a line break or a NUL in its value
// would end the header there and start another (the rest of the value read as a header of the
// target's choosing, or a request of its own), and a value Beast cannot hold makes it throw.
// The values are flowd's (a command's id, a signature), so only a database edited by hand gives
// such a one.
std::optional<std::string> unsendable_header(const std::vector<std::pair<std::string, std::string>>& headers) {
    constexpr std::size_t longest = 8192;
    for (const auto& [name, value] : headers) {
        if (value.size() > longest)
            return "its header " + name + " would be " + std::to_string(value.size()) + " bytes long, over " + std::to_string(longest);
        if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
            return "its header " + name + " would hold a line break or a NUL";
    }
    return std::nullopt;
}

}  // namespace

bool HttpClient::has_unread_data(Connection& connection) {
    if (!connection.plain && !connection.secure) return false;
    auto& socket = connection.secure ? beast::get_lowest_layer(*connection.secure).socket() : connection.plain->socket();
    beast::error_code ec;
    return socket.available(ec) > 0 || ec;
}

void HttpClient::close(Connection& connection) {
    if (connection.plain) connection.plain->close();
    if (connection.secure) beast::get_lowest_layer(*connection.secure).close();
}

void HttpClient::abort() {
    aborted_ = true;
    if (cancel_in_progress_) cancel_in_progress_();
    for (auto& [key, connection] : connections_) close(connection);
}

HttpResult HttpClient::cut_off(const std::string& key) {
    connections_.erase(key);
    HttpResult result{0, "cut off: flowd was stopping", std::nullopt};
    result.cut_off = true;
    return result;
}

std::optional<std::int64_t> parse_retry_after(const std::string& value, std::int64_t now_ms) {
    // Seconds: any number of digits, held to what 64 bits of milliseconds can say (the relay
    // cuts it to max_backoff_ms in any case).
    constexpr std::int64_t longest_ms = std::numeric_limits<std::int64_t>::max();
    std::int64_t seconds = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (end == value.data() + value.size() && end != value.data()) {
        if (error == std::errc::result_out_of_range) return value.front() == '-' ? 0 : longest_ms;
        if (error == std::errc()) return seconds < 0 ? 0 : seconds > longest_ms / 1000 ? longest_ms : seconds * 1000;
    }
    // An HTTP date in any of its three forms (RFC 9110 5.6.7): IMF-fixdate, and the obsolete
    // RFC 850 and asctime forms, which a recipient must accept too.
    for (const char* layout : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
        std::tm tm{};
        const char* end = strptime(value.c_str(), layout, &tm);
        if (!end || *end != '\0') continue;
        std::int64_t at = static_cast<std::int64_t>(timegm(&tm)) * 1000;
        return at > now_ms ? at - now_ms : 0;
    }
    return std::nullopt;
}

asio::ssl::context* HttpClient::tls_for(const std::string& ca_file, std::string& problem) {
    auto& tls = tls_[ca_file];
    if (tls) return tls.get();
    auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                         asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    context->set_verify_mode(asio::ssl::verify_peer);
    beast::error_code ec;
    if (ca_file.empty()) context->set_default_verify_paths(ec);
    else context->load_verify_file(ca_file, ec);
    if (ec) {
        tls_.erase(ca_file);
        problem = "cannot load the trusted certificates" + (ca_file.empty() ? std::string() : " of " + ca_file) + ": " + ec.message();
        return nullptr;
    }
    tls = std::move(context);
    return tls.get();
}

std::shared_ptr<const HttpClient::Endpoint> HttpClient::endpoint_for(const std::string& url) {
    if (auto known = endpoints_.find(url); known != endpoints_.end()) return known->second;
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed || (parsed->scheme_id() != boost::urls::scheme::http && parsed->scheme_id() != boost::urls::scheme::https))
        return nullptr;
    Endpoint e;
    e.secure = parsed->scheme_id() == boost::urls::scheme::https;
    e.host_is_name = parsed->host_type() == boost::urls::host_type::name;
    e.host = parsed->host_name().empty() ? std::string(parsed->host()) : std::string(parsed->host_name());
    if (parsed->host_type() == boost::urls::host_type::ipv6) e.host = std::string(parsed->host_ipv6_address().to_string());
    e.port = parsed->has_port() ? std::string(parsed->port()) : e.secure ? "443" : "80";
    e.has_port = parsed->has_port();
    e.port_number = parsed->port_number();
    // The request line's origin form: a path that starts with '/', before the query
    // (`http://h?q` is `POST /?q`, RFC 9112, 3.2.1).
    e.target = std::string(parsed->encoded_target());
    if (e.target.empty() || e.target.front() != '/') e.target.insert(0, "/");
    e.address = e.host + ":" + e.port;
    e.host_field = parsed->has_port() ? std::string(parsed->encoded_host_and_port()) : std::string(parsed->encoded_host());
    e.scheme_and_address = std::string(parsed->scheme()) + "://" + e.address;
    // The relay's URLs are its targets' few; anything else is not kept without end.
    if (endpoints_.size() >= 1024) endpoints_.clear();
    auto kept = std::make_shared<const Endpoint>(std::move(e));
    endpoints_.emplace(url, kept);
    return kept;
}

asio::awaitable<HttpResult> HttpClient::post(std::string url, std::string body,
                                             std::vector<std::pair<std::string, std::string>> headers,
                                             std::chrono::milliseconds timeout, std::string ca_file) {
    // Held for the request: endpoints_ may be cleared while it waits.
    const std::shared_ptr<const Endpoint> where = endpoint_for(url);
    if (!where) co_return HttpResult{0, "invalid URL " + url, std::nullopt};
    if (auto problem = unsendable_header(headers)) {
        HttpResult result{0, "cannot send the command: " + *problem, std::nullopt};
        result.cannot_send = true;
        co_return result;
    }
    const Endpoint& parsed = *where;
    const bool secure = parsed.secure;
    const std::string& host = parsed.host;
    const std::string& endpoint = parsed.address;
    std::string key = secure ? parsed.scheme_and_address + " " + ca_file : parsed.scheme_and_address;

    for (int attempt = 0; attempt < 2; ++attempt) {
        if (aborted_) co_return cut_off(key);
        // An idle kept-alive connection with something to read has been answered already (a
        // `408` the target sent before closing it): that is no answer to the next request, which
        // starts on a new connection. So does one idle for longer than max_idle_, which a
        // firewall may have forgotten.
        if (auto kept = connections_.find(key);
            kept != connections_.end() && (has_unread_data(kept->second) || std::chrono::steady_clock::now() - kept->second.idle_since > max_idle_))
            connections_.erase(kept);
        const bool reused = connections_.count(key) > 0;
        if (!reused) {
            asio::ssl::context* tls = nullptr;
            if (secure) {
                std::string problem;
                tls = tls_for(ca_file, problem);
                if (!tls) co_return HttpResult{0, problem, std::nullopt};
            }
            // An address needs no lookup. A name is resolved within the request's deadline, and
            // cut off by a stop like the rest.
            std::vector<asio::ip::tcp::endpoint> endpoints;
            beast::error_code not_an_address;
            const auto address = asio::ip::make_address(host, not_an_address);
            if (!not_an_address) {
                endpoints.emplace_back(address, parsed.has_port ? parsed.port_number : secure ? 443 : 80);
            } else {
                auto lookup = std::make_shared<Lookup>();
                lookup->io = &io_;
                if (!start_lookup(lookup, host, parsed.port)) co_return HttpResult{0, "cannot resolve " + host + ": no thread to resolve it on", std::nullopt};
                asio::steady_timer deadline(io_, timeout);
                lookup->waiter = &deadline;
                cancel_in_progress_ = [&deadline] { deadline.cancel(); };
                bool done = false;
                {
                    std::lock_guard lock(lookup->mutex);
                    done = lookup->done;
                }
                // The end of a lookup that finishes from here on is posted to this thread, so it
                // comes after this wait has begun.
                if (!done) co_await deadline.async_wait(tuple_awaitable);
                cancel_in_progress_ = nullptr;
                lookup->waiter = nullptr;
                beast::error_code error;
                {
                    std::lock_guard lock(lookup->mutex);
                    lookup->io = nullptr;
                    done = lookup->done;
                    error = lookup->error;
                    endpoints = std::move(lookup->endpoints);
                }
                if (aborted_) co_return cut_off(key);
                if (!done || error)
                    co_return HttpResult{0, "cannot resolve " + host + ": " +
                                                (done ? error.message() : "timed out after " + std::to_string(timeout.count()) + " ms"),
                                         std::nullopt};
            }
            auto transport = std::make_unique<beast::tcp_stream>(io_);
            transport->expires_after(timeout);
            cancel_in_progress_ = [&transport] { transport->close(); };
            auto [connect_error, connected] = co_await transport->async_connect(endpoints, tuple_awaitable);
            cancel_in_progress_ = nullptr;
            if (aborted_) co_return cut_off(key);
            if (connect_error)
                co_return HttpResult{0, "cannot connect to " + endpoint + ": " + connect_error.message(), std::nullopt};
            Connection connection;
            if (!secure) {
                connection.plain = std::move(transport);
            } else {
                auto stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*transport), *tls);
                // The name the certificate must carry, and the one the server picks it by (SNI,
                // which is for names, not addresses).
                // The name check is told apart from the chain's, so that last_error says which failed.
                auto name_refused = std::make_shared<bool>(false);
                stream->set_verify_callback(
                    [name_refused, check = asio::ssl::host_name_verification(host)](bool preverified, asio::ssl::verify_context& ctx) mutable {
                        const bool verified = check(preverified, ctx);
                        if (preverified && !verified) *name_refused = true;
                        return verified;
                    });
                if (parsed.host_is_name)
                    SSL_set_tlsext_host_name(stream->native_handle(), host.c_str());
                beast::get_lowest_layer(*stream).expires_after(timeout);
                cancel_in_progress_ = [&stream] { beast::get_lowest_layer(*stream).close(); };
                auto [handshake_error] = co_await stream->async_handshake(asio::ssl::stream_base::client, tuple_awaitable);
                cancel_in_progress_ = nullptr;
                if (aborted_) co_return cut_off(key);
                if (handshake_error) {
                    std::string why = handshake_error.message();
                    const long verify_result = SSL_get_verify_result(stream->native_handle());
                    // The name first: when its check refuses, OpenSSL records no reason of its
                    // own (X509_V_ERR_UNSPECIFIED).
                    if (*name_refused) why += ": the certificate is not for " + host;
                    else if (verify_result != X509_V_OK) why += std::string(": ") + X509_verify_cert_error_string(verify_result);
                    co_return HttpResult{0, "TLS with " + endpoint + " failed: " + why, std::nullopt};
                }
                connection.secure = std::move(stream);
            }
            connections_[key] = std::move(connection);
        }
        Connection& connection = connections_[key];
        beast_http::request<beast_http::empty_body> req{beast_http::verb::post, parsed.target, 11};
        req.set(beast_http::field::host, parsed.host_field);
        req.set(beast_http::field::user_agent, "flowd");
        for (const auto& [name, value] : headers) req.set(name, value);
        req.keep_alive(true);
        req.content_length(body.size());
        const std::string request = http::wire_text(req.base(), body);
        std::optional<ResponseParser> parser;
        // The connection stays in connections_ meanwhile, where abort() closes it.
        beast::error_code ec = connection.secure ? co_await exchange(*connection.secure, request, parser, timeout)
                                                 : co_await exchange(*connection.plain, request, parser, timeout);
        // An answer is an answer from its header on: its status decides (a 2xx delivers), whatever
        // becomes of its body (too long, stopped before its end, cut by a close or by a stop,
        // malformed). The target has the command by then, so it is not sent again. The
        // connection is not kept.
        const bool answered = parser && parser->is_header_done() && !is_interim(*parser);
        if (aborted_ && !answered) co_return cut_off(key);
        const bool status_known = ec && answered;
        if (ec && !status_known) {
            connections_.erase(key);
            // A kept-alive connection the target closed meanwhile: try once on a new one.
            if (reused && ec != beast::error::timeout) continue;
            co_return HttpResult{0, ec == beast::error::timeout ? "timed out after " + std::to_string(timeout.count()) + " ms"
                                                                : "no answer from " + endpoint + ": " + ec.message(),
                                 std::nullopt};
        }
        auto& res = parser->get();
        HttpResult result;
        result.answered = true;
        result.status = static_cast<int>(res.result_int());
        result.error = res.body().substr(0, 200);
        auto retry_after = res.find(beast_http::field::retry_after);
        if (retry_after != res.end())
            result.retry_after_ms = parse_retry_after(std::string(retry_after->value()),
                                                      std::chrono::duration_cast<std::chrono::milliseconds>(
                                                          std::chrono::system_clock::now().time_since_epoch())
                                                          .count());
        if (status_known || !res.keep_alive()) connections_.erase(key);
        else connection.idle_since = std::chrono::steady_clock::now();
        co_return result;
    }
    co_return HttpResult{0, "connection closed", std::nullopt};
}

}  // namespace flow::relay
