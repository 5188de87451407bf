#include "runtime/daemon/daemon.hpp"

#include "dsl/compiler.hpp"
#include "dsl/ir_json.hpp"
#include "dsl/flow_files.hpp"
#include "runtime/daemon/older_versions.hpp"
#include "runtime/http/routes.hpp"
#include "runtime/http/server.hpp"
#include "runtime/http/server_tls.hpp"
#include "runtime/relay/relay.hpp"
#include "runtime/service/config.hpp"
#include "runtime/service/log.hpp"
#include "runtime/service/retention.hpp"
#include "runtime/service/time_ordered_id.hpp"
#include "runtime/store/sqlite_store.hpp"
#include "runtime/timers/timer_loop.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sqlite3.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <sys/resource.h>
#include <system_error>
#include <thread>
#include <variant>
#include <vector>

namespace flow::daemon {

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using nlohmann::json;

constexpr int exit_start_failed = 1;
constexpr int exit_usage = 2;

std::int64_t wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void log(std::string_view level, std::string_view message, json fields = json::object()) {
    service::log(wall_clock_ms(), level, message, std::move(fields));
}

// What stops the start, on standard error.
void print_problem(const std::string& reason) { std::cerr << "flowd: " << reason << "\n"; }

// The operating system refused a thread: flowd cannot run, and says what limit to look at.
std::string no_thread(const std::system_error& e) {
    return std::string("cannot start a thread: ") + e.what() +
           " (the process may be at its limit of threads: `ulimit -u`, a container's pids limit, systemd's TasksMax; "
           "flowd needs about 16)";
}

// A start that cannot be: the reason printed, and the exit status to end with.
int refuse(int status, const std::string& reason) {
    print_problem(reason);
    return status;
}

// What the start settles before any thread runs.
struct Plan {
    service::Config config;
    asio::ip::tcp::endpoint endpoint;
    std::optional<asio::ip::tcp::endpoint> metrics_endpoint;
    std::unique_ptr<asio::ssl::context> tls;  // when a certificate is configured
    Compilation compiled;                     // has a program once compile_flows succeeded
};

// The config file, the --target flags, the addresses to listen on and the TLS files. A mistake
// in any of them is a usage error.
std::optional<int> read_configuration(const Arguments& args, Plan& plan) {
    if (!args.config.empty())
        if (auto e = service::load_config(args.config, plan.config)) return refuse(exit_usage, *e);
    for (const std::string& t : args.targets)
        if (auto e = service::add_target_flag(t, plan.config)) return refuse(exit_usage, *e);
    auto endpoint = parse_endpoint(args.listen);
    if (!endpoint)
        return refuse(exit_usage, "--listen " + args.listen +
                                      ": takes HOST:PORT, such as 127.0.0.1:8080 or localhost:8080 (a port from 0 to 65535, a host name that resolves)");
    plan.endpoint = *endpoint;
    if (!plan.config.metrics_listen.empty()) {
        plan.metrics_endpoint = parse_endpoint(plan.config.metrics_listen);
        if (!plan.metrics_endpoint)
            return refuse(exit_usage, "metrics_listen " + plan.config.metrics_listen +
                                          ": takes HOST:PORT, such as 127.0.0.1:9090 (a port from 0 to 65535, a host name that resolves)");
    }
    if (!plan.config.tls_certificate.empty()) {
        auto made = http::server_tls_context(plan.config.tls_certificate, plan.config.tls_private_key);
        if (auto* problem = std::get_if<std::string>(&made)) return refuse(exit_usage, *problem);
        plan.tls = std::move(std::get<std::unique_ptr<asio::ssl::context>>(made));
        if (auto problem = http::certificate_validity_problem(*plan.tls, std::time(nullptr)))
            log("warn", "the TLS certificate is not valid now; served all the same",
                {{"certificate", plan.config.tls_certificate}, {"problem", *problem}});
    }
    return std::nullopt;
}

// Compiles every flow, printing the diagnostics; any error stops the start. A path that does not
// exist is a mistake in the command line, as for `flowc check`.
std::optional<int> compile_flows(const Arguments& args, Plan& plan) {
    for (const std::string& path : args.flows) {
        std::error_code ec;
        if (!fs::exists(path, ec)) return refuse(exit_usage, "--flows " + path + ": no such file or folder");
    }
    std::string problem;
    std::vector<std::string> files = flow_files(args.flows, problem);
    if (!problem.empty()) return refuse(exit_usage, "--flows " + problem);
    if (files.empty()) return refuse(exit_usage, "no .flow file under the given paths");
    DiskReader reader;
    plan.compiled = compile(files, reader);
    for (const auto& d : plan.compiled.diagnostics.all()) std::cerr << format_text(d);
    if (!plan.compiled.program) return refuse(exit_start_failed, "the flows do not compile; nothing was started");
    return std::nullopt;
}

// Every target a workflow sends commands to must have an endpoint: each one missing is named.
std::optional<int> check_targets_bound(const Plan& plan) {
    bool unbound = false;
    for (const auto& w : plan.compiled.program->workflows)
        for (const std::string& target : w.targets)
            if (!plan.config.targets.count(target)) {
                std::cerr << "flowd: workflow '" << w.name << "' sends commands to target '" << target
                          << "', which is not bound: add it under \"targets\" in the config, or pass --target " << target
                          << "=http://…\n";
                unbound = true;
            }
    return unbound ? std::optional<int>(exit_start_failed) : std::nullopt;
}

// SQLite creates the file, not the folders above it: a missing folder is a mistake in the
// command line, not a passing trouble worth waiting for; and so is a path that holds something
// other than a file (a folder, `/dev/null`), which no retry would ever open as a database.
std::optional<int> check_database_path(const Arguments& args) {
    std::error_code ec;
    const fs::file_status status = fs::status(args.db, ec);
    if (status.type() == fs::file_type::directory)
        return refuse(exit_start_failed, "cannot use the database " + args.db + ": it is a folder, not a file");
    if (fs::exists(status) && status.type() != fs::file_type::regular)
        return refuse(exit_start_failed, "cannot use the database " + args.db + ": it is not a regular file (a device, a pipe or a socket)");
    const fs::path folder = fs::path(args.db).parent_path();
    if (folder.empty() || fs::is_directory(folder, ec)) return std::nullopt;
    return refuse(exit_start_failed, "cannot create the database " + args.db + ": the folder " + folder.string() + " does not exist");
}

// SQLite will not lower a database's page limit below the pages it has: a max_database_mb under
// the file's size refuses only the writes that need more room, from the first event. The
// operator hears of it at start, where the 503s alone would read as a full disk.
void warn_if_past_size_limit(const std::string& db, std::int64_t max_database_mb) {
    std::error_code ec;
    const std::uintmax_t bytes = fs::file_size(db, ec);
    if (max_database_mb <= 0 || ec || bytes <= static_cast<std::uintmax_t>(max_database_mb) * 1048576) return;
    log("warn", "the database is already larger than max_database_mb: writes that need more room are refused (503) until it is pruned or the limit raised",
        {{"db", db}, {"database_mb", static_cast<std::uint64_t>((bytes + 1048575) / 1048576)}, {"max_database_mb", max_database_mb}});
}

// Each connection holds a file descriptor: the soft limit is raised to the hard one, and an
// operator whose limit is still below the connections allowed hears of it (connections past it
// wait in the listen queue until others close).
void raise_open_file_limit(std::size_t max_connections) {
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) != 0) return;
    if (files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &files);
        (void)getrlimit(RLIMIT_NOFILE, &files);
    }
    constexpr rlim_t own_descriptors = 64;  // the database, its WAL, the relay's connections, ...
    if (files.rlim_cur != RLIM_INFINITY && files.rlim_cur < max_connections + own_descriptors)
        log("warn", "the open file limit is below max_connections plus what flowd needs; connections past it wait",
            {{"open_file_limit", static_cast<std::uint64_t>(files.rlim_cur)}, {"max_connections", max_connections}});
}

