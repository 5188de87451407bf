// Reading events out of an HTTP request: a plain event, or a CloudEvent in structured,
// binary or batch mode. Errors carry the status docs/http-api.md gives them.
#pragma once

#include "runtime/service/processor.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace flow::http {

struct InputError {
    int status;  // 400: not JSON or not an event; 413: a batch of too many events; 422: an element of a batch is not an event
    std::string message;
    int index = -1;  // the element of a batch at fault
};

struct EventsInput {
    std::vector<service::IncomingEvent> events;
    bool batch = false;
};

// How deep an event's JSON may nest.
inline constexpr int max_event_depth = 64;

// `headers` are lower-case names. A batch of more than `max_batch_events` events is refused
// (413), and so is JSON nested deeper than `max_depth` (400). `repeated_attribute` names a `ce-`
// header the request gives more than once, which refuses it in binary mode only, where the
// headers are the event's attributes (400).
std::variant<EventsInput, InputError> read_events(const std::string& content_type,
                                                  const std::map<std::string, std::string>& headers,
                                                  const std::string& body, std::size_t max_batch_events = SIZE_MAX,
                                                  int max_depth = max_event_depth, const std::string& repeated_attribute = "");

}  // namespace flow::http
