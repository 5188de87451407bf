// flowd: runs compiled workflows as a durable server. A thin main over runtime/: it reads
// the command line and the config, compiles the flows, deploys them into the store, starts
// the writer, the relay, the timer loop and the HTTP server, and stops them cleanly on
// SIGTERM, SIGINT or SIGHUP.
#include "dsl/compiler.hpp"
#include "dsl/ir_json.hpp"
#include "runtime/http/routes.hpp"
#include "runtime/http/server.hpp"
#include "runtime/http/server_tls.hpp"
#include "runtime/relay/relay.hpp"
#include "runtime/service/config.hpp"
#include "runtime/service/retention.hpp"
#include "runtime/store/sqlite_store.hpp"
#include "runtime/timers/timer_loop.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/steady_timer.hpp>

#include <openssl/rand.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <future>
#include <mutex>
#include <set>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>
#include <variant>

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using nlohmann::json;

const char* const usage_text =
    "usage: flowd --flows PATH... [--db FILE] [--listen HOST:PORT] [--config FILE] [--target NAME=URL]...\n";
const char* const help_text =
    "\n"
    "  --flows PATH...     .flow files, or folders searched for them; all must compile\n"
    "  --db FILE           the SQLite database (default flow.db), created when missing\n"
    "  --listen HOST:PORT  where the HTTP API listens (default 127.0.0.1:8080)\n"
    "  --config FILE       JSON: targets, secrets, limits (see docs/runtime.md)\n"
    "  --target NAME=URL   binds a command target to an endpoint (repeatable)\n"
    "  --version           prints the release and the SQLite it runs on\n"
    "\n"
    "SIGTERM, SIGINT or SIGHUP stops it cleanly. Documentation: docs/runtime.md and docs/http-api.md.\n";

void log(const std::string& level, const std::string& message, json fields = json::object()) {
    fields["ts"] = flow::service::timestamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
    fields["level"] = level;
    fields["msg"] = message;
    std::cerr << fields.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;
}

std::int64_t wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A UUID version 7: the time in milliseconds, a 12-bit sequence, then random bits. Ids made later
// sort later, so the indexes on instance and command ids grow at their end instead of at random
// pages, which keeps the pages a commit writes few. Within one millisecond the sequence orders
// them (RFC 9562, 6.2, method 1); past 4,096 in one millisecond, the time runs a little ahead of
// the clock rather than out of order.
std::string time_ordered_id() {
    static std::atomic<std::uint64_t> last_stamp{0};  // milliseconds << 12 | sequence
    const std::uint64_t now_stamp = static_cast<std::uint64_t>(wall_clock_ms()) << 12;
    std::uint64_t stamp = last_stamp.load(std::memory_order_relaxed);
    std::uint64_t next;
    do {
        next = std::max(stamp + 1, now_stamp);
    } while (!last_stamp.compare_exchange_weak(stamp, next, std::memory_order_relaxed));

    // Random bytes are drawn from OpenSSL a few kilobytes at a time: one call per id showed as
    // 3 % of the writer thread's time in profiles (its locks and fork checks).
    thread_local unsigned char pool[4096];
    thread_local std::size_t used = sizeof pool;
    if (used + 16 > sizeof pool) {
        if (RAND_bytes(pool, sizeof pool) != 1) throw std::runtime_error("no randomness");
        used = 0;
    }
    unsigned char bytes[16];
    std::memcpy(bytes, pool + used, sizeof bytes);
    used += sizeof bytes;
    const std::uint64_t ms = next >> 12;
    for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
    bytes[6] = static_cast<unsigned char>(0x70 | ((next >> 8) & 0x0f));
    bytes[7] = static_cast<unsigned char>(next & 0xff);
    bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += hex[bytes[i] >> 4];
        out += hex[bytes[i] & 15];
    }
    return out;
}

