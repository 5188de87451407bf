#include "dsl/suggestion.hpp"

#include <algorithm>

namespace flow {

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string closest_name(std::string_view wanted, const std::vector<std::string_view>& candidates) {
    // Typos are looked for in names of a usual length: the distance costs the product of the
    // two lengths, and a file of long names must not make a check slow.
    constexpr std::size_t longest_name = 64;
    if (wanted.size() > longest_name) return "";
    std::string best;
    std::size_t best_distance = std::max<std::size_t>(2, wanted.size() / 3 + 1);
    for (std::string_view candidate : candidates) {
        // Lengths alone may rule a candidate out before its distance is computed.
        const std::size_t gap = candidate.size() > wanted.size() ? candidate.size() - wanted.size() : wanted.size() - candidate.size();
        if (gap >= best_distance || candidate == wanted || candidate.size() > longest_name) continue;
        const std::size_t distance = edit_distance(wanted, candidate);
        if (distance >= wanted.size()) continue;  // nothing of the name kept: "Q" is no typo of "A"
        if (distance < best_distance) best_distance = distance, best = std::string(candidate);
    }
    return best;
}

std::string did_you_mean(const std::string& suggestion) {
    return suggestion.empty() ? std::string() : "; did you mean '" + suggestion + "'?";
}

}  // namespace flow
