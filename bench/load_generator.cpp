// Drives flowd's `POST /v1/events` with unique events over keep-alive connections and reports
// the rate reached and the acknowledgement latency. Run by hand:
//
//   load_generator --port 9300 [--connections 64] [--seconds 20] [--rate R] [--scenario starts|pairs]
//                  [--batch N] [--warmup SECONDS] [--tick-us US] [--latencies FILE]
//
// Closed loop (no --rate, or --rate 0): every connection sends its next request as soon as the
// last one is answered; this finds the maximum rate. Open loop (--rate R): request i is due at
// start + i/R whatever happened before, and its latency is measured from that due time, not from
// when a connection became free, so a stall counts against every request it delayed (no
// coordinated omission). Keep enough connections for the rate (rate × latency). --tick-us T
// wakes once per T µs and sends every request due within that tick at its start, a little early:
// one wake-up serves several requests instead of one each, so the generator takes less of the
// CPU it shares with flowd. A request sent early has its latency counted from when it was sent,
// one sent late from when it was due.
//
// Scenarios: `starts`, every event starts an instance (CampaignActivated, one command each);
// `pairs`, starts interleaved with the PublishingConfirmed that completes an instance started
// 2,000 starts earlier (more with large batches) (like the peers' start-plus-message process).
//
// --batch N (N > 1) sends N events per request as a CloudEvents batch
// (`application/cloudevents-batch+json`), committed in one transaction and answered together: a
// measure of what the HTTP path costs per event, since the writer's work per event is unchanged.
// The rate, the counts and events_per_second are then in events; the latencies are per request.
//
// Every connection is opened before the first request is due (a client's keep-alive pool).
// --warmup S sends requests for S seconds first, at the same rate, and leaves them out of every
// figure (answered, the rate, the latencies): a cold start (flowd's first pages read, its caches
// filling) is not the steady state the figures describe. Errors are counted throughout.
//
// --latencies FILE writes every answered request's due time (ms from the start) and latency (ms)
// as CSV, in order of due time, the warm-up's included: where in the run the slow answers fell.
//
// Prints one JSON line: sent, answered, errors, seconds, events_per_second, p50/p90/p99/p999 (ms).
#include "lean_http.hpp"

#include <boost/asio.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    std::string host = "127.0.0.1";
    unsigned short port = 9300;
    int connections = 64;
    double seconds = 20;
    double rate = 0;  // events/s; 0: closed loop
    std::string scenario = "starts";
    int batch = 1;  // events per request
    double warmup = 0;  // seconds of requests sent first and left out of the figures
    std::chrono::microseconds tick{0};  // open loop: requests due within one tick are sent together
};

struct Run {
    Options options;
    std::string prefix;  // makes ids unique across runs
    Clock::time_point start;     // the first request is due
    Clock::time_point measured;  // start + warm-up: requests due from here on are counted
    Clock::time_point end;
    std::uint64_t next = 0;  // the next request's number
    std::uint64_t answered = 0;
    std::uint64_t errors = 0;
    std::vector<double> latencies_ms;
    std::vector<std::pair<double, double>> timeline;  // (due, latency) in ms, when --latencies names a file
    std::string latencies_file;
};

void append_number(std::string& out, std::uint64_t n) {
    char digits[24];
    auto [end, problem] = std::to_chars(digits, digits + sizeof digits, n);
    out.append(digits, end);
}

// Appends the event numbered n: a plain event, or a structured CloudEvent for a batch.
void append_event(std::string& out, const Run& run, std::uint64_t n) {
    out += '{';
    if (run.options.batch > 1) out += R"("specversion":"1.0","source":"/bench",)";
    // A completing event follows its start by 2,000 starts, or by more than the events in flight
    // at once when batches carry more, so that its start has always been answered.
    std::uint64_t distance = 2 * std::max<std::uint64_t>(2000, static_cast<std::uint64_t>(run.options.batch) * static_cast<std::uint64_t>(run.options.connections)) + 1;
    if (run.options.scenario == "pairs" && n % 2 == 1 && n > distance) {
        // Completes the instance started by event n - distance (an even number).
        out += R"("id":"c)";
        out += run.prefix;
        append_number(out, n);
        out += R"(","type":"PublishingConfirmed","data":{"campaignId":")";
        out += run.prefix;
        append_number(out, n - distance);
        out += R"(","confirmationId":"ok"}})";
        return;
    }
    out += R"("id":")";
    out += run.prefix;
    append_number(out, n);
    out += R"(","type":"CampaignActivated","data":{"campaignId":")";
    out += run.prefix;
    append_number(out, n);
    out += R"(","advertising":"bench"}})";
}