// Adds the .flow files under `folder` to `found`, its entries taken in sorted order so that a
// folder reached by two names is always entered under the same one. A folder already entered is
// not entered again, nor a link to a folder that holds the link (`up -> ..`, a loop as `find -L`
// sees it). A `.flow` entry that is not a regular file (a dangling link) is taken too, so that
// reading it fails loudly rather than a workflow going missing.
void add_flow_files(const fs::path& folder, std::set<fs::path>& entered, std::vector<std::string>& found, std::error_code& ec) {
    std::vector<fs::directory_entry> entries;
    for (fs::directory_iterator entry(folder, ec), end; !ec && entry != end; entry.increment(ec)) entries.push_back(*entry);
    if (ec) return;
    std::sort(entries.begin(), entries.end());
    std::error_code holder_error;
    const fs::path holder = fs::canonical(folder, holder_error);
    for (const fs::directory_entry& entry : entries) {
        std::error_code entry_error;
        if (!entry.is_directory(entry_error)) {
            if (entry.path().extension() == ".flow") found.push_back(entry.path().string());
            continue;
        }
        const fs::path target = fs::canonical(entry.path(), entry_error);
        if (entry_error || holder_error) continue;
        const bool loop = entry.is_symlink(entry_error) &&
                          std::mismatch(target.begin(), target.end(), holder.begin(), holder.end()).first == target.end();
        if (loop || !entered.insert(target).second) continue;
        add_flow_files(entry.path(), entered, found, ec);
        if (ec) return;
    }
}

// Every .flow file under the paths (a file is taken as it is), in a stable order; links to
// folders are followed. A folder that cannot be read stops the start.
std::vector<std::string> flow_files(const std::vector<std::string>& paths, std::string& problem) {
    std::vector<std::string> files;
    for (const std::string& path : paths) {
        std::error_code ec;
        if (fs::is_directory(path, ec)) {
            std::vector<std::string> found;
            std::error_code root_error;
            std::set<fs::path> entered{fs::canonical(path, root_error)};
            add_flow_files(path, entered, found, ec);
            if (ec) {
                problem = "--flows " + path + ": cannot read the folder: " + ec.message();
                return {};
            }
            std::sort(found.begin(), found.end());
            files.insert(files.end(), found.begin(), found.end());
        } else {
            files.push_back(path);
        }
    }
    return files;
}

struct Arguments {
    std::vector<std::string> flows;
    std::string db = "flow.db";
    std::string listen = "127.0.0.1:8080";
    std::string config;
    std::vector<std::string> targets;
    bool help = false;
    bool version = false;
};

std::optional<Arguments> parse_arguments(int argc, char** argv, std::string& problem) {
    Arguments a;
    std::set<std::string> single_options_given;  // --db, --listen, --config
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::optional<std::string> inline_value;  // --db=FILE
        if (auto equals = arg.find('='); arg.rfind("--", 0) == 0 && equals != std::string::npos) {
            inline_value = arg.substr(equals + 1);
            arg.resize(equals);
        }
        // The next argument, unless it is an option itself (`--db --config x` forgot the file;
        // a value that starts with `--` is given as `--db=--x`).
        auto value = [&]() -> std::optional<std::string> {
            if (inline_value) return inline_value;
            if (i + 1 >= argc || std::string_view(argv[i + 1]).substr(0, 2) == "--") return std::nullopt;
            return std::string(argv[++i]);
        };
        if (arg == "--help" || arg == "-h") {
            a.help = true;
            return a;
        }
        if (arg == "--version") {
            a.version = true;
            return a;
        }
        if (arg == "--flows") {
            if (inline_value) a.flows.push_back(*inline_value);
            while (i + 1 < argc && argv[i + 1][0] != '-') a.flows.push_back(argv[++i]);
        } else if (arg == "--db" || arg == "--listen" || arg == "--config" || arg == "--target") {
            auto v = value();
            if (!v) {
                problem = arg + " needs a value";
                return std::nullopt;
            }
            if (arg == "--target") {
                // Without a NAME= it is refused later as such (--target takes NAME=URL).
                const std::size_t eq = v->find('=');
                const std::string name = eq == std::string::npos || eq == 0 ? std::string() : v->substr(0, eq);
                for (const std::string& earlier : a.targets)
                    if (!name.empty() && earlier.substr(0, earlier.find('=')) == name) {
                        problem = "--target " + name + " is given more than once";
                        return std::nullopt;
                    }
                a.targets.push_back(*v);
                continue;
            }
            // A single-valued option given twice is a slip (two configs are not merged): refused
            // rather than the last one silently taken.
            if (!single_options_given.insert(arg).second) {
                problem = arg + " is given more than once";
                return std::nullopt;
            }
            (arg == "--db" ? a.db : arg == "--listen" ? a.listen : a.config) = *v;
        } else {
            problem = "unknown argument " + arg;
            return std::nullopt;
        }
    }
    if (a.flows.empty()) {
        problem = "--flows needs at least one file or folder";
        return std::nullopt;
    }
    return a;
}

