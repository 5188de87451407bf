#include "runtime/daemon/command_line.hpp"

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>
#include <string_view>

namespace flow::daemon {

namespace asio = boost::asio;

const char* const usage_text =
    "usage: flowd --flows PATH... [--db FILE] [--listen HOST:PORT] [--config FILE] [--target NAME=URL]...\n";
const char* const help_text =
    "\n"
    "  --flows PATH...     .flow files, or folders searched for them; all must compile\n"
    "  --db FILE           the SQLite database (default flow.db), created when missing\n"
    "  --listen HOST:PORT  where the HTTP API listens (default 127.0.0.1:8080)\n"
    "  --config FILE       JSON: targets, secrets, limits (see docs/runtime.md)\n"
    "  --target NAME=URL   binds a command target to an endpoint (repeatable)\n"
    "  --version           prints the release, the language version and the SQLite it runs on\n"
    "  -h, --help          prints this help\n"
    "\n"
    "SIGTERM, SIGINT or SIGHUP stops it cleanly. Documentation: docs/runtime.md and docs/http-api.md.\n";

std::optional<Arguments> parse_arguments(int argc, const char* const* argv, std::string& problem) {
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
            if (v->empty()) {
                // `--config "$CONFIG"` with the variable unset: running without the config would
                // run without its admin token and webhook secrets.
                problem = arg + " needs a value, and was given an empty one";
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
    // SQLite reads these names as no file: a database in memory keeps nothing acknowledged.
    if (a.db == ":memory:" || a.db.rfind("file:", 0) == 0) {
        problem = "--db " + a.db + " names no file (SQLite may read it as " +
                  (a.db == ":memory:" ? std::string("a database in memory, which keeps nothing") : std::string("a URI")) +
                  "): give the database's path" + (a.db == ":memory:" ? "" : ", as ./" + a.db + " for a file whose name starts with file:");
        return std::nullopt;
    }
    // A URL (`postgresql://host/flow`) would be taken for a path in a folder named `postgresql:`.
    if (const std::size_t scheme_end = a.db.find("://");
        scheme_end != std::string::npos && scheme_end > 0 && std::isalpha(static_cast<unsigned char>(a.db[0])) &&
        std::all_of(a.db.begin(), a.db.begin() + static_cast<std::ptrdiff_t>(scheme_end),
                    [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.'; })) {
        const std::string scheme = a.db.substr(0, scheme_end);
        problem = "--db " + a.db + " is a URL, and flowd keeps its database in an SQLite file" +
                  (scheme == "postgresql" || scheme == "postgres" ? std::string(" (a PostgreSQL store is not built yet: docs/scaling.md)") : std::string()) +
                  ": give the database's path, as ./" + a.db + " for a file so named";
        return std::nullopt;
    }
    return a;
}

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

}  // namespace flow::daemon
