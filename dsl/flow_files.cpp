#include "dsl/flow_files.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

namespace flow {

namespace fs = std::filesystem;

namespace {

// Adds the .flow files under `folder` to `found`, its entries taken in sorted order so that a
// folder reached by two names is always entered under the same one. A folder already entered is
// not entered again, nor a link to a folder that holds the link (`up -> ..`, a loop as `find -L`
// sees it).
void add_flow_files(const fs::path& folder, std::set<fs::path>& entered, std::vector<std::string>& found, std::error_code& ec,
                    std::string& unreadable) {
    std::vector<fs::directory_entry> entries;
    for (fs::directory_iterator entry(folder, ec), end; !ec && entry != end; entry.increment(ec)) entries.push_back(*entry);
    if (ec) return;
    std::sort(entries.begin(), entries.end());
    std::error_code holder_error;
    const fs::path holder = fs::canonical(folder, holder_error);
    for (const fs::directory_entry& entry : entries) {
        std::error_code entry_error;
        if (!entry.is_directory(entry_error)) {
            if (entry.path().extension() != ".flow") continue;
            // A pipe, a device or a socket named *.flow would hold the start, waiting for a
            // writer or an end that never comes.
            const fs::file_type type = entry.status(entry_error).type();
            if (type == fs::file_type::fifo || type == fs::file_type::socket || type == fs::file_type::block ||
                type == fs::file_type::character) {
                unreadable = entry.path().string();
                return;
            }
            found.push_back(entry.path().string());
            continue;
        }
        const fs::path target = fs::canonical(entry.path(), entry_error);
        if (entry_error || holder_error) continue;
        const bool loop = entry.is_symlink(entry_error) &&
                          std::mismatch(target.begin(), target.end(), holder.begin(), holder.end()).first == target.end();
        if (loop || !entered.insert(target).second) continue;
        add_flow_files(entry.path(), entered, found, ec, unreadable);
        if (ec || !unreadable.empty()) return;
    }
}

}  // namespace

std::vector<std::string> flow_files(const std::vector<std::string>& paths, std::string& problem) {
    std::vector<std::string> files;
    for (const std::string& path : paths) {
        std::error_code ec;
        if (fs::is_directory(path, ec)) {
            std::vector<std::string> found;
            std::error_code root_error;
            std::set<fs::path> entered{fs::canonical(path, root_error)};
            std::string unreadable;
            add_flow_files(path, entered, found, ec, unreadable);
            if (ec) {
                problem = path + ": cannot read the folder: " + ec.message();
                return {};
            }
            if (!unreadable.empty()) {
                problem = path + ": " + unreadable + " is not a regular file (a pipe, a device or a socket)";
                return {};
            }
            std::sort(found.begin(), found.end());
            files.insert(files.end(), found.begin(), found.end());
        } else {
            files.push_back(path);
        }
    }
    return files;
}

}  // namespace flow
