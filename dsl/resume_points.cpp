#include "dsl/resume_points.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace flow {

namespace {

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

constexpr std::array<std::string_view, 5> declaration_keywords = {"import", "type", "event", "command", "workflow"};
constexpr std::array<std::string_view, 8> statement_keywords = {"let", "emit", "compensate", "goto",
                                                                  "complete", "fail", "cancel", "if"};
constexpr std::array<std::string_view, 10> member_keywords = {"state", "start", "on",      "var",   "key",
                                                               "correlate", "version", "entry", "after", "at"};

}  // namespace

ResumePoints::ResumePoints(const std::string& text) : text_(text) {
    // The block comments, skipping strings (which end on their line) and line comments.
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '"') {
            for (++i; i < text.size() && text[i] != '"' && text[i] != '\n'; ++i)
                if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] != '\n') ++i;  // a string ends on its line
        } else if (text.compare(i, 2, "//") == 0) {
            i = text.find('\n', i);
            if (i == std::string::npos) break;
        } else if (text.compare(i, 2, "/*") == 0) {
            const std::size_t close = text.find("*/", i + 2);
            const std::size_t end = close == std::string::npos ? text.size() : close + 2;
            comments_.emplace_back(i, end);
            i = end - 1;
        }
    }
}

bool ResumePoints::in_block_comment(std::size_t at) const {
    auto after = std::upper_bound(comments_.begin(), comments_.end(), at,
                                  [](std::size_t offset, const auto& comment) { return offset < comment.first; });
    return after != comments_.begin() && at < std::prev(after)->second;
}

bool ResumePoints::first_on_line(std::size_t at) const {
    for (std::size_t i = at; i > 0 && text_[i - 1] != '\n'; --i)
        if (text_[i - 1] != ' ' && text_[i - 1] != '\t') return false;
    return !in_block_comment(at);
}

std::size_t ResumePoints::skip_spaces(std::size_t at, std::size_t end) const {
    while (at < end && (text_[at] == ' ' || text_[at] == '\t')) ++at;
    return at;
}

bool ResumePoints::keyword_at(std::size_t at, std::size_t length, std::size_t end) const {
    std::size_t after = at + length;
    if (after > end || (after < end && is_word_char(text_[after]))) return false;
    after = skip_spaces(after, end);
    return after >= end || (text_[after] != ':' && text_[after] != '?');
}

template <class Starts>
std::size_t ResumePoints::next_line_starting(std::size_t from, std::size_t end, Starts starts) const {
    for (std::size_t nl = text_.find('\n', from); nl != std::string::npos && nl < end; nl = text_.find('\n', nl + 1)) {
        const std::size_t word = skip_spaces(nl + 1, end);
        if (word < end && !in_block_comment(word) && starts(word)) return word;
    }
    return std::string::npos;
}

bool ResumePoints::starts_declaration(std::size_t at) const {
    return std::any_of(declaration_keywords.begin(), declaration_keywords.end(), [&](std::string_view keyword) {
        return text_.compare(at, keyword.size(), keyword) == 0 && keyword_at(at, keyword.size(), text_.size());
    });
}

std::size_t ResumePoints::next_declaration(std::size_t from) const {
    const std::size_t found = next_line_starting(from, text_.size(), [&](std::size_t word) { return starts_declaration(word); });
    return found == std::string::npos ? text_.size() : found;
}

std::size_t ResumePoints::after_declaration(std::size_t started, std::size_t failed_at) const {
    if (failed_at > started && failed_at < text_.size() && first_on_line(failed_at) && starts_declaration(failed_at))
        return failed_at;
    return next_declaration(std::max(failed_at, started));
}

bool ResumePoints::starts_member(std::size_t at, std::size_t end) const {
    if (at >= end) return false;
    for (std::string_view keyword : member_keywords) {
        if (!(at + keyword.size() < end && text_.compare(at, keyword.size(), keyword) == 0 && keyword_at(at, keyword.size(), end)))
            continue;
        if (keyword != "key") return true;
        // `key` is also the instance's key in expressions (`key }`, `key == x`): a member only
        // as `key name:`.
        const std::size_t name = skip_spaces(at + keyword.size(), end);
        std::size_t after = name;
        while (after < end && is_word_char(text_[after])) ++after;
        after = skip_spaces(after, end);
        return after > name && after < end && text_[after] == ':';
    }
    return false;
}

std::size_t ResumePoints::next_member(std::size_t from, std::size_t end) const {
    return next_line_starting(from, end, [&](std::size_t word) { return starts_member(word, end); });
}

std::size_t ResumePoints::after_member(std::size_t failed_at, std::size_t end) const {
    if (failed_at < end && first_on_line(failed_at) && starts_member(failed_at, end)) return failed_at;
    return next_member(failed_at, end);
}

bool ResumePoints::starts_statement(std::size_t at, std::size_t end) const {
    if (at >= end || !(std::isalpha(static_cast<unsigned char>(text_[at])) || text_[at] == '_')) return false;
    for (std::string_view keyword : statement_keywords)
        if (text_.compare(at, keyword.size(), keyword) == 0 && keyword_at(at, keyword.size(), end)) return true;
    // An assignment: a name, then '=' that is no '=='.
    std::size_t after = at;
    while (after < end && is_word_char(text_[after])) ++after;
    after = skip_spaces(after, end);
    return after < end && text_[after] == '=' && (after + 1 >= end || text_[after + 1] != '=');
}

std::size_t ResumePoints::after_statement(std::size_t failed_at, std::size_t end) const {
    if (failed_at < end && first_on_line(failed_at) && starts_statement(failed_at, end)) return failed_at;
    return next_line_starting(failed_at, end, [&](std::size_t word) { return starts_statement(word, end); });
}

}  // namespace flow
