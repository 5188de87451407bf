// flowd's config file (docs/runtime.md, "Configuration"): what it takes, its defaults, and the
// message for each kind of mistake, which names the key and what it takes.
#include "runtime/service/config.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <fstream>

using namespace flow;
using service::Config;

namespace {

// The problem load_config finds in a config of this text, or "" when it takes it.
std::string problem_with(const std::string& text, Config& config) {
    test::TempDir dir;
    const std::string path = (dir.path / "config.json").string();
    std::ofstream(path) << text;
    auto problem = service::load_config(path, config);
    if (!problem) return "";
    // The path is named in some messages: shown as CONFIG, so that the tests read the same. A
    // problem inside the file starts with it ("CONFIG: unknown key …"), left out here.
    for (auto at = problem->find(path); at != std::string::npos; at = problem->find(path)) problem->replace(at, path.size(), "CONFIG");
    if (problem->rfind("CONFIG: ", 0) == 0 && problem->find("is given twice") == std::string::npos) problem->erase(0, 8);
    return *problem;
}

std::string problem_with(const std::string& text) {
    Config config;
    return problem_with(text, config);
}

}  // namespace

TEST_CASE("config: an empty object keeps every default; null members are left out at any depth") {
    Config config;
    CHECK(problem_with("{}", config) == "");
    const Config defaults;
    CHECK(config.targets.empty());
    CHECK(config.max_body_bytes == defaults.max_body_bytes);
    CHECK(config.synchronous == "FULL");
    CHECK(config.retention_hours == 168);

    Config with_nulls;
    CHECK(problem_with(R"({"admin_token": null, "max_connections": null,
                          "targets": {"pay": {"url": "http://127.0.0.1:9/p", "secret": null, "retry": {"max_attempts": null}}}})",
                       with_nulls) == "");
    CHECK(with_nulls.admin_token.empty());
    CHECK(with_nulls.max_connections == defaults.max_connections);
    REQUIRE(with_nulls.targets.count("pay"));
    CHECK(with_nulls.targets["pay"].retry.max_attempts == service::RetryPolicy{}.max_attempts);
}

TEST_CASE("config: every member read") {
    Config config;
    CHECK(problem_with(R"({
        "targets": {"pay": {"url": "https://pay.example/cmd", "secret": "whsec_c2VjcmV0", "timeout_ms": 2500,
                            "retry": {"max_attempts": 3, "initial_backoff_ms": 0, "max_backoff_ms": 60000}}},
        "webhook_secrets": ["whsec_b25l", "whsec_dHdv"],
        "admin_token": "t0ken", "max_body_bytes": 2048, "max_batch_events": 10, "synchronous": "NORMAL",
        "max_connections": 64, "header_timeout_ms": 500, "body_timeout_ms": 700, "retention_hours": 0,
        "instance_retention_hours": 24, "inbox_retention_hours": 48, "metrics_listen": "127.0.0.1:0",
        "tls": {"certificate": "cert.pem", "private_key": "key.pem"}, "max_database_mb": 100})",
                       config) == "");
    const service::Target& pay = config.targets.at("pay");
    CHECK(pay.url == "https://pay.example/cmd");
    CHECK(pay.secret == "whsec_c2VjcmV0");
    CHECK(pay.timeout_ms == 2500);
    CHECK(pay.retry.max_attempts == 3);
    CHECK(pay.retry.initial_backoff_ms == 0);
    CHECK(pay.retry.max_backoff_ms == 60000);
    CHECK(config.webhook_secrets == std::vector<std::string>{"whsec_b25l", "whsec_dHdv"});
    CHECK(config.admin_token == "t0ken");
    CHECK(config.max_body_bytes == 2048);
    CHECK(config.max_batch_events == 10);
    CHECK(config.synchronous == "NORMAL");
    CHECK(config.max_connections == 64);
    CHECK(config.header_timeout_ms == 500);
    CHECK(config.body_timeout_ms == 700);
    CHECK(config.retention_hours == 0);
    CHECK(config.instance_retention_hours == 24);
    CHECK(config.inbox_retention_hours == 48);
    CHECK(config.metrics_listen == "127.0.0.1:0");
    CHECK(config.tls_certificate == "cert.pem");
    CHECK(config.tls_private_key == "key.pem");
    CHECK(config.max_database_mb == 100);
}

