// flowd's start, piece by piece: its command line, the .flow files it finds under --flows, and
// the older workflow versions it runs again from their stored sources. The whole start runs in
// tests/integration/test_flowd.py.
#include "runtime/daemon/command_line.hpp"
#include "dsl/flow_files.hpp"
#include "runtime/daemon/older_versions.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <sstream>
#include <sys/stat.h>

using namespace flow;
namespace fs = std::filesystem;

namespace {

std::optional<daemon::Arguments> parse(std::vector<const char*> args, std::string& problem) {
    args.insert(args.begin(), "flowd");
    return daemon::parse_arguments(static_cast<int>(args.size()), args.data(), problem);
}

std::string problem_of(std::vector<const char*> args) {
    std::string problem;
    CHECK_FALSE(parse(std::move(args), problem));
    return problem;
}

void write_file(const fs::path& path, const std::string& text = "") { std::ofstream(path) << text; }

const char* version_one = "event Go { id: string }\ncommand Log to log { text: string }\n"
                          "workflow W { key id: string start on Go { emit Log { text: \"one\" } goto S } state S { on Go { complete } } }";

store::Definition definition_of(const std::string& text, const std::string& workflow, int version) {
    Compilation compiled = test::compile_text(text);
    REQUIRE(compiled.program);
    const int index = compiled.program->workflow_index(workflow);
    REQUIRE(index >= 0);
    store::Definition d;
    d.workflow = workflow;
    d.version = version;
    d.hash = compiled.program->workflows[static_cast<std::size_t>(index)].hash;
    d.sources = nlohmann::json({{"test.flow", text}}).dump();
    return d;
}

}  // namespace

TEST_CASE("flowd's command line: the defaults, both forms of a value, and several flows") {
    std::string problem;
    auto a = parse({"--flows", "a.flow", "dir", "--db=x.db", "--listen", ":9000", "--target", "pay=http://p/", "--target=log=http://l/"},
                   problem);
    REQUIRE(a);
    CHECK(a->flows == std::vector<std::string>{"a.flow", "dir"});
    CHECK(a->db == "x.db");
    CHECK(a->listen == ":9000");
    CHECK(a->config.empty());
    CHECK(a->targets == std::vector<std::string>{"pay=http://p/", "log=http://l/"});

    auto defaults = parse({"--flows=one.flow"}, problem);
    REQUIRE(defaults);
    CHECK(defaults->flows == std::vector<std::string>{"one.flow"});
    CHECK(defaults->db == "flow.db");
    CHECK(defaults->listen == "127.0.0.1:8080");
    CHECK(defaults->targets.empty());

    // A value that starts with `--` is given inline.
    auto dashed = parse({"--flows", "f", "--db=--odd"}, problem);
    REQUIRE(dashed);
    CHECK(dashed->db == "--odd");
}

