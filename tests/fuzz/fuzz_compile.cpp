// libFuzzer target: any bytes as a `.flow` file, through the parser, every check and the
// lowering. It must never crash, hang or trip a sanitizer; diagnostics are fine.
#include "dsl/compiler.hpp"
#include "dsl/ir_json.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    flow::Compilation result = flow::compile_sources({{"fuzz.flow", text}});
    for (const flow::Diagnostic& d : result.diagnostics.all()) (void)flow::format_text(d);
    (void)flow::format_json(result.diagnostics);
    if (result.program) (void)flow::to_json(*result.program).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return 0;
}
