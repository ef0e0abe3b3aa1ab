#include "support/fixtures.h"

#include <fstream>
#include <iterator>

namespace aion::testing {
namespace fs = std::filesystem;

fs::path fixtures_dir() {
  return fs::path(AION_SOURCE_DIR) / "tests" / "fixtures";
}

fs::path fixture_path(std::string_view rel) {
  return fixtures_dir() / rel;
}

fs::path hw_fixture_root(std::string_view machine) {
  return fixtures_dir() / "hw" / machine / "root";
}

std::string read_fixture(std::string_view rel) {
  std::ifstream in(fixture_path(rel), std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void copy_fixture(std::string_view rel, const fs::path& to) {
  fs::copy(fixture_path(rel), to, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
}

fs::path source_path(std::string_view rel) {
  return fs::path(AION_SOURCE_DIR) / rel;
}

fs::path bin_path(std::string_view program) {
  return fs::path(AION_BIN_DIR) / program;
}

}  // namespace aion::testing
