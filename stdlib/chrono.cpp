#include "stdlib/chrono.hpp"
#include "stdlib/value.hpp"

#include <algorithm>
#include <array>
#include <ctime>
#include <limits>

namespace flow::chrono {

namespace {

constexpr std::int64_t ms_per_second = 1000;
constexpr std::int64_t ms_per_minute = 60 * ms_per_second;
constexpr std::int64_t ms_per_hour = 60 * ms_per_minute;
constexpr std::int64_t ms_per_day = 24 * ms_per_hour;

// ---- Calendar arithmetic (proleptic Gregorian, UTC) ----
//
// Years are counted from March, so that February, with its leap day, ends the year:
// the day of the year then depends only on the month, and leap years only on the year.

constexpr std::int64_t days_per_400_years = 146097;
// Days from 0000-03-01 to 1970-01-01.
constexpr std::int64_t days_to_epoch = 719468;

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

constexpr std::int64_t floor_mod(std::int64_t a, std::int64_t b) {
    return a - b * floor_div(a, b);
}

constexpr bool is_leap_year(std::int64_t year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

constexpr int days_in_month(std::int64_t year, int month) {
    constexpr std::array<int, 12> days = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

// Days from the start of a March-based year to the first of `march_month` (March = 0).
constexpr std::int64_t days_before_month(std::int64_t march_month) {
    return (153 * march_month + 2) / 5;
}

// Days from 0000-03-01 to the start of the March-based `year` (0 <= year).
constexpr std::int64_t days_before_year(std::int64_t year) {
    return 365 * year + year / 4 - year / 100 + year / 400;
}

struct Date {
    std::int64_t year;
    int month;  // 1..12
    int day;    // 1..31
};

// Days since 1970-01-01 of a valid date.
constexpr std::int64_t days_from_civil(Date date) {
    const std::int64_t march_year = date.month <= 2 ? date.year - 1 : date.year;
    const std::int64_t march_month = (date.month + 9) % 12;
    const std::int64_t cycles = floor_div(march_year, 400);
    const std::int64_t year_of_cycle = march_year - cycles * 400;
    return cycles * days_per_400_years + days_before_year(year_of_cycle) +
           days_before_month(march_month) + date.day - 1 - days_to_epoch;
}

// The date `days` after 1970-01-01.
constexpr Date civil_from_days(std::int64_t days) {
    const std::int64_t since_origin = days + days_to_epoch;
    const std::int64_t cycles = floor_div(since_origin, days_per_400_years);
    const std::int64_t day_of_cycle = since_origin - cycles * days_per_400_years;
    std::int64_t year_of_cycle = day_of_cycle / 365;
    while (days_before_year(year_of_cycle) > day_of_cycle) --year_of_cycle;
    const std::int64_t day_of_year = day_of_cycle - days_before_year(year_of_cycle);
    std::int64_t march_month = (5 * day_of_year + 2) / 153;
    const int day = static_cast<int>(day_of_year - days_before_month(march_month) + 1);
    const int month = static_cast<int>(march_month < 10 ? march_month + 3 : march_month - 9);
    const std::int64_t year = cycles * 400 + year_of_cycle + (month <= 2 ? 1 : 0);
    return {year, month, day};
}

static_assert(days_from_civil({1970, 1, 1}) == 0);
static_assert(days_from_civil({2000, 3, 1}) == 11017);
static_assert(civil_from_days(11016).month == 2 && civil_from_days(11016).day == 29);

constexpr std::int64_t earliest_ms = days_from_civil({0, 1, 1}) * ms_per_day;
constexpr std::int64_t latest_ms = days_from_civil({9999, 12, 31}) * ms_per_day + ms_per_day - 1;

// An instant split into its UTC calendar fields; years clamped to 0000..9999.
struct CivilTime {
    Date date;
    int hour, minute, second, millisecond;
    int weekday;      // 0 = Sunday
    int day_of_year;  // 0 = January 1st
};

CivilTime to_civil(std::int64_t epoch_ms) {
    const std::int64_t ms = epoch_ms < earliest_ms ? earliest_ms : epoch_ms > latest_ms ? latest_ms : epoch_ms;
    const std::int64_t days = floor_div(ms, ms_per_day);
    const std::int64_t ms_of_day = ms - days * ms_per_day;
    CivilTime civil{};
    civil.date = civil_from_days(days);
    civil.hour = static_cast<int>(ms_of_day / ms_per_hour);
    civil.minute = static_cast<int>(ms_of_day % ms_per_hour / ms_per_minute);
    civil.second = static_cast<int>(ms_of_day % ms_per_minute / ms_per_second);
    civil.millisecond = static_cast<int>(ms_of_day % ms_per_second);
    civil.weekday = static_cast<int>(floor_mod(days + 4, 7));  // 1970-01-01 was a Thursday
    civil.day_of_year = static_cast<int>(days - days_from_civil({civil.date.year, 1, 1}));
    return civil;
}

// ---- Text scanning ----

class Scanner {
public:
    explicit Scanner(std::string_view text) : text_(text) {}

    bool at_end() const { return pos_ == text_.size(); }
    char peek() const { return at_end() ? '\0' : text_[pos_]; }
    bool peek_digit() const { return peek() >= '0' && peek() <= '9'; }

    // Consumes `c` (or its lower-case form, when given) if it comes next.
    bool accept(char c, char lower = '\0') {
        if (at_end() || (text_[pos_] != c && (lower == '\0' || text_[pos_] != lower))) return false;
        ++pos_;
        return true;
    }

    // Consumes exactly `count` digits into `out`.
    bool fixed_digits(int count, int& out) {
        out = 0;
        for (int i = 0; i < count; ++i) {
            if (!peek_digit()) return false;
            out = out * 10 + (text_[pos_++] - '0');
        }
        return true;
    }

    // Consumes one or more digits into `out`; false when there are none or on overflow.
    bool unsigned_digits(std::uint64_t& out) {
        if (!peek_digit()) return false;
        out = 0;
        while (peek_digit()) {
            const std::uint64_t digit = static_cast<std::uint64_t>(text_[pos_++] - '0');
            if (__builtin_mul_overflow(out, 10u, &out) || __builtin_add_overflow(out, digit, &out))
                return false;
        }
        return true;
    }

    // Consumes a fraction's digits after the '.', returning its first three as milliseconds.
    bool fraction_ms(int& out) {
        if (!peek_digit()) return false;
        out = 0;
        int scale = 100;
        while (peek_digit()) {
            out += (text_[pos_++] - '0') * scale;
            scale /= 10;
        }
        return true;
    }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
};

bool parse_date(Scanner& scan, Date& date) {
    int year = 0;
    if (!scan.fixed_digits(4, year) || !scan.accept('-') || !scan.fixed_digits(2, date.month) ||
        !scan.accept('-') || !scan.fixed_digits(2, date.day))
        return false;
    date.year = year;
    return date.month >= 1 && date.month <= 12 && date.day >= 1 &&
           date.day <= days_in_month(date.year, date.month);
}

// Parses "HH:MM:SS[.frac]" into milliseconds of the day.
bool parse_clock(Scanner& scan, std::int64_t& ms_of_day) {
    int hour = 0, minute = 0, second = 0, millisecond = 0;
    if (!scan.fixed_digits(2, hour) || !scan.accept(':') || !scan.fixed_digits(2, minute) ||
        !scan.accept(':') || !scan.fixed_digits(2, second))
        return false;
    if (scan.accept('.') && !scan.fraction_ms(millisecond)) return false;
    if (hour > 23 || minute > 59 || second > 59) return false;
    ms_of_day = hour * ms_per_hour + minute * ms_per_minute + second * ms_per_second + millisecond;
    return true;
}

// Parses "Z" or "±HH:MM" into the offset from UTC in milliseconds.
bool parse_offset(Scanner& scan, std::int64_t& offset_ms) {
    offset_ms = 0;
    if (scan.accept('Z', 'z')) return true;
    const bool negative = scan.peek() == '-';
    if (!scan.accept('+') && !scan.accept('-')) return false;
    int hours = 0, minutes = 0;
    if (!scan.fixed_digits(2, hours) || !scan.accept(':') || !scan.fixed_digits(2, minutes))
        return false;
    if (hours > 23 || minutes > 59) return false;
    offset_ms = (negative ? -1 : 1) * (hours * ms_per_hour + minutes * ms_per_minute);
    return true;
}

void append_padded(std::string& out, std::int64_t value, int width) {
    const std::string digits = std::to_string(value);
    if (static_cast<int>(digits.size()) < width) out.append(width - digits.size(), '0');
    out += digits;
}

// ---- Durations ----

struct DurationUnit {
    std::string_view suffix;
    std::uint64_t ms;
};

// Largest first: the order a literal must follow.
constexpr std::array<DurationUnit, 5> duration_units = {{
    {"d", ms_per_day},
    {"h", ms_per_hour},
    {"m", ms_per_minute},
    {"s", ms_per_second},
    {"ms", 1},
}};

// The index in duration_units of the unit that comes next, or -1.
int accept_unit(Scanner& scan) {
    if (scan.accept('d')) return 0;
    if (scan.accept('h')) return 1;
    if (scan.accept('m')) return scan.accept('s') ? 4 : 2;
    if (scan.accept('s')) return 3;
    return -1;
}

// ---- strftime layouts ----

constexpr std::string_view strftime_conversions = "aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyYzZ%";
constexpr std::string_view strftime_flags = "_-0^#";
// The conversions the `E` and `O` modifiers apply to (POSIX, glibc): strftime writes any other
// pair back as it stands, text that depends on nothing.
constexpr std::string_view strftime_e_conversions = "cCxXyY";
constexpr std::string_view strftime_o_conversions = "deHImMSuUVwWy";

// The first conversion of a layout that strftime does not define (glibc flags and a width of
// at most two digits allowed): where it begins and ends, and why.
struct InvalidConversion {
    enum class Why { Unknown, Unfinished, TooWide } why;
    std::size_t begin, end;
};

// The first invalid conversion of `layout`, or nothing when every conversion is one strftime
// defines, so that the result depends on nothing but the instant.
std::optional<InvalidConversion> first_invalid_conversion(std::string_view layout) {
    using Why = InvalidConversion::Why;
    for (std::size_t i = 0; i < layout.size(); ++i) {
        if (layout[i] != '%') continue;
        const std::size_t begin = i++;
        while (i < layout.size() && strftime_flags.find(layout[i]) != std::string_view::npos) ++i;
        for (int width = 0; width < 2 && i < layout.size() && layout[i] >= '0' && layout[i] <= '9'; ++width)
            ++i;
        if (i < layout.size() && layout[i] >= '0' && layout[i] <= '9') return InvalidConversion{Why::TooWide, begin, i + 1};
        std::string_view allowed = strftime_conversions;
        if (i < layout.size() && (layout[i] == 'E' || layout[i] == 'O'))
            allowed = layout[i++] == 'E' ? strftime_e_conversions : strftime_o_conversions;
        if (i >= layout.size()) return InvalidConversion{Why::Unfinished, begin, layout.size()};
        if (allowed.find(layout[i]) == std::string_view::npos) return InvalidConversion{Why::Unknown, begin, i + 1};
    }
    return std::nullopt;
}

bool is_valid_layout(std::string_view layout) { return !first_invalid_conversion(layout); }

std::tm to_tm(std::int64_t epoch_ms) {
    const CivilTime civil = to_civil(epoch_ms);
    std::tm tm{};
    tm.tm_year = static_cast<int>(civil.date.year - 1900);
    tm.tm_mon = civil.date.month - 1;
    tm.tm_mday = civil.date.day;
    tm.tm_hour = civil.hour;
    tm.tm_min = civil.minute;
    tm.tm_sec = civil.second;
    tm.tm_wday = civil.weekday;
    tm.tm_yday = civil.day_of_year;
    tm.tm_isdst = 0;
#ifdef __GLIBC__
    tm.tm_gmtoff = 0;
    tm.tm_zone = "UTC";  // %Z; also keeps strftime from consulting the local time zone
#endif
    return tm;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339(std::string_view text) {
    Scanner scan(text);
    Date date{};
    std::int64_t ms_of_day = 0, offset_ms = 0;
    if (!parse_date(scan, date) || !scan.accept('T', 't') || !parse_clock(scan, ms_of_day) ||
        !parse_offset(scan, offset_ms) || !scan.at_end())
        return std::nullopt;
    // The offset may carry an instant past the years RFC 3339 can write in UTC
    // ("9999-12-31T23:59:59-01:00"): no time holds it.
    const std::int64_t instant = days_from_civil(date) * ms_per_day + ms_of_day - offset_ms;
    if (!in_rfc3339_range(instant)) return std::nullopt;
    return instant;
}

bool in_rfc3339_range(std::int64_t epoch_ms) { return epoch_ms >= earliest_ms && epoch_ms <= latest_ms; }

std::string format_rfc3339(std::int64_t epoch_ms) {
    const CivilTime civil = to_civil(epoch_ms);
    std::string out;
    out.reserve(24);
    append_padded(out, civil.date.year, 4);
    out += '-';
    append_padded(out, civil.date.month, 2);
    out += '-';
    append_padded(out, civil.date.day, 2);
    out += 'T';
    append_padded(out, civil.hour, 2);
    out += ':';
    append_padded(out, civil.minute, 2);
    out += ':';
    append_padded(out, civil.second, 2);
    if (civil.millisecond != 0) {
        out += '.';
        append_padded(out, civil.millisecond, 3);
    }
    out += 'Z';
    return out;
}

std::optional<std::int64_t> parse_duration(std::string_view text) {
    Scanner scan(text);
    const bool negative = scan.accept('-');
    // The magnitude may reach 2^63 when negative (INT64_MIN).
    const std::uint64_t limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + (negative ? 1 : 0);
    std::uint64_t total = 0;
    int previous_unit = -1;
    do {
        std::uint64_t count = 0;
        if (!scan.unsigned_digits(count)) return std::nullopt;
        const int unit = accept_unit(scan);
        if (unit <= previous_unit) return std::nullopt;  // also when no unit follows (-1)
        previous_unit = unit;
        std::uint64_t part = 0;
        if (__builtin_mul_overflow(count, duration_units[unit].ms, &part) ||
            __builtin_add_overflow(total, part, &total) || total > limit)
            return std::nullopt;
    } while (!scan.at_end());
    if (!negative) return static_cast<std::int64_t>(total);
    return total == limit ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(total);
}

std::string format_duration(std::int64_t ms) {
    if (ms == 0) return "0s";
    std::string out = ms < 0 ? "-" : "";
    // The magnitude, computed in unsigned arithmetic so that INT64_MIN has one.
    std::uint64_t rest = ms < 0 ? 0 - static_cast<std::uint64_t>(ms) : static_cast<std::uint64_t>(ms);
    for (const DurationUnit& unit : duration_units) {
        const std::uint64_t count = rest / unit.ms;
        rest %= unit.ms;
        if (count == 0) continue;
        out += std::to_string(count);
        out += unit.suffix;
    }
    return out;
}

namespace {

// One piece of a layout, holding no NUL (strftime reads a C string).
std::string format_piece(const std::tm& tm, const std::string& piece) {
    if (piece.empty()) return "";
    // Each conversion writes at most a few dozen characters (widths are capped at 99), and
    // nothing is written past the longest string a value may hold.
    const std::size_t max_size = std::min(piece.size() * 128 + 64, max_string_bytes + 1);
    for (std::size_t size = 256;; size *= 2) {
        if (size > max_size) size = max_size;
        std::string out(size, '\0');
        const std::size_t written = std::strftime(out.data(), out.size(), piece.c_str(), &tm);
        if (written > 0 || size == max_size) {
            // Nothing written into the most room: more than a string may hold (a layout writes
            // its plain characters, so its result is never empty).
            if (written == 0 && max_size == max_string_bytes + 1) check_string_size(max_size);
            out.resize(written);
            return out;
        }
    }
}

}  // namespace

std::optional<std::string> layout_problem(std::string_view layout) {
    if (layout.empty()) return "an empty layout always gives \"\"";
    auto invalid = first_invalid_conversion(layout);
    if (!invalid) return std::nullopt;
    // The whole character that ends it (`%é`), and a long run of flags cut short, on a
    // character's boundary.
    std::size_t end = invalid->end;
    while (end < layout.size() && (static_cast<unsigned char>(layout[end]) & 0xC0) == 0x80) ++end;
    std::string conversion(layout.substr(invalid->begin, end - invalid->begin));
    if (conversion.size() > 24) {
        std::size_t cut = 24;
        while (cut > 0 && (static_cast<unsigned char>(conversion[cut]) & 0xC0) == 0x80) --cut;
        conversion = conversion.substr(0, cut) + "…";
    }
    switch (invalid->why) {
    case InvalidConversion::Why::Unfinished:
        return "the layout ends in an unfinished conversion '" + conversion + "' (a '%' is written %%)";
    case InvalidConversion::Why::TooWide:
        return "'" + conversion + "' has a width of more than two digits, so it would always give \"\"";
    case InvalidConversion::Why::Unknown: break;
    }
    return "'" + conversion + "' is not a conversion it supports, so it would always give \"\"";
}

std::string format_time(std::int64_t epoch_ms, std::string_view layout) {
    if (layout.empty() || !is_valid_layout(layout)) return "";
    const std::tm tm = to_tm(epoch_ms);
    // A NUL (`\u{0}`) in the layout is text like any other character: the pieces between are
    // formatted one by one.
    std::string out;
    for (std::size_t from = 0;;) {
        const std::size_t nul = layout.find('\0', from);
        out += format_piece(tm, std::string(layout.substr(from, nul == std::string_view::npos ? std::string_view::npos : nul - from)));
        check_string_size(out.size());
        if (nul == std::string_view::npos) return out;
        out += '\0';
        from = nul + 1;
    }
}

}  // namespace flow::chrono
