// The IR as JSON: what `flowc compile` writes and what docs/ir.md describes.
#pragma once

#include "dsl/ir.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace flow {

nlohmann::json to_json(const ir::Program& program);
nlohmann::json to_json(const ir::Program& program, const ir::Workflow& workflow);

// A hash of the workflow's compiled form and of the records it uses (FNV-1a, 64 bits, hex):
// equal for the same behaviour, different when anything that runs changes.
std::string content_hash(const ir::Program& program, const ir::Workflow& workflow);

}  // namespace flow