// The body of request r: event r, or the batch of events r*N .. r*N + N-1.
void body_of(std::string& body, const Run& run, std::uint64_t r) {
    body.clear();
    int size = run.options.batch;
    if (size <= 1) return append_event(body, run, r);
    body += '[';
    for (int i = 0; i < size; ++i) {
        if (i > 0) body += ',';
        append_event(body, run, r * static_cast<std::uint64_t>(size) + static_cast<std::uint64_t>(i));
    }
    body += ']';
}

// One keep-alive connection. It writes each request's head and body in one gathering write and
// reads the answer with bench/lean_http.hpp, reusing its buffers from one request to the next.
asio::awaitable<void> connection(Run& run, tcp::endpoint endpoint, tcp::socket& socket, bool connected) {
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer wait(executor);
    const std::string head_start = "POST /v1/events HTTP/1.1\r\nHost: " + run.options.host + "\r\nContent-Type: " +
                                   (run.options.batch > 1 ? "application/cloudevents-batch+json" : "application/json") +
                                   "\r\nContent-Length: ";
    std::string head, body;
    std::vector<char> received(16 * 1024);
    std::size_t have = 0;  // bytes of `received` not yet framed
    for (;;) {
        std::uint64_t n = run.next++;
        Clock::time_point due = Clock::now();
        if (run.options.rate > 0) {
            double requests_per_second = run.options.rate / run.options.batch;
            due = run.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(n) / requests_per_second));
            if (due >= run.end) co_return;
            auto tick = run.options.tick;
            wait.expires_at(tick.count() > 0 ? run.start + ((due - run.start) / tick) * tick : due);
            co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
        } else if (due >= run.end) {
            co_return;
        }
        if (!connected) {
            auto [error] = co_await socket.async_connect(endpoint, asio::as_tuple(asio::use_awaitable));
            if (error) {
                ++run.errors;
                continue;
            }
            connected = true;
            have = 0;
        }
        body_of(body, run, n);
        head = head_start;
        append_number(head, body.size());
        head += "\r\n\r\n";
        // From when the request was due, or from when it was sent if that was earlier (at the
        // start of its tick): a latency is never counted from later than its request left.
        Clock::time_point from = std::min(due, Clock::now());
        std::array<asio::const_buffer, 2> request{asio::buffer(head), asio::buffer(body)};
        auto [write_error, w] = co_await asio::async_write(socket, request, asio::as_tuple(asio::use_awaitable));
        bench::Message answer;
        bench::Framing framing = bench::Framing::incomplete;
        boost::system::error_code read_error = write_error;
        while (!read_error && (framing = bench::frame_message({received.data(), have}, answer)) == bench::Framing::incomplete) {
            if (have == received.size()) received.resize(2 * received.size());
            auto [e, got] = co_await socket.async_read_some(asio::buffer(received.data() + have, received.size() - have),
                                                            asio::as_tuple(asio::use_awaitable));
            read_error = e;
            have += got;
        }
        if (read_error || framing == bench::Framing::malformed) {
            ++run.errors;
            boost::system::error_code ignored;
            socket.close(ignored);
            connected = false;
            continue;
        }
        int status = bench::status_of(answer.head);
        std::memmove(received.data(), received.data() + answer.size, have - answer.size);
        have -= answer.size;
        if (status != 202) {
            ++run.errors;
            continue;
        }
        double latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - from).count();
        if (!run.latencies_file.empty())  // the warm-up's too
            run.timeline.emplace_back(std::chrono::duration<double, std::milli>(due - run.start).count(), latency_ms);
        if (due < run.measured) continue;  // warm-up
        run.answered += static_cast<std::uint64_t>(run.options.batch);
        run.latencies_ms.push_back(latency_ms);
    }
}

