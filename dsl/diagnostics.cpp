#include "dsl/diagnostics.hpp"
#include "stdlib/utf8.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

namespace flow {

void Diagnostics::add(Severity severity, const Span& where, std::string message) {
    Diagnostic d;
    d.severity = severity;
    d.message = std::move(message);
    if (where.source) {
        d.source = where.source;
        d.file = where.source->name();
        int begin = std::max(where.begin, 0);
        int end = std::max(where.end, begin);
        LineColumn from = where.source->locate(static_cast<std::size_t>(begin));
        LineColumn to = where.source->locate(static_cast<std::size_t>(end));
        d.line = from.line;
        d.column = from.column;
        d.end_line = to.line;
        d.end_column = to.column;
        d.begin = begin;
        if (std::find(file_order_.begin(), file_order_.end(), d.file) == file_order_.end())
            file_order_.push_back(d.file);
    }
    list_.push_back(std::move(d));
}

void Diagnostics::file_error(const std::string& file, std::string message) {
    Diagnostic d;
    d.file = file;
    d.line = d.column = d.end_line = d.end_column = 1;
    d.message = std::move(message);
    if (std::find(file_order_.begin(), file_order_.end(), file) == file_order_.end())
        file_order_.push_back(file);
    list_.push_back(std::move(d));
}

void Diagnostics::name_file(const std::string& file) {
    if (std::find(file_order_.begin(), file_order_.end(), file) == file_order_.end()) file_order_.push_back(file);
}

int Diagnostics::error_count() const {
    return static_cast<int>(std::count_if(list_.begin(), list_.end(),
                                          [](const Diagnostic& d) { return d.severity == Severity::Error; }));
}

int Diagnostics::warning_count() const { return static_cast<int>(list_.size()) - error_count(); }

void Diagnostics::sort() {
    auto rank = [&](const Diagnostic& d) {
        return std::find(file_order_.begin(), file_order_.end(), d.file) - file_order_.begin();
    };
    std::stable_sort(list_.begin(), list_.end(), [&](const Diagnostic& a, const Diagnostic& b) {
        if (rank(a) != rank(b)) return rank(a) < rank(b);
        return a.begin < b.begin;
    });
    // The same message at the same place twice (a file checked twice) is said once.
    list_.erase(std::unique(list_.begin(), list_.end(),
                            [](const Diagnostic& a, const Diagnostic& b) {
                                return a.file == b.file && a.begin == b.begin && a.message == b.message &&
                                       a.severity == b.severity;
                            }),
                list_.end());
}

namespace {

// How many columns a terminal gives a code point, as GCC's diagnostics count them: 0 for
// combining marks and zero-width characters, 2 for East Asian wide and fullwidth characters
// and emoji, 1 otherwise.
int display_width(char32_t c) {
    struct Range {
        char32_t first, last;
    };
    static constexpr Range zero[] = {{0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A}, {0x064B, 0x065F},
                                     {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200F},
                                     {0x20D0, 0x20FF}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0100, 0xE01EF}};
    static constexpr Range wide[] = {
        {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},   {0x23F0, 0x23F0},
        {0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},   {0x2648, 0x2653},   {0x267F, 0x267F},
        {0x2693, 0x2693},   {0x26A1, 0x26A1},   {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},
        {0x26CE, 0x26CE},   {0x26D4, 0x26D4},   {0x26EA, 0x26EA},   {0x26F2, 0x26F3},   {0x26F5, 0x26F5},
        {0x26FA, 0x26FA},   {0x26FD, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},   {0x2728, 0x2728},
        {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},   {0x2757, 0x2757},   {0x2795, 0x2797},
        {0x27B0, 0x27B0},   {0x27BF, 0x27BF},   {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},
        {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
        {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},   {0xFE30, 0xFE6F},
        {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x16FE0, 0x16FE4}, {0x17000, 0x18CFF}, {0x1B000, 0x1B2FF},
        {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A}, {0x1F200, 0x1F202},
        {0x1F210, 0x1F23B}, {0x1F240, 0x1F248}, {0x1F250, 0x1F251}, {0x1F260, 0x1F265}, {0x1F300, 0x1F320},
        {0x1F32D, 0x1F335}, {0x1F337, 0x1F37C}, {0x1F37E, 0x1F393}, {0x1F3A0, 0x1F3CA}, {0x1F3CF, 0x1F3D3},
        {0x1F3E0, 0x1F3F0}, {0x1F3F4, 0x1F3F4}, {0x1F3F8, 0x1F43E}, {0x1F440, 0x1F440}, {0x1F442, 0x1F4FC},
        {0x1F4FF, 0x1F53D}, {0x1F54B, 0x1F54E}, {0x1F550, 0x1F567}, {0x1F57A, 0x1F57A}, {0x1F595, 0x1F596},
        {0x1F5A4, 0x1F5A4}, {0x1F5FB, 0x1F64F}, {0x1F680, 0x1F6C5}, {0x1F6CC, 0x1F6CC}, {0x1F6D0, 0x1F6D2},
        {0x1F6D5, 0x1F6D7}, {0x1F6EB, 0x1F6EC}, {0x1F6F4, 0x1F6FC}, {0x1F7E0, 0x1F7EB}, {0x1F90C, 0x1F93A},
        {0x1F93C, 0x1F945}, {0x1F947, 0x1F9FF}, {0x1FA70, 0x1FAFF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD}};
    auto in = [c](const auto& ranges) {
        return std::any_of(std::begin(ranges), std::end(ranges), [c](const Range& r) { return c >= r.first && c <= r.last; });
    };
    if (c < 0x300) return 1;
    if (in(zero)) return 0;
    return in(wide) ? 2 : 1;
}

}  // namespace

static const char* severity_word(Severity s) { return s == Severity::Error ? "error" : "warning"; }

std::string one_line(std::string_view message) {
    std::string out;
    out.reserve(message.size());
    for (char c : message) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (byte < 0x20 || byte == 0x7F) {
            char escape[16];
            std::snprintf(escape, sizeof escape, "\\u{%X}", static_cast<unsigned>(byte));
            out += escape;
        } else {
            out += c;
        }
    }
    return out;
}

