#include "dsl/compiler.hpp"

#include "dsl/checker.hpp"
#include "dsl/ir_json.hpp"

namespace flow {

ir::Program Checker::run() {
    compute_visibility();
    collect_declarations();
    resolve_record_fields();
    report_record_cycles();
    for (const auto& [syntax, file] : workflow_syntax_) workflow(*syntax, file);
    report_unused();
    if (!diagnostics_.has_errors())
        for (ir::Workflow& w : program_.workflows) w.hash = content_hash(program_, w);
    return std::move(program_);
}

Compilation compile(const std::vector<std::string>& paths, SourceReader& reader) {
    Compilation result;
    result.loaded = load_program(paths, reader, result.diagnostics);
    result.unreadable = result.loaded.unreadable;
    // After a syntax error the declarations that did not parse are missing, and checking
    // the rest would report their every use as unknown: syntax errors are reported alone.
    if (result.diagnostics.has_errors()) {
        result.diagnostics.sort();
        return result;
    }
    ir::Program program = Checker(result.loaded, result.diagnostics).run();
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
