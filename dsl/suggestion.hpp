// "did you mean …?": the name a misspelled one most likely meant.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace flow {

// The candidate closest to `wanted` by edit distance (insertions, deletions, substitutions),
// when it is within a third of the name's length, at least one edit, and keeps something of the
// name: "Shiped" finds "Shipped", "Shp" finds "Ship", but "Q" does not suggest "A". Empty when
// none is that close; the first of equally close ones.
std::string closest_name(std::string_view wanted, const std::vector<std::string_view>& candidates);

// "; did you mean 'X'?", or empty.
std::string did_you_mean(const std::string& suggestion);

}  // namespace flow
