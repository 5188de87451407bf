#include "dsl/loader.hpp"

#include "dsl/parser.hpp"
#include "dsl/string_escapes.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sys/stat.h>

namespace flow {

namespace fs = std::filesystem;

namespace {

// The system's reasons ("Permission denied") in lower case, as the rest of a message is.
std::string lower_first(std::string reason) {
    if (!reason.empty()) reason[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(reason[0])));
    return reason;
}

}  // namespace

std::optional<std::string> DiskReader::read(const std::string& path) {
    // Why it failed is kept for why_unreadable(), which must not open the path again: a named
    // pipe would wait there for a writer that closing it has just ended.
    refused_path_ = path;
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (status.type() == fs::file_type::not_found) return refused("no such file");
    if (status.type() == fs::file_type::directory) return refused("it is a folder, not a file");
    if (ec) return refused(lower_first(ec.message()));
    const std::string limit = std::to_string(max_source_bytes / (1024 * 1024)) + " MiB";
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) return refused(errno != 0 ? lower_first(std::strerror(errno)) : std::string());
    std::string text;
    std::size_t size = 0;
    do {
        text.resize(size + 65536);
        in.read(text.data() + size, 65536);
        size += static_cast<std::size_t>(in.gcount());
        if (size > max_source_bytes)
            return refused(status.type() == fs::file_type::regular
                               ? "it is larger than " + limit + ", the most a source may be"
                               : "it gave more than " + limit + " without ending (it is not a regular file), the most a source may be");
    } while (in);
    if (in.bad()) return refused(errno != 0 ? lower_first(std::strerror(errno)) : std::string("it could not be read whole"));
    text.resize(size);
    refused_path_.clear();
    return text;
}

std::nullopt_t DiskReader::refused(std::string reason) {
    refusal_ = std::move(reason);
    return std::nullopt;
}

std::string DiskReader::why_unreadable(const std::string& path) { return path == refused_path_ ? refusal_ : std::string(); }

std::string DiskReader::why_not_opened(const std::string& path) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (status.type() == fs::file_type::not_found) return "no such file";
    if (status.type() == fs::file_type::directory) return "it is a folder, not a file";
    if (ec) return lower_first(ec.message());
    if (status.type() != fs::file_type::regular) return "";
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (in || errno == 0) return "";
    return lower_first(std::strerror(errno));
}

std::string DiskReader::identity(const std::string& path) {
    // Absolute first: weakly_canonical keeps a path relative when its first part does not exist,
    // and two spellings of one file must meet.
    std::error_code ec;
    const fs::path absolute = fs::absolute(path, ec);
    if (ec) return fs::path(path).lexically_normal().string();
    fs::path canonical = fs::weakly_canonical(absolute, ec);
    const std::string name = ec ? absolute.lexically_normal().string() : canonical.string();
    // A file under two names of its own (a hard link) is still one file.
    struct stat info {};
    if (::stat(name.c_str(), &info) == 0 && S_ISREG(info.st_mode))
        return "file " + std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino);
    return name;
}

std::optional<std::string> MemoryReader::read(const std::string& path) {
    auto found = files_.find(fs::path(path).lexically_normal().string());
    if (found == files_.end()) return std::nullopt;
    return found->second;
}

std::string MemoryReader::identity(const std::string& path) { return fs::path(path).lexically_normal().string(); }

namespace {

// Imports nested deeper than this are refused at the import that goes past it: loading
// recurses once per level.
constexpr std::size_t max_import_depth = 1000;

class Loader {
public:
    Loader(SourceReader& reader, Diagnostics& diagnostics) : reader_(reader), diagnostics_(diagnostics) {}

