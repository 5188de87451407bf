// Names the block a missing '}' should close, for messages such as
// "expected '}' to close state 'Waiting'". A light scan of the text before the error:
// it needs no syntax tree, so it works on exactly the input that failed to parse.
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace flow {

namespace {

bool is_word_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Words, strings (as "\"") and single punctuation characters, without comments; a word after
// '.' starts with it.
std::vector<std::string> tokens_before(const std::string& text, std::size_t end) {
    std::vector<std::string> tokens;
    std::size_t i = 0;
    while (i < end) {
        char c = text[i];
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
        } else if (text.compare(i, 2, "//") == 0) {
            std::size_t eol = text.find('\n', i);
            i = eol == std::string::npos ? end : eol;
        } else if (text.compare(i, 2, "/*") == 0) {
            std::size_t close = text.find("*/", i + 2);
            i = close == std::string::npos ? end : close + 2;
        } else if (c == '"') {
            ++i;
            while (i < end && text[i] != '"' && text[i] != '\n') i += text[i] == '\\' ? 2 : 1;
            ++i;
            tokens.emplace_back("\"");
        } else if (is_word_char(c)) {
            std::size_t start = i;
            while (i < end && is_word_char(text[i])) ++i;
            // A field name after '.' (`b.on`, `o.at`) is kept as ".on": no keyword of a block.
            const bool field = !tokens.empty() && tokens.back() == ".";
            tokens.push_back((field ? "." : "") + text.substr(start, i - start));
        } else {
            tokens.emplace_back(1, c);
            ++i;
        }
    }
    return tokens;
}

std::string quoted(const std::string& word) { return "'" + word + "'"; }

// What the `{` at tokens[open] opens, judged by the tokens before it.
std::string describe_opening(const std::vector<std::string>& t, std::size_t open) {
    auto at = [&](std::size_t back) -> std::string { return open >= back ? t[open - back] : std::string(); };
    for (const char* kind : {"state", "workflow", "type", "event"})
        if (at(2) == kind && is_word_start(at(1)[0])) return std::string(kind) + " " + quoted(at(1));
    if (at(3) == "event" && at(1) == "\"") return "event " + quoted(at(2));
    if (at(4) == "command" && at(2) == "to") return "command " + quoted(at(3));
    if ((at(2) == "emit" || at(2) == "with") && !at(1).empty() && is_word_start(at(1)[0]))
        return "the fields of " + quoted(at(1));
    if (at(1) == "entry") return "the 'entry' block";
    if (at(1) == "else") return "the 'else' block";
    if (at(1) == "cancel" && at(2) == "on") return "the 'on cancel' handler";
    // Scan back to the statement that opened the block.
    for (std::size_t back = 1; back <= open; ++back) {
        const std::string& word = t[open - back];
        if (word == "{" || word == "}") break;
        if (word == "if") return at(back + 1) == "else" ? "the 'else if' block" : "the 'if' block";
        if (word == "after") return "the 'after' timer";
        if (word == "at") return "the 'at' deadline";
        if (word == "on") {
            std::string event = open - back + 1 < t.size() ? t[open - back + 1] : std::string();
            bool start = open >= back + 1 && t[open - back - 1] == "start";
            return std::string(start ? "the start handler" : "the handler") + " for " + quoted(event);
        }
    }
    if (!at(1).empty() && is_word_start(at(1)[0])) return "the record " + quoted(at(1));
    return "";
}

// The index of the innermost '{' still open at the end of the tokens, or npos.
std::size_t innermost_open_brace(const std::vector<std::string>& tokens) {
    std::vector<std::size_t> open;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] == "{") open.push_back(i);
        else if (tokens[i] == "}" && !open.empty()) open.pop_back();
    }
    return open.empty() ? std::string::npos : open.back();
}

}  // namespace

std::string keyword_before_open_block(const std::string& text, std::size_t offset) {
    std::vector<std::string> tokens = tokens_before(text, std::min(offset, text.size()));
    std::size_t open = innermost_open_brace(tokens);
    if (open == std::string::npos) return "";
    for (std::size_t i = open; i-- > 0;) {
        const std::string& word = tokens[i];
        if (word == "{" || word == "}") break;
        if (word == "if" || word == "when" || word == "after" || word == "at") return word;
    }
    return "";
}

std::string describe_open_block(const std::string& text, std::size_t offset) {
    std::vector<std::string> tokens = tokens_before(text, std::min(offset, text.size()));
    std::size_t open = innermost_open_brace(tokens);
    return open == std::string::npos ? std::string() : describe_opening(tokens, open);
}

}  // namespace flow