namespace {

// The source line as UTF-8 text: a byte that starts no character (in a file refused for it) is
// shown as U+FFFD, one for each, as the caret line counts it.
std::string shown_line(std::string_view line) {
    if (utf8::first_invalid(line) == std::string_view::npos) return std::string(line);
    std::string out;
    for (std::size_t pos = 0; pos < line.size();) {
        const utf8::CodePoint cp = utf8::decode(line, pos);
        utf8::encode(cp.value, out);
        pos += cp.size;
    }
    return out;
}

}  // namespace

std::string format_text(const Diagnostic& d) {
    std::string out = one_line(d.file) + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) + ": " +
                      severity_word(d.severity) + ": " + one_line(d.message) + "\n";
    if (!d.source) return out;
    std::string_view line = d.source->line(d.line);
    out += shown_line(line);
    out += '\n';
    // The caret line, as the terminal shows the source: a blank for each column a character
    // takes before the caret (two for a wide one, none for a combining mark; tabs kept as tabs),
    // then `^` and `~` under the range's characters on this line (to the end of the line when the
    // range goes on to the next ones).
    const std::size_t caret_at = static_cast<std::size_t>(d.column - 1);  // in code points
    const std::size_t range_end = d.end_line > d.line    ? std::string_view::npos
                                  : d.end_line == d.line ? std::max(static_cast<std::size_t>(d.end_column - 1), caret_at + 1)
                                                         : caret_at + 1;
    std::size_t index = 0;
    bool marked = false;
    for (std::size_t pos = 0; pos < line.size() && index < range_end; ++index) {
        const utf8::CodePoint cp = utf8::decode(line, pos);
        pos += cp.size;
        const int width = cp.value == '\t' ? 1 : display_width(cp.value);
        if (index < caret_at) {
            if (cp.value == '\t') out += '\t';
            else out.append(static_cast<std::size_t>(width), ' ');
            continue;
        }
        for (int column = 0; column < width; ++column) {
            out += marked ? '~' : '^';
            marked = true;
        }
    }
    if (!marked) out += '^';  // at the end of the line
    out += '\n';
    return out;
}

std::string format_json(const Diagnostics& diagnostics, bool warnings_are_errors) {
    nlohmann::json list = nlohmann::json::array();
    for (const Diagnostic& d : diagnostics.all()) {
        list.push_back({{"severity", severity_word(d.severity)},
                        {"file", d.file},
                        {"line", d.line},
                        {"column", d.column},
                        {"end_line", d.end_line},
                        {"end_column", d.end_column},
                        {"message", d.message}});
    }
    nlohmann::json doc = {{"valid", !diagnostics.has_errors() && !(warnings_are_errors && diagnostics.warning_count() > 0)},
                          {"error_count", diagnostics.error_count()},
                          {"warning_count", diagnostics.warning_count()},
                          {"diagnostics", std::move(list)}};
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace flow
