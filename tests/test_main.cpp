#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "runtime/store/sqlite.hpp"

int main(int argc, char** argv) {
    // Before any test opens a database of its own with the bare C API: the library's settings
    // (the page cache among them) can only be made before its first connection.
    flow::store::sqlite::configure_library();
    return doctest::Context(argc, argv).run();
}
