// The semantic checks and the lowering to IR. Internal to dsl/: the Checker's parts live in
// declarations.cpp (names and types), operators.cpp, literals.cpp and expressions.cpp (the
// expressions), statements.cpp, locals.cpp, workflows.cpp and analysis.cpp (reachability and use).
#pragma once

#include <cctype>

#include "dsl/ast.hpp"
#include "dsl/diagnostics.hpp"
#include "dsl/ir.hpp"
#include "dsl/loader.hpp"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace flow {

class Checker {
public:
    Checker(const LoadedProgram& loaded, Diagnostics& diagnostics) : loaded_(loaded), diagnostics_(diagnostics) {}
    // Whether a declaration nothing uses is warned of (not when some files are left out of the
    // check: what they would have used is unknown).
    void warn_of_unused_declarations(bool warn) { warn_of_unused_ = warn; }
    ir::Program run();

private:
    // ---- declarations.cpp ----
    struct Declared {
        enum class Kind { Record, Workflow } kind = Kind::Record;
        int index = -1;  // into program_.records or workflow_syntax_
        int file = -1;
        Span span;
        bool used = false;
    };
    // Every type, event, command and workflow of every file, each name once; then the events'
    // external names checked, and every event indexed by its names on the wire.
    void collect_declarations();
    // For each declared name, the declaration kept (file, offset of the name) when it is declared
    // more than once: the first in dependency order.
    using FirstDeclarations = std::map<std::string, std::pair<int, int>>;
    FirstDeclarations first_declarations() const;
    // Records a declaration, unless its name is a keyword, a built-in type, or declared first
    // elsewhere (each reported); whether it was recorded.
    bool declare(const ast::Name& name, Declared entry, const char* what, const FirstDeclarations& first_of);
    // A type, event or command declared: the record added to the program, or null when refused.
    ir::Record* add_record(const ast::Name& name, ir::Record::Kind kind, const boost::spirit::x3::position_tagged& node, int file,
                           const FirstDeclarations& first_of);
    // Events are found on the wire by their external name and by their declared name: two events
    // with one external name, or an external name that is another event's name, are errors,
    // reported where the external name is written.
    void check_external_names(const std::map<std::string, Span>& external_name_spans);
    // Whether `file` declared `name` itself but the declaration was refused as a duplicate
    // (uses of the name there are then not reported again).
    bool refused_here(const std::string& name, int file) const;
    void resolve_record_fields();
    // A record that holds itself through required record fields (directly or through others)
    // has no finite value: each such cycle is reported once.
    void report_record_cycles();
    void compute_visibility();
    // A declared name as seen from `file`: null when unknown or not visible there.
    Declared* lookup(const std::string& name, int file);
    Type resolve_type(const ast::TypeRef& ref, int file);
    const ir::Record* find_record(const ast::Name& name, int file, ir::Record::Kind kind, const char* what);
    // "; did you mean 'Ship'?" for a misspelled record of that kind visible from `file`, or
    // empty. The one suggested counts as used: the author meant it, and a "never used" warning
    // on it would only lead them astray.
    std::string suggest_record(const std::string& wanted, int file, ir::Record::Kind kind);
    // The same for a type: a built-in one, `list`, or any record visible from `file` (an event or
    // a command may type a variable).
    std::string suggest_type(const std::string& wanted, int file);
    // Both: the closest among `candidates` and the records visible from `file` that fit.
    std::string suggest(const std::string& wanted, int file, std::vector<std::string_view> candidates,
                        const std::function<bool(const ir::Record&)>& fits);

    // ---- expressions.cpp ----
    struct Local {
        std::string name;
        int slot;
        Type type;
        bool refused = false;  // a `let` refused for hiding a name: read as written, never assigned
    };
    // The locals in scope, in the order they were bound, found by name in constant time (a
    // handler with thousands of `let`s is checked in linear time). A block ends by truncating
    // back to the size it started with.
    class Locals {
    public:
        void push(Local local);
        std::size_t size() const { return in_order_.size(); }
        void truncate(std::size_t size);
        // The newest local of that name: the one a read sees.
        const Local* newest(std::string_view name) const;
        // The oldest local of that name that was not refused: the one an assignment hits.
        const Local* first_accepted(std::string_view name) const;

