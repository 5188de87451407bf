// Instants and durations as Flow writes them: RFC 3339 instants, duration literals.
// Both are held as milliseconds (see value.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flow::chrono {

// Parses an RFC 3339 date-time ("2026-06-01T08:00:00Z", "2026-06-01T10:00:00.250+02:00";
// 't' and 'z' accepted, fractions beyond milliseconds truncated). Returns milliseconds
// since the Unix epoch in UTC, or nothing when the text is not RFC 3339, names no real
// date (month 13, February 30, hour 24), or names an instant whose year in UTC is outside
// 0000..9999 ("0000-01-01T00:00:00+01:00").
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

// The instants RFC 3339 can write: 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z.
bool in_rfc3339_range(std::int64_t epoch_ms);

// Formats as RFC 3339 in UTC with `Z`: "2026-06-01T08:00:00Z", with ".250" only when the
// milliseconds are not zero. Years outside 0000..9999 are clamped to that range.
std::string format_rfc3339(std::int64_t epoch_ms);

// Parses a duration literal: integer-unit pairs glued together, largest unit first, each
// unit at most once: "250ms", "90s", "15m", "2h", "7d", "1h30m". Units: d h m s ms.
// A leading '-' makes it negative. Nothing on overflow or malformed text.
std::optional<std::int64_t> parse_duration(std::string_view text);

// Formats as a literal that parse_duration reads back: "1h30m", "250ms", "0s", "-2h".
std::string format_duration(std::int64_t ms);

// Formats an instant with a strftime layout (UTC); an unknown or empty layout gives "". A
// result longer than max_string_bytes (stdlib/value.hpp) throws RuntimeError.
std::string format_time(std::int64_t epoch_ms, std::string_view layout);

// Why format_time gives "" for `layout` (its first conversion that no strftime layout of ours
// holds, or the layout being empty), or nothing when it formats: the checker reports a literal
// layout that could only ever give "".
std::optional<std::string> layout_problem(std::string_view layout);

}  // namespace flow::chrono
