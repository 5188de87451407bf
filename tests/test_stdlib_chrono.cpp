#include "stdlib/chrono.hpp"
#include "stdlib/value.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

using namespace flow::chrono;

namespace {

constexpr std::int64_t second = 1000;
constexpr std::int64_t minute = 60 * second;
constexpr std::int64_t hour = 60 * minute;
constexpr std::int64_t day = 24 * hour;
constexpr std::int64_t int_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t int_min = std::numeric_limits<std::int64_t>::min();

constexpr std::int64_t june_1_2026_0800 = 1780300800000;
constexpr std::int64_t year_0000_start = -62167219200000;
constexpr std::int64_t year_9999_end = 253402300799999;

}  // namespace

TEST_CASE("parse_rfc3339 reads UTC instants") {
    CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
    CHECK(parse_rfc3339("2026-06-01T08:00:00Z") == june_1_2026_0800);
    CHECK(parse_rfc3339("2000-02-29T12:00:00Z") == 951825600000);
    CHECK(parse_rfc3339("1969-12-31T23:59:59.999Z") == -1);
    CHECK(parse_rfc3339("0000-01-01T00:00:00Z") == year_0000_start);
    CHECK(parse_rfc3339("9999-12-31T23:59:59.999Z") == year_9999_end);
}

TEST_CASE("parse_rfc3339 applies offsets and lower-case letters") {
    CHECK(parse_rfc3339("2026-06-01T10:00:00+02:00") == june_1_2026_0800);
    CHECK(parse_rfc3339("2026-06-01T10:00:00.250+02:00") == june_1_2026_0800 + 250);
    CHECK(parse_rfc3339("2026-06-01T02:30:00-05:30") == june_1_2026_0800);
    CHECK(parse_rfc3339("2026-06-01T08:00:00-00:00") == june_1_2026_0800);
    CHECK(parse_rfc3339("2026-06-01t08:00:00z") == june_1_2026_0800);
    CHECK(parse_rfc3339("1970-01-01T00:30:00+01:00") == -30 * minute);
    // An offset may not carry the instant past the years a time holds in UTC.
    CHECK(parse_rfc3339("9999-12-31T22:59:59.999-01:00") == year_9999_end);
    CHECK_FALSE(parse_rfc3339("9999-12-31T23:59:59-01:00"));
    CHECK(parse_rfc3339("0000-01-01T01:00:00+01:00") == year_0000_start);
    CHECK_FALSE(parse_rfc3339("0000-01-01T00:00:00+01:00"));
}

TEST_CASE("parse_rfc3339 reads fractions as milliseconds, truncating") {
    CHECK(parse_rfc3339("1970-01-01T00:00:00.1Z") == 100);
    CHECK(parse_rfc3339("1970-01-01T00:00:00.12Z") == 120);
    CHECK(parse_rfc3339("1970-01-01T00:00:00.123Z") == 123);
    CHECK(parse_rfc3339("1970-01-01T00:00:00.123999999Z") == 123);
    CHECK(parse_rfc3339("1970-01-01T00:00:00.000Z") == 0);
}

