#pragma once
// flowd's command line (docs/runtime.md, "Starting flowd"): what it names, and how a mistake in
// it is told.
#include <boost/asio/ip/tcp.hpp>

#include <optional>
#include <string>
#include <vector>

namespace flow::daemon {

struct Arguments {
    std::vector<std::string> flows;  // .flow files and folders, as given
    std::string db = "flow.db";
    std::string listen = "127.0.0.1:8080";
    std::string config;               // empty: none
    std::vector<std::string> targets;  // NAME=URL, as given
    bool help = false;
    bool version = false;
};

extern const char* const usage_text;  // one line, for a mistake in the command line
extern const char* const help_text;   // what follows it for --help

// The arguments after the program's name, or nothing and `problem` set to what is wrong, in
// words (`--db needs a value`, `--listen is given more than once`). `--help` and `--version`
// end the reading: the rest is not looked at.
std::optional<Arguments> parse_arguments(int argc, const char* const* argv, std::string& problem);

// HOST:PORT, where HOST is an address (`127.0.0.1`, `[::1]`), a host name (`localhost`, resolved
// now, an IPv4 address preferred), or nothing (`:8080`, every interface). Nothing when the text
// is not of that form or the name does not resolve.
std::optional<boost::asio::ip::tcp::endpoint> parse_endpoint(const std::string& text);

}  // namespace flow::daemon
