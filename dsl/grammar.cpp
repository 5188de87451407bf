// The Spirit X3 grammar of the Flow language: the only translation unit that includes X3's
// parsers, so the grammar is compiled once. Rules are named in the user's words ("a state
// name"), because an expectation failure reports the name of the rule that was expected.
#include "dsl/ast_adapted.hpp"
#include "dsl/parser.hpp"
#include "dsl/resume_points.hpp"
#include "dsl/string_escapes.hpp"
#include "dsl/suggestion.hpp"
#include "stdlib/chrono.hpp"
#include "stdlib/utf8.hpp"

#include <boost/spirit/home/x3.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <map>

namespace flow {
namespace grammar {

namespace x3 = boost::spirit::x3;
using Iterator = std::string::const_iterator;

// State shared by the whole parse: where the text starts (positions are stored as offsets)
// and whether a bare record literal `Name { … }` may stand here. Right after `if`, `when`,
// `after` and `at` it may not, so that `if ready {` always opens a block.
struct ParseState {
    Iterator begin;
    bool records_allowed = true;
    int type_arguments_open = 0;  // `list<` not closed yet, around the type being read
    // Each `\u{…}` that names no character, by its offset: its end and the message. (A string
    // may be read more than once as the parser backtracks: it is reported once.)
    std::map<int, std::pair<int, std::string>> bad_escapes;
};
struct parse_state_tag;

// Stores the byte range of every position-tagged node that a rule produced.
struct annotate_position {
    template <typename It, typename Node, typename Context>
    void on_success(It const& first, It const& last, Node& node, Context const& context) {
        if constexpr (std::is_base_of_v<x3::position_tagged, Node>) {
            auto& state = x3::get<parse_state_tag>(context).get();
            node.id_first = static_cast<int>(first - state.begin);
            node.id_last = static_cast<int>(last - state.begin);
        }
    }
};

// Parses its subject with bare record literals allowed or not, restoring the mode after.
template <typename Subject>
struct record_mode_directive : x3::unary_parser<Subject, record_mode_directive<Subject>> {
    using base_type = x3::unary_parser<Subject, record_mode_directive<Subject>>;
    static bool const is_pass_through_unary = true;
    static bool const handles_container = Subject::handles_container;
    bool allow;
    record_mode_directive(Subject const& subject, bool allow_records) : base_type(subject), allow(allow_records) {}

    template <typename It, typename Context, typename RContext, typename Attribute>
    bool parse(It& first, It const& last, Context const& context, RContext& rcontext, Attribute& attr) const {
        auto& state = x3::get<parse_state_tag>(context).get();
        bool saved = state.records_allowed;
        state.records_allowed = allow;
        bool ok = false;
        try {
            ok = this->subject.parse(first, last, context, rcontext, attr);
        } catch (...) {
            state.records_allowed = saved;
            throw;
        }
        state.records_allowed = saved;
        return ok;
    }
};
struct record_mode_gen {
    bool allow;
    template <typename Subject>
    auto operator[](Subject const& subject) const {
        return record_mode_directive<typename x3::extension::as_parser<Subject>::value_type>{
            x3::as_parser(subject), allow};
    }
};
const record_mode_gen with_records{true};
const record_mode_gen without_records{false};

// The most type arguments open at once (`list<list<…>>`): real types nest two or three; the
// parser recurses once per level, so a hostile file must not take it deeper than the stack
// allows. Past it, the parse fails with this name as what was expected (parse_source reports it).
constexpr int max_type_nesting = 100;
inline const std::string type_nesting_limit = "type arguments nested at most 100 deep";

template <typename Subject>
struct type_nesting_directive : x3::unary_parser<Subject, type_nesting_directive<Subject>> {
    using base_type = x3::unary_parser<Subject, type_nesting_directive<Subject>>;
    static bool const is_pass_through_unary = true;
    static bool const handles_container = Subject::handles_container;
    explicit type_nesting_directive(Subject const& subject) : base_type(subject) {}

    template <typename It, typename Context, typename RContext, typename Attribute>
    bool parse(It& first, It const& last, Context const& context, RContext& rcontext, Attribute& attr) const {
        int& open = x3::get<parse_state_tag>(context).get().type_arguments_open;
        // Reported at the `<` just read, like an excess bracket.
        if (open >= max_type_nesting) boost::throw_exception(x3::expectation_failure<It>(std::prev(first), type_nesting_limit));
        ++open;
        struct Close {
            int& open;
            ~Close() { --open; }
        } close{open};
        return this->subject.parse(first, last, context, rcontext, attr);
    }
};
struct type_nesting_gen {
    template <typename Subject>
    auto operator[](Subject const& subject) const {
        return type_nesting_directive<typename x3::extension::as_parser<Subject>::value_type>{x3::as_parser(subject)};
    }
};
const type_nesting_gen counting_type_nesting{};

}  // namespace grammar
}  // namespace flow

// What a parser in `with_records[…]` is expected to be is what its subject is: an expectation
// that fails there names the subject ("an expression"), not the directive's C++ type.
namespace boost::spirit::x3 {
template <typename Subject>
struct get_info<flow::grammar::type_nesting_directive<Subject>> {
    using result_type = std::string;
    std::string operator()(flow::grammar::type_nesting_directive<Subject> const& p) const { return what(p.subject); }
};
template <typename Subject>
struct get_info<flow::grammar::record_mode_directive<Subject>> {
    using result_type = std::string;
    std::string operator()(flow::grammar::record_mode_directive<Subject> const& p) const { return what(p.subject); }
};
// The same for a lookahead (`> &field_name`): it expects what its subject is.
template <typename Subject>
struct get_info<and_predicate<Subject>> {
    using result_type = std::string;
    std::string operator()(and_predicate<Subject> const& p) const { return what(p.subject); }
};
}  // namespace boost::spirit::x3

