#include "stdlib/type.hpp"

#include <utility>

namespace flow {

Type Type::list(Type element) {
    Type type(Kind::List);
    type.element_ = std::make_shared<const Type>(std::move(element));
    return type;
}

Type Type::optional(Type inner) {
    if (inner.is_optional() || inner.is(Kind::Null) || inner.is_error()) return inner;
    Type type(Kind::Optional);
    type.element_ = std::make_shared<const Type>(std::move(inner));
    return type;
}

Type Type::record(std::string name) {
    Type type(Kind::Record);
    type.record_ = std::move(name);
    return type;
}

const Type& Type::element() const {
    static const Type error_type;
    return element_ ? *element_ : error_type;
}

std::string Type::to_string() const {
    switch (kind_) {
        case Kind::Error: return "<error>";
        case Kind::Null: return "null";
        case Kind::Never: return "empty list element";
        case Kind::String: return "string";
        case Kind::Int: return "int";
        case Kind::Number: return "number";
        case Kind::Bool: return "bool";
        case Kind::Time: return "time";
        case Kind::Duration: return "duration";
        case Kind::Json: return "json";
        case Kind::List:
            return element().is(Kind::Never) ? "[]" : "list<" + element().to_string() + ">";
        case Kind::Optional: return element().to_string() + "?";
        case Kind::Record: return record_;
    }
    return "<error>";
}

bool operator==(const Type& a, const Type& b) {
    if (a.kind_ != b.kind_) return false;
    switch (a.kind_) {
        case Type::Kind::List:
        case Type::Kind::Optional: return a.element() == b.element();
        case Type::Kind::Record: return a.record_ == b.record_;
        default: return true;
    }
}

bool assignable(const Type& to, const Type& from) {
    using Kind = Type::Kind;
    if (to.is_error() || from.is_error() || from.is(Kind::Never)) return true;
    if (to == from || to.is(Kind::Json)) return true;
    switch (to.kind()) {
        case Kind::Number: return from.is(Kind::Int);
        case Kind::Optional:
            return from.is(Kind::Null) || assignable(to.element(), from.required());
        case Kind::List: return from.is(Kind::List) && assignable(to.element(), from.element());
        default: return false;
    }
}

bool unify(const Type& a, const Type& b, Type& out) {
    using Kind = Type::Kind;
    if (a.is_error() || b.is_error()) {
        out = Type::error();
        return true;
    }
    if (a == b || b.is(Kind::Never)) {
        out = a;
        return true;
    }
    if (a.is(Kind::Never)) {
        out = b;
        return true;
    }
    if (a.is(Kind::Json) || b.is(Kind::Json)) {
        out = Type::json();
        return true;
    }
    if (a.is(Kind::Null) || b.is(Kind::Null)) {
        out = Type::optional(a.is(Kind::Null) ? b : a);
        return true;
    }
    if (a.is_optional() || b.is_optional()) {
        Type inner;
        if (!unify(a.required(), b.required(), inner)) return false;
        out = Type::optional(std::move(inner));
        return true;
    }
    if (a.is_numeric() && b.is_numeric()) {
        out = Type::number();
        return true;
    }
    if (a.is(Kind::List) && b.is(Kind::List)) {
        Type element;
        if (!unify(a.element(), b.element(), element)) return false;
        out = Type::list(std::move(element));
        return true;
    }
    return false;
}

}  // namespace flow
