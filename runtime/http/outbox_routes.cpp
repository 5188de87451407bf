// The outbox routes: listing commands, one command, retrying and deleting dead ones.
#include "runtime/http/route_handlers.hpp"

#include "runtime/engine/json_reader.hpp"
#include "runtime/http/route_support.hpp"

namespace flow::http {

using nlohmann::json;

namespace {

// The parameters of a write to a page of commands (POST /v1/outbox/retry, /v1/outbox/delete and
// /v1/outbox/expedite): a target, a page size and, for the first two, a cursor.
struct CommandsPage {
    std::string target;
    int limit = 100;
    std::int64_t after = 0;
};

// What a write to many commands reads from its query: its verb (for the messages), whether it
// pages with `after`, and, when it must name its target, the message that says so.
struct ManyCommandsWrite {
    std::string_view verb;
    bool takes_after = true;
    const char* target_required = nullptr;
};

// A write to many commands takes no parameter it does not know, and no empty target: either
// could come from a typo or an unset variable, and would widen the write to every target. A
// deletion, which cannot be undone, and an expedite must name their target.
std::optional<Response> read_many_commands_query(const Request& req, const boost::urls::url_view& url, const ManyCommandsWrite& write,
                                                 CommandsPage& page) {
    auto refused = write.takes_after ? refuse_repeated(req, url, {"target", "limit", "after"}) : refuse_repeated(req, url, {"target", "limit"});
    if (refused) return refused;
    bool target_given = false;
    for (auto param : url.params()) {
        std::string value(param.value);
        if (param.key.empty() && value.empty()) continue;  // a stray `&`: no parameter
        if (param.key == "target") {
            if (value.empty())
                return error_response(400, write.target_required ? "target must not be empty"
                                                                 : "target must not be empty (leave it out to " + std::string(write.verb) + " every target)",
                                      req.version());
            page.target = value;
            target_given = true;
        } else if (param.key != "limit" && (!write.takes_after || param.key != "after")) {
            const std::string which = param.key.empty() ? std::string("a parameter without a name")
                                                        : "unknown parameter '" + std::string(param.key) + "'";
            return error_response(400, which + (write.takes_after ? ": target, limit and after are known" : ": target and limit are known"),
                                  req.version());
        } else if (value.empty()) {
            continue;
        } else if (auto problem = read_page_parameter(param.key, value, page.limit, page.after)) {
            return error_response(400, *problem, req.version());
        }
    }
    if (write.target_required && !target_given) return error_response(400, write.target_required, req.version());
    return std::nullopt;
}

}  // namespace

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
    json data = engine::read_stored_json(c.payload);
    json key = engine::read_stored_json(c.key);
    json body = {{"id", c.id}, {"type", c.type}, {"target", c.target}, {"workflow", c.workflow}, {"instance", c.instance},
                 {"key", key.is_discarded() ? json() : key}, {"status", c.status}, {"attempts", c.attempts},
                 {"last_error", c.last_error.empty() ? json() : json(c.last_error)}, {"created_at", c.created_at},
                 {"next_attempt_at", c.status == "pending" && !c.waits_for_earlier() ? json(service::timestamp(c.next_attempt_ms)) : json()},
                 {"delivered_at", (**found.value).delivered_at.empty() ? json() : json((**found.value).delivered_at)},
                 {"data", data.is_discarded() ? json::object() : data}};
    return json_response(200, body, req.version());
}

Response retry_dead_commands(const Request& req, const boost::urls::url_view& url, Services& s) {
    CommandsPage page;
    if (auto refused = read_many_commands_query(req, url, {"retry"}, page)) return std::move(*refused);
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

Response expedite_pending_commands(const Request& req, const boost::urls::url_view& url, Services& s) {
    CommandsPage page;
    if (auto refused = read_many_commands_query(req, url, {"expedite", false, "target is required: an expedite names the target that answers again"}, page))
        return std::move(*refused);
    // The relay forgets the target's silence first: a command made due and handed out before
    // would be held back again for it.
    s.forget_target_silence(page.target);
    const std::int64_t now = s.now_ms();
    store::Transaction::Expedited expedited;
    store::Status status = s.writer.run([&](store::Transaction& tx) -> store::Status {
        auto e = tx.expedite_pending(page.target, page.limit, now);
        if (!e.ok()) return e.error;
        expedited = *e.value;
        return std::nullopt;
    });
    if (status) return error_response(status_for(*status), status->message, req.version());
    return json_response(200, {{"expedited", expedited.expedited}, {"more", expedited.more}}, req.version());
}

Response delete_dead_commands(const Request& req, const boost::urls::url_view& url, Services& s) {
    CommandsPage page;
    if (auto refused = read_many_commands_query(req, url, {"delete", true, "target is required: a deletion names the target whose dead commands it deletes"}, page))
        return std::move(*refused);
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

}  // namespace flow::http
