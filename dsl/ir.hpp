// The compiled form of a set of `.flow` files: what the engine executes. Names are resolved
// to indexes and slots, every expression is typed and its operator chosen by type, so the
// engine never looks a name up or checks a type. docs/ir.md describes the JSON form.
#pragma once

#include "stdlib/type.hpp"
#include "stdlib/value.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace flow::ir {

// A place in the workflow's source file, for runtime errors ("… at FILE:LINE:COL").
struct Position {
    int line = 0;
    int column = 0;
};

struct FieldDecl {
    std::string name;
    Type type;  // optional fields have an optional type
    bool optional = false;
};

// A `type`, `event` or `command` declaration: all three are records.
struct Record {
    enum class Kind { Type, Event, Command };
    Kind kind = Kind::Type;
    std::string name;
    std::string external_name;  // events: the wire `type`, when declared
    std::string target;         // commands: the logical destination
    std::vector<FieldDecl> fields;
    std::string file;
    Position position;

    const FieldDecl* field(std::string_view field_name) const;
    // What an event is called on the wire.
    const std::string& wire_name() const { return external_name.empty() ? name : external_name; }
};

enum class Op : std::uint8_t {
    Literal, Key, Var, Local,
    Field,      // args[0].name
    Index,      // args[0][args[1]]
    Call,       // function(args…)
    MakeRecord, // names[i]: args[i]; absent optional values left out
    MakeList,
    ToWire,     // args[0] encoded for a `json` slot (times and durations as strings)
    Not, And, Or, Coalesce,
    Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual,
    NegateInt, NegateNumber, NegateDuration,
    AddInt, AddNumber, Concat, AddTimeDuration, AddDuration,
    SubInt, SubNumber, SubTimeDuration, SubTimes, SubDuration,
    MulInt, MulNumber, MulDurationInt,
    DivInt, DivNumber, DivDurationInt,
    ModInt, ModNumber,
};

struct Expr {
    Op op = Op::Literal;
    Type type;
    Position position;
    Value literal;                  // Literal
    int slot = -1;                  // Var, Local; Call: the overload id
    std::string name;               // Field: the field; MakeRecord: the record
    std::vector<Expr> args;
    std::vector<std::string> names;  // MakeRecord: one field name per argument
    std::vector<Type> arg_types;     // Call: static argument types (str needs them)
    Type operand_type;               // comparisons and ToWire: the operands' static type
};

struct Stmt;
using Block = std::vector<Stmt>;

struct Branch {
    Expr condition;
    Block body;
};

struct Stmt {
    enum class Kind { Assign, Let, Emit, CompensateWith, Compensate, If, Goto, Complete, Fail, Cancel };
    Kind kind = Kind::Assign;
    Position position;
    int slot = -1;       // Assign: var; Let: local; Goto: state; Emit/CompensateWith: command record
    Expr value;          // Assign, Let, Fail; Emit/CompensateWith: a MakeRecord
    std::vector<Branch> branches;  // If: `if` and each `else if`
    std::optional<Block> otherwise;
};

// An `on`, `start on` or `on cancel` handler, or a timer's body.
struct Handler {
    int event = -1;                 // record index; -1 for timers and `on cancel`
    int binding = -1;               // local slot holding the event (`as name`), or -1
    std::optional<Expr> guard;
    Block body;
    int locals = 0;                 // local slots the body needs
    Position position;
};

struct Timer {
    enum class Kind { After, At };
    Kind kind = Kind::After;
    Expr when;                      // a duration (after) or a time (at)
    Handler handler;
};

struct State {
    std::string name;
    Handler entry;                  // an empty body when the state has no `entry`
    std::vector<Handler> handlers;  // in source order
    std::vector<Timer> timers;      // in source order: the order they start
    Position position;
    // For each event record index, the indexes into `handlers` in order.
    std::unordered_map<int, std::vector<int>> handlers_by_event;

    // Whether one of the state's own handlers for the event has no guard, and so is always
    // chosen before any workflow-level handler for it.
    bool takes_every(int event) const;
};

// Hashes strings and string views alike, so that a lookup by view makes no copy.
struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
};
using NameIndex = std::unordered_map<std::string, int, NameHash, std::equal_to<>>;

struct Var {
    std::string name;
    Type type;
    Expr initializer;
};

struct Workflow {
    std::string name;
    int version = 1;
    std::string file;
    Position position;
    std::string key_name;
    Type key_type;
    std::vector<Var> vars;
    int initializer_locals = 0;
    std::vector<Handler> starts;
    std::vector<State> states;
    std::vector<Handler> handlers;  // workflow-level `on`, in source order
    std::optional<Handler> on_cancel;
    // For each event the workflow handles: the field path that yields the key.
    std::unordered_map<int, std::vector<std::string>> key_paths;
    std::unordered_map<int, std::vector<int>> starts_by_event;
    std::unordered_map<int, std::vector<int>> handlers_by_event;
    std::vector<std::string> targets;  // the command targets it emits to
    std::string hash;                  // of the compiled form: changes when behaviour may change
    // Indexes into `states` and `vars` by name, kept by whoever appends to them.
    NameIndex state_by_name;
    NameIndex var_by_name;

    int state_index(std::string_view state_name) const;
    int var_index(std::string_view var_name) const;
};

struct Program {
    std::vector<Record> records;
    std::vector<Workflow> workflows;
    NameIndex record_by_name;
    // Event records by their wire name and by their declared name.
    NameIndex event_by_type;

    const Record* record(std::string_view name) const;
    const Record* event_for_type(std::string_view type) const;
    int workflow_index(std::string_view name) const;
};

}  // namespace flow::ir
