#include "stdlib/type.hpp"

#include <doctest/doctest.h>

#include <utility>

using flow::Type;

namespace {

using Kind = Type::Kind;

Type list_of(Type element) {
    return Type::list(std::move(element));
}

Type opt(Type inner) {
    return Type::optional(std::move(inner));
}

// unify(a, b), or a record type named "<no common type>" when they share none.
Type unified(const Type& a, const Type& b) {
    Type out = Type::string();
    if (!flow::unify(a, b, out)) return Type::record("<no common type>");
    return out;
}

}  // namespace

TEST_CASE("Type constructors set the kind") {
    CHECK(Type().is_error());
    CHECK(Type::error().kind() == Kind::Error);
    CHECK(Type::null().kind() == Kind::Null);
    CHECK(Type::never().kind() == Kind::Never);
    CHECK(Type::string().kind() == Kind::String);
    CHECK(Type::integer().kind() == Kind::Int);
    CHECK(Type::number().kind() == Kind::Number);
    CHECK(Type::boolean().kind() == Kind::Bool);
    CHECK(Type::time().kind() == Kind::Time);
    CHECK(Type::duration().kind() == Kind::Duration);
    CHECK(Type::json().kind() == Kind::Json);
    CHECK(Type::record("Money").kind() == Kind::Record);
    CHECK(Type::record("Money").record_name() == "Money");
    CHECK(Type::integer().is_numeric());
    CHECK(Type::number().is_numeric());
    CHECK_FALSE(Type::duration().is_numeric());
}

TEST_CASE("list and optional carry their element") {
    const Type lines = list_of(Type::record("Line"));
    CHECK(lines.is(Kind::List));
    CHECK(lines.element() == Type::record("Line"));
    const Type maybe_time = opt(Type::time());
    CHECK(maybe_time.is_optional());
    CHECK(maybe_time.element() == Type::time());
    CHECK(maybe_time.required() == Type::time());
    CHECK(Type::time().required() == Type::time());
    CHECK(Type::string().element().is_error());
    CHECK(list_of(list_of(Type::integer())).element().element() == Type::integer());
}

TEST_CASE("optional collapses nested optionals, null and errors") {
    CHECK(opt(opt(Type::integer())) == opt(Type::integer()));
    CHECK(opt(opt(Type::integer())).element() == Type::integer());
    CHECK(opt(Type::null()) == Type::null());
    CHECK(opt(Type::error()).is_error());
}

TEST_CASE("Type equality compares structure") {
    CHECK(Type::string() == Type::string());
    CHECK_FALSE(Type::string() == Type::integer());
    CHECK(list_of(Type::integer()) == list_of(Type::integer()));
    CHECK_FALSE(list_of(Type::integer()) == list_of(Type::number()));
    CHECK_FALSE(list_of(Type::integer()) == opt(Type::integer()));
    CHECK(Type::record("A") == Type::record("A"));
    CHECK_FALSE(Type::record("A") == Type::record("B"));
    CHECK_FALSE(opt(Type::record("A")) == opt(Type::record("B")));
}

TEST_CASE("to_string writes types as users do") {
    CHECK(Type::string().to_string() == "string");
    CHECK(Type::integer().to_string() == "int");
    CHECK(Type::number().to_string() == "number");
    CHECK(Type::boolean().to_string() == "bool");
    CHECK(Type::time().to_string() == "time");
    CHECK(Type::duration().to_string() == "duration");
    CHECK(Type::json().to_string() == "json");
    CHECK(Type::null().to_string() == "null");
    CHECK(Type::error().to_string() == "<error>");
    CHECK(Type::never().to_string() == "empty list element");
    CHECK(Type::record("Line").to_string() == "Line");
    CHECK(list_of(Type::record("Line")).to_string() == "list<Line>");
    CHECK(opt(Type::time()).to_string() == "time?");
    CHECK(opt(list_of(Type::integer())).to_string() == "list<int>?");
    CHECK(list_of(opt(Type::integer())).to_string() == "list<int?>");
    CHECK(list_of(list_of(Type::string())).to_string() == "list<list<string>>");
    CHECK(list_of(Type::never()).to_string() == "[]");
}

TEST_CASE("assignable: equal types, int into number, nothing else converts") {
    CHECK(flow::assignable(Type::string(), Type::string()));
    CHECK(flow::assignable(Type::number(), Type::integer()));
    CHECK_FALSE(flow::assignable(Type::integer(), Type::number()));
    CHECK_FALSE(flow::assignable(Type::string(), Type::integer()));
    CHECK_FALSE(flow::assignable(Type::duration(), Type::integer()));
    CHECK_FALSE(flow::assignable(Type::time(), Type::duration()));
    CHECK_FALSE(flow::assignable(Type::string(), Type::json()));
    CHECK_FALSE(flow::assignable(Type::record("A"), Type::record("B")));
    CHECK(flow::assignable(Type::record("A"), Type::record("A")));
}

