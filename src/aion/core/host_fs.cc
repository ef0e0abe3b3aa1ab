#include "aion/core/host_fs.h"
#include "aion/core/fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <system_error>

namespace aion {
namespace fs = std::filesystem;

namespace {

Status write_all(int fd, std::string_view content, std::string_view what) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(errno_error(errno, "writing " + std::string(what)));
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

HostFs::HostFs(fs::path root) : root_(root.empty() ? fs::path("/") : std::move(root)) {
  if (root_ != "/") root_ = root_.lexically_normal();
  // Normalise "dir/" to "dir" so that stripping the root from real paths works.
  if (root_ != "/" && !root_.has_filename()) root_ = root_.parent_path();
}

fs::path HostFs::resolve(std::string_view host_path) const {
  if (root_ == "/") return fs::path(host_path);
  std::string_view rel = host_path;
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  return root_ / rel;
}

Result<std::string> HostFs::read(std::string_view host_path, std::size_t max_bytes) const {
  fs::path p = resolve(host_path);
  Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::unexpected(errno_error(errno, "reading " + p.string()));
  std::string out;
  char buf[8192];
  while (out.size() < max_bytes) {
    ssize_t n = ::read(fd.get(), buf, std::min(sizeof(buf), max_bytes - out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(errno_error(errno, "reading " + p.string()));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

Result<std::string> HostFs::read_attr(std::string_view host_path) const {
  auto content = read(host_path, 1 << 20);
  if (!content) return content;
  while (!content->empty() && (content->back() == '\n' || content->back() == ' ' ||
                               content->back() == '\t' || content->back() == '\0')) {
    content->pop_back();
  }
  return content;
}

Result<std::int64_t> HostFs::read_int(std::string_view host_path) const {
  auto text = read_attr(host_path);
  if (!text) return std::unexpected(text.error());
  std::string_view s = *text;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  bool negative = false;
  if (!s.empty() && s.front() == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value, base);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) {
    return fail(ErrorCode::kParse,
                resolve(host_path).string() + ": expected an integer, found '" + *text + "'");
  }
  return negative ? -value : value;
}

bool HostFs::exists(std::string_view host_path) const {
  std::error_code ec;
  return fs::exists(resolve(host_path), ec);
}

bool HostFs::is_dir(std::string_view host_path) const {
  std::error_code ec;
  return fs::is_directory(resolve(host_path), ec);
}

Result<std::vector<std::string>> HostFs::list(std::string_view host_path) const {
  fs::path p = resolve(host_path);
  std::error_code ec;
  std::vector<std::string> names;
  fs::directory_iterator it(p, ec);
  if (ec) return std::unexpected(errno_error(ec.value(), "listing " + p.string()));
  for (const auto& entry : it) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::string> HostFs::read_link(std::string_view host_path) const {
  fs::path p = resolve(host_path);
  std::error_code ec;
  fs::path target = fs::read_symlink(p, ec);
  if (ec) return std::unexpected(errno_error(ec.value(), "reading link " + p.string()));
  return target.string();
}

Result<std::string> HostFs::real_path(std::string_view host_path) const {
  fs::path p = resolve(host_path);
  std::error_code ec;
  fs::path real = fs::canonical(p, ec);
  if (ec) return std::unexpected(errno_error(ec.value(), "resolving " + p.string()));
  if (root_ == "/") return real.string();
  fs::path root_real = fs::canonical(root_, ec);
  if (ec) return std::unexpected(errno_error(ec.value(), "resolving root " + root_.string()));
  std::string r = real.string();
  std::string base = root_real.string();
  if (r == base) return std::string("/");
  if (r.size() > base.size() && r.compare(0, base.size(), base) == 0 && r[base.size()] == '/') {
    return r.substr(base.size());
  }
  return fail(ErrorCode::kInvalidArgument, p.string() + " resolves to " + r +
                                               ", outside the host root " + base +
                                               " (recorded trees must use relative symlinks)");
}

Status HostFs::write(std::string_view host_path, std::string_view content) const {
  fs::path p = resolve(host_path);
  Fd fd(::open(p.c_str(), O_WRONLY | O_CLOEXEC | O_TRUNC));
  if (fd.get() < 0)
    return std::unexpected(errno_error(errno, "opening " + p.string() + " for writing"));
  return write_all(fd.get(), content, p.string());
}

Status HostFs::write_atomic(std::string_view host_path, std::string_view content,
                            unsigned mode) const {
  fs::path p = resolve(host_path);
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  if (ec) return std::unexpected(errno_error(ec.value(), "creating " + p.parent_path().string()));
  fs::path tmp = p;
  tmp += ".aion-tmp." + std::to_string(::getpid());
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (fd.get() < 0) return std::unexpected(errno_error(errno, "creating " + tmp.string()));
    if (auto st = write_all(fd.get(), content, tmp.string()); !st) {
      ::unlink(tmp.c_str());
      return st;
    }
    if (::fchmod(fd.get(), mode) != 0 || ::fsync(fd.get()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return std::unexpected(errno_error(err, "syncing " + tmp.string()));
    }
  }
  if (::rename(tmp.c_str(), p.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return std::unexpected(errno_error(err, "renaming " + tmp.string() + " to " + p.string()));
  }
  Fd dir(::open(p.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) ::fsync(dir.get());
  return {};
}

Status HostFs::remove(std::string_view host_path) const {
  fs::path p = resolve(host_path);
  if (::unlink(p.c_str()) != 0)
    return std::unexpected(errno_error(errno, "removing " + p.string()));
  return {};
}

Status HostFs::remove_dir(std::string_view host_path) const {
  fs::path p = resolve(host_path);
  if (::rmdir(p.c_str()) != 0)
    return std::unexpected(errno_error(errno, "removing directory " + p.string()));
  return {};
}

bool HostFs::is_kernel_attr(std::string_view host_path) const {
  constexpr long kProcMagic = 0x9fa0;       // PROC_SUPER_MAGIC
  constexpr long kSysfsMagic = 0x62656572;  // SYSFS_MAGIC
  struct statfs st {};
  if (::statfs(resolve(host_path).c_str(), &st) != 0) return false;
  return st.f_type == kProcMagic || st.f_type == kSysfsMagic;
}

}  // namespace aion
