#include "runtime/http/request_framing.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/url/parse.hpp>

#include <cctype>
#include <string_view>
#include <vector>

namespace flow::http {

namespace beast_http = boost::beast::http;

namespace {

std::string_view trimmed(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

bool is_chunked(std::string_view coding) {
    coding = trimmed(coding);
    if (coding.size() != 7) return false;
    constexpr std::string_view chunked = "chunked";
    for (std::size_t i = 0; i < chunked.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(coding[i])) != chunked[i]) return false;
    return true;
}

// The codings of every Transfer-Encoding line, in order, the last one last.
std::vector<std::string_view> transfer_codings(const beast_http::request_header<>& header) {
    std::vector<std::string_view> codings;
    auto [first, last] = header.equal_range(beast_http::field::transfer_encoding);
    for (auto line = first; line != last; ++line) {
        std::string_view value = line->value();
        for (std::size_t start = 0; start <= value.size();) {
            std::size_t comma = value.find(',', start);
            if (comma == std::string_view::npos) comma = value.size();
            std::string_view coding = trimmed(value.substr(start, comma - start));
            if (!coding.empty()) codings.push_back(coding);
            start = comma + 1;
        }
    }
    return codings;
}

}  // namespace

std::optional<FramingRefusal> refuse_framing(const beast_http::request_header<>& header) {
    if (header.count(beast_http::field::transfer_encoding) > 0) {
        // HTTP/1.0 has no transfer codings: its framing is faulty (RFC 9112 6.1).
        if (header.version() < 11)
            return FramingRefusal{400, "an HTTP/1.0 request cannot carry Transfer-Encoding, so where its body ends is unknown"};
        std::vector<std::string_view> codings = transfer_codings(header);
        if (codings.empty() || !is_chunked(codings.back()))
            return FramingRefusal{400, "the request's Transfer-Encoding does not end with chunked, so where its body ends is unknown"};
        for (std::size_t i = 0; i + 1 < codings.size(); ++i)
            if (is_chunked(codings[i]))  // chunked twice: RFC 9112 6.1 forbids it
                return FramingRefusal{400, "the request's Transfer-Encoding applies chunked more than once"};
        if (codings.size() > 1)
            return FramingRefusal{501, "the transfer coding '" + std::string(codings.front()) +
                                           "' is not implemented: send the body as it is, or chunked only"};
    }
    const std::size_t hosts = header.count(beast_http::field::host);
    if (hosts > 1) return FramingRefusal{400, "the request has more than one Host header"};
    if (hosts == 0) {
        if (header.version() >= 11) return FramingRefusal{400, "an HTTP/1.1 request needs a Host header"};
        return std::nullopt;
    }
    std::string_view host = header[beast_http::field::host];
    if (host.empty()) return std::nullopt;  // allowed when the target has no authority
    auto authority = boost::urls::parse_authority(host);
    if (!authority || authority->has_userinfo())
        return FramingRefusal{400, "the Host header is not a host with an optional port"};
    return std::nullopt;
}

}  // namespace flow::http
