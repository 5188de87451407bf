// flowc: check, compile, draw and simulate `.flow` files. A thin layer over dsl/ and the
// simulator; docs/flowc.md fixes its commands, output and exit statuses.
#include "dsl/compiler.hpp"
#include "dsl/diagnostics.hpp"
#include "dsl/flow_files.hpp"
#include "dsl/graph.hpp"
#include "dsl/ir_json.hpp"
#include "runtime/simulator/simulator.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace {

constexpr int exit_ok = 0, exit_errors = 1, exit_usage = 2;

const char* const usage_text =
    "usage: flowc check [--format text|json] [--werror] PATH...\n"
    "       flowc compile [--werror] PATH... [-o OUT.json]\n"
    "       flowc graph [--werror] FILE [--workflow NAME] [--format dot|mermaid]\n"
    "       flowc simulate PATH... --events EVENTS.jsonl\n"
    "A PATH is a .flow file, or a folder searched for them (as flowd --flows searches).\n";

// A message on stderr, on one line whatever the names in it hold (a control character is written
// as its escape, as in a diagnostic).
void say(const std::string& message) { std::cerr << "flowc: " << flow::one_line(message) << "\n"; }

int usage(const std::string& problem) {
    say(problem);
    std::cerr << usage_text;
    return exit_usage;
}

// The status to exit with once the standard output is flushed: a write that failed (a full disk)
// is an output that cannot be written, as for `-o FILE`. (A closed pipe ends flowc by SIGPIPE.)
int flushed(int status) {
    std::cout.flush();
    if (std::cout) return status;
    say("cannot write the standard output");
    return exit_usage;
}

struct Options {
    std::vector<std::string> files;
    std::string format;
    std::string output;
    std::string workflow;
    std::string events;
    bool werror = false;
};

// Reads the options a command accepts, as `--flag value` or `--flag=value`; anything else is a
// usage error.
std::optional<Options> parse_options(int argc, char** argv, const std::vector<std::string>& allowed, std::string& problem) {
    Options options;
    auto takes = [&](const std::string& flag) {
        for (const auto& a : allowed) if (a == flag) return true;
        return false;
    };
    bool options_ended = false;  // after `--`, every argument is a file, even one starting with '-'
    for (int i = 2; i < argc; ++i) {
        std::string arg = argv[i];
        if (options_ended) {
            options.files.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_ended = true;
            continue;
        }
        std::optional<std::string> inline_value;
        if (auto equals = arg.find('='); arg.rfind("--", 0) == 0 && equals != std::string::npos) {
            inline_value = arg.substr(equals + 1);
            arg.resize(equals);
            if (arg == "--werror" && takes(arg)) {
                problem = "--werror takes no value";
                return std::nullopt;
            }
        }
        auto value = [&](std::string& into) {
            if (!inline_value && i + 1 < argc) inline_value = argv[++i];
            if (!inline_value || inline_value->empty()) {
                problem = arg + " needs a value";
                return false;
            }
            into = *inline_value;
            return true;
        };
        if (arg == "--werror" && takes(arg)) options.werror = true;
        else if (arg == "--format" && takes(arg)) { if (!value(options.format)) return std::nullopt; }
        else if (arg == "-o" && takes(arg)) { if (!value(options.output)) return std::nullopt; }
        else if (arg == "--workflow" && takes(arg)) { if (!value(options.workflow)) return std::nullopt; }
        else if (arg == "--events" && takes(arg)) {
            if (!value(options.events)) return std::nullopt;
            if (options.events == "-") {
                problem = "--events takes a file: standard input is not read";
                return std::nullopt;
            }
        }
        else if (arg == "-") { problem = "- is not a file: flowc reads .flow files, not standard input"; return std::nullopt; }
        else if (arg.size() > 1 && arg[0] == '-') { problem = "unknown option " + arg; return std::nullopt; }
        else options.files.push_back(arg);
    }
    if (options.files.empty()) {
        problem = "no .flow file given";
        return std::nullopt;
    }
    return options;
}

