// The compiled workflows flowd runs: the current program, which starts new instances and
// routes events, and the older versions still needed by running instances.
#pragma once

#include "runtime/engine/engine.hpp"

#include <map>
#include <memory>
#include <string>
#include <utility>

namespace flow::service {

class Deployment {
public:
    explicit Deployment(std::shared_ptr<const ir::Program> current);

    const engine::Engine& current() const { return *current_; }
    // Registers a program compiled from an older version's stored sources.
    void add_version(std::shared_ptr<const ir::Program> program, const std::string& workflow, int version);
    // The engine that runs instances of this workflow version, or null when unknown.
    const engine::Engine* engine_for(const std::string& workflow, int version) const;

private:
    std::shared_ptr<engine::Engine> current_;
    std::map<std::pair<std::string, int>, std::shared_ptr<engine::Engine>> versions_;
};

}  // namespace flow::service