double percentile(std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1));
    return sorted[i];
}

}  // namespace

int main(int argc, char** argv) {
    Run run;
    Options& o = run.options;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string flag = argv[i], value = argv[i + 1];
        if (flag == "--host") o.host = value;
        else if (flag == "--port") o.port = static_cast<unsigned short>(std::stoi(value));
        else if (flag == "--connections") o.connections = std::stoi(value);
        else if (flag == "--seconds") o.seconds = std::stod(value);
        else if (flag == "--rate") o.rate = std::stod(value);
        else if (flag == "--scenario") o.scenario = value;
        else if (flag == "--batch") o.batch = std::max(1, std::stoi(value));
        else if (flag == "--latencies") run.latencies_file = value;
        else if (flag == "--warmup") o.warmup = std::max(0.0, std::stod(value));
        else if (flag == "--tick-us") o.tick = std::chrono::microseconds(std::max(0, std::stoi(value)));
        else {
            std::cerr << "unknown option " << flag << "\n";
            return 2;
        }
    }
    run.prefix = "lg" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "-";
    asio::io_context io(1);
    tcp::endpoint endpoint(asio::ip::make_address(o.host), o.port);
    run.latencies_ms.reserve(static_cast<std::size_t>(std::max(o.rate, 50000.0) * o.seconds));
    // Every connection is open before the first request is due, as a client's keep-alive pool
    // is: connecting is not part of an event's acknowledgement. One that cannot connect tries
    // again when its first request is due, and counts an error each time it fails.
    std::vector<std::unique_ptr<tcp::socket>> streams;
    std::vector<bool> connected(static_cast<std::size_t>(o.connections), false);
    for (int c = 0; c < o.connections; ++c) {
        streams.push_back(std::make_unique<tcp::socket>(io));
        streams.back()->async_connect(endpoint, [&connected, c](boost::system::error_code e) { connected[static_cast<std::size_t>(c)] = !e; });
    }
    io.run();
    io.restart();
    run.start = Clock::now() + std::chrono::milliseconds(100);
    run.measured = run.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
    run.end = run.measured + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
    for (int c = 0; c < o.connections; ++c)
        asio::co_spawn(io, connection(run, endpoint, *streams[static_cast<std::size_t>(c)], connected[static_cast<std::size_t>(c)]),
                       asio::detached);
    io.run();
    double elapsed = std::chrono::duration<double>(std::max(Clock::now(), run.end) - run.measured).count();
    std::sort(run.latencies_ms.begin(), run.latencies_ms.end());
    if (!run.latencies_file.empty()) {
        std::FILE* out = std::fopen(run.latencies_file.c_str(), "w");
        if (!out) {
            std::cerr << "cannot write " << run.latencies_file << "\n";
            return 1;
        }
        std::sort(run.timeline.begin(), run.timeline.end());
        std::fprintf(out, "due_ms,latency_ms\n");
        for (auto [due, latency] : run.timeline) std::fprintf(out, "%.3f,%.3f\n", due, latency);
        std::fclose(out);
    }
    std::printf(
        "{\"scenario\":\"%s\",\"batch\":%d,\"mode\":\"%s\",\"offered\":%.0f,\"connections\":%d,\"warmup_seconds\":%.1f,\"answered\":%llu,\"errors\":%llu,"
        "\"seconds\":%.2f,\"events_per_second\":%.0f,\"p50_ms\":%.2f,\"p90_ms\":%.2f,\"p99_ms\":%.2f,\"p999_ms\":%.2f}\n",
        o.scenario.c_str(), o.batch, o.rate > 0 ? "open" : "closed", o.rate, o.connections, o.warmup, static_cast<unsigned long long>(run.answered),
        static_cast<unsigned long long>(run.errors), elapsed, static_cast<double>(run.answered) / elapsed,
        percentile(run.latencies_ms, 0.50), percentile(run.latencies_ms, 0.90), percentile(run.latencies_ms, 0.99),
        percentile(run.latencies_ms, 0.999));
    return 0;
}
