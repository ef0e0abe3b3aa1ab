// TempDir: a fresh, private directory for one test, removed with everything in it when the
// object goes away. Every test that needs scratch space on disk makes it here, so that no two
// tests (nor two runs of one test) share a directory and none is left behind.
// Not thread-safe: one owner; other threads may use the files inside.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace aion::testing {

class TempDir {
 public:
  // Makes <system temp dir>/aion-<tag>-XXXXXX (mkdtemp: unique, mode 0700, empty). `tag`
  // names the test or module so that a directory kept for a failing test says whose it is.
  // Aborts the process when no directory can be made: no test could run without one.
  explicit TempDir(std::string_view tag = "test");
  // The same below `base` instead of the system temp dir (the daemon harness keeps its
  // sockets in /tmp, reachable by every user whatever TMPDIR says).
  TempDir(std::string_view tag, const std::filesystem::path& base);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;

  const std::filesystem::path& path() const { return path_; }
  std::string string() const { return path_.string(); }
  std::filesystem::path operator/(const std::filesystem::path& rel) const { return path_ / rel; }

  // Writes `text` byte for byte to path()/rel (replacing it), creating the directories above
  // it; returns the file's path.
  std::filesystem::path write(const std::filesystem::path& rel, std::string_view text) const;
  // Creates path()/rel and the directories above it; returns its path.
  std::filesystem::path mkdir(const std::filesystem::path& rel) const;
  // The bytes of path()/rel ("" when it cannot be read).
  std::string read(const std::filesystem::path& rel) const;

  // Mode 0755 on path(): for a test whose other side runs as another user and must enter the
  // directory (mkdtemp makes it owner-only).
  void make_reachable() const;
  // Leaves the directory on disk when this object goes away (a failing test keeps its logs).
  void keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

}  // namespace aion::testing