// Replaces each folder among the files by the .flow files under it, as `flowd --flows` finds
// them; false, with the problem, when a folder cannot be read or holds none.
bool expand_folders(Options& options, std::string& problem) {
    std::vector<std::string> files;
    for (const std::string& path : options.files) {
        std::error_code ec;
        if (!std::filesystem::is_directory(path, ec)) {
            files.push_back(path);
            continue;
        }
        std::vector<std::string> found = flow::flow_files({path}, problem);
        if (!problem.empty()) return false;
        if (found.empty()) {
            problem = path + ": no .flow file in this folder or under it";
            return false;
        }
        files.insert(files.end(), found.begin(), found.end());
    }
    options.files = std::move(files);
    return true;
}

void print_text(const flow::Diagnostics& diagnostics) {
    for (const flow::Diagnostic& d : diagnostics.all()) std::cerr << flow::format_text(d);
}

// Compiles, prints the diagnostics as text and returns the exit status so far.
int compile_and_report(const Options& options, flow::Compilation& result) {
    flow::DiskReader reader;
    result = flow::compile(options.files, reader);
    print_text(result.diagnostics);
    if (result.unreadable) return exit_usage;
    if (result.diagnostics.has_errors()) return exit_errors;
    if (options.werror && result.diagnostics.warning_count() > 0) return exit_errors;
    return exit_ok;
}

int check(int argc, char** argv) {
    std::string problem;
    auto options = parse_options(argc, argv, {"--format", "--werror"}, problem);
    if (!options || !expand_folders(*options, problem)) return usage(problem);
    if (!options->format.empty() && options->format != "text" && options->format != "json")
        return usage("--format takes text or json");
    flow::DiskReader reader;
    flow::Compilation result = flow::compile(options->files, reader);
    if (options->format == "json") std::cout << flow::format_json(result.diagnostics, options->werror);
    else print_text(result.diagnostics);
    if (result.unreadable) return flushed(exit_usage);
    if (result.diagnostics.has_errors()) return flushed(exit_errors);
    if (options->werror && result.diagnostics.warning_count() > 0) return flushed(exit_errors);
    return flushed(exit_ok);
}

// The input that `output` names, if it names one (the same file by any path or link): `compile -o`
// over its own source would replace the source with the IR.
std::optional<std::string> output_among(const std::string& output, const std::vector<std::string>& inputs) {
    if (output.empty() || output == "-") return std::nullopt;
    for (const std::string& input : inputs) {
        std::error_code ec;
        if (std::filesystem::equivalent(output, input, ec) && !ec) return input;
    }
    return std::nullopt;
}

int compile(int argc, char** argv) {
    std::string problem;
    auto options = parse_options(argc, argv, {"-o", "--werror"}, problem);
    if (!options || !expand_folders(*options, problem)) return usage(problem);
    if (auto input = output_among(options->output, options->files))
        return usage("-o " + options->output + " is the input " + *input + ": writing would replace the source");
    flow::Compilation result;
    if (int status = compile_and_report(*options, result); status != exit_ok) return status;
    std::vector<std::string> loaded;  // the imported files too
    for (const auto& file : result.loaded.files) loaded.push_back(file.source->name());
    if (auto input = output_among(options->output, loaded))
        return usage("-o " + options->output + " is the input " + *input + ": writing would replace the source");
    std::string text = flow::to_json(*result.program).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    if (options->output.empty() || options->output == "-") {
        std::cout << text;
        return flushed(exit_ok);
    }
    // A regular file (or none yet) is written beside it, then renamed over it: a write that fails
    // (a full disk) leaves it as it was, never cut short; it keeps its permissions. Anything
    // else (a device such as /dev/null, a symbolic link, a pipe) is written to where it is.
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::file_status status = fs::symlink_status(options->output, ec);
    const bool replace = !fs::exists(status) || fs::is_regular_file(status);
    const std::string written = replace ? options->output + ".partial-" + std::to_string(::getpid()) : options->output;
    std::ofstream out(written, std::ios::binary);
    out << text;
    out.close();  // a write that fails may only show when the buffer goes out
    if (replace && out && fs::exists(status)) fs::permissions(written, status.permissions(), ec);
    std::error_code renamed;
    if (replace && out) fs::rename(written, options->output, renamed);
    if (!out || renamed) {
        std::error_code ignored;
        if (replace) fs::remove(written, ignored);
        say("cannot write " + options->output);
        return exit_usage;
    }
    return exit_ok;
}

