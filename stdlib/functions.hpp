// The standard library: every function a Flow expression may call, with the typed
// signatures the checker enforces and the implementations the engine calls.
#pragma once

#include "type.hpp"
#include "value.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace flow::stdlib {

// The declared type of a record's field, for str() of a record: the program knows its records,
// the library does not.
class RecordFields {
public:
    virtual ~RecordFields() = default;
    // Null when the record or the field is unknown.
    virtual const Type* field_type(const std::string& record, const std::string& field) const = 0;
};

// What a call may read of the world: only what makes a run reproducible.
struct CallContext {
    std::int64_t now_ms = 0;          // now(): the time of the event or timer being handled
    std::string_view instance_id;     // uuid(): derived from the instance ...
    std::uint64_t* uuid_counter = nullptr;  // ... and this counter, which uuid() increments
    const RecordFields* records = nullptr;  // str(): a record's fields written by their types
};

// One overload, chosen by the checker; stored in the IR by `id`.
struct Overload {
    int id = -1;
    Type result;
};

// Whether a function of that name exists at all (for "unknown function" diagnostics).
bool is_function(std::string_view name);

// Chooses the overload of `name` for these argument types. Returns the overload, or a
// message in the user's words ("len expects a string or a list, got int").
std::variant<Overload, std::string> resolve(std::string_view name, std::span<const Type> args);

// The name of an overload id, for the IR and messages.
std::string_view overload_name(int id);
// The id of the overload `name` (as overload_name gives it), or -1; used to read an IR back.
int overload_by_name(std::string_view name);

// Calls an overload. `arg_types` are the static types of the arguments (`str` needs them).
// Throws RuntimeError for bad input at run time ("not a number: \"abc\"").
Value call(int id, std::span<const Value> args, std::span<const Type> arg_types, CallContext& ctx);

}  // namespace flow::stdlib