// HOST:PORT, where HOST is an address (`127.0.0.1`, `[::1]`), a host name (`localhost`, resolved
// now, an IPv4 address preferred), or nothing (`:8080`, every interface).
std::optional<asio::ip::tcp::endpoint> parse_endpoint(const std::string& text) {
    std::size_t colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    int port = -1;
    const char* digits = text.c_str() + colon + 1;
    auto [end, error] = std::from_chars(digits, text.c_str() + text.size(), port);
    if (error != std::errc() || end != text.c_str() + text.size() || port < 0 || port > 65535) return std::nullopt;
    std::string host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty()) host = "0.0.0.0";
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (!ec) return asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
    asio::io_context resolving;
    asio::ip::tcp::resolver resolver(resolving);
    auto found = resolver.resolve(host, std::to_string(port), asio::ip::tcp::resolver::passive, ec);
    if (ec || found.empty()) return std::nullopt;
    for (const auto& entry : found)
        if (entry.endpoint().address().is_v4()) return entry.endpoint();
    return found.begin()->endpoint();
}

// Opens (creating or migrating) the database and records each workflow version in it. A store
// error of kind Unavailable is worth retrying (read-only, full, locked); any other is final.
std::variant<std::unique_ptr<flow::store::Store>, flow::store::StoreError> open_and_deploy(const Arguments& args,
                                                                                          const flow::service::Config& config,
                                                                                          const flow::ir::Program& program,
                                                                                          const std::string& sources_text) {
    flow::store::SqliteOptions options{args.db, config.synchronous, config.max_database_mb};
    options.commands_by_instance = config.instance_retention_hours > 0;  // what pruning ended instances needs
    options.inbox_by_age = config.inbox_retention_hours > 0;              // and pruning the inbox
    auto opened = flow::store::open_sqlite_store(options);
    if (!opened.ok()) return *opened.error;
    // All or none: a refused start leaves no version of it recorded (one never served would then
    // count as deployed, and its next edit be refused as a change).
    std::vector<flow::store::Definition> definitions;
    for (const auto& w : program.workflows)
        definitions.push_back({w.name, w.version, w.hash, flow::to_json(program, w).dump(-1, ' ', false, json::error_handler_t::replace),
                               sources_text, flow::service::timestamp(wall_clock_ms())});
    if (auto e = (*opened.value)->deploy_all(definitions)) return *e;
    return std::move(*opened.value);
}

}  // namespace

