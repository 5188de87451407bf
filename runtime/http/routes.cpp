#include "runtime/http/routes.hpp"

#include "runtime/engine/json_writer.hpp"
#include "runtime/http/event_input.hpp"
#include "runtime/http/webhook_signature.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <initializer_list>
#include <limits>
#include <string_view>
#include <unordered_set>

#include <boost/url/parse.hpp>

#include <chrono>
#include <future>

namespace flow::http {

namespace beast_http = boost::beast::http;
using nlohmann::json;

namespace {

constexpr auto replace = json::error_handler_t::replace;

// A response whose body is JSON text already.
Response text_response(unsigned status, std::string body, unsigned version) {
    Response res{static_cast<beast_http::status>(status), version};
    res.set(beast_http::field::content_type, "application/json");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

Response json_response(unsigned status, const json& body, unsigned version) {
    return text_response(status, body.dump(-1, ' ', false, replace), version);
}

unsigned status_for(const store::StoreError& e) {
    switch (e.kind) {
    case store::StoreError::Kind::NotFound: return 404;
    case store::StoreError::Kind::Conflict: return 409;
    default: return 503;
    }
}

// The headers an event's ingest reads (a binary-mode CloudEvent's `ce-` attributes and the
// `webhook-` signature), by lower-case name; the others are not copied. `repeated` gets the
// first `ce-` header, or Content-Type, given more than once: an attribute has one value, a
// request one media type; `repeated_signature`
// the first `webhook-` one: which copy would be checked is not guessed at.
std::map<std::string, std::string> event_headers(const Request& req, std::string& repeated, std::string& repeated_signature) {
    std::map<std::string, std::string> out;
    for (const auto& field : req) {
        const std::string_view name = field.name_string();
        const auto starts = [name](std::string_view prefix) {
            return name.size() >= prefix.size() && boost::beast::iequals(name.substr(0, prefix.size()), prefix);
        };
        if (field.name() == beast_http::field::content_type) {
            // It decides how the body is read: which of two copies the sender meant is not guessed.
            if (req.count(beast_http::field::content_type) > 1 && repeated.empty()) repeated = "content-type";
            continue;
        }
        if (!starts("ce-") && !starts("webhook-")) continue;
        std::string lower(name);
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (out.count(lower) && starts("ce-") && repeated.empty()) repeated = lower;
        if (out.count(lower) && (lower == "webhook-id" || lower == "webhook-timestamp" || lower == "webhook-signature") &&
            repeated_signature.empty())
            repeated_signature = lower;
        out[lower] = std::string(field.value());
    }
    return out;
}

// The refusal of a header `event_headers` found repeated.
std::string repeated_header_message(const std::string& header) {
    if (header == "content-type")
        return "the header content-type is given more than once: a request has one media type, which says how its body is read";
    return "the header " + header + " is given more than once: a CloudEvents attribute has one value";
}

// `Authorization: Bearer <token>`: the scheme in any case (RFC 9110 section 11.1), the token
// compared in constant time. Given twice, it is refused: which copy a proxy meant is not
// guessed at.
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

// 405 with the methods the route takes, as RFC 9110 requires.
Response method_not_allowed(const char* allowed, unsigned version) {
    Response res = error_response(405, std::string("use ") + allowed, version);
    res.set(beast_http::field::allow, allowed);
    return res;
}

// The 202 for events handled (or found handled before): one result, or a list for a batch.
Response accepted(const std::vector<service::EventResult>& results, bool batch, std::chrono::steady_clock::time_point started,
                  unsigned version, Services& s) {
    for (const auto& r : results) {
        s.metrics.event(r.duplicate ? "duplicate" : "accepted");
        for (int n = 0; n < r.timers_fired; ++n) s.metrics.timer_fired();
    }
    s.metrics.ingest_latency(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (!batch) return text_response(202, results.front().to_text(), version);
    std::string list = "[";
    for (const auto& r : results) {
        if (list.size() > 1) list += ',';
        list += r.to_text();
    }
    list += ']';
    return text_response(202, std::move(list), version);
}

// What a signed message was read as, beyond its signed body: the headers a binary-mode event
// takes its attributes from and the Content-Type that decides how the body is read can be
// changed by whoever replays it, so a signed message is bound to what it was first read as
// (webhook_messages). The same message read the same way (a retry, whatever headers it carries
// that change nothing) matches; read otherwise, it does not.
std::string read_digest(const EventsInput& events) {
    std::vector<std::string> texts;
    texts.reserve(1 + 4 * events.events.size());
    texts.push_back(events.batch ? "batch" : "single");
    for (const service::IncomingEvent& event : events.events) {
        texts.push_back(event.id);
        texts.push_back(event.type);
        texts.push_back(event.time);
        texts.push_back(event.data.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    return digest_of_parts(std::vector<std::string_view>(texts.begin(), texts.end()));
}
// The event ids a signed message was read as carrying: a copy read otherwise under the same ids
// is those ids repeated, answered as duplicates when they were accepted.
std::string ids_digest(const EventsInput& events) {
    std::vector<std::string_view> ids;
    ids.reserve(1 + events.events.size());
    ids.push_back(events.batch ? "batch" : "single");
    for (const service::IncomingEvent& event : events.events) ids.push_back(event.id);
    return digest_of_parts(ids);
}
// What a signed message that could not be read at all is bound to (and it carries no ids).
const std::string unreadable_digest = "unreadable";

// Kept past the 5 minutes either way a webhook timestamp may stray, with a margin.
constexpr std::int64_t replay_window_ms = 15 * 60 * 1000;

Response replayed_altered(const std::string& webhook_id, unsigned version) {
    return error_response(401,
                          "this signed message (webhook-id " + webhook_id +
                              ", with the same body) was received before with other Content-Type or ce- headers, which its "
                              "signature does not cover: a message is sent again as it was",
                          version);
}

// Ingests events. Everything before the write (signature, decoding, validation) runs on the
// calling thread; the write joins the writer's next batch, and `reply` is called from the
// writer's thread once that batch committed, so no thread waits for the commit. A signed
// message refused is answered the same way, once its binding is written.
void post_events(const Request& req, Services& s, Reply reply) {
    auto started = std::chrono::steady_clock::now();
    std::string repeated_header, repeated_signature_header;
    auto headers = event_headers(req, repeated_header, repeated_signature_header);
    std::string message_digest;  // of a signed message
    if (!s.config.webhook_secrets.empty()) {
        if (!repeated_signature_header.empty()) {
            s.metrics.event("rejected_401");
            return reply(error_response(401, "the header " + repeated_signature_header + " is given more than once: send it once "
                                                 "(webhook-signature holds several signatures separated by spaces)",
                                        req.version()));
        }
        auto check = verify_webhook(s.config.webhook_secrets, headers["webhook-id"], headers["webhook-timestamp"],
                                    headers["webhook-signature"], req.body(), s.now_ms() / 1000);
        if (check != SignatureCheck::Valid) {
            s.metrics.event("rejected_401");
            const char* why = check == SignatureCheck::Missing        ? "the webhook signature headers are missing"
                              : check == SignatureCheck::BadTimestamp ? "the webhook-timestamp is not a whole number of seconds"
                              : check == SignatureCheck::Stale        ? "the webhook timestamp is more than 5 minutes away"
                                                                      : "the webhook signature does not match";
            return reply(error_response(401, why, req.version()));
        }
        message_digest = signed_message_digest(headers["webhook-id"], req.body());
    }
    // A signed message refused is bound all the same to what it was read as, so that no copy of
    // it can be replayed later with headers that make it read otherwise, and accepted.
    // (A refused message's ids were not accepted: read otherwise, under the same ids or not, it
    // is refused.) Called on the connection's thread or on a worker's.
    auto refuse = [message_digest, reply, &s, webhook_id = headers["webhook-id"], version = req.version()](
                      const std::string& metric, Response refusal, const std::string& read_as, const std::string& ids) {
        if (message_digest.empty()) {
            s.metrics.event(metric);
            return reply(std::move(refusal));
        }
        auto answer = std::make_shared<Response>(std::move(refusal));
        auto altered = std::make_shared<bool>(false);
        const std::int64_t now = s.now_ms();
        auto bind = [message_digest, read_as, ids, now, altered](store::Transaction& tx) -> store::Status {
            auto bound = tx.bind_webhook_message(message_digest, read_as, ids, now, now - replay_window_ms);
            if (!bound.ok()) return bound.error;
            *altered = *bound.value != store::Transaction::WebhookReading::Same;
            return std::nullopt;
        };
        auto done = [answer, altered, metric, reply, &s, webhook_id, version](const store::Status& bound) {
            if (bound) {
                // Unrecorded, the refusal would leave a copy of the message with headers that
                // make it readable free to be accepted: the sender sends it again instead.
                s.metrics.event("unavailable");
                return reply(error_response(503, "this signed message is refused, but its refusal could not be recorded (" + bound->message +
                                                     "), and must be, so that no altered copy of it is accepted: send it again later",
                                            version));
            }
            if (*altered) {
                s.metrics.event("rejected_401");
                return reply(replayed_altered(webhook_id, version));
            }
            s.metrics.event(metric);
            reply(std::move(*answer));
        };
        if (!s.writer.submit(std::move(bind), done))
            done(store::StoreError{store::StoreError::Kind::Unavailable, "too many requests are waiting for the database"});
    };
    if (!repeated_header.empty())
        return refuse("rejected_400", error_response(400, repeated_header_message(repeated_header), req.version()), unreadable_digest, "");
    auto input = read_events(std::string(req[beast_http::field::content_type]), headers, req.body(), s.config.max_batch_events);
    if (auto* e = std::get_if<InputError>(&input)) {
        json body = {{"error", e->message}};
        if (e->index >= 0) body["index"] = e->index;
        const char* metric = e->status == 422 ? "rejected_422" : e->status == 413 ? "rejected_413" : "rejected_400";
        Response refusal = json_response(static_cast<unsigned>(e->status), body, req.version());
        // After a 413 the connection is closed (INTERFACES.md), this one's body read whole or not.
        if (e->status == 413) refusal.set(beast_http::field::connection, "close");
        return refuse(metric, std::move(refusal), unreadable_digest, "");
    }
    if (std::get<EventsInput>(input).events.empty())
        return reply(accepted({}, std::get<EventsInput>(input).batch, started, req.version(), s));  // an empty batch
    struct Ingest {
        EventsInput events;
        std::vector<service::EventResult> results;
        std::chrono::steady_clock::time_point started;
        unsigned version;
        // A signed message: what its signature covers, bound to what it was read as.
        std::string webhook_id;
        std::string message_digest;
        std::string read_digest;
        std::string ids_digest;
        store::Transaction::WebhookReading reading = store::Transaction::WebhookReading::Same;
    };
    auto ingest = std::make_shared<Ingest>(Ingest{std::move(std::get<EventsInput>(input)), {}, started, req.version(), {}, {}, {}, {}, {}});
    if (!message_digest.empty()) {
        ingest->webhook_id = headers["webhook-id"];
        ingest->message_digest = std::move(message_digest);
        ingest->read_digest = read_digest(ingest->events);
        ingest->ids_digest = ids_digest(ingest->events);
    }
    // The events the declarations refuse, in order. An event of a batch that repeats an earlier
    // one's id is not among them: it is that one's duplicate, taken first.
    struct Refused {
        std::size_t index;
        service::Rejection rejection;
    };
    std::vector<Refused> refused;
    std::unordered_set<std::string_view> earlier_ids;  // of a batch's events before the current one
    for (std::size_t i = 0; i < ingest->events.events.size(); ++i) {
        const service::IncomingEvent& event = ingest->events.events[i];
        const bool repeats_earlier = ingest->events.batch && !earlier_ids.insert(event.id).second;
        if (auto rejection = s.processor.validate(event); rejection && !repeats_earlier) refused.push_back({i, std::move(*rejection)});
    }
    auto submit = [ingest, reply, &s] {
        std::int64_t now = s.now_ms();
        auto work = [ingest, now, &s](store::Transaction& tx) -> store::Status {
            ingest->results.clear();
            if (!ingest->message_digest.empty()) {
                auto bound = tx.bind_webhook_message(ingest->message_digest, ingest->read_digest, ingest->ids_digest, now,
                                                     now - replay_window_ms);
                if (!bound.ok()) return bound.error;
                ingest->reading = *bound.value;
                if (ingest->reading != store::Transaction::WebhookReading::Same)
                    return store::StoreError{store::StoreError::Kind::Conflict, "the webhook message was replayed with other headers"};
            }
            for (const service::IncomingEvent& event : ingest->events.events) {
                auto r = s.processor.handle(tx, event, now, s.timer_sequence);
                if (!r.ok()) return r.error;
                ingest->results.push_back(std::move(*r.value));
            }
            return std::nullopt;
        };
        auto done = [ingest, reply, &s](const store::Status& status) {
            if (!status) {
                // Built on the connection's thread, the answer also takes the last hold on the
                // events, so that they are freed there too.
                return reply.run_there([ingest, reply, &s] {
                    reply(accepted(ingest->results, ingest->events.batch, ingest->started, ingest->version, s));
                });
            }
            using Reading = store::Transaction::WebhookReading;
            // Events all accepted before need no write and change nothing: they are answered from
            // the inbox, as duplicates. Looked up by a worker: neither the writer's thread nor a
            // connection's waits on a read.
            auto answer_from_inbox = [ingest, reply, &s](std::function<void()> otherwise) {
                s.run_blocking([ingest, reply, &s, otherwise = std::move(otherwise)] {
                    std::vector<service::EventResult> known;
                    for (const service::IncomingEvent& event : ingest->events.events) {
                        auto recorded = s.processor.recorded(s.store, event.id);
                        if (!recorded.ok() || !*recorded.value) return otherwise();
                        known.push_back(std::move(**recorded.value));
                    }
                    reply(accepted(known, ingest->events.batch, ingest->started, ingest->version, s));
                });
            };
            auto refuse_replay = [ingest, reply, &s] {
                s.metrics.event("rejected_401");
                reply(replayed_altered(ingest->webhook_id, ingest->version));
            };
            // A copy of a signed message read otherwise: refused, unless it carries the ids it was
            // first read as carrying and they were accepted (a repeated id answers `duplicate`).
            if (ingest->reading == Reading::SameIds) return answer_from_inbox(refuse_replay);
            if (ingest->reading == Reading::Other) return refuse_replay();
            if (status_for(*status) == 503) {
                // The batch was lost (the database refused to commit it): the events accepted before
                // are answered all the same; otherwise the 503 stands.
                return answer_from_inbox([ingest, reply, &s, error = status->message] {
                    s.metrics.event("unavailable");
                    reply(error_response(503, error, ingest->version));
                });
            }
            const bool conflict = status_for(*status) == 409;
            s.metrics.event(conflict ? "rejected_422" : "unavailable");
            reply(error_response(conflict ? 422 : 503, status->message, ingest->version));
        };
        if (!s.writer.submit(std::move(work), std::move(done))) {
            s.metrics.event("unavailable");
            reply(error_response(503, "too many events are waiting for the database; retry later", ingest->version));
        }
    };
    if (refused.empty()) return submit();
    // An id accepted before is a duplicate, whatever it carries now (a client's retry after the
    // declarations changed): it is answered as the first time, not refused. Whether it was is
    // looked up by a worker, so that no connection's thread waits on a read.
    s.run_blocking([ingest, refused = std::move(refused), refuse, submit, &s] {
        for (const Refused& r : refused) {
            auto seen = s.processor.recorded(s.store, ingest->events.events[r.index].id);
            if (seen.ok() && *seen.value) continue;
            const bool batch = ingest->events.batch;
            std::string where = batch ? "event " + std::to_string(r.index) + " of the batch: " : "";
            std::string message = r.rejection.field == "type" ? r.rejection.message : r.rejection.field + " " + r.rejection.message;
            json body = {{"error", where + message}, {"field", r.rejection.field}};
            if (batch) body["index"] = r.index;
            const bool is_signed = !ingest->message_digest.empty();
            return refuse("rejected_422", json_response(422, body, ingest->version), is_signed ? ingest->read_digest : std::string(),
                          is_signed ? ingest->ids_digest : std::string());
        }
        submit();
    });
}

json instance_summary(const store::StoredInstance& i) {
    return {{"id", i.instance.id},
            {"workflow", i.workflow},
            {"version", i.instance.version},
            {"key", i.instance.key},
            {"state", i.state.empty() ? json() : json(i.state)},
            {"status", engine::status_name(i.instance.status)},
            {"created_at", i.created_at},
            {"updated_at", i.updated_at}};
}

// A non-negative integer written with digits only: no sign, no white space. A number past 64
// bits is still one: it saturates (a limit above 1000 is 1000, a cursor past every row gives an
// empty page, a history place past 64 bits names no entry).
std::optional<std::int64_t> read_digits(std::string_view text) {
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
    std::int64_t n = 0;
    if (std::from_chars(text.data(), text.data() + text.size(), n).ec != std::errc()) n = std::numeric_limits<std::int64_t>::max();
    return n;
}

// `limit` (1 to 1000, more taken as 1000, 0 as 1) and `after` (a cursor) of a list; other
// parameters are left alone. The reason when the value is not a non-negative integer.
std::optional<std::string> read_page_parameter(std::string_view key, const std::string& value, int& limit, std::int64_t& after) {
    if (key != "limit" && key != "after") return std::nullopt;
    auto n = read_digits(value);
    if (!n) return std::string(key) + " must be a non-negative integer";
    if (key == "limit") limit = static_cast<int>(std::min<std::int64_t>(std::max<std::int64_t>(*n, 1), 1000));
    else after = *n;
    return std::nullopt;
}

// The first of a list route's parameters that the query gives more than one value: refused
// rather than guessed at (the first, the last, or either of them). An empty value is no value,
// as everywhere in a list's query (`?status=&status=dead` is `?status=dead`).
std::optional<Response> refuse_repeated(const Request& req, const boost::urls::url_view& url,
                                        std::initializer_list<std::string_view> names) {
    for (std::string_view name : names) {
        const auto params = url.params();
        const auto given = std::count_if(params.begin(), params.end(), [&](const auto& p) { return p.key == name && !p.value.empty(); });
        if (given > 1) return error_response(400, std::string(name) + " is given more than once", req.version());
    }
    return std::nullopt;
}

Response list_instances(const Request& req, const boost::urls::url_view& url, Services& s) {
    if (auto refused = refuse_repeated(req, url, {"workflow", "status", "key", "limit", "after"})) return std::move(*refused);
    store::InstanceFilter filter;
    for (auto param : url.params()) {
        std::string value(param.value);
        if (value.empty()) continue;  // `?status=` is no filter, as if it were absent
        if (param.key == "workflow") filter.workflow = value;
        else if (param.key == "status") {
            if (value != "running" && value != "completed" && value != "failed" && value != "cancelled")
                return error_response(400, "status is running, completed, failed or cancelled", req.version());
            filter.status = value;
        }
        else if (param.key == "key") filter.key = value;
        else if (auto problem = read_page_parameter(param.key, value, filter.limit, filter.after_row))
            return error_response(400, *problem, req.version());
    }
    if (!filter.key.empty()) {
        // Keys are stored as JSON: the text matches a string key, and an int key when it is one.
        std::string text = filter.key;
        filter.key = json(text).dump(-1, ' ', false, replace);
        json number = json::parse(text, nullptr, false);
        if (number.is_number_integer()) filter.key_alternative = number.dump();
    }
    int limit = filter.limit;
    filter.limit = limit + 1;
    auto found = s.store.instances(filter);
    if (!found.ok()) return error_response(503, found.error->message, req.version());
    json list = json::array();
    std::vector<store::StoredInstance>& rows = *found.value;
    bool more = rows.size() > static_cast<std::size_t>(limit);
    if (more) rows.resize(static_cast<std::size_t>(limit));
    for (const auto& i : rows) list.push_back(instance_summary(i));
    json next = more ? json(std::to_string(rows.back().row)) : json();
    return json_response(200, {{"instances", std::move(list)}, {"next", next}}, req.version());
}

// History entries as the API shows them, as a JSON array appended to `out`: each entry's members,
// with its `at` and `kind`, keys in order. One entry is parsed at a time: a history of 100,000
// entries is never held as one tree (which cost more than the rest of the answer).
void append_history_entries(const std::vector<store::HistoryEntry>& history, std::string& out) {
    std::size_t size = 2;
    for (const auto& h : history) size += h.detail.size() + h.at.size() + h.kind.size() + 24;
    out.reserve(out.size() + size);
    out += '[';
    for (std::size_t i = 0; i < history.size(); ++i) {
        const store::HistoryEntry& h = history[i];
        json entry = json::parse(h.detail, nullptr, false);
        if (!entry.is_object()) entry = json::object();
        entry["at"] = h.at;
        entry["kind"] = h.kind;
        if (i > 0) out += ',';
        out += entry.dump(-1, ' ', false, replace);
    }
    out += ']';
}

// An object's compact text with its `history` member written by append_history_entries, where
// the name falls among the other keys, as if it had been one of them.
std::string with_history(const json& object, const std::vector<store::HistoryEntry>& history) {
    json before = json::object(), after = json::object();
    for (const auto& [name, value] : object.items()) (name < "history" ? before : after)[name] = value;
    std::string out = before.dump(-1, ' ', false, replace);
    out.pop_back();  // the closing brace
    out += before.empty() ? "\"history\":" : ",\"history\":";
    append_history_entries(history, out);
    const std::string rest = after.dump(-1, ' ', false, replace);
    out += after.empty() ? "}" : "," + rest.substr(1);
    return out;
}

Response get_instance(const Request& req, const std::string& id, Services& s) {
    auto found = s.store.instance_detail(id);
    if (!found.ok()) return error_response(503, found.error->message, req.version());
    if (!*found.value) return error_response(404, "no instance '" + id + "'", req.version());
    store::StoredInstance& i = (**found.value).instance;
    json body = instance_summary(i);
    const auto cannot_run = s.processor.cannot_run(i);
    const engine::Engine* engine = s.deployment.engine_for(i.workflow, i.instance.version);
    int w = engine ? engine->program().workflow_index(i.workflow) : -1;
    if (w >= 0) i.instance.workflow = w;
    if (w >= 0 && (cannot_run || engine->vars_misfit(i.instance))) {
        // As stored, by name: a value that does not fit its type (a running instance that cannot
        // run, or one ended since, terminated say) has no wire form.
        const ir::Workflow& workflow = engine->program().workflows[static_cast<std::size_t>(w)];
        body["vars"] = json::object();
        for (std::size_t v = 0; v < workflow.vars.size() && v < i.instance.vars.size(); ++v)
            body["vars"][workflow.vars[v].name] = i.instance.vars[v];
    } else if (w >= 0) {
        // Written as the wire writes values (a whole number as `2`, as in commands and in
        // `flowc simulate`), not as a double prints (`2.0`, which is how the store keeps it).
        std::string vars;
        engine::JsonWriter(vars, engine::JsonWriter::Layout::Compact).value(engine->vars_to_wire(i.instance));
        body["vars"] = json::parse(vars);
    } else {
        body["vars"] = json::object();
    }
    body["error"] = engine::has_error(i.instance) ? json(i.instance.error) : json();  // as flowc simulate shows it
    body["cannot_run"] = cannot_run ? json(*cannot_run) : json();
    json timers = json::array();
    for (const auto& t : i.instance.timers) timers.push_back({{"due", service::timestamp(t.due_ms)}, {"sequence", t.sequence}});
    body["timers"] = std::move(timers);
    return text_response(200, with_history(body, (**found.value).history), req.version());
}

// A place in an instance's history, as its pages give it (`next`, `position`): "ROW-INDEX",
// each part as read_digits reads it.
std::optional<store::Store::HistoryPosition> read_history_cursor(std::string_view text) {
    const auto dash = text.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    auto row = read_digits(text.substr(0, dash));
    auto index = read_digits(text.substr(dash + 1));
    if (!row || !index) return std::nullopt;
    return store::Store::HistoryPosition{*row, *index};
}

json history_cursor(const std::optional<store::Store::HistoryPosition>& p) {
    if (!p) return json();
    return std::to_string(p->row) + "-" + std::to_string(p->index);
}

Response get_history(const Request& req, const boost::urls::url_view& url, const std::string& id, Services& s) {
    if (auto refused = refuse_repeated(req, url, {"limit", "after"})) return std::move(*refused);
    static const std::string not_a_place = "after is not a place in this instance's history (the next or position of one of its pages)";
    int limit = 100;
    std::optional<store::Store::HistoryPosition> after;
    for (auto param : url.params()) {
        const std::string value = param.value;
        if (value.empty()) continue;
        if (param.key == "after") {
            after = read_history_cursor(value);
            if (!after) return error_response(400, not_a_place, req.version());
        } else if (param.key == "limit") {
            std::int64_t unused = 0;
            if (auto problem = read_page_parameter(param.key, value, limit, unused)) return error_response(400, *problem, req.version());
        }
    }
    auto found = s.store.history(id, after, limit);
    if (!found.ok()) return error_response(503, found.error->message, req.version());
    if (!*found.value) return error_response(404, "no instance '" + id + "'", req.version());
    const store::Store::HistoryPage& page = **found.value;
    if (page.after_unknown) return error_response(400, not_a_place, req.version());
    json next = page.more ? history_cursor(page.last) : json();
    return text_response(200, with_history({{"next", std::move(next)}, {"position", history_cursor(page.last)}}, page.entries),
                         req.version());
}

// The answer to a cancellation or a termination once committed: the instance as GET gives it.
// Should reading it back fail, the change stands all the same, and a 503 would say it did not:
// the answer is then 200 with its id and status alone.
Response ended_instance(const Request& req, const std::string& id, Services& s) {
    try {
        Response read = get_instance(req, id, s);
        if (read.result_int() == 200) return read;
    } catch (const std::exception&) {
        // as a failed read: the change stands
    }
    return json_response(200, {{"id", id}, {"status", "cancelled"}}, req.version());
}

Response cancel_instance(const Request& req, const std::string& id, Services& s) {
    service::CancelOutcome outcome = service::CancelOutcome::NotFound;
    int timers_fired = 0;
    std::int64_t now = s.now_ms();
    store::Status status = s.writer.run([&](store::Transaction& tx) -> store::Status {
        timers_fired = 0;  // of this try: the writer may run a job again
        auto r = s.processor.cancel(tx, id, now, s.timer_sequence, timers_fired);
        if (!r.ok()) return r.error;
        outcome = *r.value;
        return std::nullopt;
    });
    if (status) return error_response(503, status->message, req.version());
    for (int n = 0; n < timers_fired; ++n) s.metrics.timer_fired();
    if (outcome == service::CancelOutcome::NotFound) return error_response(404, "no instance '" + id + "'", req.version());
    if (outcome == service::CancelOutcome::NotRunning) return error_response(409, "instance '" + id + "' is not running", req.version());
    return ended_instance(req, id, s);
}

// Ends an instance `cancelled` without running anything of it (Processor::terminate).
Response terminate_instance(const Request& req, const std::string& id, Services& s) {
    service::CancelOutcome outcome = service::CancelOutcome::NotFound;
    const std::int64_t now = s.now_ms();
    store::Status status = s.writer.run([&](store::Transaction& tx) -> store::Status {
        auto r = s.processor.terminate(tx, id, now);
        if (!r.ok()) return r.error;
        outcome = *r.value;
        return std::nullopt;
    });
    if (status) return error_response(503, status->message, req.version());
    if (outcome == service::CancelOutcome::NotFound) return error_response(404, "no instance '" + id + "'", req.version());
    if (outcome == service::CancelOutcome::NotRunning) return error_response(409, "instance '" + id + "' is not running", req.version());
    return ended_instance(req, id, s);
}

Response list_workflows(const Request& req, Services& s) {
    auto definitions = s.store.definitions();
    if (!definitions.ok()) return error_response(503, definitions.error->message, req.version());
    json list = json::array();
    for (const auto& d : *definitions.value) {
        const engine::Engine* engine = s.deployment.engine_for(d.workflow, d.version);
        bool current = engine == &s.deployment.current();
        // `workflow` as in every other answer; `name` too, as this list first had it.
        list.push_back({{"workflow", d.workflow}, {"name", d.workflow}, {"version", d.version}, {"hash", d.hash},
                        {"deployed_at", d.deployed_at}, {"current", current}});
    }
    return json_response(200, {{"workflows", std::move(list)}}, req.version());
}

Response list_outbox(const Request& req, const boost::urls::url_view& url, Services& s) {
    if (auto refused = refuse_repeated(req, url, {"status", "target", "limit", "after"})) return std::move(*refused);
    std::string status, target;
    int limit = 100;
    std::int64_t after = 0;
    for (auto param : url.params()) {
        std::string value(param.value);
        if (value.empty()) continue;  // `?status=` is no filter, as if it were absent
        if (param.key == "status") {
            if (value != "pending" && value != "delivered" && value != "dead")
                return error_response(400, "status is pending, delivered or dead", req.version());
            status = value;
        } else if (param.key == "target") {
            target = value;
        } else if (auto problem = read_page_parameter(param.key, value, limit, after)) {
            return error_response(400, *problem, req.version());
        }
    }
    auto rows = s.store.outbox(status, limit + 1, after, target);
    if (!rows.ok()) return error_response(503, rows.error->message, req.version());
    bool more = rows.value->size() > static_cast<std::size_t>(limit);
    if (more) rows.value->resize(static_cast<std::size_t>(limit));
    json list = json::array();
    for (const auto& c : *rows.value)
        list.push_back({{"id", c.id}, {"type", c.type}, {"target", c.target}, {"workflow", c.workflow},
                        {"instance", c.instance}, {"status", c.status}, {"attempts", c.attempts},
                        {"last_error", c.last_error.empty() ? json() : json(c.last_error)}, {"created_at", c.created_at}});
    json next = more ? json(std::to_string(rows.value->back().row)) : json();
    return json_response(200, {{"commands", std::move(list)}, {"next", next}}, req.version());
}

Response retry_command(const Request& req, const std::string& id, Services& s) {
    // Through the writer: its commit wakes the relay, which sends the command at once.
    const std::int64_t now = s.now_ms();
    store::Status status = s.writer.run([&](store::Transaction& tx) { return tx.retry_dead(id, now); });
    if (status) return error_response(status_for(*status), status->message, req.version());
    return json_response(200, {{"id", id}, {"status", "pending"}}, req.version());
}

Response get_command(const Request& req, const std::string& id, Services& s) {
    auto found = s.store.command(id);
    if (!found.ok()) return error_response(503, found.error->message, req.version());
    if (!*found.value) return error_response(404, "no command '" + id + "'", req.version());
    const store::OutboxCommand& c = (**found.value).command;
    json data = json::parse(c.payload, nullptr, false);
    json key = json::parse(c.key, nullptr, false);
    json body = {{"id", c.id}, {"type", c.type}, {"target", c.target}, {"workflow", c.workflow}, {"instance", c.instance},
                 {"key", key.is_discarded() ? json() : key}, {"status", c.status}, {"attempts", c.attempts},
                 {"last_error", c.last_error.empty() ? json() : json(c.last_error)}, {"created_at", c.created_at},
                 {"next_attempt_at", c.status == "pending" && !c.waits_for_earlier() ? json(service::timestamp(c.next_attempt_ms)) : json()},
                 {"delivered_at", (**found.value).delivered_at.empty() ? json() : json((**found.value).delivered_at)},
                 {"data", data.is_discarded() ? json::object() : data}};
    return json_response(200, body, req.version());
}

// The parameters of a write to a page of dead commands (POST /v1/outbox/retry and
// /v1/outbox/delete): a target, a page size and a cursor.
struct DeadCommandsPage {
    std::string target;
    int limit = 100;
    std::int64_t after = 0;
};

// A write to many commands takes no parameter it does not know, and no empty target: either
// could come from a typo or an unset variable, and would widen the write to every target. A
// deletion, which cannot be undone, must name its target.
std::optional<Response> read_dead_commands_page(const Request& req, const boost::urls::url_view& url, std::string_view verb,
                                                bool target_required, DeadCommandsPage& page) {
    if (auto refused = refuse_repeated(req, url, {"target", "limit", "after"})) return refused;
    bool target_given = false;
    for (auto param : url.params()) {
        std::string value(param.value);
        if (param.key.empty() && value.empty()) continue;  // a stray `&`: no parameter
        if (param.key == "target") {
            if (value.empty())
                return error_response(400, target_required ? "target must not be empty"
                                                           : "target must not be empty (leave it out to " + std::string(verb) + " every target)",
                                      req.version());
            page.target = value;
            target_given = true;
        } else if (param.key != "limit" && param.key != "after") {
            const std::string which = param.key.empty() ? std::string("a parameter without a name")
                                                        : "unknown parameter '" + std::string(param.key) + "'";
            return error_response(400, which + ": target, limit and after are known", req.version());
        } else if (value.empty()) {
            continue;
        } else if (auto problem = read_page_parameter(param.key, value, page.limit, page.after)) {
            return error_response(400, *problem, req.version());
        }
    }
    if (target_required && !target_given)
        return error_response(400, "target is required: a deletion names the target whose dead commands it deletes", req.version());
    return std::nullopt;
}

// POST /v1/outbox/retry: the dead commands, oldest first, a page at a time (a redrive after a
// target's outage), each given a new round of attempts as POST /v1/outbox/{id}/retry gives one.
Response retry_dead_commands(const Request& req, const boost::urls::url_view& url, Services& s) {
    DeadCommandsPage page;
    if (auto refused = read_dead_commands_page(req, url, "retry", false, page)) return std::move(*refused);
    const std::int64_t now = s.now_ms();
    store::Transaction::DeadRetried retried;
    store::Status status = s.writer.run([&](store::Transaction& tx) -> store::Status {
        auto r = tx.retry_dead_commands(page.target, page.after, page.limit, now);
        if (!r.ok()) return r.error;
        retried = *r.value;
        return std::nullopt;
    });
    if (status) return error_response(status_for(*status), status->message, req.version());
    json next = retried.next_after_row ? json(std::to_string(retried.next_after_row)) : json();
    return json_response(200, {{"retried", retried.retried}, {"next", next}}, req.version());
}

// POST /v1/outbox/delete?target=: one target's dead commands, oldest first, a page at a time,
// each deleted as DELETE /v1/outbox/{id} deletes one (its instance's history keeps an account).
Response delete_dead_commands(const Request& req, const boost::urls::url_view& url, Services& s) {
    DeadCommandsPage page;
    if (auto refused = read_dead_commands_page(req, url, "delete", true, page)) return std::move(*refused);
    const std::int64_t now = s.now_ms();
    service::Processor::DeadDeleted deleted;
    store::Status status = s.writer.run([&](store::Transaction& tx) -> store::Status {
        auto d = s.processor.delete_dead_commands(tx, page.target, page.after, page.limit, now);
        if (!d.ok()) return d.error;
        deleted = *d.value;
        return std::nullopt;
    });
    if (status) return error_response(status_for(*status), status->message, req.version());
    json next = deleted.next_after_row ? json(std::to_string(deleted.next_after_row)) : json();
    return json_response(200, {{"deleted", deleted.deleted}, {"next", next}}, req.version());
}

Response delete_command(const Request& req, const std::string& id, Services& s) {
    const std::int64_t now = s.now_ms();
    store::Status status = s.writer.run([&](store::Transaction& tx) -> store::Status {
        auto deleted = s.processor.delete_dead_command(tx, id, now);
        return deleted.ok() ? std::nullopt : deleted.error;
    });
    if (status) return error_response(status_for(*status), status->message, req.version());
    return json_response(200, {{"id", id}, {"status", "deleted"}}, req.version());
}

Response metrics(const Request& req, Services& s) {
    std::vector<std::pair<std::string, double>> gauges;
    std::map<std::string, double> instances = {{"running", 0}, {"completed", 0}, {"failed", 0}, {"cancelled", 0}};
    std::map<std::string, double> outbox = {{"pending", 0}, {"delivered", 0}, {"dead", 0}};
    double timers = 0;
    auto counts = s.store.counts();
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
    Response res{beast_http::status::ok, req.version()};
    res.set(beast_http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = s.metrics.render(gauges);
    res.prepare_payload();
    return res;
}

}  // namespace

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

boost::system::result<boost::urls::url_view> parse_target(std::string_view target) {
    // The origin form (`/v1/events?x=1`) is what clients send; the absolute form
    // (`http://host/v1/events`) must be accepted too (RFC 9112 section 3.2.2).
    if (!target.empty() && target.front() == '/') return boost::urls::parse_origin_form(target);
    auto absolute = boost::urls::parse_absolute_uri(target);
    if (absolute && (absolute->scheme_id() == boost::urls::scheme::http || absolute->scheme_id() == boost::urls::scheme::https))
        return absolute;
    return boost::system::error_code(boost::urls::error::illegal_reserved_char);  // neither form
}

namespace {

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

void handle_async(const Request& req, Services& s, Reply reply) {
    if (is_event_post(req)) return post_events(req, s, std::move(reply));
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

// Every route but the event POST, which handle() and handle_async() take apart.
Response route(const Request& req, Services& s) {
    auto parsed = parse_target(req.target());
    if (!parsed) return error_response(400, "the request target is not a valid path", req.version());
    boost::urls::url_view url = *parsed;
    std::string path(url.encoded_path());
    if (path.empty()) path = "/";
    std::vector<std::string> segments;
    for (auto segment : url.segments()) segments.emplace_back(segment);
    const auto method = req.method();
    const bool reads = method == beast_http::verb::get || method == beast_http::verb::head;
    const bool writes = method == beast_http::verb::post;

    if (has_segments(url, {"healthz"})) {
        if (!reads) return method_not_allowed("GET, HEAD", req.version());
        if (!s.store.healthy()) return error_response(503, "the database does not answer", req.version());
        return json_response(200, {{"status", "ok"}}, req.version());
    }
    if (has_segments(url, {"metrics"})) {
        if (!reads) return method_not_allowed("GET, HEAD", req.version());
        return metrics(req, s);
    }
    if (segments.size() < 2 || segments[0] != "v1") return error_response(404, "no such route: " + path, req.version());
    if (has_segments(url, {"v1", "events"})) return method_not_allowed("POST", req.version());  // a POST went to post_events
    bool known = (segments.size() == 2 && (segments[1] == "instances" || segments[1] == "workflows" || segments[1] == "outbox")) ||
                 (segments.size() == 3 && (segments[1] == "instances" || segments[1] == "outbox") && !segments[2].empty()) ||
                 (segments.size() == 4 && segments[1] == "instances" && !segments[2].empty() &&
                  (segments[3] == "cancel" || segments[3] == "terminate" || segments[3] == "history")) ||
                 (segments.size() == 4 && segments[1] == "outbox" && segments[3] == "retry");
    if (!known) return error_response(404, "no such route: " + path, req.version());
    if (!admin_allowed(req, s.config)) {
        // RFC 9110 11.6.1: a 401 names the scheme that would be accepted.
        Response res = error_response(401, "this route needs Authorization: Bearer <admin token>", req.version());
        res.set(beast_http::field::www_authenticate, R"(Bearer realm="flowd")");
        return res;
    }
    if (segments.size() >= 3 && is_uuid(segments[2])) {
        // Instance and command ids are UUIDs, which RFC 9562 reads without regard to case;
        // flowd writes them in lower case.
        for (char& c : segments[2]) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (segments.size() == 2) {
        if (!reads) return method_not_allowed("GET, HEAD", req.version());
        if (segments[1] == "instances") return list_instances(req, url, s);
        if (segments[1] == "workflows") return list_workflows(req, s);
        return list_outbox(req, url, s);
    }
    if (segments.size() == 3 && segments[1] == "outbox" && (segments[2] == "retry" || segments[2] == "delete")) {  // no command's id: ids are UUIDs
        if (!writes) return method_not_allowed("POST", req.version());
        if (segments[2] == "retry") return retry_dead_commands(req, url, s);
        return delete_dead_commands(req, url, s);
    }
    if (segments.size() == 3 && segments[1] == "outbox") {
        if (method == beast_http::verb::delete_) return delete_command(req, segments[2], s);
        if (!reads) return method_not_allowed("GET, HEAD, DELETE", req.version());
        return get_command(req, segments[2], s);
    }
    if (segments.size() == 3) {
        if (!reads) return method_not_allowed("GET, HEAD", req.version());
        return get_instance(req, segments[2], s);
    }
    if (segments[1] == "instances" && segments[3] == "history") {
        if (!reads) return method_not_allowed("GET, HEAD", req.version());
        return get_history(req, url, segments[2], s);
    }
    if (!writes) return method_not_allowed("POST", req.version());
    if (segments[1] == "instances" && segments[3] == "terminate") return terminate_instance(req, segments[2], s);
    if (segments[1] == "instances") return cancel_instance(req, segments[2], s);
    return retry_command(req, segments[2], s);
}

}  // namespace

Response handle(const Request& req, Services& s) {
    if (is_event_post(req)) {
        std::promise<Response> answer;
        post_events(req, s, [&answer](Response r) { answer.set_value(std::move(r)); });
        return answer.get_future().get();
    }
    Response res;
    try {
        res = route(req, s);
    } catch (const std::exception& e) {
        // A statement SQLite could not prepare (out of memory, an I/O error): 503, where the
        // exception would have ended flowd from the thread that read for the route.
        res = error_response(503, std::string("the database failed: ") + e.what(), req.version());
    }
    if (req.method() == beast_http::verb::head) {
        // The answer a GET would have, without its body: Content-Length still tells its size.
        const std::size_t size = res.body().size();
        res.body().clear();
        res.content_length(size);
    }
    return res;
}

}  // namespace flow::http
