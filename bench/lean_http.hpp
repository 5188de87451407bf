// The little of HTTP/1.1 that the load generator and the command sink need, read straight from
// the bytes a connection received: a message's head ends at its first empty line, and its body is
// `Content-Length` bytes long. Both programs share the two cores with flowd, so what they spend
// per event is taken from flowd's figures; with Beast's parser and serializer they spent about
// 27 µs of CPU per event between them (performance.md, run 28). flowd itself reads with Beast.
//
// Only what flowd and its relay send is understood: no chunked bodies (a message that declares
// one is malformed here), no obs-fold.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <optional>
#include <string_view>

namespace bench {

struct Message {
    std::size_t size = 0;   // head and body: where the next message starts
    std::string_view head;  // the start line and the fields, without the empty line
    std::string_view body;
};

enum class Framing { complete, incomplete, malformed };

// Whether `bytes` starts with a whole message, and which.
inline Framing frame_message(std::string_view bytes, Message& message) {
    std::size_t head_end = bytes.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return Framing::incomplete;
    std::string_view head = bytes.substr(0, head_end);
    auto equal_folded = [](char a, char b) { return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b; };
    auto field = [&](std::string_view lower_name) -> std::optional<std::string_view> {
        auto at = std::search(head.begin(), head.end(), lower_name.begin(), lower_name.end(), equal_folded);
        if (at == head.end()) return std::nullopt;
        std::size_t from = static_cast<std::size_t>(at - head.begin()) + lower_name.size();
        std::size_t to = std::min(head.find("\r\n", from), head.size());
        std::string_view value = head.substr(from, to - from);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        return value;
    };
    if (field("\r\ntransfer-encoding:")) return Framing::malformed;
    std::size_t length = 0;
    if (auto value = field("\r\ncontent-length:")) {
        std::string_view digits = value->substr(0, value->find_last_not_of(" \t") + 1);
        auto [end, problem] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
        if (problem != std::errc() || end != digits.data() + digits.size()) return Framing::malformed;
    }
    std::size_t body_start = head_end + 4;
    if (bytes.size() - body_start < length) return Framing::incomplete;
    message = {body_start + length, head, bytes.substr(body_start, length)};
    return Framing::complete;
}

// A response's status code, from its status line ("HTTP/1.1 202 Accepted"); 0 when there is none.
inline int status_of(std::string_view head) {
    int status = 0;
    if (head.size() < 12 || head.substr(0, 5) != "HTTP/") return 0;
    std::size_t space = head.find(' ');
    if (space == std::string_view::npos || head.size() < space + 4) return 0;
    auto [end, problem] = std::from_chars(head.data() + space + 1, head.data() + space + 4, status);
    return problem == std::errc() && end == head.data() + space + 4 ? status : 0;
}

}  // namespace bench