// Opens (creating or migrating) the database and records each workflow version in it, with its
// hash and the sources it was compiled from. A store error of kind Unavailable is worth
// retrying (read-only, full, locked); any other is final.
std::variant<std::unique_ptr<store::Store>, store::StoreError> open_and_deploy(const Arguments& args, const Plan& plan,
                                                                             const std::string& sources_text) {
    store::SqliteOptions options{args.db, plan.config.synchronous, plan.config.max_database_mb};
    options.commands_by_instance = plan.config.instance_retention_hours > 0;  // what pruning ended instances needs
    options.inbox_by_age = plan.config.inbox_retention_hours > 0;              // and pruning the inbox
    auto opened = store::open_sqlite_store(options);
    if (!opened.ok()) return *opened.error;
    // All or none: a refused start leaves no version of it recorded (one never served would then
    // count as deployed, and its next edit be refused as a change).
    const ir::Program& program = *plan.compiled.program;
    std::vector<store::Definition> definitions;
    for (const auto& w : program.workflows)
        definitions.push_back({w.name, w.version, w.hash, to_json(program, w).dump(-1, ' ', false, json::error_handler_t::replace),
                               sources_text, service::timestamp(wall_clock_ms())});
    if (auto e = (*opened.value)->deploy_all(definitions)) return *e;
    return std::move(*opened.value);
}

