// The compile side's entry point: load, parse, check and lower a set of `.flow` files.
#pragma once

#include "dsl/diagnostics.hpp"
#include "dsl/ir.hpp"
#include "dsl/loader.hpp"

#include <memory>
#include <string>
#include <vector>

namespace flow {

struct Compilation {
    LoadedProgram loaded;  // owns the sources that the diagnostics point into
    Diagnostics diagnostics;
    // The compiled workflows; null when any error was found.
    std::shared_ptr<const ir::Program> program;
    bool unreadable = false;  // a named file could not be read (exit status 2)
};

// Compiles the files together: each sees its own declarations and those of the files it
// imports; names of types, events, commands and workflows are unique across all of them.
Compilation compile(const std::vector<std::string>& paths, SourceReader& reader);

// The same for sources held in memory (name -> text), all of them named.
Compilation compile_sources(const std::map<std::string, std::string>& sources);

}  // namespace flow
