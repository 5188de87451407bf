#include "runtime/http/event_input.hpp"

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

std::variant<service::IncomingEvent, InputError> event_from_object(const json& j, const std::string& where) {
    if (!j.is_object()) return InputError{400, where + "is not an event: expected a JSON object"};
    for (const char* field : {"id", "type"}) {
        auto found = j.find(field);
        if (found == j.end() || !found->is_string() || found->get_ref<const std::string&>().empty())
            return InputError{400, where + "is not an event: '" + field + "' must be a non-empty string"};
    }
    if (j["id"].get_ref<const std::string&>().size() > 256) return InputError{400, where + "has an 'id' longer than 256 characters"};
    if (j.contains("data_base64")) return InputError{400, where + "carries data_base64: only JSON data is accepted"};
    service::IncomingEvent event;
    event.id = j["id"].get<std::string>();
    event.type = j["type"].get<std::string>();
    event.data = j.contains("data") ? j["data"] : json::object();
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
        json attributes = {{"id", header(headers, "ce-id")}, {"type", header(headers, "ce-type")}, {"data", data}};
        if (!header(headers, "ce-time").empty()) attributes["time"] = header(headers, "ce-time");
        auto event = event_from_object(attributes, "the CloudEvent ");
        if (auto* e = std::get_if<InputError>(&event)) return *e;
        input.events.push_back(std::get<service::IncomingEvent>(event));
        return input;
    }
    json document = json::parse(body, nullptr, false);
    if (document.is_discarded()) return InputError{400, "the body is not JSON"};
    if (media == "application/cloudevents-batch+json") {
        if (!document.is_array()) return InputError{400, "a batch is a JSON array of CloudEvents"};
        if (document.empty()) return InputError{400, "the batch is empty"};
        input.batch = true;
        for (std::size_t i = 0; i < document.size(); ++i) {
            auto event = event_from_object(document[i], "event " + std::to_string(i) + " of the batch ");
            if (auto* e = std::get_if<InputError>(&event)) {
                // One invalid event refuses the whole batch with 422, naming its index.
                e->status = 422;
                e->index = static_cast<int>(i);
                return *e;
            }
            input.events.push_back(std::get<service::IncomingEvent>(event));
        }
        return input;
    }
    auto event = event_from_object(document, "the body ");
    if (auto* e = std::get_if<InputError>(&event)) return *e;
    input.events.push_back(std::get<service::IncomingEvent>(event));
    return input;
}

}  // namespace flow::http