// The running server: its threads, its listeners and, once the database is open, its parts.
class Daemon {
public:
    Daemon(const Arguments& args, Plan plan);
    int run(const sigset_t& stop_signals);

private:
    // Answers a request: 503 with the reason until the database is open, then the routes (event
    // ingestion and the scrapes of /metrics from the connection's thread, as neither waits there:
    // the one on the writer, the other on a count read on `workers_`; the rest on `workers_`).
    void serve(const http::Request& request, http::Reply reply);
    // Stop accepting, let the requests in flight finish (at most `left` more 50 ms waits), then
    // stop the I/O threads. A connection kept alive between requests holds nothing up.
    void on_stop_signal(int signal);
    void drain(int left);
    // Starts accepting on the addresses bound at the start of run(), on the I/O context that runs
    // the acceptors and the signals, so that a signal's stop_accepting never races it; after a
    // signal it starts none. The error when a port cannot be listened on.
    std::optional<std::string> start_listening();
    // Ends the I/O threads and the workers: at once (`stop_now`, when the start failed), or once
    // a signal has stopped the server and its requests in flight have finished. Returns `code`.
    int finish(int code, bool stop_now);
    // Opens the database, trying again every second while it is unavailable (listening
    // meanwhile, and answering 503): the store, or the exit status when the start ends.
    std::variant<std::unique_ptr<store::Store>, int> open_store();
    // Runs the parts over the open store until a signal stops flowd; stops them in order.
    int serve_until_stopped(store::Store& store);

    const Arguments& args_;
    Plan plan_;
    // Two I/O threads, each running an I/O context of its own (the hint 1 says so): a connection
    // stays on one of them, so it needs no strand. `io_` also runs the acceptors, the signals and
    // the shutdown.
    asio::io_context io_{1};
    asio::io_context io_second_{1};
    asio::executor_work_guard<asio::io_context::executor_type> keep_second_running_ = asio::make_work_guard(io_second_);
    std::vector<asio::io_context*> connection_contexts_{&io_, &io_second_};
    // The workers: the routes that wait on the database run on them; event ingestion waits on
    // none. Their threads are started in run(), where a thread refused is an error flowd reports.
    asio::io_context workers_{8};
    asio::executor_work_guard<asio::io_context::executor_type> keep_workers_running_ = asio::make_work_guard(workers_);
    static constexpr int worker_count = 8;
    std::vector<std::thread> worker_threads_;
    std::atomic<http::Services*> ready_{nullptr};  // set while the parts run
    std::mutex waiting_mutex_;
    std::string waiting_for_ = "flowd is opening its database";  // guarded by waiting_mutex_
    std::unique_ptr<http::Server> server_;
    std::unique_ptr<http::Server> metrics_server_;  // when metrics_listen is set
    std::atomic<bool> stopping_{false};
    // SIGHUP too: a closed terminal or a supervisor's hang-up stops flowd cleanly, as there is
    // nothing to reload (a restart deploys).
    asio::signal_set signals_{io_, SIGINT, SIGTERM, SIGHUP};
    asio::steady_timer grace_{io_};
    std::thread io_threads_[2];
    bool listening_ = false;
};

