#include "dsl/ir.hpp"

namespace flow::ir {

const FieldDecl* Record::field(std::string_view field_name) const {
    for (const FieldDecl& f : fields)
        if (f.name == field_name) return &f;
    return nullptr;
}

bool State::takes_every(int event) const {
    auto found = handlers_by_event.find(event);
    if (found == handlers_by_event.end()) return false;
    for (int h : found->second)
        if (!handlers[static_cast<std::size_t>(h)].guard) return true;
    return false;
}

int Workflow::state_index(std::string_view state_name) const {
    auto it = state_by_name.find(state_name);
    return it == state_by_name.end() ? -1 : it->second;
}

int Workflow::var_index(std::string_view var_name) const {
    auto it = var_by_name.find(var_name);
    return it == var_by_name.end() ? -1 : it->second;
}

const Record* Program::record(std::string_view name) const {
    auto it = record_by_name.find(name);
    return it == record_by_name.end() ? nullptr : &records[static_cast<std::size_t>(it->second)];
}

const Record* Program::event_for_type(std::string_view type) const {
    auto it = event_by_type.find(type);
    return it == event_by_type.end() ? nullptr : &records[static_cast<std::size_t>(it->second)];
}

int Program::workflow_index(std::string_view name) const {
    for (std::size_t i = 0; i < workflows.size(); ++i)
        if (workflows[i].name == name) return static_cast<int>(i);
    return -1;
}

}  // namespace flow::ir
