#include "runtime/service/timestamp.hpp"

#include "stdlib/chrono.hpp"

namespace flow::service {

std::string timestamp(std::int64_t epoch_ms) {
    std::string text = chrono::format_rfc3339(epoch_ms);
    if (epoch_ms % 1000 == 0) text.insert(text.size() - 1, ".000");
    return text;
}

}  // namespace flow::service