TEST_CASE("flowd's command line: --help and --version end the reading, mistakes are named") {
    std::string problem;
    auto help = parse({"--help", "--no-such-option"}, problem);
    REQUIRE(help);
    CHECK(help->help);
    auto version = parse({"--version"}, problem);
    REQUIRE(version);
    CHECK(version->version);

    CHECK(problem_of({}) == "--flows needs at least one file or folder");
    CHECK(problem_of({"--db", "x.db"}) == "--flows needs at least one file or folder");
    CHECK(problem_of({"--flows", "f", "--db"}) == "--db needs a value");
    CHECK(problem_of({"--flows", "f", "--db", "--listen", ":1"}) == "--db needs a value");
    CHECK(problem_of({"--flows", "f", "--db", "a", "--db", "b"}) == "--db is given more than once");
    CHECK(problem_of({"--flows", "f", "--config=a", "--config=a"}) == "--config is given more than once");
    CHECK(problem_of({"--flows", "f", "--target", "pay=http://a/", "--target", "pay=http://b/"}) ==
          "--target pay is given more than once");
    CHECK(problem_of({"--flows", "f", "--verbose"}) == "unknown argument --verbose");
    // An empty value (an unset variable) is no value: without the config there is no admin token.
    for (const char* option : {"--db", "--listen", "--config", "--target"}) {
        CHECK(problem_of({"--flows", "f", option, ""}) == std::string(option) + " needs a value, and was given an empty one");
        CHECK(problem_of({"--flows", "f", (std::string(option) + "=").c_str()}) ==
              std::string(option) + " needs a value, and was given an empty one");
    }
    CHECK(problem_of({"--flows", "f", "--db", ":memory:"}) ==
          "--db :memory: names no file (SQLite may read it as a database in memory, which keeps nothing): give the database's path");
    CHECK(problem_of({"--flows", "f", "--db", "file:y.db?mode=ro"}) ==
          "--db file:y.db?mode=ro names no file (SQLite may read it as a URI): give the database's path, as ./file:y.db?mode=ro for a "
          "file whose name starts with file:");
    REQUIRE(parse({"--flows", "f", "--db", "./file:y.db"}, problem));
    // A URL is no path: PostgreSQL is not built yet, and any other scheme is no SQLite file either.
    CHECK(problem_of({"--flows", "f", "--db", "postgresql://db.internal/flow"}) ==
          "--db postgresql://db.internal/flow is a URL, and flowd keeps its database in an SQLite file (a PostgreSQL store is not "
          "built yet: docs/scaling.md): give the database's path, as ./postgresql://db.internal/flow for a file so named");
    CHECK(problem_of({"--flows", "f", "--db=sqlite:///var/flow.db"}) ==
          "--db sqlite:///var/flow.db is a URL, and flowd keeps its database in an SQLite file: give the database's path, as "
          "./sqlite:///var/flow.db for a file so named");
    REQUIRE(parse({"--flows", "f", "--db", "./postgresql://x"}, problem));
    REQUIRE(parse({"--flows", "f", "--db", "data/2026://x.db"}, problem));  // no scheme starts with a folder's name and '/'
    auto two = parse({"--flows", "f", "--db", "x.db", "--flows", "g"}, problem);  // --flows may come twice
    REQUIRE(two);
    CHECK(two->flows == std::vector<std::string>{"f", "g"});
}

TEST_CASE("flowd's --listen: addresses, ports and names") {
    auto v4 = daemon::parse_endpoint("127.0.0.1:8080");
    REQUIRE(v4);
    CHECK(v4->address().to_string() == "127.0.0.1");
    CHECK(v4->port() == 8080);
    auto v6 = daemon::parse_endpoint("[::1]:0");
    REQUIRE(v6);
    CHECK(v6->address().is_v6());
    CHECK(v6->port() == 0);
    auto bare_v6 = daemon::parse_endpoint("::1:8080");  // the port after the last colon (runtime.md)
    REQUIRE(bare_v6);
    CHECK(*bare_v6 == *daemon::parse_endpoint("[::1]:8080"));
    auto every = daemon::parse_endpoint(":9000");
    REQUIRE(every);
    CHECK(every->address().to_string() == "0.0.0.0");
    auto named = daemon::parse_endpoint("localhost:80");
    REQUIRE(named);
    CHECK(named->address().is_loopback());
    CHECK(named->address().is_v4());  // an IPv4 address preferred

    for (const char* wrong : {"8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80x",
                              "no-such-host.invalid:80"})
        CHECK_MESSAGE(!daemon::parse_endpoint(wrong), wrong);
}

TEST_CASE("flowd's --flows: files as given, folders searched in order, each folder once") {
    test::TempDir dir;
    fs::create_directories(dir.path / "flows" / "b");
    fs::create_directories(dir.path / "other");
    write_file(dir.path / "flows" / "z.flow");
    write_file(dir.path / "flows" / "a.flow");
    write_file(dir.path / "flows" / "notes.txt");
    write_file(dir.path / "flows" / "b" / "m.flow");
    write_file(dir.path / "other" / "o.flow");
    write_file(dir.path / "single.txt");
    fs::create_directory_symlink(dir.path / "other", dir.path / "flows" / "linked");
    fs::create_directory_symlink(dir.path / "other", dir.path / "flows" / "linked-again");  // the same folder: once
    fs::create_directory_symlink(dir.path / "flows", dir.path / "flows" / "b" / "up");      // a loop: not entered
    fs::create_symlink(dir.path / "gone.flow", dir.path / "flows" / "dangling.flow");       // taken, to fail loudly

    std::string problem;
    const std::string flows = (dir.path / "flows").string();
    const auto files = flow_files({flows, (dir.path / "single.txt").string()}, problem);
    CHECK(problem.empty());
    CHECK(files == std::vector<std::string>{flows + "/a.flow", flows + "/b/m.flow", flows + "/dangling.flow",
                                            flows + "/linked/o.flow", flows + "/z.flow", (dir.path / "single.txt").string()});
}

