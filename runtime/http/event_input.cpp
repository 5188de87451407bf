#include "runtime/http/event_input.hpp"

#include "dsl/source.hpp"
#include "runtime/engine/json_reader.hpp"
#include "stdlib/chrono.hpp"
#include "stdlib/utf8.hpp"

#include <boost/url/pct_string_view.hpp>

#include <cctype>
#include <cstdio>

namespace flow::http {

namespace {

using nlohmann::json;

// The body as JSON, or why it is not. A number past a double's range (`1e400`) is JSON by its
// grammar, but no double holds it: that is said, rather than "not JSON". The engine's reader
// (Boost.JSON's lexer, building the value directly) reads an event's body in half the time
// nlohmann's parser takes, or less (bench/json_body_bench), and accepts exactly the same texts
// (its fuzz target holds it to that); nlohmann's parser runs only on a text it refuses, for the
// message.
std::variant<json, InputError> parse_body(const std::string& body) {
    if (std::optional<Value> read = engine::read_json(body)) return std::move(*read);
    try {
        return json::parse(body);
    } catch (const json::out_of_range& e) {
        // nlohmann's text: "… number overflow parsing '1e400'"
        const std::string what = e.what();
        const std::size_t open = what.find('\''), close = what.rfind('\'');
        std::string number = open != std::string::npos && close > open ? what.substr(open + 1, close - open - 1) : "";
        if (number.size() > 40) number = number.substr(0, 40) + "…";
        return InputError{400, "the body holds a number too large for a 64-bit float" + (number.empty() ? "" : ": " + number)};
    } catch (const json::exception&) {
        return InputError{400, "the body is not JSON"};
    }
}

// What one pass over a JSON text finds without reading it: whether it nests deeper than a
// limit, and how many elements the array at its top holds (the commas at depth 1, plus one),
// so that a batch too deep to be read is still counted (413 comes before 400).
struct JsonOutline {
    bool deeper_than_limit = false;
    std::size_t top_level_elements = 0;
};

JsonOutline outline_of(const std::string& text, int limit) {
    JsonOutline outline;
    int depth = 0;
    bool in_string = false, any = false;
    std::size_t commas = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
            continue;
        }
        if (depth == 1 && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ']') any = true;
        if (c == '"') in_string = true;
        else if (c == '{' || c == '[') outline.deeper_than_limit |= ++depth > limit;
        else if (c == '}' || c == ']') --depth;
        else if (c == ',' && depth == 1) ++commas;
    }
    outline.top_level_elements = any ? commas + 1 : 0;
    return outline;
}

InputError too_large_batch(std::size_t events, std::size_t max_batch_events) {
    return InputError{413, "a batch holds at most " + std::to_string(max_batch_events) + " events (max_batch_events), and this one holds " +
                               std::to_string(events) + ": send it in parts"};
}

// Whether a media type (lower case, without parameters) is JSON: application/json or a
// structured suffix +json (RFC 6839).
bool is_json_media(const std::string& media) {
    return media == "application/json" || (media.size() > 5 && media.ends_with("+json"));
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
    // A null `data` reads as absent, as a null `time` does: the event carries no data.
    if (auto data = j.find("data"); data != j.end() && !data->is_null()) event.data = std::move(*data);
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

// A binary-mode attribute's value, as the CloudEvents HTTP binding (3.1.3.2) reads a header: a
// double-quoted string unescaped first (RFC 7230 3.2.6), then one round of percent-decoding,
// whose bytes must be UTF-8. Nullopt when the value is none of that.
std::optional<std::string> attribute_from_header(std::string_view value) {
    std::string unquoted;
    if (!value.empty() && value.front() == '"') {
        std::size_t i = 1;
        for (; i < value.size() && value[i] != '"'; ++i) {
            if (value[i] == '\\' && ++i == value.size()) return std::nullopt;
            unquoted += value[i];
        }
        if (i + 1 != value.size()) return std::nullopt;  // no closing quote, or text after it
        value = unquoted;
    }
    auto encoded = boost::urls::make_pct_string_view(value);
    if (!encoded) return std::nullopt;  // a '%' not followed by two hex digits
    std::string decoded = encoded->decode();
    if (utf8::first_invalid(decoded) != std::string_view::npos) return std::nullopt;
    return decoded;
}

// The attributes of a binary-mode CloudEvent, read from its `ce-` headers.
std::variant<json, InputError> binary_attributes(const std::map<std::string, std::string>& headers) {
    json attributes = json::object();
    for (const char* name : {"specversion", "source", "id", "type", "time"}) {
        auto found = headers.find(std::string("ce-") + name);
        if (found == headers.end()) continue;
        auto value = attribute_from_header(found->second);
        if (!value)
            return InputError{400, std::string("the header ce-") + name +
                                       " is not a CloudEvents header value: percent-encoded UTF-8, optionally in double quotes"};
        if (!value->empty() || std::string_view(name) != "time") attributes[name] = std::move(*value);
    }
    return attributes;
}

// CloudEvents 1.0 requires `specversion` ("1.0") and a non-empty `source` besides `id` and `type`;
// a plain event needs neither. `specversion` is what makes a CloudEvent one, and must be there.
// A `source` left out is let pass: flowd reads nothing from it (an event is known by its `id`
// alone, as the contract has it), and a producer that leaves it out loses nothing by it; one
// given must be what CloudEvents says it is. Null when the attributes are as they must be.
std::optional<InputError> cloudevent_attributes_missing(const json& specversion, const json& source, const std::string& where) {
    if (!specversion.is_string() || specversion.get_ref<const std::string&>() != "1.0")
        return InputError{400, where + "is not a CloudEvent 1.0: 'specversion' must be \"1.0\""};
    if (!source.is_null() && (!source.is_string() || source.get_ref<const std::string&>().empty()))
        return InputError{400, where + "is not a CloudEvent: 'source', when given, must be a non-empty string"};
    return std::nullopt;
}

// CloudEvents (1.0, "Type System": String) forbids the control characters U+0000 to U+001F and
// U+007F to U+009F in a string attribute: the first such attribute, as an error.
std::optional<InputError> attribute_with_control_character(const json& event, const std::string& where) {
    for (const auto& [name, value] : event.items()) {
        if (name == "data" || !value.is_string()) continue;
        const std::string& text = value.get_ref<const std::string&>();
        for (std::size_t pos = 0; pos < text.size();) {
            const utf8::CodePoint cp = utf8::decode(text, pos);
            pos += cp.size;
            if (cp.value > 0x1F && (cp.value < 0x7F || cp.value > 0x9F)) continue;
            char code[16];
            std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(cp.value));
            return InputError{400, where + "has an attribute '" + name + "' holding the control character " + code +
                                       ", which a CloudEvents string may not hold"};
        }
    }
    return std::nullopt;
}

