#include "runtime/http/event_input.hpp"

#include "dsl/source.hpp"
#include "stdlib/chrono.hpp"

#include <cctype>

namespace flow::http {

namespace {

using nlohmann::json;

// The nesting depth of a JSON text, counted outside strings; stops counting past the limit.
bool nested_deeper_than(const std::string& text, int limit) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > limit) return true;
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return false;
}

// Takes the data out of `j` (a document read for this event alone) rather than copying it.
std::variant<service::IncomingEvent, InputError> event_from_object(json& j, const std::string& where) {
    if (!j.is_object()) return InputError{400, where + "is not an event: expected a JSON object"};
    for (const char* field : {"id", "type"}) {
        auto found = j.find(field);
        if (found == j.end() || !found->is_string() || found->get_ref<const std::string&>().empty())
            return InputError{400, where + "is not an event: '" + field + "' must be a non-empty string"};
    }
    // Characters, not bytes (the JSON parser has already refused text that is not UTF-8).
    if (count_code_points(j["id"].get_ref<const std::string&>()) > 256) return InputError{400, where + "has an 'id' longer than 256 characters"};
    if (j.contains("data_base64")) return InputError{400, where + "carries data_base64: only JSON data is accepted"};
    service::IncomingEvent event;
    event.id = j["id"].get<std::string>();
    event.type = j["type"].get<std::string>();
    if (auto data = j.find("data"); data != j.end()) event.data = std::move(*data);
    else event.data = json::object();
    // The event's own time is only kept (in the history), but kept as what it claims to be: an
    // RFC 3339 timestamp, with any offset, as CloudEvents has it; it is written back as every time
    // on the wire is, in UTC with `Z` (milliseconds only when not zero). A null reads as absent.
    if (auto t = j.find("time"); t != j.end() && !t->is_null()) {
        std::optional<std::int64_t> at = t->is_string() ? chrono::parse_rfc3339(t->get_ref<const std::string&>()) : std::nullopt;
        if (!at) return InputError{400, where + "has a 'time' that is not an RFC 3339 timestamp, such as 2026-01-05T10:00:00Z"};
        event.time = chrono::format_rfc3339(*at);
    }
    return event;
}

std::string header(const std::map<std::string, std::string>& headers, const std::string& name) {
    auto found = headers.find(name);
    return found == headers.end() ? std::string() : found->second;
}

// CloudEvents 1.0 requires `specversion` ("1.0") and a non-empty `source` besides `id` and `type`;
// a plain event needs neither. Null when the attributes are there.
std::optional<InputError> cloudevent_attributes_missing(const json& specversion, const json& source, const std::string& where) {
    if (!specversion.is_string() || specversion.get_ref<const std::string&>() != "1.0")
        return InputError{400, where + "is not a CloudEvent 1.0: 'specversion' must be \"1.0\""};
    if (!source.is_string() || source.get_ref<const std::string&>().empty())
        return InputError{400, where + "is not a CloudEvent: 'source' must be a non-empty string"};
    return std::nullopt;
}

// A structured CloudEvent: the attributes checked, then read as a plain event.
std::variant<service::IncomingEvent, InputError> cloudevent_from_object(json& j, const std::string& where) {
    if (j.is_object()) {
        auto attribute = [&](const char* name) { return j.contains(name) ? j[name] : json(); };
        if (auto e = cloudevent_attributes_missing(attribute("specversion"), attribute("source"), where)) {
            // What is not an event at all is reported as such first.
            auto as_event = event_from_object(j, where);
            if (std::holds_alternative<InputError>(as_event)) return as_event;
            return *e;
        }
    }
    return event_from_object(j, where);
}

}  // namespace

std::variant<EventsInput, InputError> read_events(const std::string& content_type,
                                                  const std::map<std::string, std::string>& headers,
                                                  const std::string& body, int max_depth) {
    if (nested_deeper_than(body, max_depth))
        return InputError{400, "the body nests JSON deeper than " + std::to_string(max_depth) + " levels"};
    std::string media = content_type.substr(0, content_type.find(';'));
    while (!media.empty() && media.back() == ' ') media.pop_back();
    for (char& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

    EventsInput input;
    if (!header(headers, "ce-specversion").empty()) {
        // Binary mode: the attributes are headers, the body is the data.
        json data = body.empty() ? json::object() : json::parse(body, nullptr, false);
        if (data.is_discarded()) return InputError{400, "the body is not JSON"};
        json attributes = {{"specversion", header(headers, "ce-specversion")}, {"source", header(headers, "ce-source")},
                           {"id", header(headers, "ce-id")}, {"type", header(headers, "ce-type")}, {"data", data}};
        if (!header(headers, "ce-time").empty()) attributes["time"] = header(headers, "ce-time");
        auto event = cloudevent_from_object(attributes, "the CloudEvent ");
        if (auto* e = std::get_if<InputError>(&event)) return *e;
        input.events.push_back(std::move(std::get<service::IncomingEvent>(event)));
        return input;
    }
    json document = json::parse(body, nullptr, false);
    if (document.is_discarded()) return InputError{400, "the body is not JSON"};
    if (media == "application/cloudevents-batch+json") {
        if (!document.is_array()) return InputError{400, "a batch is a JSON array of CloudEvents"};
        if (document.empty()) return InputError{400, "the batch is empty"};
        input.batch = true;
        for (std::size_t i = 0; i < document.size(); ++i) {
            auto event = cloudevent_from_object(document[i], "event " + std::to_string(i) + " of the batch ");
            if (auto* e = std::get_if<InputError>(&event)) {
                // One invalid event refuses the whole batch with 422, naming its index.
                e->status = 422;
                e->index = static_cast<int>(i);
                return *e;
            }
            input.events.push_back(std::move(std::get<service::IncomingEvent>(event)));
        }
        return input;
    }
    auto event = media == "application/cloudevents+json" ? cloudevent_from_object(document, "the CloudEvent ")
                                                         : event_from_object(document, "the body ");
    if (auto* e = std::get_if<InputError>(&event)) return *e;
    input.events.push_back(std::move(std::get<service::IncomingEvent>(event)));
    return input;
}

}  // namespace flow::http