int graph(int argc, char** argv) {
    std::string problem;
    auto options = parse_options(argc, argv, {"--workflow", "--format", "--werror"}, problem);
    if (!options) return usage(problem);
    if (options->files.size() != 1) return usage("graph takes one .flow file");
    if (!options->format.empty() && options->format != "dot" && options->format != "mermaid")
        return usage("--format takes dot or mermaid");
    auto format = options->format == "mermaid" ? flow::GraphFormat::Mermaid : flow::GraphFormat::Dot;
    flow::Compilation result;
    const int status = compile_and_report(*options, result);
    // With no error, a --workflow the file does not declare is a usage error even when
    // --werror fails the warnings: the command line is looked at first.
    if (status == exit_usage || result.diagnostics.has_errors() || !result.program) return status;
    std::vector<const flow::ir::Workflow*> drawn;
    for (const flow::ir::Workflow& w : result.program->workflows) {
        if (!options->workflow.empty() && w.name != options->workflow) continue;
        if (w.file != result.loaded.files.front().source->name()) continue;
        drawn.push_back(&w);
    }
    if (drawn.empty() && !options->workflow.empty())
        return usage("no workflow '" + options->workflow + "' in " + options->files.front());
    if (status != exit_ok) return status;
    // A file of declarations alone (the events and commands other files import) is not an
    // error: there is nothing to draw, an empty diagram is drawn, and a note says so.
    if (drawn.empty()) say("no workflow in " + options->files.front() + ": nothing to draw");
    std::cout << flow::draw(*result.program, drawn, format);
    return flushed(exit_ok);
}

int simulate(int argc, char** argv) {
    std::string problem;
    auto options = parse_options(argc, argv, {"--events"}, problem);
    if (!options || !expand_folders(*options, problem)) return usage(problem);
    if (options->events.empty()) return usage("simulate needs --events EVENTS.jsonl");
    std::ifstream events(options->events, std::ios::binary);
    std::error_code ignored;
    if (!events || std::filesystem::is_directory(options->events, ignored)) {
        const std::string why = flow::DiskReader::why_not_opened(options->events);
        say("cannot read " + options->events + (why.empty() ? "" : ": " + why));
        return exit_usage;
    }
    flow::Compilation result;
    if (int status = compile_and_report(*options, result); status != exit_ok) return status;
    std::ios::sync_with_stdio(false);
    flow::sim::Simulator simulator(result.program, std::cout);
    std::string line;
    int number = 0;
    while (std::getline(events, line)) {
        ++number;
        if (auto error = simulator.feed(line, number)) {
            std::cout.flush();
            say(options->events + ": " + *error);
            return flushed(exit_errors);
        }
    }
    if (events.bad()) {
        std::cout.flush();
        say("cannot read " + options->events + " past line " + std::to_string(number));
        return flushed(exit_usage);
    }
    simulator.finish();
    // Freeing every instance one by one would only delay the exit (an eighth of a large run).
    std::_Exit(flushed(exit_ok));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage("no command given");
    std::string command = argv[1];
    if (command == "--help" || command == "-h" || command == "help") {
        std::cout << usage_text;
        return flushed(exit_ok);
    }
    if (command == "--version") {
        std::cout << "flowc " FLOW_VERSION " (Flow language 1)\n";
        return flushed(exit_ok);
    }
    // `flowc check --help` and the like: the help, whatever else the line holds before a `--`
    // (an option's value, as in `-o --`, is neither).
    for (int i = 2; i < argc && std::string_view(argv[i]) != "--"; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-o" || arg == "--format" || arg == "--workflow" || arg == "--events") {
            ++i;
            continue;
        }
        if (arg == "--help" || arg == "-h") {
            std::cout << usage_text;
            return flushed(exit_ok);
        }
    }
    if (command == "check") return check(argc, argv);
    if (command == "compile") return compile(argc, argv);
    if (command == "graph") return graph(argc, argv);
    if (command == "simulate") return simulate(argc, argv);
    return usage("unknown command '" + command + "'");
}