// A structured CloudEvent: the attributes checked, then read as a plain event.
std::variant<service::IncomingEvent, InputError> cloudevent_from_object(json& j, const std::string& where) {
    if (j.is_object()) {
        auto attribute = [&](const char* name) { return j.contains(name) ? j[name] : json(); };
        auto e = cloudevent_attributes_missing(attribute("specversion"), attribute("source"), where);
        if (!e) e = attribute_with_control_character(j, where);
        if (e) {
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
                                                  const std::string& body, std::size_t max_batch_events, int max_depth,
                                                  const std::string& repeated_attribute) {
    std::string media = content_type.substr(0, content_type.find(';'));
    while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.pop_back();  // OWS: space or tab
    for (char& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool batched = media == "application/cloudevents-batch+json";
    if (const JsonOutline outline = outline_of(body, max_depth); outline.deeper_than_limit) {
        if (batched && outline.top_level_elements > max_batch_events) return too_large_batch(outline.top_level_elements, max_batch_events);
        return InputError{400, "the body nests JSON deeper than " + std::to_string(max_depth) + " levels"};
    }

    EventsInput input;
    // The mode, as the CloudEvents HTTP binding (3) has a receiver tell it: a CloudEvents media
    // type means structured or batch mode (which may repeat the attributes as `ce-` headers);
    // otherwise a `ce-specversion` header means binary mode; otherwise a plain event. A body
    // labelled structured that has no `specversion` of its own, under `ce-` headers, is taken
    // as binary mode's data all the same.
    bool structured = media == "application/cloudevents+json";
    bool binary = !batched && headers.count("ce-specversion") != 0;  // an empty one too: then refused for it
    if (binary && structured) {
        const json probe = json::parse(body, nullptr, false);
        structured = probe.is_object() && probe.contains("specversion");
        binary = !structured;
    }
    if (binary) {
        // Binary mode: the attributes are headers, the body is the data.
        if (!repeated_attribute.empty())
            return InputError{400, "the header " + repeated_attribute + " is given more than once: a CloudEvents attribute has one value"};
        // The Content-Type is the data's (datacontenttype): data of another kind is not read as
        // JSON on the chance that it parses. None at all is taken for JSON.
        if (!media.empty() && !is_json_media(media))
            return InputError{400, "a binary-mode CloudEvent's data must be JSON, and its Content-Type says " + media +
                                       ": send it as application/json"};
        auto read = binary_attributes(headers);
        if (auto* e = std::get_if<InputError>(&read)) return *e;
        json attributes = std::move(std::get<json>(read));
        json data = json::object();
        if (!body.empty()) {
            auto parsed = parse_body(body);
            if (auto* e = std::get_if<InputError>(&parsed)) return *e;
            data = std::move(std::get<json>(parsed));
        }
        attributes["data"] = std::move(data);
        auto event = cloudevent_from_object(attributes, "the CloudEvent ");
        if (auto* e = std::get_if<InputError>(&event)) return *e;
        input.events.push_back(std::move(std::get<service::IncomingEvent>(event)));
        return input;
    }
    auto parsed = parse_body(body);
    if (auto* e = std::get_if<InputError>(&parsed)) return *e;
    json document = std::move(std::get<json>(parsed));
    if (batched) {
        if (!document.is_array()) return InputError{400, "a batch is a JSON array of CloudEvents"};
        input.batch = true;  // it may be empty (3.3.2): then nothing is written and `[]` answers
        if (document.size() > max_batch_events) return too_large_batch(document.size(), max_batch_events);
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
    auto event = structured ? cloudevent_from_object(document, "the CloudEvent ") : event_from_object(document, "the body ");
    if (auto* e = std::get_if<InputError>(&event)) return *e;
    input.events.push_back(std::move(std::get<service::IncomingEvent>(event)));
    return input;
}

}  // namespace flow::http
