// How long reading an event's body as JSON takes: nlohmann's parser against the engine's reader
// (runtime/engine/json_reader), on the bodies the load generator posts and on a larger one.
// Each round reads every body once with each parser in turn, so the two share the machine's
// mood; it prints the median of the rounds and the ratio.
//
//   bench/json_body_bench [ROUNDS] [READS_PER_ROUND]
#include "runtime/engine/json_reader.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

double median(std::vector<double> xs) {
    std::sort(xs.begin(), xs.end());
    return xs[xs.size() / 2];
}

// Nanoseconds per read of `body` by `read`, over `reads` reads.
template <class Read>
double time_reads(const std::string& body, int reads, Read read) {
    const auto began = std::chrono::steady_clock::now();
    std::size_t sink = 0;
    for (int i = 0; i < reads; ++i) sink += read(body);
    const auto took = std::chrono::steady_clock::now() - began;
    if (sink == 42) std::puts("");  // keeps the reads from being optimised away
    return std::chrono::duration<double, std::nano>(took).count() / reads;
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 7;
    const int reads = argc > 2 ? std::atoi(argv[2]) : 200000;
    const std::vector<std::pair<const char*, std::string>> bodies = {
        {"start (load generator)",
         R"({"id":"b-1234567","type":"CampaignActivated","data":{"campaignId":"b-1234567","advertising":"bench"}})"},
        {"order (README)",
         R"({"id": "order-1-placed", "type": "OrderPlaced", "data": {"orderId": "A-1", "customer": "eve@example.com",)"
         R"( "total": {"amount": 59.9, "currency": "EUR"}, "lines": [{"sku": "book", "quantity": 2},)"
         R"( {"sku": "pen", "quantity": 10}], "payBy": "2099-01-01T00:00:00Z"}})"},
    };
    for (const auto& [name, body] : bodies) {
        std::vector<double> nlohmann_ns, reader_ns;
        for (int r = 0; r < rounds; ++r) {
            nlohmann_ns.push_back(time_reads(body, reads, [](const std::string& b) { return nlohmann::json::parse(b).size(); }));
            reader_ns.push_back(time_reads(body, reads, [](const std::string& b) { return flow::engine::read_json(b)->size(); }));
        }
        const double before = median(nlohmann_ns), after = median(reader_ns);
        std::printf("%-24s %4zu bytes: nlohmann %7.0f ns, reader %7.0f ns (medians of %d rounds of %d), %.2fx\n", name,
                    body.size(), before, after, rounds, reads, before / after);
    }
}
