#include "runtime/service/config.hpp"

#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string_view>
#include <variant>
#include <vector>

namespace flow::service {

namespace {

using nlohmann::json;

// What is wrong with a target's URL, if anything: it must be an absolute http:// or https:// URL
// with a host, so that a typo stops flowd at start rather than killing every command later.
std::optional<std::string> url_problem(const std::string& url) {
    auto parsed = boost::urls::parse_uri(url);
    std::string scheme = parsed ? std::string(parsed->scheme()) : url.substr(0, url.find(':'));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if ((scheme != "http" && scheme != "https") || url.find("//") != scheme.size() + 1) return "must start with http:// or https://";
    if (!parsed) return "is not a valid URL: percent-encode spaces and other special characters";
    if (parsed->host().empty()) return "names no host";
    // RFC 9110 4.2.4: an http(s) URL carries no user name or password, and flowd would send none.
    if (parsed->has_userinfo()) return "holds a user name or password, which flowd would not send: sign the commands with a secret instead";
    if (parsed->has_port()) {
        // Boost.URL takes any digits, or none, as a port: a port is a number from 1 to 65535.
        const std::string_view port = parsed->port();
        const bool digits = !port.empty() && port.size() <= 5 &&
                            std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!digits || parsed->port_number() == 0 || std::stoul(std::string(port)) > 65535)
            return "has a port that is not a number from 1 to 65535";
    }
    return std::nullopt;
}

// Whether the text holds a control character or begins or ends with a space: the final newline of
// a secret read from a file, say, which no header could carry.
bool has_control_or_end_space(std::string_view text) {
    const auto control = [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; };
    return std::any_of(text.begin(), text.end(), control) || (!text.empty() && (text.front() == ' ' || text.back() == ' '));
}

// Whether the text is base64 as RFC 4648 writes it: groups of four characters of its alphabet,
// the last one padded with at most two '='.
bool is_base64(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0) return false;
    const std::size_t padding = text.size() - (text.find_last_not_of('=') + 1);
    if (padding > 2) return false;
    const auto in_alphabet = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/'; };
    return std::all_of(text.begin(), text.end() - static_cast<std::ptrdiff_t>(padding), in_alphabet);
}

// What is wrong with a signing secret, if anything. A `whsec_` secret is its key in base64 (as
// the Standard Webhooks libraries read it), and any other string the key's bytes as written;
// `whsec_` with nothing after it (a template whose variable came out empty) would be taken as
// written, a key anyone can guess.
// A secret read from a file with its final newline, or a `whsec_` secret cut or mistyped, would
// be used as its bytes: every signature made with the real key would then be refused (401 for
// events; commands signed with the wrong key, and refused by their targets).
std::optional<std::string> secret_problem(const std::string& secret) {
    if (secret.empty()) return "must not be empty";
    if (secret.find_first_not_of('=', 6) == std::string::npos && secret.rfind("whsec_", 0) == 0)
        return "is whsec_ with no key after it (write whsec_ followed by the key in base64)";
    if (has_control_or_end_space(secret)) return "holds a control character or begins or ends with a space (a newline at its end?)";
    if (secret.rfind("whsec_", 0) == 0 && !is_base64(std::string_view(secret).substr(6)))
        return "is whsec_ followed by text that is not base64 (the key in base64 is expected after whsec_)";
    return std::nullopt;
}

// The keys an object of the config may hold: a key not listed is a typo (`webhook_secret`) that
// would silently leave a check off, so it stops the start.
std::optional<std::string> unknown_key(const json& object, const std::string& where, std::initializer_list<std::string_view> known) {
    for (const auto& [key, value] : object.items()) {
        if (std::find(known.begin(), known.end(), key) != known.end()) continue;
        std::string list;
        for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        return "unknown key \"" + where + key + "\" (" + (where.empty() ? "the config" : where.substr(0, where.size() - 1)) +
               " takes " + list + ")";
    }
    return std::nullopt;
}

// The longest a deadline may be set to (a day), and the most hours a delivered command may be
// kept (about a hundred years): beyond them, milliseconds and hours overflow when converted.
constexpr std::int64_t longest_timeout_ms = 86'400'000;
constexpr std::int64_t longest_retention_hours = 876'000;
// A request's body is held in memory whole, and room for it is taken as its Content-Length
// arrives, on every connection: 64 MiB at most. The database file cannot pass 16 TiB with
// SQLite's pages of 4 KiB.
constexpr std::int64_t largest_body_bytes = 67'108'864;
constexpr std::int64_t largest_database_mb = 16'777'216;
constexpr std::int64_t most_connections = 1'000'000;
// A batch commits in one transaction, which holds the writer, and so every other event, until
// it ends: at some 50 µs an event, 100,000 take seconds.
constexpr std::int64_t most_batch_events = 100'000;
// A command may be tried a million times, and wait up to 30 days between two attempts.
constexpr std::int64_t most_attempts = 1'000'000;
constexpr std::int64_t longest_backoff_ms = 2'592'000'000;

