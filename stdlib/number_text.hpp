// A `number` as text: the shortest digits that read back as the same double, laid out as
// ECMAScript's Number.prototype.toString lays them out (`9`, `0.5`, `100000`, `1e-7`, `1e+21`),
// so that what `str()` and the JSON on the wire print is what most tools print.
#pragma once

#include <string>

namespace flow::stdlib {

// Appends a finite `value` to `out` (`-0` is written `0`).
void append_number_text(std::string& out, double value);

inline std::string number_text(double value) {
    std::string out;
    append_number_text(out, value);
    return out;
}

}  // namespace flow::stdlib
