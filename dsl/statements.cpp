// Statements: assignments, lets, commands, branches and transitions, and the control-flow
// rules (a transition ends the handler; nothing may follow it in the same block).
#include "dsl/checker.hpp"
#include "dsl/suggestion.hpp"

namespace flow {

namespace x3 = boost::spirit::x3;

namespace {

// The first token of a statement, for "unreachable" diagnostics.
struct StatementStart {
    int begin = -1;
    int end = -1;
};

StatementStart where_statement_starts(const ast::Statement& s) {
    StatementStart at;
    boost::apply_visitor(
        [&](const auto& node) {
            using T = std::decay_t<decltype(node)>;
            if constexpr (std::is_same_v<T, x3::forward_ast<ast::If>>) {
                at = {node.get().id_first, node.get().id_first + 2};
            } else {
                at = {node.id_first, node.id_last};
            }
        },
        s);
    return at;
}

const char* transition_word(const ast::Statement& s) {
    if (boost::get<ast::Goto>(&s)) return "goto";
    if (boost::get<ast::Complete>(&s)) return "complete";
    if (boost::get<ast::Fail>(&s)) return "fail";
    if (boost::get<ast::CancelStatement>(&s)) return "cancel";
    return nullptr;
}

// Whether an empty list's element type stands in it (`list<…>` of `[]`, at any depth): the
// type of `[]` where no context gives it one.
bool holds_empty_list(const Type& type) {
    if (type.is(Type::Kind::Never)) return true;
    return (type.is(Type::Kind::List) || type.is_optional()) && holds_empty_list(type.element());
}

// Whether a list of nothing but null stands in it (`[null]`, `[[null]]`): its elements' type is
// unknown, as an empty list's is.
bool holds_null_list(const Type& type) {
    if (!type.is(Type::Kind::List)) return false;
    return type.element().is(Type::Kind::Null) || holds_null_list(type.element());
}

}  // namespace

bool Checker::block(const std::vector<ast::Statement>& statements, ir::Block& out, Scope& scope) {
    std::size_t locals_before = scope.locals.size();
    bool ends = false;
    bool reported = false;
    const char* ended_by = nullptr;
    // In an `entry`, a transition is itself an error: what follows it is not reported again.
    const bool report_unreachable = scope.context != Scope::Context::Entry;
    for (const ast::Statement& s : statements) {
        if (ends && !reported && report_unreachable) {
            StatementStart at = where_statement_starts(s);
            Span where{&source(scope.file), at.begin, at.end};
            if (ended_by)
                diagnostics_.error(where, std::string("unreachable statement: '") + ended_by +
                                              "' above ends the handler, so nothing after it in the block runs");
            else
                diagnostics_.error(where, "unreachable statement: every branch of the 'if' above ends the handler");
            reported = true;
        }
        bool this_ends = statement(s, out, scope);
        if (this_ends && !ends) ended_by = transition_word(s);
        ends = ends || this_ends;
    }
    scope.locals.truncate(locals_before);
    return ends;
}

void Checker::transition_allowed(const char* keyword, const Span& where, Scope& scope) {
    if (scope.context == Scope::Context::Entry)
        diagnostics_.error(where, std::string("an 'entry' block cannot contain a transition ('") + keyword +
                                      "'): it runs while the state is entered and cannot leave it");
    else if (scope.context == Scope::Context::Cancel)  // allowed (docs/language.md), but it changes nothing
        diagnostics_.warning(where, std::string("'") + keyword +
                                        "' has no effect in 'on cancel' but to end it: the instance ends cancelled whatever the handler does");
}

bool Checker::statement(const ast::Statement& s, ir::Block& out, Scope& scope) {
    const int file = scope.file;
    if (const auto* assign = boost::get<ast::Assign>(&s)) {
        if (auto st = assignment(*assign, scope)) out.push_back(std::move(*st));
        return false;
    }
    if (const auto* let = boost::get<ast::Let>(&s)) {
        out.push_back(let_statement(*let, scope));
        return false;
    }
    if (const auto* emit = boost::get<ast::Emit>(&s)) {
        if (auto st = command_statement(ir::Stmt::Kind::Emit, *emit, emit->command, emit->fields, scope)) out.push_back(std::move(*st));
        return false;
    }
    if (const auto* with = boost::get<ast::CompensateWith>(&s)) {
        if (auto st = command_statement(ir::Stmt::Kind::CompensateWith, *with, with->command, with->fields, scope))
            out.push_back(std::move(*st));
        return false;
    }
    ir::Stmt st;
    if (const auto* all = boost::get<ast::CompensateAll>(&s)) {
        st.kind = ir::Stmt::Kind::Compensate;
        st.position = position(*all, file);
        out.push_back(std::move(st));
        return false;
    }
    if (const auto* go = boost::get<ast::Goto>(&s)) {
        out.push_back(goto_statement(*go, scope));
        return true;
    }
    if (const auto* complete = boost::get<ast::Complete>(&s)) {
        st.kind = ir::Stmt::Kind::Complete;
        st.position = position(*complete, file);
        transition_allowed("complete", span(*complete, file), scope);
        out.push_back(std::move(st));
        return true;
    }
    if (const auto* fail = boost::get<ast::Fail>(&s)) {
        st.kind = ir::Stmt::Kind::Fail;
        st.position = position(*fail, file);
        transition_allowed("fail", Span{&source(file), fail->id_first, fail->id_first + 4}, scope);
        st.value = coerce(expression(fail->reason, scope), Type::string(), span(fail->reason, file), "the reason of 'fail'");
        out.push_back(std::move(st));
        return true;
    }
    if (const auto* cancel = boost::get<ast::CancelStatement>(&s)) {
        st.kind = ir::Stmt::Kind::Cancel;
        st.position = position(*cancel, file);
        transition_allowed("cancel", span(*cancel, file), scope);
        out.push_back(std::move(st));
        return true;
    }
    return if_statement(boost::get<x3::forward_ast<ast::If>>(s).get(), out, scope);
}

std::optional<ir::Stmt> Checker::assignment(const ast::Assign& assign, Scope& scope) {
    const int file = scope.file;
    ir::Workflow& w = *scope.workflow;
    const std::string& target = assign.target.text;
    const int assigned_var = scope.locals.first_accepted(target) ? -1 : w.var_index(target);
    ir::Expr value = assigned_var < 0 ? expression(assign.value, scope)
                                      : expression_as(assign.value, w.vars[static_cast<std::size_t>(assigned_var)].type, scope);
    if (const Local* local = scope.locals.first_accepted(target)) {
        diagnostics_.error(span(assign.target, file),
                           local->type.is(Type::Kind::Record) && program_.record(local->type.record_name()) &&
                                   program_.record(local->type.record_name())->kind == ir::Record::Kind::Event && local->slot == 0
                               ? "'" + target + "' names the event being handled: it cannot be assigned"
                               : "'" + target + "' is a 'let': it cannot be assigned");
        return std::nullopt;
    }
    const int slot = w.var_index(target);
    if (slot < 0) {
        diagnostics_.error(span(assign.target, file), target == "key" ? "the key cannot be assigned" : "unknown variable '" + target + "'");
        return std::nullopt;
    }
    ir::Stmt st;
    st.kind = ir::Stmt::Kind::Assign;
    st.position = position(assign, file);
    st.slot = slot;
    st.value = coerce(std::move(value), w.vars[static_cast<std::size_t>(slot)].type, span(assign.value, file), "variable '" + target + "'");
    return st;
}

ir::Stmt Checker::let_statement(const ast::Let& let, Scope& scope) {
    const int file = scope.file;
    const ir::Workflow& w = *scope.workflow;
    ir::Stmt st;
    st.kind = ir::Stmt::Kind::Let;
    st.position = position(let, file);
    st.value = expression(let.value, scope);
    const std::string& name = let.name.text;
    std::string clash;
    if (name == "key") clash = "the key";
    if (w.var_index(name) >= 0) clash = "the variable '" + name + "' of the workflow";
    if (scope.locals.newest(name)) clash = "'" + name + "', defined earlier in this handler";
    if (!clash.empty()) diagnostics_.error(span(let.name, file), "a 'let' cannot hide " + clash + ": choose another name");
    if (st.value.type.is(Type::Kind::Null))
        diagnostics_.error(span(let.value, file), "a 'let' needs a value of a known type, not null");
    else if (holds_empty_list(st.value.type))
        diagnostics_.error(span(let.value, file),
                           "a 'let' needs a value of a known type, and an empty list [] has none here: declare a var with its type");
    else if (holds_null_list(st.value.type))
        diagnostics_.error(span(let.value, file),
                           "a 'let' needs a value of a known type, and a list of nothing but null has none: declare a var with its type");
    st.slot = scope.next_slot++;
    scope.max_slots = std::max(scope.max_slots, scope.next_slot);
    // A refused `let` still names its value for the reads after it (what its author meant),
    // but an assignment to the name goes to the variable it tried to hide: no second error.
    scope.locals.push({name, st.slot, st.value.type, !clash.empty()});
    return st;
}

std::optional<ir::Stmt> Checker::command_statement(ir::Stmt::Kind kind, const boost::spirit::x3::position_tagged& node,
                                                   const ast::Name& command_name, const std::vector<ast::FieldValue>& fields,
                                                   Scope& scope) {
    const int file = scope.file;
    const ir::Record* command = find_record(command_name, file, ir::Record::Kind::Command, "command");
    if (!command) {
        for (const ast::FieldValue& fv : fields) expression(fv.value, scope);  // their errors are reported all the same
        return std::nullopt;
    }
    ir::Stmt st;
    st.kind = kind;
    st.position = position(node, file);
    st.slot = program_.record_by_name.at(command->name);
    st.value = field_values(*command, command_name, fields, scope);
    return st;
}

ir::Stmt Checker::goto_statement(const ast::Goto& go, Scope& scope) {
    const int file = scope.file;
    const ir::Workflow& w = *scope.workflow;
    ir::Stmt st;
    st.kind = ir::Stmt::Kind::Goto;
    st.position = position(go, file);
    transition_allowed("goto", span(go, file), scope);
    st.slot = w.state_index(go.state.text);
    if (st.slot < 0) {
        goto_to_unknown_state_ = true;
        std::string message = "unknown state '" + go.state.text + "'";
        // Suggest a state whose name differs by a little: the usual typo.
        std::vector<std::string_view> states;
        for (const ir::State& candidate : w.states) states.push_back(candidate.name);
        message += did_you_mean(closest_name(go.state.text, states));
        diagnostics_.error(span(go.state, file), message);
    }
    return st;
}

bool Checker::if_statement(const ast::If& branch, ir::Block& out, Scope& scope) {
    ir::Stmt st;
    st.kind = ir::Stmt::Kind::If;
    st.position = position(branch, scope.file);
    bool all_end = true;
    {
        ir::Branch b;
        b.condition = condition(branch.condition, scope, "the condition of 'if'");
        all_end = block(branch.then_block, b.body, scope) && all_end;
        st.branches.push_back(std::move(b));
    }
    for (const ast::ElseIf& elif : branch.else_ifs) {
        ir::Branch b;
        b.condition = condition(elif.condition, scope, "the condition of 'else if'");
        all_end = block(elif.block, b.body, scope) && all_end;
        st.branches.push_back(std::move(b));
    }
    if (branch.else_block) {
        ir::Block otherwise;
        all_end = block(*branch.else_block, otherwise, scope) && all_end;
        st.otherwise = std::move(otherwise);
    } else {
        all_end = false;
    }
    out.push_back(std::move(st));
    return all_end;
}

}  // namespace flow
