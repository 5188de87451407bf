#include "dsl/compiler.hpp"

#include "dsl/checker.hpp"
#include "dsl/ir_json.hpp"

#include <unordered_map>

namespace flow {

ir::Program Checker::run() {
    compute_visibility();
    collect_declarations();
    resolve_record_fields();
    report_record_cycles();
    for (const auto& [syntax, file] : workflow_syntax_) workflow(*syntax, file);
    for (const auto& [syntax, file] : refused_workflow_syntax_) {
        workflow(*syntax, file);
        program_.workflows.pop_back();
    }
    if (warn_of_unused_) report_unused();
    if (!diagnostics_.has_errors())
        for (ir::Workflow& w : program_.workflows) w.hash = content_hash(program_, w);
    return std::move(program_);
}

namespace {

// The files whose loading failed (a syntax error, an import that failed), and those that import
// one of them, directly or not.
std::vector<bool> files_not_loaded_whole(const LoadedProgram& loaded, const Diagnostics& diagnostics) {
    std::unordered_map<const Source*, std::size_t> file_of;
    for (std::size_t f = 0; f < loaded.files.size(); ++f) file_of.emplace(loaded.files[f].source.get(), f);
    std::vector<bool> broken(loaded.files.size(), false);
    for (const Diagnostic& d : diagnostics.all())
        if (auto found = file_of.find(d.source); d.severity == Severity::Error && found != file_of.end()) broken[found->second] = true;
    for (bool spread = true; spread;) {
        spread = false;
        for (std::size_t f = 0; f < loaded.files.size(); ++f) {
            if (broken[f]) continue;
            for (int imported : loaded.files[f].imports)
                if (broken[static_cast<std::size_t>(imported)]) {
                    broken[f] = spread = true;
                    break;
                }
        }
    }
    return broken;
}

}  // namespace

Compilation compile(const std::vector<std::string>& paths, SourceReader& reader) {
    Compilation result;
    result.loaded = load_program(paths, reader, result.diagnostics);
    result.unreadable = result.loaded.unreadable;
    // After a syntax error the declarations that did not parse are missing, and checking that
    // file, or one that imports it, would report their every use as unknown: those files are
    // reported with the syntax errors alone. The other files are checked as usual, but for the
    // declarations nothing uses: what the files left out would have used is not known.
    const bool loaded_whole = !result.diagnostics.has_errors();
    if (!loaded_whole) {
        const std::vector<bool> broken = files_not_loaded_whole(result.loaded, result.diagnostics);
        for (std::size_t f = 0; f < broken.size(); ++f)
            if (broken[f]) result.loaded.files[f].syntax.declarations.clear();  // as good as empty
    }
    Checker checker(result.loaded, result.diagnostics);
    checker.warn_of_unused_declarations(loaded_whole);
    ir::Program program = checker.run();
    result.diagnostics.sort();
    if (!result.diagnostics.has_errors() && !result.unreadable)
        result.program = std::make_shared<const ir::Program>(std::move(program));
    return result;
}

Compilation compile_sources(const std::map<std::string, std::string>& sources) {
    MemoryReader reader(sources);
    std::vector<std::string> names;
    for (const auto& [name, text] : sources) names.push_back(name);
    return compile(names, reader);
}

}  // namespace flow