Daemon::Daemon(const Arguments& args, Plan plan) : args_(args), plan_(std::move(plan)) {
    raise_open_file_limit(plan_.config.max_connections);
    http::ServerLimits limits;
    limits.max_connections = plan_.config.max_connections;
    limits.max_body_bytes = plan_.config.max_body_bytes;
    limits.header_timeout = std::chrono::milliseconds(plan_.config.header_timeout_ms);
    limits.body_timeout = std::chrono::milliseconds(plan_.config.body_timeout_ms);
    server_ = std::make_unique<http::Server>(
        io_, limits, [this](const http::Request& r, http::Reply reply) { serve(r, std::move(reply)); }, plan_.tls.get(),
        connection_contexts_);
    // The events the server refuses before the route reads them count with the route's own.
    server_->observe_refusals([this](const http::Request& r, unsigned status) {
        http::Services* services = ready_.load();
        if (!services || !http::is_event_post(r)) return;
        if (status == 413) services->metrics.event("rejected_413");
        else if (status == 400) services->metrics.event("rejected_400");
    });
    if (plan_.metrics_endpoint)
        metrics_server_ = std::make_unique<http::Server>(
            io_, limits,
            [this](const http::Request& r, http::Reply reply) {
                if (!http::targets_path(r, {"metrics"}) && !http::targets_path(r, {"healthz"}))
                    return reply(http::error_response(404, "only /metrics and /healthz here"));
                serve(r, std::move(reply));
            },
            nullptr, connection_contexts_);
}

void Daemon::serve(const http::Request& r, http::Reply reply) {
    http::Services* services = ready_.load();
    if (!services) {
        // HEAD as GET: the server leaves the body out.
        const bool reads = r.method() == boost::beast::http::verb::get || r.method() == boost::beast::http::verb::head;
        if (reads && http::targets_path(r, {"metrics"})) return reply(http::database_waiting_metrics(r));
        std::lock_guard lock(waiting_mutex_);
        return reply(http::error_response(503, "the database is not available yet: " + waiting_for_, r.version()));
    }
    if (http::answers_without_blocking(r)) return http::handle_async(r, *services, std::move(reply));
    asio::post(workers_, [services, &r, reply = std::move(reply)] { reply(http::handle(r, *services)); });
}

void Daemon::on_stop_signal(int signal) {
    log("info", "stopping", {{"signal", signal}});
    stopping_ = true;
    server_->stop_accepting();
    if (metrics_server_) metrics_server_->stop_accepting();
    drain(200);  // at most 10 s for the requests in flight
}

void Daemon::drain(int left) {
    const bool in_flight = server_->requests_in_progress() > 0 || (metrics_server_ && metrics_server_->requests_in_progress() > 0);
    if (!in_flight || left <= 0) {
        io_.stop();
        io_second_.stop();
        return;
    }
    grace_.expires_after(std::chrono::milliseconds(50));
    grace_.async_wait([this, left](boost::system::error_code) { drain(left - 1); });
}

std::optional<std::string> Daemon::start_listening() {
    // Shared with the posted work, which may never run: a signal during the start stops the I/O
    // contexts as soon as no request is in flight, perhaps before it (the wait below then ends
    // without it).
    struct Opening {
        std::promise<std::optional<std::string>> ports;
        std::atomic<bool> stopped_before{false};
    };
    auto opening = std::make_shared<Opening>();
    asio::post(io_, [this, opening] {
        opening->stopped_before = stopping_.load();
        if (opening->stopped_before) return opening->ports.set_value(std::nullopt);
        auto error = server_->listen();
        if (!error && metrics_server_) error = metrics_server_->listen();
        opening->ports.set_value(error);
    });
    auto opened = opening->ports.get_future();
    while (opened.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready)
        if (io_.stopped()) return std::nullopt;  // stopped by a signal: no port opened
    auto error = opened.get();
    if (error || opening->stopped_before) return error;
    listening_ = true;
    json fields = {{"version", FLOW_VERSION},
                   {"listen", http::endpoint_text(server_->local_endpoint())},
                   {"tls", plan_.tls != nullptr},
                   {"db", args_.db},
                   {"workflows", plan_.compiled.program->workflows.size()}};
    // The port the metrics listener got, too (`metrics_listen` may ask for port 0).
    if (metrics_server_) fields["metrics_listen"] = http::endpoint_text(metrics_server_->local_endpoint());
    log("info", "flowd is listening", fields);
    return std::nullopt;
}

