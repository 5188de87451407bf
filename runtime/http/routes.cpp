// The HTTP API's entry points: which route a request goes to, and the routes of operations
// (/healthz, /metrics). The routes themselves are in event_routes.cpp, instance_routes.cpp and
// outbox_routes.cpp.
#include "runtime/http/routes.hpp"

#include "runtime/http/route_handlers.hpp"
#include "runtime/http/route_support.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <future>
#include <memory>
#include <initializer_list>
#include <map>
#include <string_view>

namespace flow::http {

namespace beast_http = boost::beast::http;

namespace {

// The answer to GET /metrics, with the tables' counts read for it.
Response metrics(unsigned version, Services& s, const TableCounts& counts) {
    std::vector<std::pair<std::string, double>> gauges;
    std::map<std::string, double> instances = {{"running", 0}, {"completed", 0}, {"failed", 0}, {"cancelled", 0}};
    std::map<std::string, double> outbox = {{"pending", 0}, {"delivered", 0}, {"dead", 0}};
    double timers = 0;
    if (counts.ok()) {
        for (const auto& [name, n] : *counts.value) {
            if (name.rfind("instances_", 0) == 0) instances[name.substr(10)] = static_cast<double>(n);
            else if (name.rfind("outbox_", 0) == 0) outbox[name.substr(7)] = static_cast<double>(n);
            else if (name == "timers_pending") timers = static_cast<double>(n);
        }
    }
    // Counts the database did not give are left out rather than reported as zeros: an outbox
    // that reads 0 pending while it cannot be read would tell a scraper all was delivered.
    if (counts.ok()) {
        for (const auto& [status, n] : instances) gauges.emplace_back("flow_instances{status=\"" + status + "\"}", n);
        for (const auto& [status, n] : outbox) gauges.emplace_back("flow_outbox_commands{status=\"" + status + "\"}", n);
        gauges.emplace_back("flow_timers_pending", timers);
    }
    gauges.emplace_back("flow_database_available", counts.ok() ? 1 : 0);
    gauges.emplace_back("flow_writer_queue", static_cast<double>(s.writer.queued()));
    const store::InstanceCacheCounts cache = s.store.instance_cache_counts();
    gauges.emplace_back("flow_instance_cache_entries", static_cast<double>(cache.entries));
    const std::vector<std::pair<std::string, std::uint64_t>> counters = {
        {"flow_instance_cache_lookups_total{result=\"hit\"}", cache.hits},
        {"flow_instance_cache_lookups_total{result=\"miss\"}", cache.misses}};
    Response res{beast_http::status::ok, version};
    res.set(beast_http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = s.metrics.render(gauges, counters);
    res.prepare_payload();
    return res;
}

// GET /metrics: the count of the tables is shared with the other scrapes that ask while it
// is read (service/coalesced_read.hpp), so however many scrapers there are, at most one count
// holds a reader, and no thread waits for it. Each scrape still gets a count begun after it
// asked.
void answer_metrics(const Request& req, Services& s, Reply reply) {
    const unsigned version = req.version();
    const bool head = req.method() == beast_http::verb::head;
    s.table_counts->get(
        [&s]() -> TableCounts {
            try {
                return s.store.counts();
            } catch (const std::exception& e) {
                return TableCounts::failure({store::StoreError::Kind::Unavailable, e.what()});
            } catch (...) {
                return TableCounts::failure({store::StoreError::Kind::Unavailable, "the count failed"});
            }
        },
        [&s, version, head, reply](const TableCounts& counts) {
            Response res;
            try {
                res = metrics(version, s, counts);
            } catch (const std::exception& e) {
                res = error_response(500, std::string("the request could not be handled: ") + e.what(), version);
            }
            if (head) leave_out_body(res);
            reply(std::move(res));
        },
        s.run_blocking);
}

bool is_metrics_read(const Request& req) {
    const bool reads = req.method() == beast_http::verb::get || req.method() == beast_http::verb::head;
    return reads && targets_path(req, {"metrics"});
}

}  // namespace

void leave_out_body(Response& answer) {
    if (answer.body().empty()) return;
    answer.content_length(answer.body().size());
    answer.body().clear();
}

Response error_response(unsigned status, const std::string& message, unsigned version) {
    return json_response(status, {{"error", message}}, version);
}

Response database_waiting_metrics(const Request& req) {
    Response res{beast_http::status::ok, req.version()};
    res.set(beast_http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = "# HELP flow_database_available Whether the database answers (0 while flowd waits for it).\n"
                 "# TYPE flow_database_available gauge\nflow_database_available 0\n";
    res.prepare_payload();
    return res;
}

namespace {

boost::system::result<boost::urls::url_view> parse_target(std::string_view target) {
    // The origin form (`/v1/events?x=1`) is what clients send; the absolute form
    // (`http://host/v1/events`) must be accepted too (RFC 9112 section 3.2.2).
    if (!target.empty() && target.front() == '/') return boost::urls::parse_origin_form(target);
    auto absolute = boost::urls::parse_absolute_uri(target);
    if (absolute && (absolute->scheme_id() == boost::urls::scheme::http || absolute->scheme_id() == boost::urls::scheme::https))
        return absolute;
    return boost::system::error_code(boost::urls::error::illegal_reserved_char);  // neither form
}

bool has_segments(boost::urls::url_view url, std::initializer_list<std::string_view> wanted) {
    auto segments = url.segments();
    // `/` and the empty path of an absolute form have no segment.
    if (wanted.size() == 0) return url.encoded_path().empty() || url.encoded_path() == "/";
    if (!url.is_path_absolute() || segments.size() != wanted.size()) return false;
    return std::equal(segments.begin(), segments.end(), wanted.begin());
}

}  // namespace

bool targets_path(const Request& req, std::initializer_list<std::string_view> segments) {
    auto parsed = parse_target(req.target());
    return parsed && has_segments(*parsed, segments);
}

bool is_event_post(const Request& req) { return req.method() == beast_http::verb::post && targets_path(req, {"v1", "events"}); }

bool answers_without_blocking(const Request& req) { return is_event_post(req) || is_metrics_read(req); }

void handle_async(const Request& req, Services& s, Reply reply) {
    if (is_event_post(req)) return post_events(req, s, std::move(reply));
    if (is_metrics_read(req)) return answer_metrics(req, s, std::move(reply));
    reply(handle(req, s));
}

namespace {

// Whether the text is a UUID as RFC 9562 writes it: 8-4-4-4-12 hexadecimal digits, in any case.
bool is_uuid(std::string_view text) {
    if (text.size() != 36) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
    }
    return true;
}

// Whether the path is one of the admin routes': /v1/instances, /v1/workflows, /v1/outbox and
// what lies under them, and an event's record under /v1/events.
bool is_admin_path(const std::vector<std::string>& segments) {
    if (segments.size() < 2 || segments[0] != "v1") return false;
    const std::string& resource = segments[1];
    switch (segments.size()) {
    case 2: return resource == "instances" || resource == "workflows" || resource == "outbox";
    case 3: return (resource == "instances" || resource == "outbox" || resource == "events") && !segments[2].empty();
    case 4:
        if (resource == "outbox") return segments[3] == "retry";
        if (resource == "workflows") return !segments[2].empty() && !segments[3].empty();
        return resource == "instances" && !segments[2].empty() &&
               (segments[3] == "cancel" || segments[3] == "terminate" || segments[3] == "history");
    default: return false;
    }
}

// /v1/outbox and what lies under it; `segments` is an admin path.
Response outbox_route(const Request& req, const boost::urls::url_view& url, const std::vector<std::string>& segments, Services& s) {
    const auto method = req.method();
    const bool reads = method == beast_http::verb::get || method == beast_http::verb::head;
    const bool writes = method == beast_http::verb::post;
    if (segments.size() == 2) {
        if (!reads) return method_not_allowed("GET, HEAD", req.version());
        return list_outbox(req, url, s);
    }
    if (segments.size() == 3 && (segments[2] == "retry" || segments[2] == "delete" || segments[2] == "expedite")) {  // ids are UUIDs
        if (!writes) return method_not_allowed("POST", req.version());
        if (segments[2] == "retry") return retry_dead_commands(req, url, s);
        if (segments[2] == "expedite") return expedite_pending_commands(req, url, s);
        return delete_dead_commands(req, url, s);
    }
    if (segments.size() == 3) {
        if (method == beast_http::verb::delete_) return delete_command(req, segments[2], s);
        if (!reads) return method_not_allowed("GET, HEAD, DELETE", req.version());
        return get_command(req, segments[2], s);
    }
    if (!writes) return method_not_allowed("POST", req.version());
    return retry_command(req, segments[2], s);
}

// /v1/instances and what lies under it, and /v1/workflows with its versions; `segments` is an
// admin path.
Response instance_route(const Request& req, const boost::urls::url_view& url, const std::vector<std::string>& segments, Services& s) {
    const auto method = req.method();
    const bool reads = method == beast_http::verb::get || method == beast_http::verb::head;
    if (segments.size() == 2) {
        if (!reads) return method_not_allowed("GET, HEAD", req.version());
        if (segments[1] == "workflows") return list_workflows(req, s);
        return list_instances(req, url, s);
    }
    if (segments.size() == 3) {
        if (!reads) return method_not_allowed("GET, HEAD", req.version());
        return get_instance(req, segments[2], s);
    }
    if (segments[1] == "workflows") {
        if (!reads) return method_not_allowed("GET, HEAD", req.version());
        return get_workflow_version(req, segments[2], segments[3], s);
    }
    if (segments[3] == "history") {
        if (!reads) return method_not_allowed("GET, HEAD", req.version());
        return get_history(req, url, segments[2], s);
    }
    if (method != beast_http::verb::post) return method_not_allowed("POST", req.version());
    if (segments[3] == "terminate") return terminate_instance(req, segments[2], s);
    return cancel_instance(req, segments[2], s);
}

// Every route but the event POST and the read of /metrics, which handle() and handle_async()
// take apart.
Response route(const Request& req, Services& s) {
    auto parsed = parse_target(req.target());
    if (!parsed) return error_response(400, "the request target is not a valid path", req.version());
    boost::urls::url_view url = *parsed;
    const bool reads = req.method() == beast_http::verb::get || req.method() == beast_http::verb::head;
    if (has_segments(url, {"healthz"})) {
        if (!reads) return method_not_allowed("GET, HEAD", req.version());
        if (!s.store.healthy()) return error_response(503, "the database does not answer", req.version());
        return json_response(200, {{"status", "ok"}}, req.version());
    }
    if (has_segments(url, {"metrics"})) return method_not_allowed("GET, HEAD", req.version());  // a read went to answer_metrics
    std::string path(url.encoded_path());
    if (path.empty()) path = "/";
    if (has_segments(url, {"v1", "events"})) return method_not_allowed("POST", req.version());  // a POST went to post_events
    std::vector<std::string> segments;
    for (auto segment : url.segments()) segments.emplace_back(segment);
    if (!is_admin_path(segments)) return error_response(404, "no such route: " + path, req.version());
    if (!admin_allowed(req, s.config)) {
        // RFC 9110 11.6.1: a 401 names the scheme that would be accepted.
        Response res = error_response(401, "this route needs Authorization: Bearer <admin token>", req.version());
        res.set(beast_http::field::www_authenticate, R"(Bearer realm="flowd")");
        return res;
    }
    if (segments[1] == "events") {  // an event's id is the sender's, kept as it is, in any case
        if (req.method() != beast_http::verb::get && req.method() != beast_http::verb::head)
            return method_not_allowed("GET, HEAD", req.version());
        return get_event(req, segments[2], s);
    }
    if (segments.size() >= 3 && is_uuid(segments[2])) {
        // Instance and command ids are UUIDs, which RFC 9562 reads without regard to case;
        // flowd writes them in lower case.
        for (char& c : segments[2]) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (segments[1] == "outbox") return outbox_route(req, url, segments, s);
    return instance_route(req, url, segments, s);
}

}  // namespace

Response handle(const Request& req, Services& s) {
    if (answers_without_blocking(req)) {
        // Shared: a reply may come after this returns (a second, ignored one included).
        auto answer = std::make_shared<std::promise<Response>>();
        auto answered = answer->get_future();
        handle_async(req, s, [answer](Response r) {
            try {
                answer->set_value(std::move(r));
            } catch (const std::future_error&) {  // answered already
            }
        });
        return answered.get();
    }
    Response res;
    try {
        res = route(req, s);
    } catch (const std::exception& e) {
        // A row no flowd wrote that throws as it is read (a hand edit, a damaged page), or memory
        // running out: 503, where the exception would have ended flowd from the thread that read
        // for the route.
        res = error_response(503, std::string("the database failed: ") + e.what(), req.version());
    }
    if (req.method() == beast_http::verb::head) leave_out_body(res);  // the answer a GET would have
    return res;
}

}  // namespace flow::http