TEST_CASE("flowd's --flows: a pipe named *.flow in a folder is refused, not opened to wait for a writer") {
    test::TempDir dir;
    fs::create_directories(dir.path / "flows" / "sub");
    write_file(dir.path / "flows" / "a.flow");
    REQUIRE(::mkfifo((dir.path / "flows" / "sub" / "p.flow").c_str(), 0600) == 0);
    std::string problem;
    const std::string flows = (dir.path / "flows").string();
    CHECK(flow_files({flows}, problem).empty());
    CHECK(problem == flows + ": " + flows + "/sub/p.flow is not a regular file (a pipe, a device or a socket)");
    // A pipe named otherwise is no source, and is passed by.
    fs::rename(dir.path / "flows" / "sub" / "p.flow", dir.path / "flows" / "sub" / "p.fifo");
    problem.clear();
    CHECK(flow_files({flows}, problem) == std::vector<std::string>{flows + "/a.flow"});
    CHECK(problem.empty());
}

TEST_CASE("older versions: run again when their sources compile to the program recorded, left out and logged otherwise") {
    const std::string version_two = std::string(version_one).replace(std::string(version_one).find("\"one\""), 5, "\"two\"");
    Compilation current = test::compile_text(version_two);
    REQUIRE(current.program);
    service::Config config;
    config.targets["log"] = {};

    service::Deployment deployment(current.program);
    store::Definition same = definition_of(version_one, "W", 1);
    store::Definition other_hash = definition_of(version_one, "W", 2);
    other_hash.hash = "0000";
    store::Definition broken = definition_of(version_one, "W", 3);
    broken.sources = nlohmann::json({{"test.flow", "workflow {"}}).dump();
    store::Definition not_json = definition_of(version_one, "W", 4);
    not_json.sources = "{";

    test::CapturedLog log;
    daemon::add_older_versions(deployment, {same, other_hash, broken, not_json}, config, [] { return std::int64_t{0}; });
    CHECK(deployment.engine_for("W", 1) != nullptr);
    CHECK(deployment.engine_for("W", 2) == nullptr);
    CHECK(deployment.engine_for("W", 3) == nullptr);
    CHECK(deployment.engine_for("W", 4) == nullptr);
    const std::string text = log.text.str();
    CHECK(test::count(text, "\n") == 3);
    CHECK(test::count(text, "\"msg\":\"an older workflow version no longer compiles; its instances cannot run\"") == 2);
    CHECK(text.find("\"deployed_hash\":\"0000\"") != std::string::npos);
    CHECK(text.find("\"ts\":\"1970-01-01T00:00:00.000Z\"") != std::string::npos);
}

TEST_CASE("older versions: one that sends to a target no longer bound is run, and the target named") {
    Compilation current = test::compile_text("event Other { id: string }\nworkflow V { key id: string start on Other { complete } }");
    REQUIRE(current.program);
    service::Config config;  // binds no target
    service::Deployment deployment(current.program);
    test::CapturedLog log;
    daemon::add_older_versions(deployment, {definition_of(version_one, "W", 1)}, config, [] { return std::int64_t{0}; });
    CHECK(deployment.engine_for("W", 1) != nullptr);
    CHECK(log.text.str().find("\"targets\":[\"log\"]") != std::string::npos);
    CHECK(log.text.str().find("\"level\":\"warn\"") != std::string::npos);
}