TEST_CASE("assignable: optionals and null") {
    CHECK(flow::assignable(opt(Type::integer()), Type::null()));
    CHECK(flow::assignable(opt(Type::integer()), Type::integer()));
    CHECK(flow::assignable(opt(Type::number()), Type::integer()));
    CHECK(flow::assignable(opt(Type::number()), opt(Type::integer())));
    CHECK_FALSE(flow::assignable(Type::integer(), opt(Type::integer())));
    CHECK_FALSE(flow::assignable(Type::integer(), Type::null()));
    CHECK_FALSE(flow::assignable(opt(Type::integer()), opt(Type::string())));
    CHECK(flow::assignable(Type::json(), Type::null()));
}

TEST_CASE("assignable: lists element-wise, [] into any list") {
    const Type empty = list_of(Type::never());
    CHECK(flow::assignable(list_of(Type::string()), empty));
    CHECK(flow::assignable(list_of(list_of(Type::integer())), list_of(empty)));
    CHECK(flow::assignable(list_of(Type::number()), list_of(Type::integer())));
    CHECK_FALSE(flow::assignable(list_of(Type::integer()), list_of(Type::number())));
    CHECK_FALSE(flow::assignable(list_of(Type::integer()), Type::integer()));
    CHECK_FALSE(flow::assignable(Type::integer(), list_of(Type::integer())));
    CHECK_FALSE(flow::assignable(empty, list_of(Type::integer())));
    CHECK(flow::assignable(list_of(opt(Type::integer())), list_of(Type::integer())));
}

TEST_CASE("assignable: anything into json, errors anywhere") {
    CHECK(flow::assignable(Type::json(), Type::string()));
    CHECK(flow::assignable(Type::json(), list_of(Type::record("A"))));
    CHECK(flow::assignable(Type::json(), opt(Type::time())));
    CHECK(flow::assignable(list_of(Type::json()), list_of(Type::integer())));
    CHECK(flow::assignable(Type::string(), Type::error()));
    CHECK(flow::assignable(Type::error(), Type::string()));
    CHECK(flow::assignable(list_of(Type::string()), list_of(Type::error())));
}

TEST_CASE("unify: equal types, numbers, json") {
    CHECK(unified(Type::string(), Type::string()) == Type::string());
    CHECK(unified(Type::integer(), Type::number()) == Type::number());
    CHECK(unified(Type::number(), Type::integer()) == Type::number());
    CHECK(unified(Type::json(), Type::integer()) == Type::json());
    CHECK(unified(Type::string(), Type::json()) == Type::json());
    CHECK(unified(Type::string(), Type::integer()) == Type::record("<no common type>"));
    CHECK(unified(Type::time(), Type::duration()) == Type::record("<no common type>"));
    CHECK(unified(Type::record("A"), Type::record("B")) == Type::record("<no common type>"));
}

TEST_CASE("unify: null and optionals") {
    CHECK(unified(Type::integer(), Type::null()) == opt(Type::integer()));
    CHECK(unified(Type::null(), Type::string()) == opt(Type::string()));
    CHECK(unified(Type::null(), Type::null()) == Type::null());
    CHECK(unified(opt(Type::integer()), Type::null()) == opt(Type::integer()));
    CHECK(unified(opt(Type::integer()), Type::integer()) == opt(Type::integer()));
    CHECK(unified(Type::number(), opt(Type::integer())) == opt(Type::number()));
    CHECK(unified(opt(Type::integer()), opt(Type::number())) == opt(Type::number()));
    CHECK(unified(opt(Type::integer()), Type::string()) == Type::record("<no common type>"));
}

TEST_CASE("unify: lists and the empty list") {
    const Type empty = list_of(Type::never());
    CHECK(unified(empty, list_of(Type::string())) == list_of(Type::string()));
    CHECK(unified(list_of(Type::string()), empty) == list_of(Type::string()));
    CHECK(unified(empty, empty) == empty);
    CHECK(unified(list_of(Type::integer()), list_of(Type::number())) == list_of(Type::number()));
    CHECK(unified(list_of(Type::integer()), list_of(Type::string())) == Type::record("<no common type>"));
    CHECK(unified(Type::never(), Type::time()) == Type::time());
    CHECK(unified(list_of(Type::integer()), Type::integer()) == Type::record("<no common type>"));
}

TEST_CASE("unify: an error absorbs everything") {
    CHECK(unified(Type::error(), Type::string()).is_error());
    CHECK(unified(Type::integer(), Type::error()).is_error());
}