// Reads an integer from `least` to `most` into `into`; the reason when it is not one.
template <class Into>
std::optional<std::string> integer_in_range(const json& j, const std::string& name, std::int64_t least, std::int64_t most,
                                            Into& into) {
    const bool fits = j.is_number_integer() && !(j.is_number_unsigned() && j.get<std::uint64_t>() > static_cast<std::uint64_t>(most));
    if (!fits || j.get<std::int64_t>() < least || j.get<std::int64_t>() > most)
        return name + " must be an integer from " + std::to_string(least) + " to " + std::to_string(most);
    into = static_cast<Into>(j.get<std::int64_t>());
    return std::nullopt;
}

// Trust is for TLS: on an http:// target a ca_file would read as a check that never runs. (The
// URL has passed url_problem; Boost.URL reads its scheme in any case.)
std::optional<std::string> ca_file_problem(const Target& t, const std::string& what) {
    if (t.ca_file.empty()) return std::nullopt;
    auto parsed = boost::urls::parse_uri(t.url);
    if (parsed && parsed->scheme_id() == boost::urls::scheme::https) return std::nullopt;
    return what + " is for an https:// target, and the url is not one";
}

std::optional<std::string> read_target(const std::string& name, const json& j, Target& t) {
    if (!j.is_object()) return "targets." + name + " must be an object";
    if (auto e = unknown_key(j, "targets." + name + ".", {"url", "secret", "timeout_ms", "retry", "ca_file"})) return e;
    if (!j.contains("url") || !j["url"].is_string()) return "targets." + name + ".url is required (a string)";
    t.url = j["url"].get<std::string>();
    if (auto problem = url_problem(t.url)) return "targets." + name + ".url " + *problem;
    if (j.contains("ca_file")) {
        if (!j["ca_file"].is_string() || j["ca_file"].get<std::string>().empty())
            return "targets." + name + ".ca_file must be a file name";
        t.ca_file = j["ca_file"].get<std::string>();
        if (auto e = ca_file_problem(t, "targets." + name + ".ca_file")) return e;
    }
    if (j.contains("secret")) {
        if (!j["secret"].is_string()) return "targets." + name + ".secret must be a string";
        t.secret = j["secret"].get<std::string>();
        // An empty secret is no secret (commands unsigned), as a generated config may write it.
        if (auto problem = secret_problem(t.secret); problem && !t.secret.empty()) return "targets." + name + ".secret " + *problem;
    }
    if (j.contains("timeout_ms"))
        if (auto e = integer_in_range(j["timeout_ms"], "targets." + name + ".timeout_ms", 1, longest_timeout_ms, t.timeout_ms))
            return e;
    if (j.contains("retry")) {
        const json& r = j["retry"];
        if (!r.is_object()) return "targets." + name + ".retry must be an object";
        const std::string at = "targets." + name + ".retry.";
        if (auto e = unknown_key(r, at, {"max_attempts", "initial_backoff_ms", "max_backoff_ms"})) return e;
        if (r.contains("max_attempts"))
            if (auto e = integer_in_range(r["max_attempts"], at + "max_attempts", 1, most_attempts, t.retry.max_attempts)) return e;
        for (auto [field, into] : {std::pair{"initial_backoff_ms", &t.retry.initial_backoff_ms},
                                   std::pair{"max_backoff_ms", &t.retry.max_backoff_ms}})
            if (r.contains(field))
                if (auto e = integer_in_range(r[field], at + field, 0, longest_backoff_ms, *into)) return e;  // 0: at once
    }
    return std::nullopt;
}