    private:
        std::vector<Local> in_order_;
        std::unordered_map<std::string, std::vector<std::size_t>, ir::NameHash, std::equal_to<>> by_name_;
    };
    // What an expression or statement may see.
    struct Scope {
        enum class Context { Initializer, Start, Handler, Entry, Timer, Cancel };
        Context context = Context::Handler;
        ir::Workflow* workflow = nullptr;
        int file = -1;
        Locals locals;
        int next_slot = 0;
        int max_slots = 0;
        int visible_vars = 0;  // initializers see only the vars declared before them
        // A handler's event when it has no `as` name: an unknown name read with one of its fields
        // (`o.trackingNumber`) hints at one.
        std::string unbound_event;
        bool reads_unbound_event_field = false;  // the name being checked is followed by such a field
    };
    // An expression whose type is the error type: what a check that reported an error gives, so
    // that no second error is reported about it.
    static ir::Expr typed_error(ir::Position at) {
        ir::Expr e;
        e.type = Type::error();
        e.position = at;
        return e;
    }
    ir::Expr expression(const ast::Expression& e, Scope& scope);
    // `e` where a value of type `expected` is stored (a var, a field): a list literal standing
    // alone there takes its elements' type from it, so that `[1, "a"]` is a list<json> where a
    // json or a list<json> is expected. Any other expression is checked as by expression().
    ir::Expr expression_as(const ast::Expression& e, const Type& expected, Scope& scope);
    const Type* list_context_ = nullptr;  // set by expression_as for the list literal it checks next
    // Operations along the current path of nested expressions: bounded, so that neither the
    // checker nor the engine recurses without limit on a hostile file.
    int expression_depth_ = 0;
    ir::Expr condition(const ast::Expression& e, Scope& scope, const char* what);
    ir::Expr postfix(const ast::Postfix& p, Scope& scope);
    ir::Expr primary(const ast::Primary& p, Scope& scope);
    ir::Expr name_reference(const ast::Name& n, Scope& scope);
    ir::Expr call(const ast::Name& function, const ast::CallArguments& args, Scope& scope);
    ir::Expr binary(const std::string& op, ir::Expr lhs, ir::Expr rhs, const Span& where);
    ir::Expr record_literal(const ast::RecordLiteral& r, Scope& scope);
    ir::Expr list_literal(const ast::ListLiteral& l, Scope& scope, const Type* context);
    // Builds the record of a command for `emit` or `compensate with`, checking every field.
    ir::Expr field_values(const ir::Record& record, const ast::Name& type_name,
                          const std::vector<ast::FieldValue>& fields, Scope& scope);
    // Checks that `value` may be stored where `to` is expected, wrapping it for a json slot.
    ir::Expr coerce(ir::Expr value, const Type& to, const Span& where, const std::string& what);

    // ---- statements.cpp ----
    // Checks a block; returns whether every path through it ends the handler.
    bool block(const std::vector<ast::Statement>& statements, ir::Block& out, Scope& scope);
    // Checks a statement and appends its lowered form to `out` (nothing for an assignment or a
    // command that cannot be lowered); returns whether it ends the handler on every path.
    bool statement(const ast::Statement& s, ir::Block& out, Scope& scope);
    std::optional<ir::Stmt> assignment(const ast::Assign& assign, Scope& scope);
    // A `let`: its local is pushed into `scope`, even when it is refused (see the .cpp).
    ir::Stmt let_statement(const ast::Let& let, Scope& scope);
    // `emit` and `compensate with` build a command the same way; only what happens to it differs.
    std::optional<ir::Stmt> command_statement(ir::Stmt::Kind kind, const boost::spirit::x3::position_tagged& node,
                                              const ast::Name& command_name, const std::vector<ast::FieldValue>& fields,
                                              Scope& scope);
    ir::Stmt goto_statement(const ast::Goto& go, Scope& scope);
    // Returns whether every branch ends the handler (false without an `else`).
    bool if_statement(const ast::If& branch, ir::Block& out, Scope& scope);
    void transition_allowed(const char* keyword, const Span& where, Scope& scope);