TEST_CASE("parse_rfc3339 checks the calendar") {
    CHECK(parse_rfc3339("2024-02-29T00:00:00Z").has_value());
    CHECK(parse_rfc3339("2000-02-29T00:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339("2026-02-29T00:00:00Z"));
    CHECK_FALSE(parse_rfc3339("1900-02-29T00:00:00Z"));
    CHECK_FALSE(parse_rfc3339("2026-02-30T00:00:00Z"));
    CHECK_FALSE(parse_rfc3339("2026-04-31T00:00:00Z"));
    CHECK(parse_rfc3339("2026-12-31T00:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339("2026-13-01T00:00:00Z"));
    CHECK_FALSE(parse_rfc3339("2026-00-01T00:00:00Z"));
    CHECK_FALSE(parse_rfc3339("2026-01-00T00:00:00Z"));
    CHECK_FALSE(parse_rfc3339("2026-01-32T00:00:00Z"));
}

TEST_CASE("parse_rfc3339 checks the clock") {
    CHECK(parse_rfc3339("2026-06-01T23:59:59Z").has_value());
    CHECK_FALSE(parse_rfc3339("2026-06-01T24:00:00Z"));
    CHECK_FALSE(parse_rfc3339("2026-06-01T23:60:00Z"));
    CHECK_FALSE(parse_rfc3339("2026-06-01T23:59:60Z"));
    CHECK_FALSE(parse_rfc3339("2026-06-01T08:00:00+24:00"));
    CHECK_FALSE(parse_rfc3339("2026-06-01T08:00:00+02:60"));
}

TEST_CASE("parse_rfc3339 rejects malformed text") {
    for (const char* text : {
             "",
             "2026-06-01",
             "2026-06-01T08:00:00",      // no zone
             "2026-06-01T08:00Z",        // no seconds
             "2026-06-01 08:00:00Z",     // space for T
             "2026-6-01T08:00:00Z",      // one-digit month
             "26-06-01T08:00:00Z",       // two-digit year
             "2026-06-01T8:00:00Z",      // one-digit hour
             "2026-06-01T08:00:00.Z",    // empty fraction
             "2026-06-01T08:00:00,5Z",   // comma fraction
             "2026-06-01T08:00:00+0200", // offset without colon
             "2026-06-01T08:00:00+02",   // offset without minutes
             "2026-06-01T08:00:00ZZ",    // trailing text
             "2026-06-01T08:00:00Z ",    // trailing space
             " 2026-06-01T08:00:00Z",    // leading space
             "+2026-06-01T08:00:00Z",
             "2026/06/01T08:00:00Z",
         }) {
        CAPTURE(text);
        CHECK_FALSE(parse_rfc3339(text));
    }
}

TEST_CASE("format_rfc3339 writes UTC with Z and milliseconds only when present") {
    CHECK(format_rfc3339(0) == "1970-01-01T00:00:00Z");
    CHECK(format_rfc3339(june_1_2026_0800) == "2026-06-01T08:00:00Z");
    CHECK(format_rfc3339(june_1_2026_0800 + 250) == "2026-06-01T08:00:00.250Z");
    CHECK(format_rfc3339(june_1_2026_0800 + 7) == "2026-06-01T08:00:00.007Z");
    CHECK(format_rfc3339(-1) == "1969-12-31T23:59:59.999Z");
    CHECK(format_rfc3339(951825600000) == "2000-02-29T12:00:00Z");
    CHECK(format_rfc3339(year_0000_start) == "0000-01-01T00:00:00Z");
}

TEST_CASE("format_rfc3339 clamps years to 0000..9999") {
    CHECK(format_rfc3339(year_9999_end) == "9999-12-31T23:59:59.999Z");
    CHECK(format_rfc3339(year_9999_end + 1) == "9999-12-31T23:59:59.999Z");
    CHECK(format_rfc3339(int_max) == "9999-12-31T23:59:59.999Z");
    CHECK(format_rfc3339(year_0000_start - 1) == "0000-01-01T00:00:00Z");
    CHECK(format_rfc3339(int_min) == "0000-01-01T00:00:00Z");
}

TEST_CASE("format_rfc3339 and parse_rfc3339 round-trip over the whole calendar") {
    int mismatches = 0;
    for (std::int64_t t = year_0000_start; t <= year_9999_end; t += 37 * day + 12345678) {
        if (parse_rfc3339(format_rfc3339(t)) != t) ++mismatches;
    }
    CHECK(mismatches == 0);
    // Every day of a leap year and the years around it.
    const std::int64_t start = *parse_rfc3339("2023-01-01T00:00:00Z");
    for (int d = 0; d < 3 * 366; ++d) {
        const std::int64_t t = start + d * day + 13 * hour + 1;
        if (parse_rfc3339(format_rfc3339(t)) != t) ++mismatches;
    }
    CHECK(mismatches == 0);
}

TEST_CASE("parse_duration reads literals") {
    CHECK(parse_duration("250ms") == 250);
    CHECK(parse_duration("90s") == 90 * second);
    CHECK(parse_duration("15m") == 15 * minute);
    CHECK(parse_duration("2h") == 2 * hour);
    CHECK(parse_duration("7d") == 7 * day);
    CHECK(parse_duration("1h30m") == 90 * minute);
    CHECK(parse_duration("1d2h3m4s5ms") == day + 2 * hour + 3 * minute + 4 * second + 5);
    CHECK(parse_duration("1m1ms") == minute + 1);
    CHECK(parse_duration("0s") == 0);
    CHECK(parse_duration("0ms") == 0);
    CHECK(parse_duration("007s") == 7 * second);
}

TEST_CASE("parse_duration reads negative durations") {
    CHECK(parse_duration("-2h") == -2 * hour);
    CHECK(parse_duration("-1h30m") == -90 * minute);
    CHECK(parse_duration("-0s") == 0);
}

TEST_CASE("parse_duration rejects malformed literals") {
    for (const char* text : {"", "-", "--1s", "+1s", "s", "ms", "1", "1x", "1S", "1.5s", " 1s", "1s ",
                             "1h 30m", "30m1h", "1s1m", "1h1h", "1ms1ms", "1h-30m", "h1", "1hh"}) {
        CAPTURE(text);
        CHECK_FALSE(parse_duration(text));
    }
}

TEST_CASE("parse_duration refuses overflow") {
    CHECK(parse_duration("9223372036854775807ms") == int_max);
    CHECK(parse_duration("-9223372036854775808ms") == int_min);
    CHECK_FALSE(parse_duration("9223372036854775808ms"));
    CHECK_FALSE(parse_duration("-9223372036854775809ms"));
    CHECK_FALSE(parse_duration("99999999999999999999ms"));
    CHECK(parse_duration("106751991167d") == 106751991167 * day);
    CHECK_FALSE(parse_duration("106751991168d"));
    CHECK_FALSE(parse_duration("106751991167d1000000000h"));
}

TEST_CASE("format_duration writes literals, largest unit first") {
    CHECK(format_duration(0) == "0s");
    CHECK(format_duration(5400000) == "1h30m");
    CHECK(format_duration(250) == "250ms");
    CHECK(format_duration(90000) == "1m30s");
    CHECK(format_duration(7 * day) == "7d");
    CHECK(format_duration(1500) == "1s500ms");
    CHECK(format_duration(day + 1) == "1d1ms");
    CHECK(format_duration(-2 * hour) == "-2h");
    CHECK(format_duration(-1) == "-1ms");
}

TEST_CASE("format_duration and parse_duration round-trip") {
    for (const std::int64_t ms : {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, std::int64_t{999},
                                  std::int64_t{61001}, 3 * day + 4 * hour + 5 * minute + 6 * second + 7,
                                  -(3 * day + 7), int_max, int_min, int_min + 1}) {
        CAPTURE(ms);
        CHECK(parse_duration(format_duration(ms)) == ms);
    }
}

TEST_CASE("format_time applies strftime layouts in UTC") {
    CHECK(format_time(0, "%Y-%m-%d %H:%M:%S") == "1970-01-01 00:00:00");
    CHECK(format_time(june_1_2026_0800, "%F %T") == "2026-06-01 08:00:00");
    CHECK(format_time(june_1_2026_0800, "%A %a %B %b") == "Monday Mon June Jun");
    CHECK(format_time(june_1_2026_0800, "%j %w %u") == "152 1 1");
    CHECK(format_time(*parse_rfc3339("2024-12-31T23:00:00Z"), "%j %A") == "366 Tuesday");
    CHECK(format_time(951825600000, "%d/%m/%y %I%p") == "29/02/00 12PM");
    CHECK(format_time(0, "%Z %z") == "UTC +0000");
    CHECK(format_time(0, "100%% at %H") == "100% at 00");
    CHECK(format_time(0, "no conversions") == "no conversions");
    CHECK(format_time(-1, "%Y %H:%M:%S") == "1969 23:59:59");
}

TEST_CASE("format_time clamps years like format_rfc3339") {
    CHECK(format_time(int_max, "%Y-%m-%d") == "9999-12-31");
    CHECK(format_time(int_min, "%m-%d %H:%M") == "01-01 00:00");
}

#ifdef __GLIBC__
TEST_CASE("format_time accepts glibc flags and widths") {
    CHECK(format_time(june_1_2026_0800, "%-d.%-m.") == "1.6.");
    CHECK(format_time(june_1_2026_0800, "%_5Y|") == " 2026|");
}
#endif

TEST_CASE("format_time gives an empty string for an empty or unknown layout") {
    CHECK(format_time(0, "") == "");
    CHECK(format_time(0, "%Q") == "");
    CHECK(format_time(0, "%Y %") == "");
    CHECK(format_time(0, "%s") == "");        // depends on the local time zone
    CHECK(format_time(0, "%100Y") == "");     // widths are at most two digits
    CHECK(format_time(0, "%Y %k") == "");
}

TEST_CASE("format_time: E and O modify only the conversions they apply to, and a NUL is text") {
    // POSIX and glibc define %Ec %EC %Ex %EX %Ey %EY and %Od %Oe %OH %OI %Om %OM %OS %Ou %OU %OV
    // %Ow %OW %Oy; strftime writes any other pair back as it stands.
    CHECK(format_time(june_1_2026_0800, "%EY-%Om-%Od %OH:%OM") == "2026-06-01 08:00");
    CHECK(format_time(june_1_2026_0800, "%Ey %Oy %EC %Ou %Ow") == "26 26 20 1 1");
    for (const char* layout : {"%OY", "%Ea", "%EA", "%Eb", "%Ed", "%EH", "%Em", "%ES", "%Oa", "%OA", "%Oc", "%OF", "%Ox", "%OX", "%EZ"}) {
        CAPTURE(layout);
        CHECK(format_time(june_1_2026_0800, layout) == "");
    }
    CHECK(format_time(june_1_2026_0800, std::string("%Y\0%m", 5)) == std::string("2026\0" "06", 7));
    CHECK(format_time(june_1_2026_0800, std::string("\0", 1)) == std::string("\0", 1));
    CHECK(format_time(june_1_2026_0800, std::string("%\0", 2)) == "");  // a % before the NUL converts nothing
}

TEST_CASE("format_time refuses a result longer than a string may hold") {
    std::string layout;
    while (layout.size() * 99 / 4 <= flow::max_string_bytes) layout += "%99Y";
    CHECK_THROWS_WITH_AS(format_time(0, layout), doctest::Contains("string too long"), flow::RuntimeError);
    layout.resize(layout.size() / 8 * 4);  // about half of the bound, whole conversions
    CHECK(format_time(0, layout).size() == layout.size() / 4 * 99);
}

TEST_CASE("format_time handles long layouts") {
    std::string layout;
    std::string expected;
    for (int i = 0; i < 500; ++i) {
        layout += "%A %c|";
        expected += "Thursday Thu Jan  1 00:00:00 1970|";
    }
    CHECK(format_time(0, layout) == expected);
}
