#include "dsl/diagnostics.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

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

static const char* severity_word(Severity s) { return s == Severity::Error ? "error" : "warning"; }

std::string format_text(const Diagnostic& d) {
    std::string out = d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) + ": " +
                      severity_word(d.severity) + ": " + d.message + "\n";
    if (!d.source) return out;
    std::string_view line = d.source->line(d.line);
    out.append(line);
    out += '\n';
    // One blank per code point before the column, keeping tabs, so that the caret lines up under
    // the source as the terminal shows it.
    std::size_t caret_at = static_cast<std::size_t>(d.column - 1);
    std::size_t characters = 0;
    for (char c : line) {
        if ((static_cast<unsigned char>(c) & 0xC0) == 0x80) continue;  // inside a code point
        if (characters++ == caret_at) break;
        out += c == '\t' ? '\t' : ' ';
    }
    out += '^';
    std::size_t line_length = count_code_points(line);
    // `~` under the rest of the range on this line: to its end, or to the end of the line when
    // the range goes on to the next ones.
    std::size_t rest_of_line = line_length > caret_at + 1 ? line_length - caret_at - 1 : 0;
    if (d.end_line > d.line) out.append(rest_of_line, '~');
    else if (d.end_line == d.line && d.end_column > d.column + 1)
        out.append(std::min(static_cast<std::size_t>(d.end_column - d.column - 1), rest_of_line), '~');
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