// Parses the config, noting the first name given twice in one object ("targets.sink.secret"):
// a JSON reader keeps one copy without a word (nlohmann the last), and a second
// `"admin_token": ""` would turn the check off as silently as a misspelt key would.
json parse_noting_repeated_names(const std::string& text, std::string& repeated) {
    struct Open {
        std::set<std::string> names;
        std::string prefix;  // the object's path, ending in '.', or empty at the top
    };
    std::vector<Open> open;
    std::string last_name;  // the name whose value comes next
    auto note = [&](int, json::parse_event_t event, json& parsed) {
        switch (event) {
        case json::parse_event_t::object_start:
            open.push_back({{}, open.empty() ? std::string() : open.back().prefix + last_name + "."});
            break;
        case json::parse_event_t::object_end:
            open.pop_back();
            break;
        case json::parse_event_t::key:
            last_name = parsed.get<std::string>();
            if (!open.back().names.insert(last_name).second && repeated.empty()) repeated = open.back().prefix + last_name;
            break;
        default:
            break;
        }
        return true;
    };
    return json::parse(text, note);
}

// Every key is optional, and a key set to null is taken as left out (as a generated config
// writes one it has no value for), at any level.
void drop_nulls(json& object) {
    for (auto member = object.begin(); member != object.end();) {
        if (member->is_null()) {
            member = object.erase(member);
            continue;
        }
        if (member->is_object()) drop_nulls(*member);
        ++member;
    }
}

// The config file's JSON object, its null members dropped; or why it is not one.
std::variant<json, std::string> read_config_object(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return "cannot read the config file " + path + ": it is a folder, not a file";
    errno = 0;
    std::ifstream in(path);
    if (!in) {
        std::string reason = errno != 0 ? std::strerror(errno) : "";
        if (!reason.empty()) reason[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(reason[0])));  // as flowc says it
        return "cannot read the config file " + path + (reason.empty() ? "" : ": " + reason);
    }
    std::stringstream text;
    text << in.rdbuf();
    json j;
    std::string repeated;
    try {
        j = parse_noting_repeated_names(text.str(), repeated);
    } catch (const json::exception& e) {  // a parse error, or a number no double can hold (1e400)
        // nlohmann says where: "parse error at line 3, column 5: syntax error while parsing …", or
        // "number overflow parsing '1e400'".
        std::string what = e.what();
        if (auto bracket = what.find("] "); what.rfind("[json.exception", 0) == 0 && bracket != std::string::npos)
            what.erase(0, bracket + 2);
        return path + " cannot be read as JSON: " + what;
    }
    if (!j.is_object()) return path + " is not a JSON object";
    if (!repeated.empty()) return path + ": the key \"" + repeated + "\" is given twice: give it once (which copy was meant is not guessed)";
    drop_nulls(j);
    return j;
}

std::optional<std::string> read_targets(const json& targets, Config& config) {
    if (!targets.is_object()) return "targets must be an object";
    for (const auto& [name, t] : targets.items()) {
        if (name.empty()) return "targets: a target's name must not be empty";
        Target target;
        if (auto e = read_target(name, t, target)) return e;
        config.targets[name] = target;
    }
    return std::nullopt;
}

std::optional<std::string> read_webhook_secrets(const json& secrets, Config& config) {
    if (!secrets.is_array()) return "webhook_secrets must be a list of strings";
    for (const json& s : secrets) {
        if (!s.is_string() || s.get<std::string>().empty()) return "webhook_secrets must be a list of non-empty strings";
        if (auto problem = secret_problem(s.get<std::string>()))
            return "webhook_secrets[" + std::to_string(config.webhook_secrets.size()) + "] " + *problem;
        config.webhook_secrets.push_back(s.get<std::string>());
    }
    return std::nullopt;
}

std::optional<std::string> read_tls(const json& tls, Config& config) {
    if (tls.is_object())
        if (auto e = unknown_key(tls, "tls.", {"certificate", "private_key"})) return e;
    if (!tls.is_object() || !tls.contains("certificate") || !tls.contains("private_key") || !tls["certificate"].is_string() ||
        !tls["private_key"].is_string())
        return std::string("tls must be {\"certificate\": \"cert.pem\", \"private_key\": \"key.pem\"}");
    config.tls_certificate = tls["certificate"].get<std::string>();
    config.tls_private_key = tls["private_key"].get<std::string>();
    // An empty name (a template whose variable came out empty) would serve plain HTTP.
    if (config.tls_certificate.empty()) return std::string("tls.certificate must be a file name");
    if (config.tls_private_key.empty()) return std::string("tls.private_key must be a file name");
    return std::nullopt;
}

