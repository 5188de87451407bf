#include "runtime/service/deployment.hpp"

namespace flow::service {

Deployment::Deployment(std::shared_ptr<const ir::Program> current)
    : current_(std::make_shared<engine::Engine>(std::move(current))) {
    for (const ir::Workflow& w : current_->program().workflows) versions_[{w.name, w.version}] = current_;
}

void Deployment::add_version(std::shared_ptr<const ir::Program> program, const std::string& workflow, int version) {
    if (versions_.count({workflow, version})) return;
    versions_[{workflow, version}] = std::make_shared<engine::Engine>(std::move(program));
}

const engine::Engine* Deployment::engine_for(const std::string& workflow, int version) const {
    auto found = versions_.find({workflow, version});
    return found == versions_.end() ? nullptr : found->second.get();
}

}  // namespace flow::service
