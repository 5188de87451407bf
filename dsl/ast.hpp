// The syntax tree of a `.flow` file, as the grammar produces it. Every node that a
// diagnostic can point at is position-tagged (x3::position_tagged: an id into the
// source's position cache), so checks report `FILE:LINE:COL` without knowing iterators.
#pragma once

#include <boost/spirit/home/x3/support/ast/position_tagged.hpp>
#include <boost/spirit/home/x3/support/ast/variant.hpp>

#include <cstdint>
#include <list>
#include <boost/optional.hpp>
#include <string>
#include <vector>

namespace flow::ast {

namespace x3 = boost::spirit::x3;

struct Name : x3::position_tagged {
    std::string text;
};

// `string`, `list<Line>`, `Money`, `time?`
struct TypeRef : x3::position_tagged {
    std::string name;                  // a primitive, `list`, or a record's name
    std::list<TypeRef> arguments;      // `list<T>`: one; std::list allows the recursion
    bool optional = false;
};

struct Field : x3::position_tagged {
    Name name;
    bool optional = false;
    TypeRef type;
};

// ---- expressions -------------------------------------------------------------------

struct NullLiteral : x3::position_tagged {};
struct BoolLiteral : x3::position_tagged { bool value = false; };
struct IntLiteral : x3::position_tagged { std::string digits; };
struct NumberLiteral : x3::position_tagged { std::string text; };  // read exactly by the checker
struct StringLiteral : x3::position_tagged { std::string value; };
struct DurationLiteral : x3::position_tagged { std::string text; };

struct Expression;
struct Binary;
struct Unary;
struct Postfix;
struct RecordLiteral;
struct ListLiteral;
struct Parenthesized;

struct Primary : x3::variant<
                     NullLiteral, BoolLiteral, DurationLiteral, NumberLiteral, IntLiteral,
                     StringLiteral, x3::forward_ast<RecordLiteral>, x3::forward_ast<ListLiteral>,
                     x3::forward_ast<Parenthesized>, Name> {
    using base_type::base_type;
    using base_type::operator=;
};

// `.field`, `[index]`, `(args)`
struct FieldAccess : x3::position_tagged { Name field; };
struct IndexAccess;
struct CallArguments;
struct Suffix : x3::variant<FieldAccess, x3::forward_ast<IndexAccess>, x3::forward_ast<CallArguments>> {
    using base_type::base_type;
    using base_type::operator=;
};

struct Postfix : x3::position_tagged {
    Primary primary;
    std::vector<Suffix> suffixes;
};

// Prefix operators (`-`, `not`) applied to a postfix expression, outermost first.
struct Unary : x3::position_tagged {
    std::vector<std::string> operators;
    Postfix operand;
};

struct Operation : x3::position_tagged {
    std::string op;   // position: the operator
    Unary operand;
};

// A left-associative chain `a + b - c` before precedence is applied: the grammar reads
// every binary operator flat, and the checker folds the chain by precedence.
struct Expression : x3::position_tagged {
    Unary first;
    std::vector<Operation> rest;
};

struct IndexAccess : x3::position_tagged { Expression index; };
struct CallArguments : x3::position_tagged { std::vector<Expression> arguments; };
struct Parenthesized : x3::position_tagged { Expression inner; };

struct FieldValue : x3::position_tagged {
    Name name;
    Expression value;
};

struct RecordLiteral : x3::position_tagged {
    Name type;
    std::vector<FieldValue> fields;
};

struct ListLiteral : x3::position_tagged {
    std::vector<Expression> elements;
};

// ---- statements --------------------------------------------------------------------

struct Statement;
using Block = std::vector<Statement>;

struct Assign : x3::position_tagged { Name target; Expression value; };
struct Let : x3::position_tagged { Name name; Expression value; };
struct Emit : x3::position_tagged { Name command; std::vector<FieldValue> fields; };
struct CompensateWith : x3::position_tagged { Name command; std::vector<FieldValue> fields; };
struct CompensateAll : x3::position_tagged { std::string keyword; };
struct Goto : x3::position_tagged { Name state; };
struct Complete : x3::position_tagged { std::string keyword; };
struct Fail : x3::position_tagged { Expression reason; };
struct CancelStatement : x3::position_tagged { std::string keyword; };

struct ElseIf;
struct If : x3::position_tagged {
    Expression condition;
    std::vector<Statement> then_block;
    std::vector<ElseIf> else_ifs;
    boost::optional<std::vector<Statement>> else_block;
};

struct Statement : x3::variant<Assign, Let, Emit, CompensateWith, CompensateAll, Goto, Complete,
                               Fail, CancelStatement, x3::forward_ast<If>> {
    using base_type::base_type;
    using base_type::operator=;
};

struct ElseIf : x3::position_tagged {
    Expression condition;
    std::vector<Statement> block;
};

// ---- workflow members --------------------------------------------------------------

struct Version : x3::position_tagged { std::string number; };
struct Key : x3::position_tagged { Name name; TypeRef type; };
struct Correlate : x3::position_tagged { Name event; std::vector<Name> path; };
struct Var : x3::position_tagged { Name name; TypeRef type; Expression initializer; };

// `on Event [as name] [when guard] { … }`
struct Handler : x3::position_tagged {
    Name event;
    boost::optional<Name> alias;
    boost::optional<Expression> guard;
    std::vector<Statement> body;
};
struct StartHandler : x3::position_tagged { Handler handler; };
struct CancelHandler : x3::position_tagged { std::vector<Statement> body; };
struct Entry : x3::position_tagged { std::vector<Statement> body; };
struct After : x3::position_tagged { Expression delay; std::vector<Statement> body; };
struct At : x3::position_tagged { Expression deadline; std::vector<Statement> body; };

struct StateMember : x3::variant<Entry, Handler, After, At> {
    using base_type::base_type;
    using base_type::operator=;
};

struct State : x3::position_tagged {
    Name name;
    std::vector<StateMember> members;
};

struct WorkflowMember : x3::variant<Version, Key, Correlate, Var, StartHandler, CancelHandler,
                                    Handler, State> {
    using base_type::base_type;
    using base_type::operator=;
};

// ---- declarations ------------------------------------------------------------------

struct Import : x3::position_tagged { StringLiteral path; };
struct TypeDecl : x3::position_tagged { Name name; std::vector<Field> fields; };
struct EventDecl : x3::position_tagged {
    Name name;
    boost::optional<StringLiteral> external_name;
    std::vector<Field> fields;
};
struct CommandDecl : x3::position_tagged {
    Name name;
    Name target;
    std::vector<Field> fields;
};
struct Workflow : x3::position_tagged {
    Name name;
    std::vector<WorkflowMember> members;
    // Where the closing `}` stands; filled in by the parser driver, not the grammar.
};

struct Declaration : x3::variant<Import, TypeDecl, EventDecl, CommandDecl, Workflow> {
    using base_type::base_type;
    using base_type::operator=;
};

struct File {
    std::vector<Declaration> declarations;
};

}  // namespace flow::ast
