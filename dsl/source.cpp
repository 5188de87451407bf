#include "dsl/source.hpp"

#include <algorithm>

namespace flow {

Source::Source(std::string name, std::string text) : name_(std::move(name)), text_(std::move(text)) {
    line_starts_.push_back(0);
    for (std::size_t i = 0; i < text_.size(); ++i)
        if (text_[i] == '\n') line_starts_.push_back(i + 1);
}

LineColumn Source::locate(std::size_t offset) const {
    offset = std::min(offset, text_.size());
    auto after = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    auto line_index = static_cast<std::size_t>(after - line_starts_.begin()) - 1;
    return {static_cast<int>(line_index) + 1, static_cast<int>(offset - line_starts_[line_index]) + 1};
}

std::string_view Source::line(int number) const {
    if (number < 1 || static_cast<std::size_t>(number) > line_starts_.size()) return {};
    std::size_t begin = line_starts_[number - 1];
    std::size_t end = text_.find('\n', begin);
    if (end == std::string::npos) end = text_.size();
    if (end > begin && text_[end - 1] == '\r') --end;
    return std::string_view(text_).substr(begin, end - begin);
}

}  // namespace flow
