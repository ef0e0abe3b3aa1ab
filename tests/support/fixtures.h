// Where the tests find their inputs: the fixtures under tests/fixtures (each kind's README
// says where its data came from), the source tree (shipped data/, packaging/) and the built
// programs. Paths are absolute, fixed at build time. Thread-safe (pure functions).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace aion::testing {

// tests/fixtures in the source tree.
std::filesystem::path fixtures_dir();
// A path below tests/fixtures: fixture_path("hw/dgx-a100"), fixture_path("logs/gpu_fault.log").
std::filesystem::path fixture_path(std::string_view rel);
// The root/ tree of a machine under tests/fixtures/hw: hw_fixture_root("dgx-a100").
std::filesystem::path hw_fixture_root(std::string_view machine);
// The bytes of a fixture file ("" when it cannot be read).
std::string read_fixture(std::string_view rel);
// Copies a fixture file or tree to `to` (symlinks stay symlinks), for a test that changes it.
void copy_fixture(std::string_view rel, const std::filesystem::path& to);

// A path below the source tree: source_path("data/signatures").
std::filesystem::path source_path(std::string_view rel);
// A built program: bin_path("aion").
std::filesystem::path bin_path(std::string_view program);

}  // namespace aion::testing