namespace flow {
namespace grammar {

const auto records_allowed_here = x3::eps[([](auto& ctx) {
    x3::_pass(ctx) = x3::get<parse_state_tag>(ctx).get().records_allowed;
})];

// ---- lexical ------------------------------------------------------------------------

const auto word_char = x3::alnum | x3::char_('_');

auto kw(char const* word) { return x3::lexeme[x3::lit(word) >> !word_char]; }

struct keyword_table : x3::symbols<x3::unused_type> {
    keyword_table() {
        for (const char* k : {"import", "type", "event", "command", "to", "workflow", "version", "key",
                              "correlate", "by", "var", "let", "start", "on", "as", "when", "state",
                              "entry", "after", "at", "emit", "compensate", "with", "if", "else",
                              "goto", "complete", "fail", "cancel", "true", "false", "null", "and",
                              "or", "not"})
            add(k);
    }
} const keywords;

const auto keyword = x3::lexeme[keywords >> !word_char];
const auto identifier = x3::lexeme[(x3::alpha | x3::char_('_')) >> *word_char];

const auto skipper = x3::space | x3::lexeme["//" >> *(x3::char_ - x3::eol)] |
                     x3::lexeme["/*" >> *(x3::char_ - "*/") >> "*/"];

// ---- rule declarations (the names are what users read in "expected …") --------------------

#define FLOW_RULE(id, attribute, description)        \
    struct id##_class : annotate_position {};        \
    const x3::rule<id##_class, attribute, true> id = description;

FLOW_RULE(name, ast::Name, "a name")
FLOW_RULE(key_reference, ast::Name, "'key'")
FLOW_RULE(field_name, ast::Name, "a field name")
FLOW_RULE(type_name, ast::Name, "a type name")
FLOW_RULE(event_name, ast::Name, "an event name")
FLOW_RULE(command_name, ast::Name, "a command name")
FLOW_RULE(state_name, ast::Name, "a state name")
FLOW_RULE(target_name, ast::Name, "a target name")
FLOW_RULE(binding_name, ast::Name, "a binding name")
FLOW_RULE(variable_name, ast::Name, "a variable name")
FLOW_RULE(key_name, ast::Name, "the key's name (the field events carry it in)")
FLOW_RULE(workflow_name, ast::Name, "a workflow name")
FLOW_RULE(type_ref, ast::TypeRef, "a type")
FLOW_RULE(type_arguments, std::list<ast::TypeRef>, "type arguments")
FLOW_RULE(type_argument_list, std::list<ast::TypeRef>, "a type")
FLOW_RULE(field, ast::Field, "a field")
FLOW_RULE(field_list, std::vector<ast::Field>, "a list of fields in braces")

// A string also notes its escapes that name no character, to be reported as syntax errors.
struct string_literal_class : annotate_position {
    template <typename It, typename Context>
    void on_success(It const& first, It const& last, ast::StringLiteral& node, Context const& context) {
        annotate_position::on_success(first, last, node, context);
        auto& state = x3::get<parse_state_tag>(context).get();
        for (BadEscape& bad : bad_escapes(node.value)) {
            const int at = node.id_first + 1 + static_cast<int>(bad.offset);  // past the opening quote
            state.bad_escapes.try_emplace(at, at + static_cast<int>(bad.length), std::move(bad.message));
        }
    }
};
const x3::rule<string_literal_class, ast::StringLiteral, true> string_literal = "a string";
FLOW_RULE(int_literal, ast::IntLiteral, "an integer")
FLOW_RULE(number_literal, ast::NumberLiteral, "a number")
FLOW_RULE(duration_literal, ast::DurationLiteral, "a duration")
FLOW_RULE(bool_literal, ast::BoolLiteral, "true or false")
FLOW_RULE(null_literal, ast::NullLiteral, "null")
FLOW_RULE(record_literal, ast::RecordLiteral, "a record")
FLOW_RULE(list_literal, ast::ListLiteral, "a list")
FLOW_RULE(parenthesized, ast::Parenthesized, "an expression in parentheses")
FLOW_RULE(primary, ast::Primary, "an expression")
FLOW_RULE(field_access, ast::FieldAccess, "a field access")
FLOW_RULE(index_access, ast::IndexAccess, "an index")
FLOW_RULE(call_arguments, ast::CallArguments, "arguments")
FLOW_RULE(postfix, ast::Postfix, "an expression")
FLOW_RULE(unary, ast::Unary, "an expression")
FLOW_RULE(operation, ast::Operation, "an operator")
FLOW_RULE(expression, ast::Expression, "an expression")
FLOW_RULE(condition, ast::Expression, "a condition")
FLOW_RULE(timer_duration, ast::Expression, "a duration, such as 15m")
FLOW_RULE(timer_time, ast::Expression, "a time, such as now() + 1d")
FLOW_RULE(field_value, ast::FieldValue, "a field and its value")
FLOW_RULE(field_values, std::vector<ast::FieldValue>, "field values in braces")
FLOW_RULE(field_value_list, std::vector<ast::FieldValue>, "field values")
FLOW_RULE(expression_list, std::vector<ast::Expression>, "expressions")

FLOW_RULE(statement, ast::Statement, "a statement")
FLOW_RULE(block, std::vector<ast::Statement>, "a block in braces")
FLOW_RULE(assign, ast::Assign, "an assignment")
FLOW_RULE(assign_target, ast::Name, "a variable name")
FLOW_RULE(let, ast::Let, "a 'let'")
FLOW_RULE(emit, ast::Emit, "an 'emit'")
FLOW_RULE(compensate_with, ast::CompensateWith, "a 'compensate with'")
FLOW_RULE(compensate_all, ast::CompensateAll, "'compensate'")
FLOW_RULE(goto_, ast::Goto, "a 'goto'")
FLOW_RULE(complete, ast::Complete, "'complete'")
FLOW_RULE(fail, ast::Fail, "a 'fail'")
FLOW_RULE(cancel_statement, ast::CancelStatement, "'cancel'")
FLOW_RULE(if_, ast::If, "an 'if'")
FLOW_RULE(else_if, ast::ElseIf, "an 'else if'")

FLOW_RULE(version, ast::Version, "a version")
FLOW_RULE(key, ast::Key, "a key")
FLOW_RULE(correlate, ast::Correlate, "a 'correlate'")
FLOW_RULE(var, ast::Var, "a 'var'")
FLOW_RULE(handler, ast::Handler, "a handler")
FLOW_RULE(start_handler, ast::StartHandler, "a start handler")
FLOW_RULE(cancel_handler, ast::CancelHandler, "an 'on cancel' handler")
FLOW_RULE(entry, ast::Entry, "an 'entry' block")
FLOW_RULE(after, ast::After, "an 'after' timer")
FLOW_RULE(at, ast::At, "an 'at' deadline")
FLOW_RULE(state_member, ast::StateMember, "'entry', 'on', 'after', 'at' or '}'")
FLOW_RULE(state, ast::State, "a state")
FLOW_RULE(workflow_member, ast::WorkflowMember,
          "'version', 'key', 'correlate', 'var', 'start on', 'on', 'state' or '}'")
FLOW_RULE(workflow, ast::Workflow, "a workflow")
FLOW_RULE(import, ast::Import, "an import")
FLOW_RULE(type_decl, ast::TypeDecl, "a type")
FLOW_RULE(event_decl, ast::EventDecl, "an event")
FLOW_RULE(command_decl, ast::CommandDecl, "a command")
FLOW_RULE(declaration, ast::Declaration, "a declaration ('import', 'type', 'event', 'command' or 'workflow')")

#undef FLOW_RULE

// Punctuation named as users see it.
struct punct_class {};
#define FLOW_PUNCT(id, text)                                   \
    const auto id = x3::rule<struct id##_class>{"'" text "'"} = x3::lit(text);
FLOW_PUNCT(open_brace, "{")
FLOW_PUNCT(close_brace, "}")
FLOW_PUNCT(close_paren, ")")
FLOW_PUNCT(close_bracket, "]")
FLOW_PUNCT(colon, ":")
FLOW_PUNCT(equals, "=")
FLOW_PUNCT(close_angle, ">")
FLOW_PUNCT(open_angle, "<")
#undef FLOW_PUNCT

// Keywords that are expected at a point, named as users see them.
#define FLOW_KEYWORD(id, text)                                 \
    const auto id = x3::rule<struct id##_class>{"'" text "'"} = kw(text);
FLOW_KEYWORD(to_keyword, "to")
FLOW_KEYWORD(by_keyword, "by")
FLOW_KEYWORD(on_keyword, "on")
#undef FLOW_KEYWORD

// ---- definitions --------------------------------------------------------------------

const auto plain_name = x3::lexeme[!keyword >> x3::raw[identifier]];
const auto name_def = plain_name;
const auto key_reference_def = x3::lexeme[x3::raw[x3::lit("key") >> !word_char]];
const auto field_name_def = x3::lexeme[x3::raw[identifier]];
const auto type_name_def = plain_name;
const auto event_name_def = plain_name;
const auto command_name_def = plain_name;
const auto state_name_def = plain_name;
// A target is not among the things the keywords may not name (docs/language.md): it is bound to an
// endpoint outside the file, by a name the deployment chose, so any name is allowed.
const auto target_name_def = x3::lexeme[x3::raw[identifier]];
const auto binding_name_def = plain_name;
const auto variable_name_def = plain_name;
// The key's name is the name of the events' field that carries it, so, like any field name, it
// may be a keyword (`key type: string`); expressions read the key as `key` whatever its name.
const auto key_name_def = x3::lexeme[x3::raw[identifier]];
const auto workflow_name_def = plain_name;

// Each argument is read once: a lookahead that read it first made nested types take twice as
// long per level.
const auto type_arguments_def = open_angle > counting_type_nesting[type_argument_list] > close_angle;
const auto type_argument_list_def = type_ref >> *(',' >> type_ref);
const auto type_ref_def = x3::lexeme[x3::raw[identifier]] >> -type_arguments >> x3::matches['?'];
const auto field_def = field_name > x3::matches['?'] > colon > type_ref;
// A trailing comma follows an element: a lone ',' is no empty list.
const auto field_list_def = open_brace > -((field % ',') >> -x3::lit(',')) > close_brace;

// Literals.
// Any character may follow a backslash here: those that make no escape (`\q`) are reported
// with the other bad escapes of the string (string_escapes.hpp), so that every one of them is,
// and the parse goes on. Only the end of the line cannot.
const auto escape_body = x3::rule<struct escape_body_class>{"an escape (\\\" \\\\ \\n \\t or \\u{hex})"} =
    x3::char_("\"\\nt") | (x3::char_('u') >> x3::char_('{') >> +x3::xdigit >> x3::char_('}')) | (x3::char_ - x3::eol);
const auto escape = x3::char_('\\') > escape_body;
const auto string_end = x3::rule<struct string_end_class>{"'\"' to close the string"} = x3::lit('"');
const auto string_literal_def =
    x3::lexeme['"' > x3::raw[*(escape | (x3::char_ - '"' - '\\' - x3::eol))] > string_end];
const auto duration_unit = x3::lit("ms") | x3::lit('d') | x3::lit('h') | x3::lit('m') | x3::lit('s');
const auto duration_literal_def = x3::lexeme[x3::raw[+(+x3::digit >> duration_unit)] >> !word_char];
const auto int_literal_def = x3::lexeme[x3::raw[+x3::digit] >> !word_char >> !x3::lit('.')];
// Digits, '.', digits, an optional exponent. The text is kept: the checker reads it with
// std::from_chars, which rounds correctly where x3::double_ can miss by one unit in the last place.
const auto number_literal_def = x3::lexeme[x3::raw[+x3::digit >> '.' >> +x3::digit >>
                                                   -(x3::char_("eE") >> -x3::char_("+-") >> +x3::digit)] >>
                                           !word_char];
const auto bool_literal_def = (kw("true") >> x3::attr(true)) | (kw("false") >> x3::attr(false));
const auto null_literal_def = kw("null");

// Expressions. Binary operators are read flat; the checker applies precedence. A '/' before '*'
// is a comment that never closes (a closed one was skipped), not a division.
const auto binary_operator = x3::rule<struct binary_operator_class, std::string>{"an operator"} =
    x3::string("??") | x3::string("==") | x3::string("!=") | x3::string("<=") | x3::string(">=") |
    x3::string("<") | x3::string(">") | x3::string("+") | x3::string("-") | x3::string("*") |
    x3::lexeme[x3::string("/") >> !x3::lit('*')] | x3::string("%") | x3::lexeme[x3::string("and") >> !word_char] |
    x3::lexeme[x3::string("or") >> !word_char];
const auto prefix_operator = x3::rule<struct prefix_operator_class, std::string>{"an operator"} =
    x3::string("-") | x3::lexeme[x3::string("not") >> !word_char];

const auto record_literal_def = type_name >> &x3::lit('{') >> records_allowed_here >> field_values;
const auto expression_list_def = -((expression % ',') >> -x3::lit(','));
const auto list_literal_def = '[' >> with_records[expression_list] > close_bracket;
const auto parenthesized_def = '(' > with_records[expression] > close_paren;
const auto primary_def = null_literal | bool_literal | duration_literal | number_literal | int_literal |
                         string_literal | record_literal | list_literal | parenthesized | key_reference | name;
const auto field_access_def = '.' > field_name;
const auto index_access_def = '[' > with_records[expression] > close_bracket;
const auto call_arguments_def = '(' >> with_records[expression_list] > close_paren;
const auto postfix_def = primary >> *(field_access | index_access | call_arguments);
const auto unary_def = *prefix_operator >> postfix;
const auto operation_def = binary_operator > unary;
const auto expression_def = unary >> *operation;
const auto condition_def = without_records[expression];
const auto timer_duration_def = without_records[expression];
const auto timer_time_def = without_records[expression];
const auto field_value_def = field_name > colon > expression;
const auto field_value_list_def = -((field_value % ',') >> -x3::lit(','));
const auto field_values_def = open_brace > with_records[field_value_list] > close_brace;

// Statements.
const auto block_def = open_brace > *statement > close_brace;
// `key` is accepted as a target so that the checker can say it cannot be assigned.
const auto assign_target_def = x3::lexeme[x3::raw[x3::lit("key") >> !word_char]] | plain_name;
// `x == 1` is a comparison, not an assignment; `x = = 1` is an assignment missing its value.
const auto assign_def = assign_target >> '=' >> !x3::no_skip[x3::lit('=')] > expression;
const auto let_def = kw("let") > variable_name > equals > expression;
const auto emit_def = kw("emit") > command_name > field_values;
const auto compensate_with_def = kw("compensate") >> kw("with") > command_name > field_values;
const auto compensate_all_def = x3::lexeme[x3::string("compensate") >> !word_char];
const auto goto__def = kw("goto") > state_name;
const auto complete_def = x3::lexeme[x3::string("complete") >> !word_char];
const auto fail_def = kw("fail") > expression;
const auto cancel_statement_def = x3::lexeme[x3::string("cancel") >> !word_char];
const auto else_if_def = kw("else") >> kw("if") > condition > block;
const auto if__def = kw("if") > condition > block > *else_if > -(kw("else") > block);
const auto statement_def = let | emit | compensate_with | compensate_all | goto_ | complete | fail |
                           cancel_statement | if_ | assign;

// Workflow members.
const auto version_number = x3::rule<struct version_number_class, std::string>{"a version number"} =
    x3::lexeme[x3::raw[+x3::digit] >> !word_char];
const auto version_def = kw("version") > version_number;
const auto key_def = kw("key") > key_name > colon > type_ref;
const auto correlate_def = kw("correlate") > event_name > by_keyword > &field_name > (field_name % '.');
const auto var_def = kw("var") > variable_name > colon > type_ref > equals > expression;
const auto handler_def = kw("on") > event_name > -(kw("as") > binding_name) > -(kw("when") > condition) > block;
const auto start_handler_def = kw("start") > &on_keyword > handler;
const auto cancel_handler_def = kw("on") >> kw("cancel") > block;
const auto entry_def = kw("entry") > block;
const auto after_def = kw("after") > timer_duration > block;
const auto at_def = kw("at") > timer_time > block;
const auto state_member_def = entry | handler | after | at;
const auto state_def = kw("state") > state_name > open_brace > *state_member > close_brace;
const auto workflow_member_def = version | key | correlate | var | start_handler | cancel_handler | handler | state;
const auto workflow_def = kw("workflow") > workflow_name > open_brace > *workflow_member > close_brace;

// Declarations.
const auto import_def = kw("import") > string_literal;
const auto type_decl_def = kw("type") > type_name > field_list;
const auto event_decl_def = kw("event") > event_name > -string_literal > field_list;
const auto command_decl_def = kw("command") > command_name > to_keyword > target_name > field_list;
const auto declaration_def = import | type_decl | event_decl | command_decl | workflow;

BOOST_SPIRIT_DEFINE(name, key_reference, field_name, key_name, type_name, event_name, command_name, state_name, target_name,
                    binding_name, variable_name, workflow_name, type_ref, type_arguments, type_argument_list, field,
                    field_list)
BOOST_SPIRIT_DEFINE(string_literal, int_literal, number_literal, duration_literal, bool_literal,
                    null_literal, record_literal, list_literal, parenthesized, primary, field_access,
                    index_access, call_arguments, postfix, unary, operation, expression, condition,
                    timer_duration, timer_time, field_value, field_values, field_value_list, expression_list)
BOOST_SPIRIT_DEFINE(statement, block, assign, assign_target, let, emit, compensate_with, compensate_all, goto_,
                    complete, fail, cancel_statement, if_, else_if)
BOOST_SPIRIT_DEFINE(version, key, correlate, var, handler, start_handler, cancel_handler, entry, after,
                    at, state_member, state, workflow_member, workflow, import, type_decl, event_decl,
                    command_decl, declaration)

}  // namespace grammar

// ---- the driver: one declaration at a time, resuming after a syntax error ----------------

namespace {

namespace x3 = boost::spirit::x3;

// Where a number that starts at `offset` ends, with whatever sticks to it: `1.5s`, `2.5e`,
// `12abc`, `2.5e-3`, so that it is quoted and underlined whole.
std::size_t number_token_end(const std::string& text, std::size_t offset) {
    std::size_t end = offset;
    bool fraction = false;
    while (end < text.size()) {
        const unsigned char d = static_cast<unsigned char>(text[end]);
        if (std::isalnum(d) || d == '_') {
            ++end;
        } else if (d == '.' && end + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[end + 1]))) {
            fraction = true;
            end += 2;
        } else if ((d == '+' || d == '-') && (text[end - 1] == 'e' || text[end - 1] == 'E') &&
                   (fraction || (end + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[end + 1]))))) {
            ++end;  // `2.5e-3`, `2.5e-`, and `1e-3`, whose missing fraction is then named whole
        } else {
            break;
        }
    }
    return end;
}