    LoadedProgram run(const std::vector<std::string>& paths) {
        for (const std::string& path : paths) {
            std::string id = reader_.identity(path);
            if (index_.count(id)) continue;
            diagnostics_.name_file(path);
            std::optional<std::string> text = reader_.read(path);
            if (!text) {
                const std::string why = reader_.why_unreadable(path);
                diagnostics_.file_error(path, "cannot read this file" + (why.empty() ? "" : ": " + why));
                program_.unreadable = true;
                continue;
            }
            visit(path, id, std::move(*text));
        }
        return std::move(program_);
    }

private:
    // Loads a file and its imports depth first; `on_stack` holds the files being loaded, so
    // that an import of one of them closes a cycle.
    int visit(const std::string& path, const std::string& id, std::string text) {
        diagnostics_.name_file(path);
        int index = static_cast<int>(program_.files.size());
        index_[id] = index;
        program_.files.push_back(LoadedFile{std::make_unique<Source>(path, std::move(text)), {}, {}});
        const Source& source = *program_.files[index].source;
        ast::File syntax = parse_source(source, diagnostics_);
        on_stack_.push_back(index);
        std::vector<int> imports;
        for (const ast::Declaration& declaration : syntax.declarations) {
            if (const auto* import = boost::get<ast::Import>(&declaration)) {
                int imported = resolve_import(source, *import);
                if (imported < 0) continue;
                if (std::find(imports.begin(), imports.end(), imported) != imports.end()) {
                    diagnostics_.error(Span{&source, import->path.id_first, import->path.id_last},
                                       "duplicate import: '" + program_.files[static_cast<std::size_t>(imported)].source->name() +
                                           "' is imported twice by this file");
                    continue;
                }
                imports.push_back(imported);
            }
        }
        on_stack_.pop_back();
        program_.files[index].syntax = std::move(syntax);
        program_.files[index].imports = std::move(imports);
        return index;
    }

    int resolve_import(const Source& from, const ast::Import& import) {
        Span where{&from, import.path.id_first, import.path.id_last};
        std::optional<std::string> relative = unescape(import.path.value);
        if (!relative) return -1;  // the parser reported the escape
        if (relative->empty()) {
            diagnostics_.error(where, "an import needs the path of a .flow file");
            return -1;
        }
        if (relative->find('\0') != std::string::npos) {
            diagnostics_.error(where, "an import path cannot hold a NUL character");
            return -1;
        }
        // Shown cleaned (`sub/../x.flow` as `x.flow`), unless a symbolic link on the way makes
        // `..` lead elsewhere than the cleaned text says: then as written, for the system to follow.
        const fs::path joined = fs::path(from.name()).parent_path() / *relative;
        std::string path = joined.lexically_normal().string();
        std::string id = reader_.identity(path);
        if (const std::string as_written = reader_.identity(joined.string()); as_written != id) {
            path = joined.string();
            id = as_written;
        }
        auto known = index_.find(id);
        if (known != index_.end()) {
            auto open = std::find(on_stack_.begin(), on_stack_.end(), known->second);
            if (open != on_stack_.end()) {
                // Reported once, at the cycle's first import in the file loaded first (the file
                // checked, when it is in the cycle), naming every file on the way.
                const auto first = static_cast<std::size_t>(open - on_stack_.begin());
                std::string route;
                for (std::size_t n = first; n < on_stack_.size(); ++n)
                    route += "'" + program_.files[static_cast<std::size_t>(on_stack_[n])].source->name() + "' imports ";
                route += "'" + program_.files[static_cast<std::size_t>(known->second)].source->name() + "'";
                diagnostics_.error(first < leads_.size() ? leads_[first] : where, "import cycle: " + route);
                return -1;
            }
            return known->second;
        }
        if (on_stack_.size() >= max_import_depth) {
            diagnostics_.error(where, "imports nest more than " + std::to_string(max_import_depth) +
                                          " files deep here: import the files from fewer levels");
            return -1;
        }
        std::optional<std::string> text = reader_.read(path);
        if (!text) {
            const std::string why = reader_.why_unreadable(path);
            diagnostics_.error(where, "cannot read imported file '" + *relative + "' (looked for " + path + ")" +
                                          (why.empty() ? "" : ": " + why));
            return -1;
        }
        leads_.push_back(where);
        int index = visit(path, id, std::move(*text));
        leads_.pop_back();
        return index;
    }

    SourceReader& reader_;
    Diagnostics& diagnostics_;
    LoadedProgram program_;
    std::map<std::string, int> index_;
    std::vector<int> on_stack_;
    std::vector<Span> leads_;  // leads_[n]: the import by which on_stack_[n] loads on_stack_[n + 1]
};

}  // namespace

LoadedProgram load_program(const std::vector<std::string>& paths, SourceReader& reader, Diagnostics& diagnostics) {
    return Loader(reader, diagnostics).run(paths);
}

}  // namespace flow
