#pragma once
// What the route files share: building responses, the admin check, and reading a list's query.
#include "runtime/http/routes.hpp"

#include <boost/url/url_view.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace flow::http {

// A response whose body is JSON text already.
Response text_response(unsigned status, std::string body, unsigned version);
// A response with this JSON body (text that is not UTF-8 written with U+FFFD).
Response json_response(unsigned status, const nlohmann::json& body, unsigned version);
// The status a store error is answered with: 404 not found, 409 conflict, 503 otherwise.
unsigned status_for(const store::StoreError& e);

// `Authorization: Bearer <token>`: the scheme in any case (RFC 9110 section 11.1), the token
// compared in constant time. Given twice, it is refused: which copy a proxy meant is not
// guessed at. Every request is allowed when no admin token is configured.
bool admin_allowed(const Request& req, const service::Config& config);
// 405 with the methods the route takes, as RFC 9110 requires.
Response method_not_allowed(const char* allowed, unsigned version);

// A non-negative integer written with digits only: no sign, no white space. A number past 64
// bits is still one: it saturates (a limit above 1000 is 1000, a cursor past every row gives an
// empty page, a history place past 64 bits names no entry).
std::optional<std::int64_t> read_digits(std::string_view text);
// `limit` (1 to 1000, more taken as 1000, 0 as 1) and `after` (a cursor) of a list; other
// parameters are left alone. The reason when the value is not a non-negative integer.
std::optional<std::string> read_page_parameter(std::string_view key, const std::string& value, int& limit, std::int64_t& after);
// The first of a list route's parameters that the query gives more than one value: refused
// rather than guessed at (the first, the last, or either of them). An empty value is no value,
// as everywhere in a list's query (`?status=&status=dead` is `?status=dead`).
std::optional<Response> refuse_repeated(const Request& req, const boost::urls::url_view& url,
                                        std::initializer_list<std::string_view> names);

}  // namespace flow::http