// glibc keeps at most 7 freed blocks of each size per thread; past that, a free goes back to the
// shared heap, under its lock. Events are allocated on the I/O threads and freed on the writer's
// and the other way round, so with the default most frees take that path: 8-11 % of the
// throughput over HTTP (docs/performance.md). A glibc tunable raises the count, but it is read
// only when a process starts, so flowd starts itself again once with it set. Operators who set
// GLIBC_TUNABLES themselves keep theirs; where the exec fails, flowd goes on with the defaults.
void restart_with_larger_malloc_caches(char** argv) {
#ifdef __GLIBC__
    if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
    if (setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=1000", 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("GLIBC_TUNABLES");
#else
    (void)argv;
#endif
}

// Started again through /proc/self/exe, the process would be named `exe`, the name ps, top,
// pgrep -x and killall go by: it takes the name of the file it was started as, which the
// threads started later inherit unless they are given their own.
void keep_the_name_started_as(const char* argv0) {
    if (argv0 == nullptr) return;
    const char* slash = std::strrchr(argv0, '/');
    const std::string name = std::string(slash ? slash + 1 : argv0).substr(0, 15);  // the kernel keeps 15 bytes
    if (!name.empty()) pthread_setname_np(pthread_self(), name.c_str());
}

int main(int argc, char** argv) {
    restart_with_larger_malloc_caches(argv);
    keep_the_name_started_as(argv[0]);
    // Until flowd waits for them (below), the stop signals are held pending: one that comes while
    // the flows compile stops flowd cleanly once it can, as at any other moment, where it killed
    // it (exit 143, nothing logged). Threads started meanwhile keep them blocked; the others get them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, s);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::string problem;
    auto args = parse_arguments(argc, argv, problem);
    if (!args) {
        std::cerr << "flowd: " << problem << "\n" << usage_text;
        return 2;
    }
    if (args->help) {
        std::cout << usage_text << help_text;
        return 0;
    }
    if (args->version) {
        std::cout << "flowd " FLOW_VERSION " (Flow language 1, SQLite " << sqlite3_libversion() << ")\n";
        return 0;
    }
    flow::service::Config config;
    if (!args->config.empty())
        if (auto e = flow::service::load_config(args->config, config)) {
            std::cerr << "flowd: " << *e << "\n";
            return 2;
        }
    for (const std::string& t : args->targets)
        if (auto e = flow::service::add_target_flag(t, config)) {
            std::cerr << "flowd: " << *e << "\n";
            return 2;
        }
    auto endpoint = parse_endpoint(args->listen);
    if (!endpoint) {
        std::cerr << "flowd: --listen takes HOST:PORT, such as 127.0.0.1:8080 or localhost:8080 (a host name that resolves)\n";
        return 2;
    }

    // Compile every flow; any error stops the start, with the diagnostics. A path that does not
    // exist is a mistake in the command line, as for `flowc check`.
    for (const std::string& path : args->flows) {
        std::error_code ec;
        if (!fs::exists(path, ec)) {
            std::cerr << "flowd: --flows " << path << ": no such file or folder\n";
            return 2;
        }
    }
    std::vector<std::string> files = flow_files(args->flows, problem);
    if (!problem.empty()) {
        std::cerr << "flowd: " << problem << "\n";
        return 2;
    }
    if (files.empty()) {
        std::cerr << "flowd: no .flow file under the given paths\n";
        return 2;
    }
    flow::DiskReader reader;
    flow::Compilation compiled = flow::compile(files, reader);
    for (const auto& d : compiled.diagnostics.all()) std::cerr << flow::format_text(d);
    if (!compiled.program) {
        std::cerr << "flowd: the flows do not compile; nothing was started\n";
        return 1;
    }
    bool unbound = false;
    for (const auto& w : compiled.program->workflows)
        for (const std::string& target : w.targets)
            if (!config.targets.count(target)) {
                std::cerr << "flowd: workflow '" << w.name << "' sends commands to target '" << target
                          << "', which is not bound: add it under \"targets\" in the config, or pass --target " << target
                          << "=http://…\n";
                unbound = true;
            }
    if (unbound) return 1;
    // SQLite creates the file, not the folders above it: a missing folder is a mistake in the
    // command line, not a passing trouble worth waiting for.
    if (fs::path folder = fs::path(args->db).parent_path(); !folder.empty()) {
        std::error_code ec;
        if (!fs::is_directory(folder, ec)) {
            std::cerr << "flowd: cannot create the database " << args->db << ": the folder " << folder.string()
                      << " does not exist\n";
            return 1;
        }
    }

    // Two I/O threads, each running an I/O context of its own (the hint 1 says so): a connection
    // stays on one of them, so it needs no strand. `io` also runs the acceptors, the signals and
    // the shutdown.
    asio::io_context io{1};
    asio::io_context io_second{1};
    auto keep_second_running = asio::make_work_guard(io_second);
    std::vector<asio::io_context*> connection_contexts{&io, &io_second};
    auto stop_io = [&] {
        io.stop();
        io_second.stop();
    };
    // flowd listens once it is ready, so that a client that waits for the port finds it serving.
    // When the database cannot be opened at the first try, it listens at once instead: until the
    // database is open and writable every request is answered 503 with the reason (a read-only
    // or full file system, a lock held elsewhere), and opening is tried again every second: the
    // trouble passing is enough, no restart is needed.
    asio::thread_pool workers(8);  // routes that wait on the database; event ingestion waits on none
    std::atomic<flow::http::Services*> ready{nullptr};
    std::mutex waiting_mutex;
    std::string waiting_for = "flowd is opening its database";
    auto serve = [&](const flow::http::Request& r, flow::http::Reply reply) {
        flow::http::Services* services = ready.load();
        if (!services) {
            if (r.method() == boost::beast::http::verb::get && flow::http::targets_path(r, {"metrics"}))
                return reply(flow::http::database_waiting_metrics(r));
            std::lock_guard lock(waiting_mutex);
            return reply(flow::http::error_response(503, "the database is not available yet: " + waiting_for, r.version()));
        }
        if (flow::http::is_event_post(r)) return flow::http::handle_async(r, *services, std::move(reply));
        asio::post(workers, [services, &r, reply = std::move(reply)] { reply(flow::http::handle(r, *services)); });
    };
    // Each connection holds a file descriptor: the soft limit is raised to the hard one, and an
    // operator whose limit is still below the connections allowed hears of it (connections past
    // it wait in the listen queue until others close).
    if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0) {
        if (files.rlim_cur < files.rlim_max) {
            files.rlim_cur = files.rlim_max;
            (void)setrlimit(RLIMIT_NOFILE, &files);
            (void)getrlimit(RLIMIT_NOFILE, &files);
        }
        constexpr rlim_t own_descriptors = 64;  // the database, its WAL, the relay's connections, ...
        if (files.rlim_cur != RLIM_INFINITY && files.rlim_cur < config.max_connections + own_descriptors)
            log("warn", "the open file limit is below max_connections plus what flowd needs; connections past it wait",
                {{"open_file_limit", static_cast<std::uint64_t>(files.rlim_cur)}, {"max_connections", config.max_connections}});
    }
    flow::http::ServerLimits limits;
    limits.max_connections = config.max_connections;
    limits.max_body_bytes = config.max_body_bytes;
    limits.header_timeout = std::chrono::milliseconds(config.header_timeout_ms);
    limits.body_timeout = std::chrono::milliseconds(config.body_timeout_ms);
    // TLS when a certificate is configured (runtime/http/server_tls.hpp).
    std::unique_ptr<asio::ssl::context> tls;
    if (!config.tls_certificate.empty()) {
        auto made = flow::http::server_tls_context(config.tls_certificate, config.tls_private_key);
        if (auto* problem = std::get_if<std::string>(&made)) {
            std::cerr << "flowd: " << *problem << "\n";
            return 2;
        }
        tls = std::move(std::get<std::unique_ptr<asio::ssl::context>>(made));
        if (auto problem = flow::http::certificate_validity_problem(*tls, std::time(nullptr)))
            log("warn", "the TLS certificate is not valid now; served all the same", {{"certificate", config.tls_certificate}, {"problem", *problem}});
    }
    flow::http::Server server(io, limits, serve, tls.get(), connection_contexts);
    std::unique_ptr<flow::http::Server> metrics_server;
    std::optional<asio::ip::tcp::endpoint> metrics_endpoint;
    if (!config.metrics_listen.empty()) {
        metrics_endpoint = parse_endpoint(config.metrics_listen);
        if (!metrics_endpoint) {
            std::cerr << "flowd: metrics_listen takes HOST:PORT\n";
            return 2;
        }
        metrics_server = std::make_unique<flow::http::Server>(io, limits, [&](const flow::http::Request& r, flow::http::Reply reply) {
            if (!flow::http::targets_path(r, {"metrics"}) && !flow::http::targets_path(r, {"healthz"}))
                return reply(flow::http::error_response(404, "only /metrics and /healthz here"));
            serve(r, std::move(reply));
        }, nullptr, connection_contexts);
    }

    // SIGTERM, SIGINT and SIGHUP: stop accepting, let the requests in flight finish, then stop. A
    // connection kept alive between requests holds nothing up: it is closed with the rest.
    std::atomic<bool> stopping{false};
    // SIGHUP too: a closed terminal or a supervisor's hang-up stops flowd cleanly, as there is
    // nothing to reload (a restart deploys).
    asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
    asio::steady_timer grace(io);
    std::function<void(int)> drain = [&](int left) {
        const bool in_flight = server.requests_in_progress() > 0 || (metrics_server && metrics_server->requests_in_progress() > 0);
        if (!in_flight || left <= 0) {
            stop_io();
            return;
        }
        grace.expires_after(std::chrono::milliseconds(50));
        grace.async_wait([&, left](boost::system::error_code) { drain(left - 1); });
    };
    signals.async_wait([&](boost::system::error_code, int signal) {
        log("info", "stopping", {{"signal", signal}});
        stopping = true;
        server.stop_accepting();
        if (metrics_server) metrics_server->stop_accepting();
        drain(200);  // at most 10 s for the requests in flight
    });
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);  // one held pending is taken now
    std::thread io_threads[2];
    for (std::size_t i = 0; i < 2; ++i)
        io_threads[i] = std::thread([context = connection_contexts[i]] {
            pthread_setname_np(pthread_self(), "flowd-io");
            context->run();
        });
    // Opens the ports on the I/O context that runs the acceptors and the signals, so that a
    // signal's stop_accepting never races it; after a signal it opens none.
    bool listening = false;
    auto start_listening = [&]() -> std::optional<std::string> {
        // Shared with the posted work, which may never run: a signal during the start stops the
        // I/O contexts as soon as no request is in flight, perhaps before it (the wait below
        // then ends without it, and this frame is gone if it ever ran).
        struct Opening {
            std::promise<std::optional<std::string>> ports;
            std::atomic<bool> stopped_before{false};
        };
        auto opening = std::make_shared<Opening>();
        asio::post(io, [&, opening] {
            opening->stopped_before = stopping.load();
            if (opening->stopped_before) return opening->ports.set_value(std::nullopt);
            auto error = server.listen(*endpoint);
            if (!error && metrics_server) error = metrics_server->listen(*metrics_endpoint);
            opening->ports.set_value(error);
        });
        auto opened = opening->ports.get_future();
        while (opened.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready)
            if (io.stopped()) return std::nullopt;  // stopped by a signal: no port opened
        auto error = opened.get();
        if (error || opening->stopped_before) return error;
        listening = true;
        auto bound = server.local_endpoint();
        json fields = {{"version", FLOW_VERSION},
                       {"listen", flow::http::endpoint_text(bound)},
                       {"tls", tls != nullptr},
                       {"db", args->db},
                       {"workflows", compiled.program->workflows.size()}};
        // The port the metrics listener got, too (`metrics_listen` may ask for port 0).
        if (metrics_server) fields["metrics_listen"] = flow::http::endpoint_text(metrics_server->local_endpoint());
        log("info", "flowd is listening", fields);
        return std::nullopt;
    };
    // Ends the I/O threads: at once (`stop_now`, when the start failed), or once a signal has
    // stopped the server and its requests in flight have finished.
    auto finish = [&](int code, bool stop_now) {
        if (stop_now) {
            stopping = true;
            stop_io();
        }
        for (std::thread& t : io_threads) t.join();
        workers.join();
        return code;
    };

    // Deploy: each workflow version with its hash and the sources it was compiled from.
    json sources = json::object();
    for (const auto& file : compiled.loaded.files) sources[file.source->name()] = file.source->text();
    std::string sources_text = sources.dump(-1, ' ', false, json::error_handler_t::replace);
    std::unique_ptr<flow::store::Store> opened;
    for (std::string last_reason;;) {
        auto attempt = open_and_deploy(*args, config, *compiled.program, sources_text);
        if (auto* store = std::get_if<std::unique_ptr<flow::store::Store>>(&attempt)) {
            opened = std::move(*store);
            break;
        }
        const flow::store::StoreError& error = std::get<flow::store::StoreError>(attempt);
        if (error.kind != flow::store::StoreError::Kind::Unavailable) {
            // SQLite's own reasons ("file is not a database") do not say which file.
            const bool names_the_file = error.message.find(args->db) != std::string::npos;
            std::cerr << "flowd: " << (names_the_file ? "" : "cannot use the database " + args->db + ": ") << error.message << "\n";
            return finish(1, true);
        }
        if (!listening)
            if (auto e = start_listening()) {
                std::cerr << "flowd: " << *e << "\n";
                return finish(1, true);
            }
        if (error.message != last_reason) {
            log("error", "the database cannot be opened for writing; answering 503 and trying again every second",
                {{"db", args->db}, {"error", error.message}});
            last_reason = error.message;
            std::lock_guard lock(waiting_mutex);
            waiting_for = error.message;
        }
        for (int i = 0; i < 10 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (stopping) {
            const int code = finish(0, false);
            log("info", "stopped");
            return code;
        }
    }
    flow::store::Store& store = *opened;

    flow::service::Deployment deployment(compiled.program);
    auto definitions = store.definitions();
    if (!definitions.ok()) {
        std::cerr << "flowd: " << definitions.error->message << "\n";
        return finish(1, true);
    }
    // The sources of a start hold all its workflows: each distinct text is compiled once.
    std::map<std::string, flow::Compilation> compiled_sources;
    for (const auto& d : *definitions.value) {
        if (deployment.engine_for(d.workflow, d.version)) continue;
        // An older version: compile it again from its stored sources, for its running instances.
        auto known = compiled_sources.find(d.sources);
        if (known == compiled_sources.end()) {
            json stored = json::parse(d.sources, nullptr, false);
            std::map<std::string, std::string> texts;
            if (stored.is_object())
                for (const auto& [name, text] : stored.items())
                    if (text.is_string()) texts[name] = text.get<std::string>();
            known = compiled_sources.emplace(d.sources, flow::compile_sources(texts)).first;
        }
        const flow::Compilation& old = known->second;
        const int index = old.program ? old.program->workflow_index(d.workflow) : -1;
        if (index < 0) {
            log("warn", "an older workflow version no longer compiles; its instances cannot run",
                {{"workflow", d.workflow}, {"version", d.version}});
            continue;
        }
        const std::string& recompiled_hash = old.program->workflows[static_cast<std::size_t>(index)].hash;
        if (recompiled_hash != d.hash) {
            // Its instances hold their variables by position and their timers by index: read
            // through another program (this binary lowers the same sources otherwise), they
            // would run with their values in the wrong places.
            log("warn", "an older workflow version compiles with this flowd to another program than it was deployed as; its instances cannot run",
                {{"workflow", d.workflow}, {"version", d.version}, {"deployed_hash", d.hash}, {"recompiled_hash", recompiled_hash}});
            continue;
        }
        deployment.add_version(old.program, d.workflow, d.version);
        // Its running instances, if any, may still send commands: to a target no longer bound,
        // each goes dead at once. Said now rather than discovered one command at a time.
        json unbound_targets = json::array();
        for (const std::string& target : old.program->workflows[static_cast<std::size_t>(index)].targets)
            if (!config.targets.count(target)) unbound_targets.push_back(target);
        if (!unbound_targets.empty())
            log("warn", "an older workflow version sends commands to targets that are not bound: what its running instances, if any, send there goes dead",
                {{"workflow", d.workflow}, {"version", d.version}, {"targets", unbound_targets}});
    }

    compiled_sources.clear();

    auto max_sequence = store.max_timer_sequence();
    std::uint64_t timer_sequence = (max_sequence.ok() ? *max_sequence.value : 0) + 1;
    flow::service::Metrics metrics;
    metrics.build_info(FLOW_VERSION, sqlite3_libversion());
    std::vector<std::string> bound_targets;
    for (const auto& [name, target] : config.targets) bound_targets.push_back(name);
    metrics.count_deliveries_to(bound_targets);
    flow::service::Processor processor(deployment, time_ordered_id);
    flow::service::Writer writer(store, 10000, 512);
    writer.observe_batch = [&](std::size_t n) { metrics.batch(n); };
    flow::relay::Relay relay(store, config, metrics, wall_clock_ms, [&](std::vector<flow::store::DeliveryAttempt> attempts) {
        return writer.run([attempts = std::move(attempts)](flow::store::Transaction& tx) { return tx.record_attempts(attempts); },
                          flow::service::Writer::Admission::Always);
    });
    flow::timers::TimerLoop timers(store, writer, processor, metrics, wall_clock_ms, timer_sequence);
    flow::service::Retention retention(store, config, metrics, wall_clock_ms);
    writer.on_commit([&] {
        relay.wake();
        if (processor.take_timers_started()) timers.wake();  // a deadline may have passed already
    });
    flow::http::Services services{config,       store,        writer,         processor, deployment, metrics, wall_clock_ms,
                                  timer_sequence, [&workers](std::function<void()> work) { asio::post(workers, std::move(work)); }};
    ready = &services;
    std::optional<std::string> cannot_listen;
    if (!listening) cannot_listen = start_listening();
    int code = 0;
    if (cannot_listen) {
        // Before the relay and the timer loop start: a start that fails sends and fires nothing.
        std::cerr << "flowd: " << *cannot_listen << "\n";
        code = finish(1, true);
    } else if (stopping) {
        code = finish(0, false);  // a signal came during the start: nothing more is started
    } else {
        relay.start();
        timers.start();
        retention.start();
        log("info", "flowd is ready", {{"db", args->db}});
        code = finish(0, false);
    }
    ready = nullptr;
    retention.stop();
    timers.stop();
    relay.stop();  // before the writer, which records its last round
    writer.stop();
    log("info", "stopped");
    return code;
}