// The members that are text.
std::optional<std::string> read_texts(const json& j, Config& config) {
    auto text_field = [&](const char* name, std::string& into) -> std::optional<std::string> {
        if (!j.contains(name)) return std::nullopt;
        if (!j[name].is_string()) return std::string(name) + " must be a string";
        into = j[name].get<std::string>();
        return std::nullopt;
    };
    if (auto e = text_field("admin_token", config.admin_token)) return e;
    // An Authorization header's value is read without the white space at its ends, and holds no
    // control character: a token with either (the newline that ends a secret file) could never
    // be matched, and every admin call would be refused.
    if (has_control_or_end_space(config.admin_token))
        return std::string("admin_token holds a control character or begins or ends with a space (a newline at its end?): "
                           "an Authorization header could never carry it");
    if (auto e = text_field("synchronous", config.synchronous)) return e;
    if (auto e = text_field("metrics_listen", config.metrics_listen)) return e;
    return std::nullopt;
}

// The members that are numbers, each in its range, and the value of `synchronous`.
std::optional<std::string> read_numbers(const json& j, Config& config) {
    auto in_range = [&](const char* name, std::int64_t least, std::int64_t most, auto& into) -> std::optional<std::string> {
        if (!j.contains(name)) return std::nullopt;
        return integer_in_range(j[name], name, least, most, into);
    };
    if (auto e = in_range("max_body_bytes", 1, largest_body_bytes, config.max_body_bytes)) return e;
    if (auto e = in_range("max_batch_events", 1, most_batch_events, config.max_batch_events)) return e;
    if (auto e = in_range("max_connections", 1, most_connections, config.max_connections)) return e;
    if (auto e = in_range("header_timeout_ms", 1, longest_timeout_ms, config.header_timeout_ms)) return e;
    if (auto e = in_range("body_timeout_ms", 1, longest_timeout_ms, config.body_timeout_ms)) return e;
    if (auto e = in_range("retention_hours", 0, longest_retention_hours, config.retention_hours)) return e;
    if (auto e = in_range("instance_retention_hours", 0, longest_retention_hours, config.instance_retention_hours)) return e;
    if (auto e = in_range("inbox_retention_hours", 0, longest_retention_hours, config.inbox_retention_hours)) return e;
    if (auto e = in_range("max_database_mb", 0, largest_database_mb, config.max_database_mb)) return e;
    if (config.synchronous != "FULL" && config.synchronous != "NORMAL" && config.synchronous != "EXTRA")
        return "synchronous must be FULL, EXTRA or NORMAL";
    return std::nullopt;
}

}  // namespace

namespace {

std::optional<std::string> read_config(const json& j, Config& config) {
    if (auto e = unknown_key(j, "", {"targets", "webhook_secrets", "admin_token", "max_body_bytes", "synchronous", "max_connections",
                                     "header_timeout_ms", "body_timeout_ms", "retention_hours", "instance_retention_hours",
                                     "inbox_retention_hours", "metrics_listen", "tls", "max_database_mb", "max_batch_events"}))
        return e;
    if (j.contains("targets"))
        if (auto e = read_targets(j["targets"], config)) return e;
    if (j.contains("webhook_secrets"))
        if (auto e = read_webhook_secrets(j["webhook_secrets"], config)) return e;
    if (auto e = read_texts(j, config)) return e;
    if (j.contains("tls"))
        if (auto e = read_tls(j["tls"], config)) return e;
    return read_numbers(j, config);
}

}  // namespace

std::optional<std::string> load_config(const std::string& path, Config& config) {
    auto read = read_config_object(path);
    if (auto* problem = std::get_if<std::string>(&read)) return *problem;
    // What is wrong inside names the file, as what cannot be read does.
    if (auto problem = read_config(std::get<json>(read), config)) return path + ": " + *problem;
    return std::nullopt;
}

std::optional<std::string> add_target_flag(const std::string& flag, Config& config) {
    std::size_t eq = flag.find('=');
    if (eq == std::string::npos || eq == 0) return "--target takes NAME=URL";
    Target t;
    t.url = flag.substr(eq + 1);
    if (auto problem = url_problem(t.url)) {
        // A URL that may hold a password (an '@', whether or not the URL parses) is not repeated:
        // the refusal goes to the terminal and the log.
        const bool may_hold_password = t.url.find('@') != std::string::npos;
        return "--target " + (may_hold_password ? flag.substr(0, eq) : flag) + ": the URL " + *problem;
    }
    auto existing = config.targets.find(flag.substr(0, eq));
    if (existing != config.targets.end()) {
        existing->second.url = t.url;
        return ca_file_problem(existing->second, "--target " + flag + ": the config's ca_file of " + existing->first);
    }
    config.targets[flag.substr(0, eq)] = t;
    return std::nullopt;
}

}  // namespace flow::service