// For a duration written with a fraction (`1.5h`): the same length in whole units (", write
// 1h30m"), or why there is none.
std::string whole_units_hint(const std::string& number, const std::string& unit) {
    static const std::pair<const char*, double> units[] = {{"d", 86'400'000.0}, {"h", 3'600'000.0}, {"m", 60'000.0},
                                                           {"s", 1'000.0}, {"ms", 1.0}};
    for (const auto& [name, ms] : units) {
        if (unit != name) continue;
        const double total = std::strtod(number.c_str(), nullptr) * ms;
        if (total >= 1 && total < 1e15 && total == std::floor(total))
            return ": write " + chrono::format_duration(static_cast<std::int64_t>(total)) + ", not " + number + unit;
        return ", and the smallest unit is ms";
    }
    return ": write 1m30s, not 1.5m";
}

// The word or symbol at `offset`, as "'state'" or "the end of the file".
std::string found_at(const std::string& text, std::size_t offset) {
    if (offset >= text.size()) return "the end of the file";
    unsigned char c = static_cast<unsigned char>(text[offset]);
    if (std::isdigit(c)) {
        const std::size_t end = number_token_end(text, offset);
        const bool fraction = text.find('.', offset) < end;
        std::string token = text.substr(offset, end - offset);
        std::string quoted = "'" + token + "'";
        const std::size_t letters = token.find_first_not_of("0123456789.");
        if (end < text.size() && text[end] == '.' && letters == std::string::npos)  // `1.`, `5.e3`
            return "'" + token + ".' (a number needs digits after its '.': write " + token + ".0)";
        const bool exponent = !fraction && letters != std::string::npos && (token[letters] == 'e' || token[letters] == 'E');
        const std::size_t exponent_digits =  // after the 'e' and its sign, if any
            exponent && letters + 1 < token.size() && (token[letters + 1] == '+' || token[letters + 1] == '-') ? letters + 2 : letters + 1;
        if (exponent && exponent_digits < token.size() &&
            token.find_first_not_of("0123456789", exponent_digits) == std::string::npos)  // `1e3`, `1e-3`
            return quoted + " (a number with an exponent needs a fraction: write " + token.substr(0, letters) + ".0" +
                   token.substr(letters) + ")";
        if (!fraction && letters != std::string::npos && letters + 1 == token.size() && (token[letters] == 'e' || token[letters] == 'E'))
            return quoted + " (a number with an exponent needs a fraction and the exponent's digits: 1.0e3, 1.0e-3)";  // `1e`
        if (!fraction || letters == std::string::npos) return quoted;
        const std::string suffix = token.substr(letters);
        if (suffix.find_first_not_of("dhms") == std::string::npos)
            return quoted + " (a duration counts whole units" + whole_units_hint(token.substr(0, letters), suffix) + ")";
        if (suffix == "e" || suffix == "E" || suffix == "e+" || suffix == "e-" || suffix == "E+" || suffix == "E-")
            return quoted + " (a number's exponent needs digits: 2.5e3, 2.5e-3)";
        return quoted;
    }
    if (std::isalnum(c) || c == '_') {
        std::size_t end = offset;
        while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_')) ++end;
        return "'" + text.substr(offset, end - offset) + "'";
    }
    if (c == '"') {
        // A string ends on its line: one that does not is what the author should hear about.
        for (std::size_t i = offset + 1; i < text.size() && text[i] != '\n'; ++i) {
            if (text[i] == '\\') ++i;
            else if (text[i] == '"') return "a string";
        }
        return "a string that is never closed (a string ends on its line)";
    }
    if (c == '\n' || c == '\r') return "the end of the line";
    if (c < 0x20 || c >= 0x7f) {
        // Named by its code point: it may not show (a no-break space, a control character).
        char code[16];
        std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(utf8::decode(text, offset).value));
        std::string what = "the character " + std::string(code);
        if (c >= 0x80) what += " (names and keywords are ASCII letters, digits and '_')";
        return what;
    }
    return "'" + std::string(1, static_cast<char>(c)) + "'";
}

}  // namespace

// Describes the innermost block still open at `offset`, for "expected '}' to close …".
std::string describe_open_block(const std::string& text, std::size_t offset);
// The keyword (`if`, `when`, `after`, `at`) whose expression ends at the '{' of the innermost
// block still open at `offset`, or empty.
std::string keyword_before_open_block(const std::string& text, std::size_t offset);

namespace {

std::string word_at(const std::string& text, std::size_t offset) {
    std::size_t end = offset;
    while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_')) ++end;
    return text.substr(offset, end - offset);
}

// Where the word that ends before `offset` begins, past white space (not comments); the word
// itself is word_at() there, empty when none ends there.
std::size_t previous_word_at(const std::string& text, std::size_t offset) {
    std::size_t end = offset;
    while (end > 0 && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
    std::size_t begin = end;
    while (begin > 0 && (std::isalnum(static_cast<unsigned char>(text[begin - 1])) || text[begin - 1] == '_')) --begin;
    return begin == end ? offset : begin;
}

// Why what stands at `where` in a block of statements (`block`, as describe_open_block() names it)
// is no statement, when it starts an expression: a name that is not a keyword, a number, a
// string or a parenthesis. Empty otherwise, and for a block of another kind.
std::string statement_hint(const std::string& text, std::size_t where, const std::string& word, const std::string& block) {
    static const char* const statement_blocks[] = {"the start handler", "the handler", "the 'entry' block", "the 'else' block",
                                                   "the 'else if' block", "the 'if' block", "the 'after' timer",
                                                   "the 'at' deadline", "the 'on cancel' handler"};
    if (std::none_of(std::begin(statement_blocks), std::end(statement_blocks),
                     [&](const char* kind) { return block.rfind(kind, 0) == 0; }))
        return "";
    if (where >= text.size()) return "";
    const char first = text[where];
    const bool name = !word.empty() && !std::isdigit(static_cast<unsigned char>(first)) && !is_keyword(word);
    if (!name && !std::isdigit(static_cast<unsigned char>(first)) && first != '"' && first != '(' && first != '-') return "";
    const char* const statements =
        "a statement is an assignment 'name = …', 'let', 'emit', 'compensate', 'if', 'goto', 'complete', 'fail' or 'cancel'";
    // What follows the word on its line, past blanks.
    std::size_t next = where + word.size();
    while (next < text.size() && (text[next] == ' ' || text[next] == '\t')) ++next;
    const char follower = next < text.size() ? text[next] : '\n';
    if (name && follower == '(') return "a call is not a statement: use its value, as in 'let x = " + word + "(…)'";
    if (name && (follower == '.' || follower == '[')) {
        const std::size_t line_end = text.find('\n', next);
        const std::string rest = text.substr(next, line_end == std::string::npos ? std::string::npos : line_end - next);
        const std::size_t equals = rest.find('=');
        const bool assigns = equals != std::string::npos && (equals + 1 >= rest.size() || rest[equals + 1] != '=') &&
                             (equals == 0 || std::string("=!<>").find(rest[equals - 1]) == std::string::npos);
        if (assigns) return "a field or an element cannot be assigned on its own: assign the whole variable, '" + word + " = …'";
    }
    const bool operand = std::string("=!<>+-*/%?").find(follower) != std::string::npos;
    if (name && !operand) {
        // A misspelt statement keyword (`complet`, `emitt`) reads as a name.
        std::string meant = closest_name(word, {"let", "emit", "compensate", "if", "else", "goto", "complete", "fail", "cancel"});
        if (!meant.empty()) return "'" + word + "' is no statement; did you mean '" + meant + "'?";
    }
    return std::string("an expression alone is not a statement: ") + statements;
}

// " (did you mean 'event'?)" after a word that looks like a misspelt declaration keyword
// (`evnt`, `workflw`), else "".
std::string declaration_hint(const std::string& word) {
    if (word.empty() || is_keyword(word)) return "";
    std::string meant = closest_name(word, {"import", "type", "event", "command", "workflow"});
    return meant.empty() ? "" : " (did you mean '" + meant + "'?)";
}

// Why a word cannot stand where a block of members goes on, when it looks like a misspelt member
// keyword (`stat`, `entyr`): "'entyr' is no member of a state; did you mean 'entry'?", else "".
std::string member_hint(const std::string& word, const std::string& next_word, const std::string& block) {
    if (word.empty() || is_keyword(word) || std::isdigit(static_cast<unsigned char>(word[0]))) return "";
    std::string meant;
    std::string of;
    if (block.rfind("workflow '", 0) == 0) {
        // `stat on A` meant `start`, `stat S` meant `state`: as near to either.
        if (next_word == "on") meant = closest_name(word, {"start"});
        if (meant.empty()) meant = closest_name(word, {"key", "var", "version", "correlate", "state", "start", "on"});
        of = "a workflow";
    } else if (block.rfind("state '", 0) == 0) {
        meant = closest_name(word, {"entry", "on", "after", "at"});
        of = "a state";
    }
    if (meant.empty()) return "";
    return "'" + word + "' is no member of " + of + "; did you mean '" + meant + "'?";
}

// `at` is where the error is reported: `where`, unless the message is about a construct that
// starts before it (a record literal that must stand in parentheses: at its type's name).
std::string expectation_message(const std::string& text, std::size_t where, const std::string& expected, std::size_t& at) {
    at = where;
    std::string word = word_at(text, where);
    const std::string name_suffix = " name";
    if (!word.empty() && is_keyword(word) && expected.size() > name_suffix.size() &&
        expected.compare(expected.size() - name_suffix.size(), name_suffix.size(), name_suffix) == 0) {
        std::string what = expected.substr(expected.find(' ') + 1);
        what = what.substr(0, what.size() - name_suffix.size());
        std::size_t on = previous_word_at(text, where);
        if (word == "cancel" && what == "event" && on != where && word_at(text, on) == "on" &&
            word_at(text, previous_word_at(text, on)) != "start") {
            at = on;  // the handler starts at its `on`
            return "'on cancel' is a handler of the workflow, not of a state: move it out of the state";
        }
        bool vowel = !what.empty() && std::string("aeiou").find(what[0]) != std::string::npos;
        return "'" + word + "' is a keyword and cannot name " + (what == "binding" ? "an event binding" : (vowel ? "an " : "a ") + what);
    }
    // Every parser at an expectation point is named; should one be missed, its C++ type name
    // must not reach the user.
    if (expected.find("spirit") != std::string::npos || expected.find("flow7grammar") != std::string::npos)
        return "unexpected " + found_at(text, where);
    std::string message = "expected " + expected;
    if (expected == "'}'") {
        std::string block = describe_open_block(text, where);
        if (!block.empty()) message += " to close " + block;
        std::size_t after = where + word.size();
        while (after < text.size() && (text[after] == ' ' || text[after] == '\t')) ++after;
        bool looks_like_field = !word.empty() && after < text.size() && text[after] == ':';
        std::string keyword = looks_like_field ? keyword_before_open_block(text, where) : std::string();
        if (!keyword.empty()) {
            // `if T { x: 1 } == t {` holds the literal right after the keyword; `if t == T { x: 1 } {`
            // further on, where the block's brace is taken for the literal's all the same.
            std::size_t brace = where;
            while (brace > 0 && std::isspace(static_cast<unsigned char>(text[brace - 1]))) --brace;
            std::size_t open = brace > 0 && text[brace - 1] == '{' ? brace - 1 : std::string::npos;
            std::size_t type_name = open == std::string::npos ? open : previous_word_at(text, open);
            bool right_after = type_name != open && word_at(text, previous_word_at(text, type_name)) == keyword;
            bool compares = keyword == "if" || keyword == "when";
            const std::string type = type_name != open ? word_at(text, type_name) : std::string();
            if (!type.empty()) {
                // Reported at the literal's type name: the message starts with what is wrong there.
                at = type_name;
                const std::string literal = type + " { … }";
                std::string rule = right_after || !compares
                                       ? "a record literal right after '" + keyword + "' must stand in parentheses" +
                                             (compares ? ": " + keyword + " (" + literal + ") == x { … }" : ": (" + literal + ")")
                                       : "a record literal in the condition of '" + keyword + "' must stand in parentheses: " + keyword +
                                             " x == (" + literal + ") { … }";
                return rule + "; without them, '" + type + " {' opens the block and " + found_at(text, where) +
                       " is found where '}' should close it";
            }
            if (right_after || !compares) {
                std::string example = compares ? ": " + keyword + " (T { … }) == x { … }" : "";
                return message + ", found " + found_at(text, where) + " (a record literal right after '" + keyword +
                       "' must stand in parentheses" + example + ")";
            }
            return message + ", found " + found_at(text, where) + " (a record literal in the condition of '" + keyword +
                   "' must stand in parentheses: " + keyword + " x == (T { … }) { … })";
        }
        // `{ id: string n: int }`: a field follows another without the comma between them.
        bool optional_field = !word.empty() && text.compare(after, 2, "?:") == 0;
        std::size_t before = where;
        while (before > 0 && std::isspace(static_cast<unsigned char>(text[before - 1]))) --before;
        if ((looks_like_field || optional_field) && before > 0 && text[before - 1] != ',' && text[before - 1] != '{')
            return "expected ',' between fields or " + message.substr(std::string("expected ").size()) + ", found " +
                   found_at(text, where);
        std::string hint = statement_hint(text, where, word, block);
        if (hint.empty()) hint = member_hint(word, word_at(text, after), block);
        if (!hint.empty()) return message + ", found " + found_at(text, where) + " (" + hint + ")";
    }
    return message + ", found " + found_at(text, where);
}

// Where the name of a `var` stands when the `=` of its initializer is missing at `where` (the
// declaration ends on the line before, as `var v: int` followed by the next member): the
// declaration is what is at fault, so it is reported at its name. npos when the text before
// `where` is not such a declaration.
std::size_t var_missing_initializer(const std::string& text, std::size_t where) {
    std::size_t last = where;
    while (last > 0 && std::isspace(static_cast<unsigned char>(text[last - 1]))) --last;
    if (last == 0) return std::string::npos;
    std::size_t line = text.rfind('\n', last - 1);
    std::size_t at = line == std::string::npos ? 0 : line + 1;
    while (at < last && (text[at] == ' ' || text[at] == '\t')) ++at;
    if (text.compare(at, 4, "var ") != 0 && text.compare(at, 4, "var\t") != 0) return std::string::npos;
    at += 4;
    while (at < last && (text[at] == ' ' || text[at] == '\t')) ++at;
    return at < last ? at : std::string::npos;
}

// The most brackets and braces open at once: real workflows nest a dozen; the parser recurses
// once per level, so a hostile file must not take it deeper than the stack allows.
constexpr std::size_t max_nesting = 100;

// Where the text first opens more than max_nesting brackets and braces at once (outside strings
// and comments), or npos.
std::size_t too_deep_at(const std::string& text) {
    std::size_t depth = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '"') {
            for (++i; i < text.size() && text[i] != '"' && text[i] != '\n'; ++i)
                if (text[i] == '\\') ++i;
        } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
            i = text.find('\n', i);
            if (i == std::string::npos) return std::string::npos;
        } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
            i = text.find("*/", i + 2);
            if (i == std::string::npos) return std::string::npos;
            ++i;
        } else if (c == '(' || c == '[' || c == '{') {
            if (++depth > max_nesting) return i;
        } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return std::string::npos;
}

