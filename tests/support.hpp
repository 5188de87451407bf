// Helpers shared by the tests: compiling sources held in strings, rendering diagnostics.
#pragma once

#include "dsl/compiler.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>

namespace flow::test {

// The source tree, for tests that read the examples and golden files.
inline std::string source_dir() { return FLOW_SOURCE_DIR; }

// Compiles one source held in a string under the name "test.flow".
inline Compilation compile_text(const std::string& text) { return compile_sources({{"test.flow", text}}); }

// Every diagnostic as "LINE:COL: severity: message", one per line.
inline std::string summary(const Compilation& c) {
    std::string out;
    for (const Diagnostic& d : c.diagnostics.all())
        out += std::to_string(d.line) + ":" + std::to_string(d.column) + ": " +
               (d.severity == Severity::Error ? "error: " : "warning: ") + d.message + "\n";
    return out;
}

// A fresh directory under the system's temporary one, removed with everything in it at the end
// of the scope.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& prefix = "flow-test")
        : path(std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()))) {
        std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

// Everything written to std::cerr while it lives.
struct CapturedLog {
    std::ostringstream text;
    std::streambuf* before = std::cerr.rdbuf(text.rdbuf());
    ~CapturedLog() { std::cerr.rdbuf(before); }
};

// How many times `needle` occurs in `text`.
inline int count(const std::string& text, const std::string& needle) {
    int n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
    return n;
}

}  // namespace flow::test
