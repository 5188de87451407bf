// Golden tests. For diagnostics: every `tests/invalid/X.flow` is checked, and the whole text
// output must equal `X.expect`; its first line, `// expect: error|warning at L:C mentioning "…"`,
// must also hold. Run scripts/update-golden.sh to rewrite the .expect files after a deliberate
// change of wording, and read the diff. For the IR: the example of docs/ir.md, compiled.
#include "dsl/ir_json.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace fs = std::filesystem;
using namespace flow;

namespace {

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<fs::path> invalid_cases() {
    std::vector<fs::path> cases;
    for (const auto& entry : fs::directory_iterator(test::source_dir() + "/tests/invalid"))
        if (entry.path().extension() == ".flow") cases.push_back(entry.path());
    std::sort(cases.begin(), cases.end());
    return cases;
}

}  // namespace

TEST_CASE("there are at least 40 invalid cases") { CHECK(invalid_cases().size() >= 40); }

TEST_CASE("every invalid case is reported where its first line says, with the golden text") {
    const std::regex expectation(R"(^// expect: (error|warning) at (\d+):(\d+) mentioning \"([^\"]+)\")");
    for (const fs::path& path : invalid_cases()) {
        CAPTURE(path.filename().string());
        std::string text = read_file(path);
        std::smatch m;
        std::string first_line = text.substr(0, text.find('\n'));
        REQUIRE(std::regex_search(first_line, m, expectation));
        std::string severity = m[1], mention = m[4];
        int line = std::stoi(m[2]), column = std::stoi(m[3]);

        DiskReader reader;
        fs::path previous = fs::current_path();
        fs::current_path(path.parent_path());
        Compilation result = compile({path.filename().string()}, reader);
        fs::current_path(previous);

        bool found = false;
        for (const Diagnostic& d : result.diagnostics.all()) {
            bool same_severity = (d.severity == Severity::Error) == (severity == "error");
            if (same_severity && d.line == line && d.column == column && d.message.find(mention) != std::string::npos)
                found = true;
        }
        CHECK_MESSAGE(found, "no " << severity << " at " << line << ":" << column << " mentioning " << mention);
        if (severity == "error") CHECK(result.diagnostics.has_errors());
        else CHECK_FALSE(result.diagnostics.has_errors());

        std::string rendered;
        for (const Diagnostic& d : result.diagnostics.all()) rendered += format_text(d);
        fs::path golden = path;
        golden.replace_extension(".expect");
        REQUIRE_MESSAGE(fs::exists(golden), "missing " << golden.filename().string());
        CHECK(rendered == read_file(golden));
    }
}

TEST_CASE("every example checks clean, together and alone") {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(test::source_dir() + "/examples"))
        if (entry.path().extension() == ".flow") files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() >= 5);
    DiskReader reader;
    Compilation together = compile(files, reader);
    CHECK(test::summary(together) == "");
    REQUIRE(together.program != nullptr);
    for (const std::string& file : files) {
        CAPTURE(file);
        Compilation alone = compile({file}, reader);
        CHECK_FALSE(alone.diagnostics.has_errors());
    }
}

TEST_CASE("the example of ir.md is what flowc compile writes for it, its hash included") {
    const std::string doc = read_file(test::source_dir() + "/docs/ir.md");
    auto block = [&](const std::string& fence, std::size_t from) {
        const std::size_t open = doc.find(fence, from);
        REQUIRE(open != std::string::npos);
        const std::size_t body = doc.find('\n', open) + 1;
        const std::size_t close = doc.find("\n```", body);
        REQUIRE(close != std::string::npos);
        return std::pair(doc.substr(body, close - body + 1), close);
    };
    const auto [source, source_end] = block("```flow", 0);
    const auto [documented, json_end] = block("```json", doc.find("`flowc compile tiny.flow` writes", source_end));
    Compilation c = compile_sources({{"tiny.flow", source}});
    INFO(test::summary(c));
    REQUIRE(c.program);
    const nlohmann::json written = to_json(*c.program);
    CHECK(written == nlohmann::json::parse(documented));
    CHECK(written["workflows"][0]["hash"] == "a433c2b12dc0c462");
}
