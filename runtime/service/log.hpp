#pragma once
// flowd's log: one JSON object per line on standard error, each with `ts` (RFC 3339, UTC,
// milliseconds), `level` (`info`, `warn` or `error`) and `msg`, and the fields that say what
// happened. Every part of flowd writes through here, so that the lines have one shape and a
// line is never cut in two by another thread's.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace flow::service {

// The text of one record, with its newline: `fields` with `ts`, `level` and `msg` set (they
// replace members of those names). Text that is not UTF-8 (a name read from a request, an
// error carrying bytes from a file) is written with U+FFFD in place of the bad bytes: a log
// line never fails to be written.
std::string log_line(std::int64_t now_ms, std::string_view level, std::string_view message,
                     nlohmann::json fields = nlohmann::json::object());

// Writes the record to std::cerr in one piece, under a lock shared by every thread.
void log(std::int64_t now_ms, std::string_view level, std::string_view message, nlohmann::json fields = nlohmann::json::object());

}  // namespace flow::service
