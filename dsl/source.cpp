#include "dsl/source.hpp"

#include <algorithm>
#include <cctype>

namespace flow {

bool has_byte_order_mark(std::string_view text) { return text.substr(0, 3) == "\xEF\xBB\xBF"; }

std::size_t count_code_points(std::string_view utf8) {
    std::size_t n = 0;
    for (char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;  // every byte but a continuation starts one
    return n;
}

Source::Source(std::string name, std::string text) : name_(std::move(name)), text_(std::move(text)) {
    // A lone CR (old Mac files) ends a line as LF does. It becomes one, byte for byte, so that
    // the grammar, the scanners of error recovery and the positions all see the same lines,
    // and every offset stays that of the file.
    for (std::size_t i = 0; i < text_.size(); ++i)
        if (text_[i] == '\r' && (i + 1 == text_.size() || text_[i + 1] != '\n')) text_[i] = '\n';
    line_starts_.push_back(0);
    for (std::size_t i = 0; i < text_.size(); ++i)
        if (text_[i] == '\n') line_starts_.push_back(i + 1);
}

std::string Source::place(std::size_t offset) const {
    LineColumn at = locate(offset);
    return name_ + ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
}

LineColumn Source::locate(std::size_t offset) const {
    offset = std::min(offset, text_.size());
    auto after = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    auto line_index = static_cast<std::size_t>(after - line_starts_.begin()) - 1;
    std::size_t begin = line_starts_[line_index];
    if (line_index == 0 && has_byte_order_mark(text_)) begin = std::min<std::size_t>(3, offset);
    return {static_cast<int>(line_index) + 1, static_cast<int>(count_code_points(std::string_view(text_).substr(begin, offset - begin))) + 1};
}

std::string_view Source::line(int number) const {
    if (number < 1 || static_cast<std::size_t>(number) > line_starts_.size()) return {};
    std::size_t begin = line_starts_[number - 1];
    std::size_t end = text_.find('\n', begin);
    if (end == std::string::npos) end = text_.size();
    if (end > begin && text_[end - 1] == '\r') --end;
    if (number == 1 && has_byte_order_mark(text_)) begin = std::min<std::size_t>(3, end);
    return std::string_view(text_).substr(begin, end - begin);
}

std::size_t skip_blank(std::string_view text, std::size_t at) {
    while (at < text.size()) {
        if (std::isspace(static_cast<unsigned char>(text[at]))) {
            ++at;
        } else if (text.compare(at, 2, "//") == 0) {
            at = text.find('\n', at);
            if (at == std::string_view::npos) return text.size();
        } else if (text.compare(at, 2, "/*") == 0) {
            std::size_t end = text.find("*/", at + 2);
            if (end == std::string_view::npos) return at;  // unterminated: reported by the parser
            at = end + 2;
        } else {
            break;
        }
    }
    return at;
}

}  // namespace flow
