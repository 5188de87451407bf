// Parsing a `.flow` source into its syntax tree.
#pragma once

#include "dsl/ast.hpp"
#include "dsl/diagnostics.hpp"
#include "dsl/source.hpp"

namespace flow {

// Parses every declaration of `source`. A syntax error is reported (in the user's words, at
// its line and column) and the parser resumes at the next declaration, so that one run
// reports every error recovery allows. The positions in the returned tree are byte offsets
// into source.text(). Declarations that did not parse are left out.
ast::File parse_source(const Source& source, Diagnostics& diagnostics);

// The reserved words, which cannot name a type, event, command, workflow, state, variable
// or binding.
bool is_keyword(std::string_view word);

}  // namespace flow
