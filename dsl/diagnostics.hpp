// The one place that records and formats diagnostics, for the parser and every check.
#pragma once

#include "dsl/source.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace flow {

enum class Severity { Error, Warning };

struct Diagnostic {
    Severity severity = Severity::Error;
    const Source* source = nullptr;  // may be null for errors about the command line
    std::string file;
    int line = 0, column = 0, end_line = 0, end_column = 0;
    std::string message;
    int begin = -1;  // byte offset in the source, for ordering
};

class Diagnostics {
public:
    void error(const Span& where, std::string message) { add(Severity::Error, where, std::move(message)); }
    void warning(const Span& where, std::string message) { add(Severity::Warning, where, std::move(message)); }
    // A diagnostic about a file as a whole (unreadable, say): reported at 1:1.
    void file_error(const std::string& file, std::string message);

    const std::vector<Diagnostic>& all() const { return list_; }
    int error_count() const;
    int warning_count() const;
    bool has_errors() const { return error_count() > 0; }

    // Names a file, so that its diagnostics are ordered after those of the files named before
    // it; a file not named is ordered by its first diagnostic.
    void name_file(const std::string& file);
    // Orders by file (in the order they were named) and position.
    void sort();

private:
    void add(Severity severity, const Span& where, std::string message);
    std::vector<Diagnostic> list_;
    std::vector<std::string> file_order_;
};

// A file name or a message on one line of text, whatever it holds (an import path with a `\n`
// in it): each control character written as the escape that would give it in a Flow string.
// For display: a backslash stays as it is, so `\n` written out and a newline look the same.
std::string one_line(std::string_view text);

// `FILE:LINE:COL: error: message`, the source line, and a caret (with `~` under the rest of
// the range on the same line), as GCC and Clang print them. Ends with a newline.
std::string format_text(const Diagnostic& diagnostic);

// `{"valid", "error_count", "warning_count", "diagnostics": [...]}` as docs/flowc.md gives it.
// `valid` is false when there is an error, or a warning and `warnings_are_errors` (--werror).
std::string format_json(const Diagnostics& diagnostics, bool warnings_are_errors = false);

}  // namespace flow