TEST_CASE("config: a file that cannot be used as one is named, with the reason") {
    Config config;
    CHECK(service::load_config("/nonexistent/flow-config.json", config) ==
          "cannot read the config file /nonexistent/flow-config.json: no such file or directory");
    CHECK(service::load_config("/tmp", config) == "cannot read the config file /tmp: it is a folder, not a file");
    // A problem inside the file names it first, as a read error does.
    test::TempDir dir;
    const std::string path = (dir.path / "flowd.json").string();
    std::ofstream(path) << R"({"targetz": {}})";
    auto unknown = service::load_config(path, config);
    REQUIRE(unknown);
    CHECK(unknown->rfind(path + ": unknown key \"targetz\" (the config takes targets, ", 0) == 0);
    CHECK(problem_with("{\"a\": 1,}").rfind("CONFIG cannot be read as JSON: parse error at line 1, column 9", 0) == 0);
    CHECK(problem_with("{\"max_body_bytes\": 1e400}").rfind("CONFIG cannot be read as JSON: number overflow", 0) == 0);
    CHECK(problem_with("[]") == "CONFIG is not a JSON object");
    CHECK(problem_with(R"({"admin_token": "a", "admin_token": "b"})") ==
          "CONFIG: the key \"admin_token\" is given twice: give it once (which copy was meant is not guessed)");
    CHECK(problem_with(R"({"targets": {"pay": {"url": "http://a/", "url": "http://b/"}}})") ==
          "CONFIG: the key \"targets.pay.url\" is given twice: give it once (which copy was meant is not guessed)");
}

TEST_CASE("config: a key it does not take is refused, with the keys it takes") {
    CHECK(problem_with(R"({"webhook_secret": ["whsec_b25l"]})").rfind(
              "unknown key \"webhook_secret\" (the config takes targets, webhook_secrets, admin_token", 0) == 0);
    CHECK(problem_with(R"({"tls": {"certificate": "c", "private_key": "k", "chain": "x"}})") ==
          "unknown key \"tls.chain\" (tls takes certificate, private_key)");
    CHECK(problem_with(R"({"targets": {"pay": {"url": "http://a/", "retry": {"attempts": 3}}}})") ==
          "unknown key \"targets.pay.retry.attempts\" (targets.pay.retry takes max_attempts, initial_backoff_ms, max_backoff_ms)");
}

TEST_CASE("config: targets and secrets that cannot work are refused") {
    CHECK(problem_with(R"({"targets": []})") == "targets must be an object");
    CHECK(problem_with(R"({"targets": {"": {"url": "http://a/"}}})") == "targets: a target's name must not be empty");
    CHECK(problem_with(R"({"targets": {"pay": {}}})") == "targets.pay.url is required (a string)");
    CHECK(problem_with(R"({"targets": {"pay": {"url": "ftp://a/"}}})") == "targets.pay.url must start with http:// or https://");
    CHECK(problem_with(R"({"targets": {"pay": {"url": "http://u:p@a/"}}})") ==
          "targets.pay.url holds a user name or password, which flowd would not send: sign the commands with a secret instead");
    CHECK(problem_with(R"({"targets": {"pay": {"url": "http://a/", "ca_file": "ca.pem"}}})") ==
          "targets.pay.ca_file is for an https:// target, and the url is not one");
    CHECK(problem_with(R"({"targets": {"pay": {"url": "http://a/", "timeout_ms": 0}}})") ==
          "targets.pay.timeout_ms must be an integer from 1 to 86400000");
    CHECK(problem_with(R"({"webhook_secrets": "whsec_b25l"})") == "webhook_secrets must be a list of strings");
    CHECK(problem_with(R"({"webhook_secrets": [""]})") == "webhook_secrets must be a list of non-empty strings");
    CHECK(problem_with(R"({"webhook_secrets": ["whsec_b25l", "whsec_"]})") ==
          "webhook_secrets[1] is whsec_ with no key after it (write whsec_ followed by the key in base64)");
}

TEST_CASE("config: texts, the TLS files and numbers, each checked; the first mistake is named") {
    CHECK(problem_with(R"({"admin_token": 7})") == "admin_token must be a string");
    CHECK(problem_with(R"({"admin_token": "token\n"})").rfind("admin_token holds a control character", 0) == 0);
    CHECK(problem_with(R"({"synchronous": "OFF"})") == "synchronous must be FULL, EXTRA or NORMAL");
    CHECK(problem_with(R"({"tls": {"certificate": "c.pem"}})") ==
          "tls must be {\"certificate\": \"cert.pem\", \"private_key\": \"key.pem\"}");
    CHECK(problem_with(R"({"tls": {"certificate": "", "private_key": "k.pem"}})") == "tls.certificate must be a file name");
    CHECK(problem_with(R"({"max_body_bytes": 0})") == "max_body_bytes must be an integer from 1 to 67108864");
    CHECK(problem_with(R"({"max_connections": 18446744073709551615})") == "max_connections must be an integer from 1 to 1000000");
    CHECK(problem_with(R"({"retention_hours": 1.5})") == "retention_hours must be an integer from 0 to 876000");
    CHECK(problem_with(R"({"retention_hours": -1})") == "retention_hours must be an integer from 0 to 876000");
    // The texts before the TLS files, the TLS files before the numbers, the numbers before the
    // value of synchronous.
    CHECK(problem_with(R"({"max_body_bytes": 0, "tls": {}, "metrics_listen": 1})") == "metrics_listen must be a string");
    CHECK(problem_with(R"({"max_body_bytes": 0, "tls": {}})") ==
          "tls must be {\"certificate\": \"cert.pem\", \"private_key\": \"key.pem\"}");
    CHECK(problem_with(R"({"synchronous": "OFF", "max_database_mb": -1})") == "max_database_mb must be an integer from 0 to 16777216");
}

TEST_CASE("--target NAME=URL binds a target, or sets the URL of one the config names") {
    Config config;
    CHECK(service::add_target_flag("pay=http://127.0.0.1:9/p", config) == std::nullopt);
    CHECK(config.targets.at("pay").url == "http://127.0.0.1:9/p");
    CHECK(service::add_target_flag("pay", config) == "--target takes NAME=URL");
    CHECK(service::add_target_flag("=http://a/", config) == "--target takes NAME=URL");
    CHECK(service::add_target_flag("pay=ftp://a/", config) == "--target pay=ftp://a/: the URL must start with http:// or https://");
    // A password in the URL is not repeated in the refusal, which goes to the terminal and the log.
    CHECK(service::add_target_flag("pay=http://user:hunter2@a/", config) ==
          "--target pay: the URL holds a user name or password, which flowd would not send: sign the commands with a secret instead");
    CHECK(service::add_target_flag("pay=http://user:hunter 2@a/", config) ==  // one that does not even parse
          "--target pay: the URL is not a valid URL: percent-encode spaces and other special characters");

    Config from_file;
    CHECK(problem_with(R"({"targets": {"pay": {"url": "https://a/", "ca_file": "ca.pem", "timeout_ms": 5}}})", from_file) == "");
    CHECK(service::add_target_flag("pay=https://b/", from_file) == std::nullopt);
    CHECK(from_file.targets.at("pay").url == "https://b/");
    CHECK(from_file.targets.at("pay").timeout_ms == 5);  // the rest of the config's target kept
    CHECK(service::add_target_flag("pay=http://c/", from_file) ==
          "--target pay=http://c/: the config's ca_file of pay is for an https:// target, and the url is not one");
}