    // ---- workflows.cpp ----
    void workflow(const ast::Workflow& w, int file);
    void workflow_header(const ast::Workflow& w, int file, ir::Workflow& out);
    // Each variable's initializer, each seeing the key and the variables declared before it; the
    // syntax of each variable, by name (the first of a name declared twice).
    using VarSyntax = std::map<std::string, const ast::Var*>;
    VarSyntax var_initializers(const ast::Workflow& syntax, int file, ir::Workflow& w);
    // A `correlate` line: the path through the event's fields to a value of the key's type,
    // recorded in correlate_paths_ (empty when it is wrong, and the error reported).
    void correlate(const ast::Correlate& c, int file, const ir::Workflow& w);
    // The start handlers, the global handlers, `on cancel` and the states, lowered into `w`.
    void workflow_handlers_and_states(const ast::Workflow& syntax, int file, ir::Workflow& w);
    // Why a start handler with a path that ends without a transition is wrong, naming the `if`
    // without `else` at its end when there is one (the usual cause).
    std::string unended_start_message(const ast::StartHandler& start, int file);
    // A `correlate` of an event that no handler of the workflow takes does nothing: a leftover
    // of a handler removed or renamed.
    void warn_unused_correlations(const ast::Workflow& syntax, int file, const ir::Workflow& w);
    // The targets the workflow sends commands to (emit and compensate with), in order.
    std::vector<std::string> command_targets(const ir::Workflow& w) const;
    ir::Handler handler(const ast::Handler& h, Scope::Context context, ir::Workflow& w, int file);
    ir::Handler body_only(const std::vector<ast::Statement>& body, Scope::Context context, ir::Workflow& w,
                          int file, const Span& where);
    void state(const ast::State& s, ir::Workflow& w, int file, ir::State& out);
    // An `after` (a duration) or `at` (a time) timer of a state.
    ir::Timer timer(ir::Timer::Kind kind, const ast::Expression& when, const std::vector<ast::Statement>& body,
                    const boost::spirit::x3::position_tagged& node, ir::Workflow& w, int file);
    void correlation(const ir::Record& event, const ast::Name& at, ir::Workflow& w, int file);
    // Handlers in order, each with the offset where a diagnostic about it is reported.
    using HandlerAt = std::pair<const ast::Handler*, int>;
    void check_shadowing(const std::vector<HandlerAt>& handlers, int file, const char* where);

    // ---- analysis.cpp ----
    // Errors for states nothing can leave; warnings for states never entered and states from
    // which no path ends the instance (left out when a goto names no state or no start handler
    // exists: they would be consequences of that error).
    void analyse_states(const ast::Workflow& syntax, const ir::Workflow& w, int file);
    // Warnings for timers due at once that certainly enter, again and again, states whose timers
    // due at once do the same (`after 0s { goto Same }`): the runtime fails such an instance
    // after a bound. Only for the states `reached` (by goto).
    using StateSyntax = std::map<std::string, const ast::State*>;  // each state's syntax, by name
    void report_timer_loops(const StateSyntax& state_syntax, const ir::Workflow& w, const std::vector<bool>& reached, int file);
    // Warnings for workflow-level handlers that no state among those `reached` leaves a chance:
    // each has an unguarded handler of its own for the event, which is chosen first.
    void report_unchosen_workflow_handlers(const ast::Workflow& syntax, const ir::Workflow& w, const std::vector<bool>& reached,
                                           int file);
    void report_unused();

    // ---- shared helpers ----
    // The node's text, without the white space the parser may have skipped after it (an optional
    // `?` looked for past the end of a type, say).
    Span span(const boost::spirit::x3::position_tagged& node, int file) const {
        const Source* source = loaded_.files[file].source.get();
        int end = node.id_last;
        while (end > node.id_first + 1 && std::isspace(static_cast<unsigned char>(source->text()[static_cast<std::size_t>(end - 1)])))
            --end;
        return Span{source, node.id_first, end};
    }
    ir::Position position(const boost::spirit::x3::position_tagged& node, int file) const;
    ir::Position position_at(int offset, int file) const;
    const Source& source(int file) const { return *loaded_.files[file].source; }

    const LoadedProgram& loaded_;
    Diagnostics& diagnostics_;
    ir::Program program_;
    std::map<std::string, Declared> declared_;
    // Which records each record's fields name: a record is used when a workflow uses it, or a
    // record that is used names it in a field (report_unused() follows these).
    std::map<std::string, std::vector<std::string>> field_records_;
    bool warn_of_unused_ = true;
    bool resolving_fields_ = false;  // resolve_type() marks what it names used only outside fields
    // Each record's required fields of a record type (not optional, not a list): the field's
    // name, the record it names and where its type is written.
    struct RequiredRecordField {
        std::string field;
        std::string record;
        Span type_span;
    };
    std::map<std::string, std::vector<RequiredRecordField>> required_record_fields_;
    std::set<std::pair<int, std::string>> refused_declarations_;  // (file, name) refused as duplicates
    std::vector<std::vector<bool>> visible_;  // [file][other file]
    std::vector<std::pair<const ast::Workflow*, int>> workflow_syntax_;
    // Workflows whose name was refused (a duplicate): their bodies are checked all the same, so
    // that their own errors show, and the result dropped.
    std::vector<std::pair<const ast::Workflow*, int>> refused_workflow_syntax_;
    // Per workflow being checked: which vars are read, which states a goto names.
    std::vector<bool> var_read_;
    // Whether a goto in the workflow being checked names no state: its edge is missing from the
    // state graph, so the graph's warnings would follow from that error and are left out.
    bool goto_to_unknown_state_ = false;
    std::map<std::string, std::vector<std::string>> correlate_paths_;
    std::map<std::string, Span> correlate_spans_;
    bool last_handler_ends_ = false;  // whether every path through the last handler() ended it
};

}  // namespace flow
