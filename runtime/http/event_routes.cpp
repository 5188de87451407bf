// POST /v1/events: signatures, reading the events, refusals, and the write that acknowledges them;
// and GET /v1/events/{id}, what became of an event accepted before.
#include "runtime/http/route_handlers.hpp"

#include "runtime/engine/json_reader.hpp"
#include "runtime/http/event_input.hpp"
#include "runtime/http/route_support.hpp"
#include "runtime/http/webhook_signature.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <unordered_set>

namespace flow::http {

namespace beast_http = boost::beast::http;
using nlohmann::json;

namespace {

// The headers an event's ingest reads (a binary-mode CloudEvent's `ce-` attributes and the
// `webhook-` signature), by lower-case name; the others are not copied. What is given more than
// once is told: Content-Type (a request has one media type), the first `ce-` header (in binary
// mode an attribute, which has one value) and the first `webhook-` one (which copy would be
// checked is not guessed at).
std::map<std::string, std::string> event_headers(const Request& req, bool& content_type_repeated, std::string& repeated_attribute,
                                                 std::string& repeated_signature) {
    std::map<std::string, std::string> out;
    for (const auto& field : req) {
        const std::string_view name = field.name_string();
        const auto starts = [name](std::string_view prefix) {
            return name.size() >= prefix.size() && boost::beast::iequals(name.substr(0, prefix.size()), prefix);
        };
        if (field.name() == beast_http::field::content_type) {
            // It decides how the body is read: which of two copies the sender meant is not guessed.
            if (req.count(beast_http::field::content_type) > 1) content_type_repeated = true;
            continue;
        }
        if (!starts("ce-") && !starts("webhook-")) continue;
        std::string lower(name);
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (out.count(lower) && starts("ce-") && repeated_attribute.empty()) repeated_attribute = lower;
        if (out.count(lower) && (lower == "webhook-id" || lower == "webhook-timestamp" || lower == "webhook-signature") &&
            repeated_signature.empty())
            repeated_signature = lower;
        out[lower] = std::string(field.value());
    }
    return out;
}

// The refusal of a Content-Type given twice.
constexpr const char* repeated_content_type_message =
    "the header content-type is given more than once: a request has one media type, which says how its body is read";

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

// Checks a signed message's signature (Standard Webhooks) when secrets are configured: the 401
// that refuses it, or nothing. `message_digest` is then set to what the signature covers.
std::optional<Response> signature_refusal(const Request& req, std::map<std::string, std::string>& headers,
                                          const std::string& repeated_signature_header, Services& s, std::string& message_digest) {
    if (s.config.webhook_secrets.empty()) return std::nullopt;
    if (!repeated_signature_header.empty())
        return error_response(401, "the header " + repeated_signature_header + " is given more than once: send it once "
                                       "(webhook-signature holds several signatures separated by spaces)",
                              req.version());
    auto check = verify_webhook(s.config.webhook_secrets, headers["webhook-id"], headers["webhook-timestamp"],
                                headers["webhook-signature"], req.body(), s.now_ms() / 1000);
    if (check == SignatureCheck::Missing) {
        std::string missing;  // the empty ones count as missing
        for (const char* name : {"webhook-id", "webhook-timestamp", "webhook-signature"})
            if (headers[name].empty()) missing += (missing.empty() ? "" : ", ") + std::string(name);
        return error_response(401, "the webhook signature headers are missing: " + missing +
                                       " (a signed event carries webhook-id, webhook-timestamp and webhook-signature)",
                              req.version());
    }
    if (check != SignatureCheck::Valid) {
        const char* why = check == SignatureCheck::BadTimestamp ? "the webhook-timestamp is not a whole number of seconds"
                          : check == SignatureCheck::Stale      ? "the webhook timestamp is more than 5 minutes away"
                                                                : "the webhook signature does not match";
        return error_response(401, why, req.version());
    }
    message_digest = signed_message_digest(headers["webhook-id"], req.body());
    return std::nullopt;
}

// Answers a request with a refusal, counted under `metric`. A signed message refused is bound
// all the same to what it was read as (`read_as`, `ids`), so that no copy of it can be replayed
// later with headers that make it read otherwise, and accepted (a refused message's ids were
// not accepted: read otherwise, under the same ids or not, it is refused); the answer waits for
// that binding's commit. Called on the connection's thread or on a worker's.
struct Refuser {
    std::string message_digest;  // empty: the message is not signed
    Reply reply;
    Services& s;
    std::string webhook_id;
    unsigned version;

