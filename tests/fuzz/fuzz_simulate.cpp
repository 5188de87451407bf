// libFuzzer target: any bytes as a simulate scenario (JSON lines of events, clock moves and
// cancellations) against the order fulfillment example, through the event decoder, the
// engine and the simulator.
#include "dsl/compiler.hpp"
#include "runtime/simulator/simulator.hpp"

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace {

std::shared_ptr<const flow::ir::Program> program() {
    static std::shared_ptr<const flow::ir::Program> compiled = [] {
        flow::DiskReader reader;
        flow::Compilation c = flow::compile({FLOW_SOURCE_DIR "/examples/order_fulfillment.flow",
                                             FLOW_SOURCE_DIR "/examples/ticket_lifecycle.flow"}, reader);
        if (!c.program) __builtin_trap();
        return c.program;
    }();
    return compiled;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    std::ostringstream out;
    flow::sim::Simulator simulator(program(), out, 2000);
    std::istringstream lines(text);
    std::string line;
    int number = 0;
    while (std::getline(lines, line))
        if (simulator.feed(line, ++number)) return 0;
    simulator.finish();
    return 0;
}
