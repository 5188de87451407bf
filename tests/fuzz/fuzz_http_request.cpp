// libFuzzer target: raw bytes as an HTTP/1.1 request, parsed by Beast with flowd's limits and,
// when a whole request parses, answered by the routes over a real SQLite store in a temporary
// folder: paths, query strings, the admin token, bodies of every route. Checked: nothing
// crashes, every answer is a status flowd documents, with a JSON body (none to a HEAD).
#include "dsl/compiler.hpp"
#include "runtime/http/request_framing.hpp"
#include "runtime/http/routes.hpp"
#include "runtime/store/sqlite_store.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

namespace {

namespace beast = boost::beast;
namespace fs = std::filesystem;

// The folder of the run's database, removed when the process exits.
fs::path& scratch_folder() {
    static fs::path folder;
    return folder;
}

struct Runtime {
    flow::service::Config config;
    std::unique_ptr<flow::store::Store> store;
    std::unique_ptr<flow::service::Deployment> deployment;
    std::unique_ptr<flow::service::Processor> processor;
    std::unique_ptr<flow::service::Writer> writer;
    flow::service::Metrics metrics;
    std::uint64_t sequence = 1;
    std::uint64_t ids = 0;
    std::unique_ptr<flow::http::Services> services;

    Runtime() {
        fs::path dir = fs::temp_directory_path() / ("flow-fuzz-http-" + std::to_string(::getpid()));
        fs::remove_all(dir);
        fs::create_directories(dir);
        scratch_folder() = dir;
        std::atexit([] { fs::remove_all(scratch_folder()); });  // libFuzzer ends its runs with exit()
        flow::DiskReader reader;
        flow::Compilation c = flow::compile({FLOW_SOURCE_DIR "/examples/order_fulfillment.flow"}, reader);
        if (!c.program) __builtin_trap();
        auto opened = flow::store::open_sqlite_store({(dir / "flow.db").string(), "NORMAL"});
        if (!opened.ok()) __builtin_trap();
        store = std::move(*opened.value);
        for (const auto& w : c.program->workflows)
            if (store->deploy({w.name, w.version, w.hash, "{}", "{}", "2026-01-01T00:00:00.000Z"})) __builtin_trap();
        config.admin_token = "fuzz-token";
        deployment = std::make_unique<flow::service::Deployment>(c.program);
        processor = std::make_unique<flow::service::Processor>(*deployment, [this] { return "id-" + std::to_string(++ids); });
        writer = std::make_unique<flow::service::Writer>(*store, 100, 10);
        services.reset(new flow::http::Services{config, *store, *writer, *processor, *deployment, metrics,
                                                [] { return std::int64_t{1767225600000}; }, sequence});
    }
};

Runtime& runtime() {
    static Runtime* r = new Runtime();  // lives until the process ends
    return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    beast::http::request_parser<beast::http::string_body> parser;
    parser.header_limit(16384);
    parser.body_limit(1048576);
    parser.eager(true);
    beast::error_code error;
    parser.put(boost::asio::buffer(data, size), error);
    if (!error && !parser.is_done()) parser.put_eof(error);
    if (error || !parser.is_done()) return 0;
    // What the server refuses before reading a body never reaches the routes.
    if (flow::http::refuse_framing(parser.get())) return 0;
    flow::http::Response response = flow::http::handle(parser.get(), *runtime().services);
    unsigned status = response.result_int();
    static const unsigned documented[] = {200, 202, 400, 401, 404, 405, 408, 409, 413, 422, 503};
    if (std::find(std::begin(documented), std::end(documented), status) == std::end(documented)) __builtin_trap();
    if (parser.get().method() == beast::http::verb::head) {
        // A HEAD answer has no body; its Content-Length still tells the size a GET would get.
        if (!response.body().empty() || !response.has_content_length()) __builtin_trap();
        return 0;
    }
    if (status != 200 || (!response.body().empty() && response.body().front() == '{')) {
        auto body = nlohmann::json::parse(response.body(), nullptr, false);
        if (body.is_discarded()) __builtin_trap();
    }
    return 0;
}
