// Reading `.flow` files and resolving their imports.
#pragma once

#include "dsl/ast.hpp"
#include "dsl/diagnostics.hpp"
#include "dsl/source.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace flow {

// Where sources come from: the disk, or (in tests) a map of names to texts.
class SourceReader {
public:
    virtual ~SourceReader() = default;
    // The file's text, or nothing when it cannot be read.
    virtual std::optional<std::string> read(const std::string& path) = 0;
    // Why read() gave nothing for `path`, in a few words ("no such file"), or empty.
    virtual std::string why_unreadable(const std::string& /*path*/) { return ""; }
    // One name per file, so that a file reached twice is loaded once.
    virtual std::string identity(const std::string& path) = 0;
};

// Reads at most `max_source_bytes` of a file: more is refused, so that a path that never ends
// (`/dev/zero`) cannot hold a compile, while a pipe (`flowc check <(…)`) is read as a file.
class DiskReader : public SourceReader {
public:
    static constexpr std::size_t max_source_bytes = 16 * 1024 * 1024;
    std::optional<std::string> read(const std::string& path) override;
    // Why the last read() of `path` gave nothing, as read() found it.
    std::string why_unreadable(const std::string& path) override;
    std::string identity(const std::string& path) override;

    // Why a file that could not be opened (not one read by read()) cannot be: `no such file`,
    // `it is a folder, not a file`, or the system's reason. A path that is no regular file is
    // not opened again.
    static std::string why_not_opened(const std::string& path);

private:
    std::nullopt_t refused(std::string reason);
    std::string refused_path_;
    std::string refusal_;
};

// Sources held in memory under made-up names: the string-in seam for tests and tools.
class MemoryReader : public SourceReader {
public:
    explicit MemoryReader(std::map<std::string, std::string> files) : files_(std::move(files)) {}
    std::optional<std::string> read(const std::string& path) override;
    std::string identity(const std::string& path) override;

private:
    std::map<std::string, std::string> files_;
};

struct LoadedFile {
    std::unique_ptr<Source> source;
    ast::File syntax;
    std::vector<int> imports;  // indexes into LoadedProgram::files, in import order
};

struct LoadedProgram {
    std::vector<LoadedFile> files;  // each file once, in the order first reached
    bool unreadable = false;        // a file named by the user could not be read
};

// Loads the named files and, transitively, their imports (relative to the importing file).
// A missing import or an import cycle is an error at the `import`.
LoadedProgram load_program(const std::vector<std::string>& paths, SourceReader& reader, Diagnostics& diagnostics);

}  // namespace flow
