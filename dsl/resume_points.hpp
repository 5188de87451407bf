// Where the parser resumes after a syntax error, so that one run reports every error it can:
// the next line that starts a declaration, or, inside a workflow, a member of it or of a
// state. A light scan of the text: lines inside a block comment start nothing, and neither does
// a keyword that names a field (`state: string`, `at: 1`).
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace flow {

class ResumePoints {
public:
    explicit ResumePoints(const std::string& text);

    // The first word of the next line after the one holding `from` that starts a declaration
    // (`import`, `type`, `event`, `command`, `workflow`), or the end of the text.
    std::size_t next_declaration(std::size_t from) const;
    // Where to resume after a declaration that started at `started` failed at `failed_at`:
    // there, when a declaration starts that line (a workflow never closed, then the next
    // declaration), else at the next declaration.
    std::size_t after_declaration(std::size_t started, std::size_t failed_at) const;

    // Whether the word at `at` starts a member of a workflow or of a state (`state`, `on`,
    // `var`, `after`, …), the text read up to `end`.
    bool starts_member(std::size_t at, std::size_t end) const;
    // The first word of the next line after the one holding `from` that starts a member; npos
    // when none does before `end`.
    std::size_t next_member(std::size_t from, std::size_t end) const;
    // Where to resume inside a workflow after a failure at `failed_at`: there, when the word
    // found there is the first of its line and starts a member (`key id` followed by a line
    // `var n int`, failing at `var`), else at the next member's line.
    std::size_t after_member(std::size_t failed_at, std::size_t end) const;

    // Whether a statement starts at `at` (`let`, `emit`, `if`, `goto`, …, or `name =`).
    bool starts_statement(std::size_t at, std::size_t end) const;
    // Where to resume reading statements after a failure at `failed_at`, before `end`: there,
    // when the word found there is the first of its line and starts a statement, else the first
    // word of the next line that starts one; npos when none does.
    std::size_t after_statement(std::size_t failed_at, std::size_t end) const;

private:
    // Whether `at` is the first word of its line, outside any block comment.
    bool first_on_line(std::size_t at) const;
    bool in_block_comment(std::size_t at) const;
    // Whether the keyword of `length` characters at `at` stands as a word, and not as a field's
    // name (followed by ':' or '?:').
    bool keyword_at(std::size_t at, std::size_t length, std::size_t end) const;
    std::size_t skip_spaces(std::size_t at, std::size_t end) const;
    bool starts_declaration(std::size_t at) const;
    // The first word of the next line after the one holding `from`, outside block comments, for
    // which `starts(word)` holds; npos when none does before `end`.
    template <class Starts>
    std::size_t next_line_starting(std::size_t from, std::size_t end, Starts starts) const;

    const std::string& text_;
    std::vector<std::pair<std::size_t, std::size_t>> comments_;  // [begin, end) of each `/* … */`
};

}  // namespace flow
