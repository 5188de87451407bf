#include "runtime/daemon/older_versions.hpp"

#include "dsl/compiler.hpp"
#include "runtime/engine/json_reader.hpp"
#include "runtime/service/log.hpp"

#include <nlohmann/json.hpp>

#include <map>

namespace flow::daemon {

using nlohmann::json;

namespace {

Compilation compile_stored_sources(const std::string& sources) {
    json stored = engine::read_stored_json(sources);
    std::map<std::string, std::string> texts;
    if (stored.is_object())
        for (const auto& [name, text] : stored.items())
            if (text.is_string()) texts[name] = text.get<std::string>();
    return compile_sources(texts);
}

}  // namespace

void add_older_versions(service::Deployment& deployment, const std::vector<store::Definition>& definitions,
                        const service::Config& config, const std::function<std::int64_t()>& now_ms) {
    std::map<std::string, Compilation> compiled_sources;
    for (const store::Definition& d : definitions) {
        if (deployment.engine_for(d.workflow, d.version)) continue;
        auto known = compiled_sources.find(d.sources);
        if (known == compiled_sources.end()) known = compiled_sources.emplace(d.sources, compile_stored_sources(d.sources)).first;
        const Compilation& old = known->second;
        const int index = old.program ? old.program->workflow_index(d.workflow) : -1;
        if (index < 0) {
            service::log(now_ms(), "warn", "an older workflow version no longer compiles; its instances cannot run",
                         {{"workflow", d.workflow}, {"version", d.version}});
            continue;
        }
        const ir::Workflow& workflow = old.program->workflows[static_cast<std::size_t>(index)];
        if (workflow.hash != d.hash) {
            service::log(now_ms(), "warn",
                         "an older workflow version compiles with this flowd to another program than it was deployed as; its instances cannot run",
                         {{"workflow", d.workflow}, {"version", d.version}, {"deployed_hash", d.hash}, {"recompiled_hash", workflow.hash}});
            continue;
        }
        deployment.add_version(old.program, d.workflow, d.version);
        json unbound_targets = json::array();
        for (const std::string& target : workflow.targets)
            if (!config.targets.count(target)) unbound_targets.push_back(target);
        if (!unbound_targets.empty())
            service::log(now_ms(), "warn",
                         "an older workflow version sends commands to targets that are not bound: what its running instances, if any, send there goes dead",
                         {{"workflow", d.workflow}, {"version", d.version}, {"targets", unbound_targets}});
    }
}

}  // namespace flow::daemon
