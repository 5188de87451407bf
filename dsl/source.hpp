// A source file held in memory, and the translation of byte offsets to lines and columns.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace flow {

struct LineColumn {
    int line = 0;    // 1-based
    int column = 0;  // 1-based, in Unicode code points (a tab counts one)
};

// Whether a text starts with a UTF-8 byte order mark (which is no text: columns skip it).
bool has_byte_order_mark(std::string_view text);
// The number of code points in UTF-8 text (each byte that is not a continuation byte starts one).
std::size_t count_code_points(std::string_view utf8);
// The first offset from `at` that is neither white space nor a comment (`// …`, `/* … */`); an
// unterminated `/*` stops it at the comment.
std::size_t skip_blank(std::string_view text, std::size_t at);

class Source {
public:
    Source(std::string name, std::string text);

    const std::string& name() const { return name_; }
    const std::string& text() const { return text_; }

    LineColumn locate(std::size_t offset) const;
    // "NAME:LINE:COL" of an offset, as a message names another place.
    std::string place(std::size_t offset) const;
    // The text of a 1-based line, without its line break (nor a byte order mark).
    std::string_view line(int number) const;

private:
    std::string name_;
    std::string text_;
    std::vector<std::size_t> line_starts_;
};

// A place in a source: a byte range [begin, end). Kept small: the IR stores one per node.
struct Span {
    const Source* source = nullptr;
    int begin = -1;
    int end = -1;
    bool known() const { return source && begin >= 0; }
};

}  // namespace flow
