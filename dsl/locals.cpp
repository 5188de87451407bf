// The locals in scope while a handler is checked: `let`s and the event's alias.
#include "dsl/checker.hpp"

namespace flow {

void Checker::Locals::push(Local local) {
    by_name_[local.name].push_back(in_order_.size());
    in_order_.push_back(std::move(local));
}

void Checker::Locals::truncate(std::size_t size) {
    while (in_order_.size() > size) {
        auto named = by_name_.find(in_order_.back().name);
        named->second.pop_back();
        if (named->second.empty()) by_name_.erase(named);
        in_order_.pop_back();
    }
}

const Checker::Local* Checker::Locals::newest(std::string_view name) const {
    auto named = by_name_.find(name);
    return named == by_name_.end() ? nullptr : &in_order_[named->second.back()];
}

const Checker::Local* Checker::Locals::first_accepted(std::string_view name) const {
    auto named = by_name_.find(name);
    if (named == by_name_.end()) return nullptr;
    for (std::size_t at : named->second)
        if (!in_order_[at].refused) return &in_order_[at];
    return nullptr;
}

}  // namespace flow
