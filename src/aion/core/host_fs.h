// HostFs: the one way aion reads /proc, /sys, /dev and writes /etc.
//
// Every host path ("/sys/bus/pci/devices") is resolved below a configurable root, so a
// recorded tree (tests/fixtures/...) can stand in for the real machine. The root comes from
// --host-root / AION_HOST_ROOT / config `host.root`; "/" means the live machine.
// Symlinks inside the tree (sysfs is full of them) are followed by the kernel; recorded trees
// must use relative links so they stay inside the root. HostFs is immutable after
// construction; thread-safe, share it freely.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion {

class HostFs {
 public:
  explicit HostFs(std::filesystem::path root = "/");

  const std::filesystem::path& root() const { return root_; }
  bool is_live() const { return root_ == "/"; }

  // The real path of a host path: root "/fx", "/sys/class" -> "/fx/sys/class".
  std::filesystem::path resolve(std::string_view host_path) const;

  // The whole file (up to max_bytes; sysfs files are small). Errors name the host path.
  Result<std::string> read(std::string_view host_path, std::size_t max_bytes = 64 << 20) const;
  // A sysfs-style attribute: the content with trailing whitespace and newlines removed.
  Result<std::string> read_attr(std::string_view host_path) const;
  // An integer attribute, decimal or 0x-prefixed hex ("0x10de").
  Result<std::int64_t> read_int(std::string_view host_path) const;

  bool exists(std::string_view host_path) const;
  bool is_dir(std::string_view host_path) const;
  // Entry names (not paths), sorted; "." and ".." left out.
  Result<std::vector<std::string>> list(std::string_view host_path) const;
  // The target of a symlink as stored (often relative, as in sysfs).
  Result<std::string> read_link(std::string_view host_path) const;
  // The host path a link resolves to, with symlinks followed and the root stripped again:
  // "/sys/class/drm/card0/device" -> "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0".
  Result<std::string> real_path(std::string_view host_path) const;

  // Writes in place (sysfs/procfs knobs: no temp files there).
  Status write(std::string_view host_path, std::string_view content) const;
  // Writes a regular file atomically (temp file in the same directory, fsync, rename), for
  // files under /etc. Creates missing parent directories with mode 0755.
  Status write_atomic(std::string_view host_path, std::string_view content,
                      unsigned mode = 0644) const;
  Status remove(std::string_view host_path) const;
  // Removes an empty directory (rmdir); fails when it holds anything.
  Status remove_dir(std::string_view host_path) const;

  // True when the path lives on procfs or sysfs, whose files are kernel attributes (a write
  // sets a value and reading formats it anew), false for files of a regular file system,
  // such as a recorded tree, which hold exactly the bytes written.
  bool is_kernel_attr(std::string_view host_path) const;

 private:
  std::filesystem::path root_;
};

}  // namespace aion
