// Drawing a workflow's states and transitions for Graphviz (`dot`) and Markdown (`mermaid`).
#pragma once

#include "dsl/ir.hpp"

#include <string>

namespace flow {

enum class GraphFormat { Dot, Mermaid };

std::string draw(const ir::Program& program, const ir::Workflow& workflow, GraphFormat format);

}  // namespace flow
