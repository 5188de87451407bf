#include "runtime/http/route_support.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>
#include <limits>

namespace flow::http {

namespace beast_http = boost::beast::http;
using nlohmann::json;

Response text_response(unsigned status, std::string body, unsigned version) {
    Response res{static_cast<beast_http::status>(status), version};
    res.set(beast_http::field::content_type, "application/json");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

Response json_response(unsigned status, const json& body, unsigned version) {
    return text_response(status, body.dump(-1, ' ', false, json::error_handler_t::replace), version);
}

unsigned status_for(const store::StoreError& e) {
    switch (e.kind) {
    case store::StoreError::Kind::NotFound: return 404;
    case store::StoreError::Kind::Conflict: return 409;
    default: return 503;
    }
}

bool admin_allowed(const Request& req, const service::Config& config) {
    if (config.admin_token.empty()) return true;
    if (req.count(beast_http::field::authorization) != 1) return false;
    std::string_view given = req[beast_http::field::authorization];
    constexpr std::string_view scheme = "bearer";
    if (given.size() <= scheme.size() || !boost::beast::iequals(given.substr(0, scheme.size()), scheme) ||
        given[scheme.size()] != ' ')
        return false;
    given.remove_prefix(scheme.size());
    while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
    while (!given.empty() && given.back() == ' ') given.remove_suffix(1);
    const std::string& expected = config.admin_token;
    return given.size() == expected.size() && CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

Response method_not_allowed(const char* allowed, unsigned version) {
    Response res = error_response(405, std::string("use ") + allowed, version);
    res.set(beast_http::field::allow, allowed);
    return res;
}

std::optional<std::int64_t> read_digits(std::string_view text) {
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
    std::int64_t n = 0;
    if (std::from_chars(text.data(), text.data() + text.size(), n).ec != std::errc()) n = std::numeric_limits<std::int64_t>::max();
    return n;
}

std::optional<std::string> read_page_parameter(std::string_view key, const std::string& value, int& limit, std::int64_t& after) {
    if (key != "limit" && key != "after") return std::nullopt;
    auto n = read_digits(value);
    if (!n) return std::string(key) + " must be a non-negative integer";
    if (key == "limit") limit = static_cast<int>(std::min<std::int64_t>(std::max<std::int64_t>(*n, 1), 1000));
    else after = *n;
    return std::nullopt;
}

std::optional<Response> refuse_repeated(const Request& req, const boost::urls::url_view& url,
                                        std::initializer_list<std::string_view> names) {
    for (std::string_view name : names) {
        const auto params = url.params();
        const auto given = std::count_if(params.begin(), params.end(), [&](const auto& p) { return p.key == name && !p.value.empty(); });
        if (given > 1) return error_response(400, std::string(name) + " is given more than once", req.version());
    }
    return std::nullopt;
}

}  // namespace flow::http
