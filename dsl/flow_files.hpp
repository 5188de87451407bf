#pragma once
// Which .flow files a list of paths names: `flowd --flows PATH...` and `flowc check PATH...`.
#include <string>
#include <vector>

namespace flow {

// Every .flow file under the paths: a file is taken as it is, whatever its name; a folder is
// searched through its subfolders, each folder's files in sorted order, links to folders
// followed but a folder reached twice (by two names, or by a link back up) entered once. A
// dangling `.flow` link is taken too, so that reading it fails loudly rather than a workflow
// going missing. A folder that cannot be read sets
// `problem` (`PATH: cannot read the folder: ...`) and gives nothing, and so does a `.flow`
// entry that is a pipe, a device or a socket, whose reading would wait without end.
std::vector<std::string> flow_files(const std::vector<std::string>& paths, std::string& problem);

}  // namespace flow