int Daemon::finish(int code, bool stop_now) {
    if (stop_now) {
        stopping_ = true;
        io_.stop();
        io_second_.stop();
    }
    for (std::thread& t : io_threads_)
        if (t.joinable()) t.join();
    // The routes queued for the workers run before the workers end (none is left unanswered).
    keep_workers_running_.reset();
    for (std::thread& t : worker_threads_) t.join();
    worker_threads_.clear();
    return code;
}

std::variant<std::unique_ptr<store::Store>, int> Daemon::open_store() {
    json sources = json::object();
    for (const auto& file : plan_.compiled.loaded.files) sources[file.source->name()] = file.source->text();
    const std::string sources_text = sources.dump(-1, ' ', false, json::error_handler_t::replace);
    for (std::string last_reason;;) {
        auto attempt = open_and_deploy(args_, plan_, sources_text);
        if (auto* opened = std::get_if<std::unique_ptr<store::Store>>(&attempt)) return std::move(*opened);
        const store::StoreError& error = std::get<store::StoreError>(attempt);
        if (error.kind != store::StoreError::Kind::Unavailable) {
            // SQLite's own reasons ("file is not a database") do not say which file.
            const bool names_the_file = error.message.find(args_.db) != std::string::npos;
            print_problem((names_the_file ? "" : "cannot use the database " + args_.db + ": ") + error.message);
            return finish(exit_start_failed, true);
        }
        if (!listening_)
            if (auto e = start_listening()) {
                print_problem(*e);
                return finish(exit_start_failed, true);
            }
        if (error.message != last_reason) {
            log("error", "the database cannot be opened for writing; answering 503 and trying again every second",
                {{"db", args_.db}, {"error", error.message}});
            last_reason = error.message;
            std::lock_guard lock(waiting_mutex_);
            waiting_for_ = error.message;
        }
        for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (stopping_) {
            const int code = finish(0, false);
            log("info", "stopped");
            return code;
        }
    }
}