// One source file read declaration by declaration, each error reported where it is, and the
// reading resumed after it (ResumePoints) so that the file's other errors are reported too.
class SourceParser {
public:
    SourceParser(const Source& source, Diagnostics& diagnostics)
        : source_(source), text_(source.text()), diagnostics_(diagnostics), resume_(text_) {}

    ast::File parse() {
        if (refused_whole()) return {};
        auto parser = x3::with<grammar::parse_state_tag>(std::ref(state_))[grammar::declaration];
        ast::File file;
        std::size_t at = skip_blank(text_, text_.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0);  // a UTF-8 byte order mark is no text
        while (at < text_.size()) {
            grammar::Iterator first = text_.begin() + static_cast<std::ptrdiff_t>(at);
            ast::Declaration declaration;
            std::size_t failed_at = std::string::npos;
            try {
                state_.records_allowed = true;
                if (x3::phrase_parse(first, text_.end(), parser, grammar::skipper, declaration)) {
                    file.declarations.push_back(std::move(declaration));
                    at = skip_blank(text_, static_cast<std::size_t>(first - text_.begin()));
                    continue;
                }
                failed_at = skip_blank(text_, at);
                if (text_.compare(failed_at, 2, "/*") == 0)
                    report(failed_at, "this comment is never closed: expected '*/'");
                else
                    report(failed_at, std::string("expected ") + grammar::declaration.name + ", found " + found_at(text_, failed_at) +
                                          declaration_hint(word_at(text_, failed_at)));
            } catch (const x3::expectation_failure<grammar::Iterator>& failure) {
                failed_at = report_failure(failure);
                if (text_.compare(at, 8, "workflow") == 0 && failed_at > at && failed_at < text_.size() &&
                    text_.compare(failed_at, 2, "/*") != 0)  // an unclosed comment runs to the end: nothing more to read
                    report_more_in_workflow(failed_at, resume_.next_declaration(failed_at));
            }
            at = skip_blank(text_, resume_.after_declaration(at, failed_at));
        }
        for (const auto& [begin, bad] : state_.bad_escapes) diagnostics_.error(Span{&source_, begin, bad.first}, bad.second);
        return file;
    }

private:
    // A file that is not UTF-8, or that nests deeper than the parser may recurse, is not read at
    // all: the error says where, and why nothing else of it is reported.
    bool refused_whole() {
        if (std::size_t invalid = utf8::first_invalid(text_); invalid != std::string::npos) {
            char byte[8];
            std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(text_[invalid])));
            diagnostics_.error(Span{&source_, static_cast<int>(invalid), static_cast<int>(invalid + 1)},
                               "the byte " + std::string(byte) + " starts no UTF-8 character: a source file must be UTF-8 text; "
                               "nothing of this file was read");
            return true;
        }
        if (std::size_t deep = too_deep_at(text_); deep != std::string::npos) {
            diagnostics_.error(Span{&source_, static_cast<int>(deep), static_cast<int>(deep + 1)},
                               "more than " + std::to_string(max_nesting) +
                                   " brackets and braces are open here at once; nothing of this file was read");
            return true;
        }
        return false;
    }

    // An error at `where`. The span is the word found there (`found 'state'` underlines all of
    // `state`), else one character.
    void report(std::size_t where, std::string message) {
        const bool comment = text_.compare(where, 2, "/*") == 0;  // the `/*` that is never closed
        const bool number = where < text_.size() && std::isdigit(static_cast<unsigned char>(text_[where]));
        const bool escape = text_.compare(where, 1, "\\") == 0;  // `\q`, underlined with its backslash
        std::size_t end = comment || escape ? std::min(where + 2, text_.size())
                          : number          ? number_token_end(text_, where)
                                            : where + std::max<std::size_t>(word_at(text_, where).size(), 1);
        diagnostics_.error(Span{&source_, static_cast<int>(where), static_cast<int>(end)}, std::move(message));
    }

    // Reports a failed expectation; returns where it failed.
    std::size_t report_failure(const x3::expectation_failure<grammar::Iterator>& failure) {
        std::size_t failed_at = static_cast<std::size_t>(failure.where() - text_.begin());
        if (failure.which() == grammar::string_end.name) {
            report(unterminated_string_start(failed_at), "unterminated string: expected '\"' before the end of the line");
            return failed_at;
        }
        if (failure.which() != grammar::escape_body.name) failed_at = skip_blank(text_, failed_at);
        else if (failed_at > 0) --failed_at;  // at the backslash
        if (failure.which() == grammar::escape_body.name)  // the line, or the file, ends after the backslash
            // At the string's opening quote, as for any unterminated string.
            report(unterminated_string_start(failed_at),
                   "unterminated string: a '\\' at the end of the line escapes nothing, and a string ends on its line");
        else if (failure.which() == grammar::type_nesting_limit)
            report(failed_at, "more than " + std::to_string(grammar::max_type_nesting) + " type arguments are open here at once");
        else if (text_.compare(failed_at, 2, "/*") == 0)
            report(failed_at, "this comment is never closed: expected '*/'");
        else if (second_optional_mark(failed_at))
            report(failed_at, "a type takes one '?' at most: '" + optional_type_before(failed_at) +
                                  "' may already be absent or null; found another '?'");
        else if (std::size_t name = failure.which() == grammar::equals.name ? var_missing_initializer(text_, failed_at)
                                                                             : std::string::npos;
                 name != std::string::npos)
            report(name, "var '" + word_at(text_, name) + "' has no initializer: every var needs '= value' (= null for an optional one), "
                         "found " + found_at(text_, failed_at));
        else {
            std::size_t at = failed_at;
            std::string message = expectation_message(text_, failed_at, failure.which(), at);
            report(at, message);
        }
        return failed_at;
    }

    // Whether the parse failed at a '?' that follows a type's own '?' (`int??`, `list<T>? ?`).
    bool second_optional_mark(std::size_t at) const {
        if (at >= text_.size() || text_[at] != '?') return false;
        std::size_t mark = at;
        while (mark > 0 && std::isspace(static_cast<unsigned char>(text_[mark - 1]))) --mark;
        if (mark < 2 || text_[mark - 1] != '?') return false;
        const char before = text_[mark - 2];
        return before == '>' || before == '_' || std::isalnum(static_cast<unsigned char>(before));
    }
    // The optional type that ends before the second '?' at `at`: `int?`, `list<string>?`.
    std::string optional_type_before(std::size_t at) const {
        std::size_t mark = at;
        while (mark > 0 && std::isspace(static_cast<unsigned char>(text_[mark - 1]))) --mark;
        std::size_t end = mark - 1;  // past the type's name, or its closing '>'
        if (text_[end - 1] == '>') {
            int open = 0;
            do {
                --end;
                open += text_[end] == '>' ? 1 : text_[end] == '<' ? -1 : 0;
            } while (end > 0 && open > 0);
        }
        const std::size_t name = previous_word_at(text_, end);
        return name < end ? text_.substr(name, mark - name) : "…?";
    }

    // The opening quote of the string that never ends on the line where the parse failed at
    // `failed_at`: that is where it is reported.
    std::size_t unterminated_string_start(std::size_t failed_at) const {
        std::size_t line_start = text_.rfind('\n', failed_at == 0 ? 0 : failed_at - 1);
        line_start = line_start == std::string::npos ? 0 : line_start + 1;
        std::size_t quote = text_.find('"', line_start);
        while (quote != std::string::npos && quote < failed_at) {
            std::size_t close = quote + 1;
            while (close < failed_at && text_[close] != '"') close += text_[close] == '\\' ? 2 : 1;
            if (close >= failed_at) break;
            quote = text_.find('"', close + 1);
        }
        return quote < failed_at ? quote : failed_at;
    }

    // After an error inside a member, the statements on the lines up to the next member (`until`)
    // are read one by one from each line that starts one, so that a handler's other broken
    // statements are reported too.
    void report_more_statements(std::size_t failed_at, std::size_t until) {
        auto statement = x3::with<grammar::parse_state_tag>(std::ref(state_))[grammar::statement];
        std::size_t at = resume_.after_statement(failed_at, until);
        while (at < until) {
            grammar::Iterator first = text_.begin() + static_cast<std::ptrdiff_t>(at);
            grammar::Iterator last = text_.begin() + static_cast<std::ptrdiff_t>(until);
            try {
                state_.records_allowed = true;
                const bool read = x3::phrase_parse(first, last, statement, grammar::skipper);
                const std::size_t ended = static_cast<std::size_t>(first - text_.begin());
                if (read && ended > at && ended < until && text_[ended] != '}' && text_.compare(ended, 2, "/*") != 0 &&
                    !resume_.starts_statement(ended, until)) {
                    // Followed by what is no statement (`let r = 1 2`, a call on the next line):
                    // reported as a first reading of the handler would report it.
                    std::size_t where = ended;
                    std::string message = expectation_message(text_, ended, "'}'", where);
                    report(where, std::move(message));
                }
                at = read && ended > at && resume_.starts_statement(ended, until) ? ended
                                                                                  : resume_.after_statement(std::max(ended, at + 1), until);
            } catch (const x3::expectation_failure<grammar::Iterator>& failure) {
                at = resume_.after_statement(std::max(report_failure(failure), at + 1), until);
            }
        }
    }

    // After an error inside a workflow, the rest of it is read member by member from each line
    // that starts one (a state, a handler, a timer...), so that its other errors are reported
    // too. What is read this way is only checked for syntax: the workflow is dropped all the same.
    void report_more_in_workflow(std::size_t failed_at, std::size_t end) {
        auto workflow_member = x3::with<grammar::parse_state_tag>(std::ref(state_))[grammar::workflow_member];
        auto state_member = x3::with<grammar::parse_state_tag>(std::ref(state_))[grammar::state_member];
        std::size_t member = resume_.after_member(failed_at, end);
        report_more_statements(failed_at, std::min(member, end));
        while (member < end) {
            grammar::Iterator first = text_.begin() + static_cast<std::ptrdiff_t>(member);
            grammar::Iterator last = text_.begin() + static_cast<std::ptrdiff_t>(end);
            const bool in_state = text_.compare(member, 5, "entry") == 0 || text_.compare(member, 5, "after") == 0 ||
                                  text_.compare(member, 2, "at") == 0;
            try {
                state_.records_allowed = true;
                bool read = in_state ? x3::phrase_parse(first, last, state_member, grammar::skipper)
                                     : x3::phrase_parse(first, last, workflow_member, grammar::skipper);
                // A sound member ends where the next one may start (on its line or the next).
                std::size_t ended = static_cast<std::size_t>(first - text_.begin());
                if (read && ended < end && text_.compare(ended, 2, "/*") == 0) {
                    report(ended, "this comment is never closed: expected '*/'");
                    break;  // it runs to the end: nothing more to read
                }
                if (read && ended > member && ended < end && text_[ended] != '}' && !resume_.starts_member(ended, end)) {
                    // Followed by what is no member (`state S { … } extra`): reported as a
                    // first reading of the workflow would report it.
                    std::size_t at = ended;
                    std::string message = expectation_message(text_, ended, "'}'", at);
                    report(at, std::move(message));
                }
                member = read && ended > member && resume_.starts_member(ended, end) ? ended
                                                                                     : resume_.next_member(read ? ended : member, end);
            } catch (const x3::expectation_failure<grammar::Iterator>& failure) {
                const std::size_t failed = report_failure(failure);
                member = resume_.after_member(failed, end);
                report_more_statements(failed, std::min(member, end));
            }
        }
    }

    const Source& source_;
    const std::string& text_;
    Diagnostics& diagnostics_;
    const ResumePoints resume_;
    grammar::ParseState state_{text_.begin(), true, 0, {}};
};

}  // namespace

ast::File parse_source(const Source& source, Diagnostics& diagnostics) { return SourceParser(source, diagnostics).parse(); }

bool is_keyword(std::string_view word) {
    return grammar::keywords.find(std::string(word)) != nullptr;
}

}  // namespace flow
