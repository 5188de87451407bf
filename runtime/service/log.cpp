#include "runtime/service/log.hpp"

#include "runtime/service/timestamp.hpp"

#include <iostream>
#include <mutex>

namespace flow::service {

std::string log_line(std::int64_t now_ms, std::string_view level, std::string_view message, nlohmann::json fields) {
    if (!fields.is_object()) fields = nlohmann::json::object();
    fields["ts"] = timestamp(now_ms);
    fields["level"] = level;
    fields["msg"] = message;
    std::string line = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line += '\n';
    return line;
}

void log(std::int64_t now_ms, std::string_view level, std::string_view message, nlohmann::json fields) {
    const std::string line = log_line(now_ms, level, message, std::move(fields));
    // The lock keeps two threads' lines from being cut into each other (flowd writes to std::cerr
    // nowhere else once it runs). A closed standard error drops the line; flowd goes on.
    static std::mutex writing;
    std::lock_guard lock(writing);
    std::cerr.write(line.data(), static_cast<std::streamsize>(line.size()));
}

}  // namespace flow::service