int Daemon::serve_until_stopped(store::Store& store) {
    service::Deployment deployment(plan_.compiled.program);
    auto definitions = store.definitions();
    if (!definitions.ok()) {
        print_problem(definitions.error->message);
        return finish(exit_start_failed, true);
    }
    add_older_versions(deployment, *definitions.value, plan_.config, wall_clock_ms);

    const service::Config& config = plan_.config;
    warn_if_past_size_limit(args_.db, config.max_database_mb);
    // Timers are numbered on from the largest pending: one numbered again would take an
    // instance's pending timer's place, and fire out of the order the timers were started.
    auto max_sequence = store.max_timer_sequence();
    if (!max_sequence.ok()) {
        print_problem("cannot read the pending timers in " + args_.db + ": " + max_sequence.error->message);
        return finish(exit_start_failed, true);
    }
    std::uint64_t timer_sequence = *max_sequence.value + 1;
    service::Metrics metrics;
    metrics.build_info(FLOW_VERSION, sqlite3_libversion());
    std::vector<std::string> bound_targets;
    for (const auto& [name, target] : config.targets) bound_targets.push_back(name);
    metrics.count_deliveries_to(bound_targets);
    service::Processor processor(deployment, [] { return service::time_ordered_id(wall_clock_ms()); });
    // As many events a transaction as the largest batch a request may bring, and no fewer than
    // its 512 jobs: a lower max_batch_events must not shrink the group commit of single events.
    std::optional<service::Writer> started_writer;
    try {
        started_writer.emplace(store, 10000, 512, std::max<std::size_t>(config.max_batch_events, 512));
    } catch (const std::system_error& e) {
        print_problem(no_thread(e));
        return finish(exit_start_failed, true);
    }
    service::Writer& writer = *started_writer;
    writer.observe_batch = [&](std::size_t n) { metrics.batch(n); };
    relay::Relay relay(store, config, metrics, wall_clock_ms, [&](std::vector<store::DeliveryAttempt> attempts) {
        return writer.run([attempts = std::move(attempts)](store::Transaction& tx) { return tx.record_attempts(attempts); },
                          service::Writer::Admission::Always);
    });
    timers::TimerLoop timers(store, writer, processor, metrics, wall_clock_ms, timer_sequence);
    service::Retention retention(store, config, metrics, wall_clock_ms);
    writer.on_commit([&] {
        relay.wake();
        if (processor.take_timers_started()) timers.wake();  // a deadline may have passed already
    });
    http::Services services{config, store, writer, processor, deployment, metrics, wall_clock_ms, timer_sequence,
                            [this](std::function<void()> work) { asio::post(workers_, std::move(work)); },
                            [&relay](const std::string& target) { relay.forget_silence(target); }};
    ready_ = &services;
    std::optional<std::string> cannot_listen;
    if (!listening_) cannot_listen = start_listening();
    int code = 0;
    if (cannot_listen) {
        // Before the relay and the timer loop start: a start that fails sends and fires nothing.
        print_problem(*cannot_listen);
        code = finish(exit_start_failed, true);
    } else if (stopping_) {
        code = finish(0, false);  // a signal came during the start: nothing more is started
    } else {
        bool started = false;
        try {
            relay.start();
            timers.start();
            retention.start();
            started = true;
        } catch (const std::system_error& e) {
            // What was acknowledged is committed; what the relay and the timers had to do is
            // done at the next start. The parts started are stopped below.
            print_problem(no_thread(e));
        }
        if (started) log("info", "flowd is ready", {{"db", args_.db}});
        code = started ? finish(0, false) : finish(exit_start_failed, true);
    }
    ready_ = nullptr;
    retention.stop();
    timers.stop();
    relay.stop();  // before the writer, which records its last round
    writer.stop();
    log("info", "stopped");
    return code;
}

int Daemon::run(const sigset_t& stop_signals) {
    // The addresses are taken first, so that one already in use stops the start before the
    // database is opened, or created; they accept connections only once flowd serves them.
    auto cannot_bind = server_->bind(plan_.endpoint);
    if (!cannot_bind && metrics_server_) cannot_bind = metrics_server_->bind(*plan_.metrics_endpoint);
    if (cannot_bind) {
        print_problem(*cannot_bind);
        return finish(exit_start_failed, true);
    }
    signals_.async_wait([this](boost::system::error_code, int signal) { on_stop_signal(signal); });
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);  // one held pending is taken now
    try {
        for (std::size_t i = 0; i < 2; ++i)
            io_threads_[i] = std::thread([context = connection_contexts_[i]] {
                pthread_setname_np(pthread_self(), "flowd-io");
                context->run();
            });
        worker_threads_.reserve(worker_count);  // so that only the thread's start can fail below
        for (int i = 0; i < worker_count; ++i)
            worker_threads_.emplace_back([this] {
                pthread_setname_np(pthread_self(), "flowd-worker");
                workers_.run();
            });
    } catch (const std::system_error& e) {
        print_problem(no_thread(e));
        return finish(exit_start_failed, true);
    }
    auto opened = open_store();
    if (const int* code = std::get_if<int>(&opened)) return *code;
    std::unique_ptr<store::Store> database = std::move(std::get<std::unique_ptr<store::Store>>(opened));
    return serve_until_stopped(*database);
}

}  // namespace

int run(const Arguments& args, const sigset_t& stop_signals) {
    Plan plan;
    if (auto code = read_configuration(args, plan)) return *code;
    if (auto code = compile_flows(args, plan)) return *code;
    if (auto code = check_targets_bound(plan)) return *code;
    if (auto code = check_database_path(args)) return *code;
    Daemon flowd(args, std::move(plan));
    return flowd.run(stop_signals);
}

}  // namespace flow::daemon
