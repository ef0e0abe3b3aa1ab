#include "aion/core/archive.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace aion {

struct TarGzWriter::State {
  std::filesystem::path path, partial;
  gzFile gz = nullptr;
  bool finished = false;
};

namespace {

constexpr std::size_t kBlock = 512;

// `v` as width-1 octal digits and a NUL (ustar's number fields); the value must fit.
void octal(char* dst, std::size_t width, std::uint64_t v) {
  dst[width - 1] = '\0';
  for (std::size_t i = width - 1; i-- > 0;) {
    dst[i] = static_cast<char>('0' + (v & 7));
    v >>= 3;
  }
}

// A ustar header, the checksum over the header with its own field read as spaces.
void tar_header(char (&h)[kBlock], std::string_view name, std::uint64_t size, std::int64_t mtime) {
  std::memset(h, 0, kBlock);
  std::memcpy(h, name.data(), name.size());
  octal(h + 100, 8, 0600);
  octal(h + 108, 8, 0);
  octal(h + 116, 8, 0);
  octal(h + 124, 12, size);
  octal(h + 136, 12, static_cast<std::uint64_t>(mtime < 0 ? 0 : mtime));
  h[156] = '0';
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memcpy(h + 265, "aion", 4);
  std::memcpy(h + 297, "aion", 4);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  octal(h + 148, 7, sum);
  h[155] = ' ';
}

Status write_all(gzFile gz, const char* data, std::size_t n, const std::filesystem::path& p) {
  while (n > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 20));
    if (gzwrite(gz, data, chunk) != static_cast<int>(chunk))
      return fail(ErrorCode::kIo, p.string() + ": cannot write the archive");
    data += chunk;
    n -= chunk;
  }
  return {};
}

}  // namespace

TarGzWriter::TarGzWriter(std::unique_ptr<State> state) : s_(std::move(state)) {}
TarGzWriter::TarGzWriter(TarGzWriter&&) noexcept = default;

TarGzWriter::~TarGzWriter() {
  if (!s_) return;
  if (s_->gz) gzclose(s_->gz);
  if (!s_->finished) {
    std::error_code ec;
    std::filesystem::remove(s_->partial, ec);
  }
}

Result<TarGzWriter> TarGzWriter::create(const std::filesystem::path& path) {
  auto s = std::make_unique<State>();
  s->path = path;
  s->partial = path.string() + ".partial";
  int fd = ::open(s->partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return fail(ErrorCode::kIo,
                s->partial.string() + ": cannot create (" + std::strerror(errno) + ")");
  s->gz = gzdopen(fd, "wb6");
  if (!s->gz) {
    ::close(fd);
    return fail(ErrorCode::kIo, s->partial.string() + ": cannot start gzip");
  }
  return TarGzWriter(std::move(s));
}

Status TarGzWriter::add(std::string_view name, std::string_view content, std::int64_t mtime) {
  if (name.empty() || name.size() > 100 || name.find("..") != std::string_view::npos ||
      name.front() == '/')
    return fail(ErrorCode::kInvalidArgument, "archive entry name '" + std::string(name) +
                                                 "' is empty, too long or not relative");
  if (content.size() >= (std::uint64_t{1} << 33))  // 11 octal digits
    return fail(ErrorCode::kInvalidArgument,
                "archive entry '" + std::string(name) + "' is 8 GiB or larger");
  char h[kBlock];
  tar_header(h, name, content.size(), mtime);
  if (auto st = write_all(s_->gz, h, kBlock, s_->partial); !st) return st;
  if (auto st = write_all(s_->gz, content.data(), content.size(), s_->partial); !st) return st;
  static const char kZeros[kBlock] = {};
  const std::size_t pad = (kBlock - content.size() % kBlock) % kBlock;
  return write_all(s_->gz, kZeros, pad, s_->partial);
}

Status TarGzWriter::finish() {
  static const char kZeros[2 * kBlock] = {};
  if (auto st = write_all(s_->gz, kZeros, sizeof kZeros, s_->partial); !st) return st;
  gzFile gz = s_->gz;
  s_->gz = nullptr;
  if (gzclose(gz) != Z_OK) return fail(ErrorCode::kIo, s_->partial.string() + ": cannot finish");
  // Durable before it takes the final name.
  if (int fd = ::open(s_->partial.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  std::error_code ec;
  std::filesystem::rename(s_->partial, s_->path, ec);
  if (ec)
    return fail(ErrorCode::kIo,
                s_->path.string() + ": cannot rename into place (" + ec.message() + ")");
  s_->finished = true;
  return {};
}

}  // namespace aion