    void operator()(const std::string& metric, Response refusal, const std::string& read_as, const std::string& ids) const {
        if (message_digest.empty()) {
            s.metrics.event(metric);
            return reply(std::move(refusal));
        }
        auto answer = std::make_shared<Response>(std::move(refusal));
        auto altered = std::make_shared<bool>(false);
        const std::int64_t now = s.now_ms();
        auto bind = [digest = message_digest, read_as, ids, now, altered](store::Transaction& tx) -> store::Status {
            auto bound = tx.bind_webhook_message(digest, read_as, ids, now, now - replay_window_ms);
            if (!bound.ok()) return bound.error;
            *altered = *bound.value != store::Transaction::WebhookReading::Same;
            return std::nullopt;
        };
        auto done = [answer, altered, metric, reply = reply, &s = s, webhook_id = webhook_id, version = version](const store::Status& bound) {
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
    }
};

// Events read from a request, on their way to the writer, and their results.
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

// An event the declarations refuse: its place in the request, and why.
struct Refused {
    std::size_t index;
    service::Rejection rejection;
};

// The events the declarations refuse, in order. An event of a batch that repeats an earlier
// one's id is not among them: it is that one's duplicate, taken first.
std::vector<Refused> declaration_refusals(const Ingest& ingest, Services& s) {
    std::vector<Refused> refused;
    std::unordered_set<std::string_view> earlier_ids;  // of a batch's events before the current one
    for (std::size_t i = 0; i < ingest.events.events.size(); ++i) {
        const service::IncomingEvent& event = ingest.events.events[i];
        const bool repeats_earlier = ingest.events.batch && !earlier_ids.insert(event.id).second;
        if (auto rejection = s.processor.validate(event); rejection && !repeats_earlier) refused.push_back({i, std::move(*rejection)});
    }
    return refused;
}

// The 422 for the first event refused that was not accepted before (an id accepted before is a
// duplicate, whatever it carries now: a client's retry after the declarations changed), or
// nothing. It reads the inbox: called on a worker.
std::optional<Response> first_new_refusal(const Ingest& ingest, const std::vector<Refused>& refused, Services& s) {
    for (const Refused& r : refused) {
        auto seen = s.processor.recorded(s.store, ingest.events.events[r.index].id);
        if (seen.ok() && *seen.value) continue;
        const bool batch = ingest.events.batch;
        std::string where = batch ? "event " + std::to_string(r.index) + " of the batch: " : "";
        std::string message = r.rejection.field == "type" ? r.rejection.message : r.rejection.field + " " + r.rejection.message;
        json body = {{"error", where + message}, {"field", r.rejection.field}};
        if (batch) body["index"] = r.index;
        return json_response(422, body, ingest.version);
    }
    return std::nullopt;
}

// Answers events whose batch did not commit (`status`): a signed message read otherwise is
// refused, unless it carries the ids it was first read as carrying and they were accepted; a
// batch the database lost is answered from the inbox when its events were all accepted before;
// otherwise the failure stands (a conflict is the events' fault: 422).
void answer_unwritten(const std::shared_ptr<Ingest>& ingest, const Reply& reply, Services& s, const store::StoreError& status) {
    using Reading = store::Transaction::WebhookReading;
    // Events all accepted before need no write and change nothing: they are answered from the
    // inbox, as duplicates. Looked up by a worker: neither the writer's thread nor a
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
    if (ingest->reading == Reading::SameIds) return answer_from_inbox(refuse_replay);
    if (ingest->reading == Reading::Other) return refuse_replay();
    if (status_for(status) == 503) {
        return answer_from_inbox([ingest, reply, &s, error = status.message] {
            s.metrics.event("unavailable");
            reply(error_response(503, error, ingest->version));
        });
    }
    const bool conflict = status_for(status) == 409;
    s.metrics.event(conflict ? "rejected_422" : "unavailable");
    reply(error_response(conflict ? 422 : 503, status.message, ingest->version));
}

// Hands the events to the writer's next batch: their 202 once it committed, built on the
// connection's thread; the answer of answer_unwritten if it did not.
void write_events(const std::shared_ptr<Ingest>& ingest, const Reply& reply, Services& s) {
    const std::int64_t now = s.now_ms();
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
        if (status) return answer_unwritten(ingest, reply, s, *status);
        // Built on the connection's thread, the answer also takes the last hold on the events,
        // so that they are freed there too.
        reply.run_there([ingest, reply, &s] { reply(accepted(ingest->results, ingest->events.batch, ingest->started, ingest->version, s)); });
    };
    const std::size_t events = ingest->events.events.size();
    if (!s.writer.submit(std::move(work), std::move(done), service::Writer::Admission::Bounded, std::max<std::size_t>(events, 1))) {
        s.metrics.event("unavailable");
        reply(error_response(503, "too many events are waiting for the database; retry later", ingest->version));
    }
}

}  // namespace

void post_events(const Request& req, Services& s, Reply reply) {
    const auto started = std::chrono::steady_clock::now();
    bool content_type_repeated = false;
    std::string repeated_attribute, repeated_signature_header;
    auto headers = event_headers(req, content_type_repeated, repeated_attribute, repeated_signature_header);
    std::string message_digest;  // of a signed message
    if (auto refusal = signature_refusal(req, headers, repeated_signature_header, s, message_digest)) {
        s.metrics.event("rejected_401");
        return reply(std::move(*refusal));
    }
    const Refuser refuse{message_digest, reply, s, headers["webhook-id"], req.version()};
    if (content_type_repeated)
        return refuse("rejected_400", error_response(400, repeated_content_type_message, req.version()), unreadable_digest, "");
    auto input = read_events(std::string(req[beast_http::field::content_type]), headers, req.body(), s.config.max_batch_events,
                             max_event_depth, repeated_attribute);
    if (auto* e = std::get_if<InputError>(&input)) {
        json body = {{"error", e->message}};
        if (e->index >= 0) body["index"] = e->index;
        const char* metric = e->status == 422 ? "rejected_422" : e->status == 413 ? "rejected_413" : "rejected_400";
        Response refusal = json_response(static_cast<unsigned>(e->status), body, req.version());
        // After a 413 the connection is closed (docs/http-api.md), this one's body read whole or not.
        if (e->status == 413) refusal.set(beast_http::field::connection, "close");
        return refuse(metric, std::move(refusal), unreadable_digest, "");
    }
    if (std::get<EventsInput>(input).events.empty())
        return reply(accepted({}, std::get<EventsInput>(input).batch, started, req.version(), s));  // an empty batch
    auto ingest = std::make_shared<Ingest>(Ingest{std::move(std::get<EventsInput>(input)), {}, started, req.version(), {}, {}, {}, {}, {}});
    if (!message_digest.empty()) {
        ingest->webhook_id = headers["webhook-id"];
        ingest->message_digest = std::move(message_digest);
        ingest->read_digest = read_digest(ingest->events);
        ingest->ids_digest = ids_digest(ingest->events);
    }
    std::vector<Refused> refused = declaration_refusals(*ingest, s);
    if (refused.empty()) return write_events(ingest, reply, s);
    // Whether a refused event was accepted before is looked up by a worker, so that no
    // connection's thread waits on a read.
    s.run_blocking([ingest, refused = std::move(refused), refuse, reply, &s] {
        auto refusal = first_new_refusal(*ingest, refused, s);
        if (!refusal) return write_events(ingest, reply, s);
        const bool is_signed = !ingest->message_digest.empty();
        refuse("rejected_422", std::move(*refusal), is_signed ? ingest->read_digest : std::string(),
               is_signed ? ingest->ids_digest : std::string());
    });
}

Response get_event(const Request& req, const std::string& id, Services& s) {
    auto found = s.store.inbox_record(id);
    if (!found.ok()) return error_response(503, found.error->message, req.version());
    if (!*found.value) return error_response(404, "no event '" + id + "' was accepted (or its record is past inbox_retention_hours)", req.version());
    const store::Store::InboxRecord& record = **found.value;
    // The deliveries as the first answer gave them, which a repeat of the id is answered with.
    const json recorded = engine::read_stored_json(record.response);
    const json* deliveries = recorded.is_object() && recorded.contains("deliveries") ? &recorded["deliveries"] : nullptr;
    if (!deliveries || !deliveries->is_array())
        return error_response(503, "the answer recorded for event '" + id + "' cannot be read: it is not what flowd records", req.version());
    return json_response(200, {{"id", id}, {"type", record.type}, {"received_at", record.received_at}, {"deliveries", *deliveries}},
                         req.version());
}

}  // namespace flow::http
