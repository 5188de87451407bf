// libFuzzer target: the pieces of an event request an attacker controls. The input is split
// into a content type, header lines ("name: value") and a body; they go through the CloudEvents
// reader (plain, structured, binary and batch modes), the Standard Webhooks verification of the
// signature headers, and the decoder of each event against the order fulfillment declarations.
// Checked: nothing crashes, and a signature made for the body always verifies.
#include "dsl/compiler.hpp"
#include "runtime/engine/engine.hpp"
#include "runtime/http/event_input.hpp"
#include "runtime/http/webhook_signature.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace {

const flow::engine::Engine& engine() {
    static flow::engine::Engine compiled = [] {
        flow::DiskReader reader;
        flow::Compilation c = flow::compile({FLOW_SOURCE_DIR "/examples/order_fulfillment.flow"}, reader);
        if (!c.program) __builtin_trap();
        return flow::engine::Engine(c.program);
    }();
    return compiled;
}

const char* const content_types[] = {"application/json", "application/cloudevents+json",
                                     "application/cloudevents-batch+json", "text/plain; charset=utf-8"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::string content_type = content_types[data[0] % 4];
    std::map<std::string, std::string> headers;
    std::size_t at = 0;
    for (;;) {  // header lines up to the first empty line; the rest is the body
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos || end == at) break;
        std::string line = text.substr(at, end - at);
        std::size_t colon = line.find(':');
        if (colon != std::string::npos) {
            std::string name = line.substr(0, colon);
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            headers[name] = line.substr(colon + 1 + (colon + 1 < line.size() && line[colon + 1] == ' '));
            if (name == "content-type") content_type = headers[name];
        }
        at = end + 1;
    }
    std::string body = at < text.size() ? text.substr(text.find('\n', at) == at ? at + 1 : at) : "";

    auto input = flow::http::read_events(content_type, headers, body);
    if (auto* events = std::get_if<flow::http::EventsInput>(&input))
        for (const auto& event : events->events) (void)engine().decode(event.type, event.data);

    const std::vector<std::string> secrets = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "raw secret"};
    (void)flow::http::verify_webhook(secrets, headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"],
                                     body, 1767225600);
    std::string id = headers["webhook-id"].empty() ? "msg_1" : headers["webhook-id"];
    std::string signature = flow::http::sign_webhook(secrets[1], id, 1767225600, body);
    if (flow::http::verify_webhook(secrets, id, "1767225600", "v0,x " + signature, body, 1767225600) !=
        flow::http::SignatureCheck::Valid)
        __builtin_trap();
    return 0;
}
