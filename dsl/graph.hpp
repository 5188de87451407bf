// Drawing a workflow's states and transitions for Graphviz (`dot`) and Markdown (`mermaid`).
#pragma once

#include "dsl/ir.hpp"

#include <string>
#include <vector>

namespace flow {

enum class GraphFormat { Dot, Mermaid };

std::string draw(const ir::Program& program, const ir::Workflow& workflow, GraphFormat format);
// Several workflows in one text: Graphviz graphs one after the other, or one Mermaid diagram
// with a composite state per workflow.
std::string draw(const ir::Program& program, const std::vector<const ir::Workflow*>& workflows, GraphFormat format);

}  // namespace flow
