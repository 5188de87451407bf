// The instance routes: lists, one instance with its history, cancelling and terminating; and the
// workflow versions stored, listed or one with its sources.
#include "runtime/http/route_handlers.hpp"

#include "runtime/engine/json_reader.hpp"
#include "runtime/http/route_support.hpp"
#include "runtime/engine/json_writer.hpp"

#include <algorithm>

namespace flow::http {

using nlohmann::json;

namespace {

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
        json entry = engine::read_stored_json(h.detail);
        if (!entry.is_object()) entry = json::object();
        entry["at"] = h.at;
        entry["kind"] = h.kind;
        if (i > 0) out += ',';
        out += entry.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    out += ']';
}

// An object's compact text with its `history` member written by append_history_entries, where
// the name falls among the other keys, as if it had been one of them.
std::string with_history(const json& object, const std::vector<store::HistoryEntry>& history) {
    json before = json::object(), after = json::object();
    for (const auto& [name, value] : object.items()) (name < "history" ? before : after)[name] = value;
    std::string out = before.dump(-1, ' ', false, json::error_handler_t::replace);
    out.pop_back();  // the closing brace
    out += before.empty() ? "\"history\":" : ",\"history\":";
    append_history_entries(history, out);
    const std::string rest = after.dump(-1, ' ', false, json::error_handler_t::replace);
    out += after.empty() ? "}" : "," + rest.substr(1);
    return out;
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

}  // namespace

Response list_instances(const Request& req, const boost::urls::url_view& url, Services& s) {
    if (auto refused = refuse_repeated(req, url, {"workflow", "status", "state", "key", "limit", "after"})) return std::move(*refused);
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
        else if (param.key == "state") filter.state = value;
        else if (param.key == "key") filter.key = value;
        else if (auto problem = read_page_parameter(param.key, value, filter.limit, filter.after_row))
            return error_response(400, *problem, req.version());
    }
    if (!filter.key.empty()) {
        // Keys are stored as JSON: the text matches a string key, and an int key when it is one.
        std::string text = filter.key;
        filter.key = json(text).dump(-1, ' ', false, json::error_handler_t::replace);
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

Response get_workflow_version(const Request& req, const std::string& name, const std::string& version, Services& s) {
    auto definitions = s.store.definitions();
    if (!definitions.ok()) return error_response(503, definitions.error->message, req.version());
    for (const auto& d : *definitions.value) {
        if (d.workflow != name || std::to_string(d.version) != version) continue;
        const engine::Engine* engine = s.deployment.engine_for(d.workflow, d.version);
        // The files as stored, by the paths flowd was given; null should the column not be a
        // JSON object of texts (a hand edit).
        json sources = engine::read_stored_json(d.sources);
        const bool texts = sources.is_object() &&
                           std::all_of(sources.begin(), sources.end(), [](const json& text) { return text.is_string(); });
        return json_response(200,
                             {{"workflow", d.workflow}, {"name", d.workflow}, {"version", d.version}, {"hash", d.hash},
                              {"deployed_at", d.deployed_at}, {"current", engine == &s.deployment.current()},
                              {"sources", texts ? std::move(sources) : json()}},
                             req.version());
    }
    return error_response(404, "no workflow '" + name + "' version " + version + " is stored", req.version());
}

}  // namespace flow::http
