// The static types of the Flow language, shared by the checker (which enforces them)
// and the engine (which uses them to encode values on the wire).
#pragma once

#include <memory>
#include <string>

namespace flow {

class Type {
public:
    enum class Kind {
        Error,     // the type of an expression that already produced a diagnostic
        Null,      // the literal `null`
        Never,     // the element type of `[]`: fits any list
        String,
        Int,
        Number,
        Bool,
        Time,
        Duration,
        Json,
        List,      // element()
        Optional,  // element()
        Record,    // record_name(): a `type`, `event` or `command` declaration
    };

    Type() = default;
    static Type error() { return Type(Kind::Error); }
    static Type null() { return Type(Kind::Null); }
    static Type never() { return Type(Kind::Never); }
    static Type string() { return Type(Kind::String); }
    static Type integer() { return Type(Kind::Int); }
    static Type number() { return Type(Kind::Number); }
    static Type boolean() { return Type(Kind::Bool); }
    static Type time() { return Type(Kind::Time); }
    static Type duration() { return Type(Kind::Duration); }
    static Type json() { return Type(Kind::Json); }
    static Type list(Type element);
    // `T?`; optional(optional(T)) is optional(T), optional(null) is null.
    static Type optional(Type inner);
    static Type record(std::string name);

    Kind kind() const { return kind_; }
    bool is(Kind k) const { return kind_ == k; }
    bool is_error() const { return kind_ == Kind::Error; }
    bool is_numeric() const { return kind_ == Kind::Int || kind_ == Kind::Number; }
    bool is_optional() const { return kind_ == Kind::Optional; }
    // Whether an Error type stands anywhere in it (`<error>?`, `list<<error>>`): a type that
    // stems from a mistake reported already, which later checks stay silent about.
    bool mentions_error() const { return is_error() || (element_ && element_->mentions_error()); }
    // List element or optional's inner type; Error for other kinds.
    const Type& element() const;
    const std::string& record_name() const { return record_; }
    // The type without its `?`.
    Type required() const { return is_optional() ? element() : *this; }

    // As users write it: `string`, `list<Line>`, `time?`.
    std::string to_string() const;

    friend bool operator==(const Type& a, const Type& b);

private:
    explicit Type(Kind k) : kind_(k) {}
    Kind kind_ = Kind::Error;
    std::shared_ptr<const Type> element_;
    std::string record_;
};

// Whether a value of type `from` may be stored where `to` is expected:
// equal types, `int` into `number`, `null` into any optional or `json`,
// `T` into `T?`, `[]` into any list, lists element-wise, anything into `json`
// (an Error type fits anywhere, so that one mistake gives one diagnostic).
bool assignable(const Type& to, const Type& from);

// The type two operands of `==`, `??` or list elements share, if any
// (`int` and `number` give `number`; `T` and `null` give `T?`).
bool unify(const Type& a, const Type& b, Type& out);

}  // namespace flow
