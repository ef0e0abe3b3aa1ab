#include "support/temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>
#include <vector>

namespace aion::testing {
namespace fs = std::filesystem;

namespace {

fs::path system_temp_dir() {
  std::error_code ec;
  fs::path base = fs::temp_directory_path(ec);
  return ec ? fs::path("/tmp") : base;
}

}  // namespace

TempDir::TempDir(std::string_view tag) : TempDir(tag, system_temp_dir()) {}

TempDir::TempDir(std::string_view tag, const fs::path& base) {
  const std::string tmpl = (base / ("aion-" + std::string(tag) + "-XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    std::fprintf(stderr, "TempDir: cannot make %s: %s\n", tmpl.c_str(), std::strerror(errno));
    std::abort();
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (path_.empty() || keep_) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

TempDir::TempDir(TempDir&& other) noexcept
    : path_(std::exchange(other.path_, {})), keep_(other.keep_) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    if (!path_.empty() && !keep_) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
    path_ = std::exchange(other.path_, {});
    keep_ = other.keep_;
  }
  return *this;
}

fs::path TempDir::write(const fs::path& rel, std::string_view text) const {
  const fs::path p = path_ / rel;
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  return p;
}

fs::path TempDir::mkdir(const fs::path& rel) const {
  const fs::path p = path_ / rel;
  fs::create_directories(p);
  return p;
}

std::string TempDir::read(const fs::path& rel) const {
  std::ifstream in(path_ / rel, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void TempDir::make_reachable() const {
  fs::permissions(path_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
}

}  // namespace aion::testing
