#pragma once
#include <cstdint>
#include <string>

namespace flow::service {

// RFC 3339 with milliseconds, UTC (`2026-05-04T09:00:00.412Z`): the store's timestamps and the
// log's.
std::string timestamp(std::int64_t epoch_ms);

}  // namespace flow::service
