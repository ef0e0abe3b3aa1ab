#include "aion/tsdb/block.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace aion::tsdb {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'A', 'I', 'O', 'N', 'T', 'S', 'D', 'B'};
constexpr std::uint32_t kBlockFormat = 1;

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kTable = make_table();

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// Bounds-checked little-endian reads over the file's bytes.
struct Cursor {
  std::span<const std::uint8_t> in;
  std::size_t pos = 0;
  bool u32(std::uint32_t& v) {
    if (in.size() - pos < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(in[pos + i]) << (8 * i);
    pos += 4;
    return true;
  }
  bool u64(std::uint64_t& v) {
    if (in.size() - pos < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(in[pos + i]) << (8 * i);
    pos += 8;
    return true;
  }
  bool bytes(std::size_t n, std::span<const std::uint8_t>& out) {
    if (in.size() - pos < n) return false;
    out = in.subspan(pos, n);
    pos += n;
    return true;
  }
};

Status write_all(int fd, const std::vector<std::uint8_t>& data, const fs::path& path) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      return fail(err == ENOSPC || err == EDQUOT ? ErrorCode::kResourceExhausted : ErrorCode::kIo,
                  "cannot write " + path.string() + ": " + std::strerror(err));
    }
    off += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

std::uint32_t crc32c(std::span<const std::uint8_t> data, std::uint32_t crc) {
  crc = ~crc;
  for (std::uint8_t b : data) crc = kTable[(crc ^ b) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::size_t Block::samples() const {
  std::size_t n = 0;
  for (const auto& s : series)
    for (const auto& c : s.chunks) n += c.size();
  return n;
}

Status write_block(const fs::path& path, const Block& block, std::vector<Span>* spans) {
  if (spans) spans->clear();
  std::vector<std::uint8_t> out(kMagic, kMagic + 8);
  put32(out, kBlockFormat);
  put64(out, static_cast<std::uint64_t>(block.min_t));
  put64(out, static_cast<std::uint64_t>(block.max_t));
  put32(out, static_cast<std::uint32_t>(block.series.size()));
  for (const auto& s : block.series) {
    put32(out, static_cast<std::uint32_t>(s.key.size()));
    out.insert(out.end(), s.key.begin(), s.key.end());
    const std::size_t start = out.size();
    put32(out, static_cast<std::uint32_t>(s.chunks.size()));
    for (const auto& c : s.chunks) {
      auto bytes = c.serialize();
      put32(out, static_cast<std::uint32_t>(bytes.size()));
      out.insert(out.end(), bytes.begin(), bytes.end());
    }
    if (spans) spans->push_back({start, static_cast<std::uint32_t>(out.size() - start)});
  }
  put32(out, crc32c(std::span(out).subspan(8)));

  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    int err = errno;
    return fail(err == ENOSPC ? ErrorCode::kResourceExhausted : ErrorCode::kIo,
                "cannot create " + tmp.string() + ": " + std::strerror(err));
  }
  Status st = write_all(fd, out, tmp);
  if (st && ::fsync(fd) != 0) {
    int err = errno;
    st = fail(err == ENOSPC ? ErrorCode::kResourceExhausted : ErrorCode::kIo,
              "cannot sync " + tmp.string() + ": " + std::strerror(err));
  }
  ::close(fd);
  std::error_code ec;
  if (!st) {
    fs::remove(tmp, ec);
    return st;
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return fail(ErrorCode::kIo, "cannot rename " + tmp.string() + ": " + ec.message());
  }
  // The rename is durable only once the directory is: a block whose entry may vanish in a
  // crash is not reported as written (the caller keeps its samples and writes it again).
  int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0 || ::fsync(dir) != 0) {
    int err = errno;
    if (dir >= 0) ::close(dir);
    return fail(ErrorCode::kIo,
                "cannot sync directory " + path.parent_path().string() + ": " + std::strerror(err));
  }
  ::close(dir);
  return {};
}

Result<Block> read_block(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::error_code ec;
    return fail(fs::exists(path, ec) ? ErrorCode::kIo : ErrorCode::kNotFound,
                "cannot read " + path.string());
  }
  std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(f)),
                                 std::istreambuf_iterator<char>());
  auto corrupt = [&](const std::string& what) {
    return fail(ErrorCode::kCorrupt, path.string() + ": " + what);
  };
  if (data.size() < 8 + 4 + 8 + 8 + 4 + 4 || std::memcmp(data.data(), kMagic, 8) != 0) {
    return corrupt("not a block file (bad magic or too short: " + std::to_string(data.size()) +
                   " bytes)");
  }
  Cursor tail{std::span(data), data.size() - 4};
  std::uint32_t stored = 0;
  tail.u32(stored);
  const std::uint32_t actual = crc32c(std::span(data).subspan(8, data.size() - 12));
  if (stored != actual) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "checksum mismatch (stored %08x, computed %08x)", stored,
                  actual);
    return corrupt(buf);
  }
  Cursor c{std::span(data).first(data.size() - 4), 8};
  std::uint32_t version = 0, nseries = 0;
  std::uint64_t min_t = 0, max_t = 0;
  if (!c.u32(version) || !c.u64(min_t) || !c.u64(max_t) || !c.u32(nseries))
    return corrupt("truncated header");
  if (version != kBlockFormat) {
    return corrupt("format version " + std::to_string(version) + " (this build reads " +
                   std::to_string(kBlockFormat) + ")");
  }
  Block b;
  b.min_t = static_cast<std::int64_t>(min_t);
  b.max_t = static_cast<std::int64_t>(max_t);
  for (std::uint32_t i = 0; i < nseries; ++i) {
    std::uint32_t klen = 0, nchunks = 0;
    std::span<const std::uint8_t> key;
    if (!c.u32(klen) || !c.bytes(klen, key)) {
      return corrupt("series " + std::to_string(i) + " is truncated");
    }
    BlockSeries s;
    s.offset = c.pos;
    if (!c.u32(nchunks)) return corrupt("series " + std::to_string(i) + " is truncated");
    s.key.assign(key.begin(), key.end());
    for (std::uint32_t k = 0; k < nchunks; ++k) {
      std::uint32_t len = 0;
      std::span<const std::uint8_t> bytes;
      if (!c.u32(len) || !c.bytes(len, bytes))
        return corrupt("a chunk of " + s.key + " is truncated");
      auto chunk = Chunk::deserialize(bytes);
      if (!chunk) return corrupt(s.key + ": " + chunk.error().message());
      s.chunks.push_back(std::move(*chunk));
    }
    s.length = static_cast<std::uint32_t>(c.pos - s.offset);
    b.series.push_back(std::move(s));
  }
  if (c.pos != c.in.size()) return corrupt("trailing bytes after the last series");
  return b;
}

Result<std::vector<Chunk>> read_chunks(const fs::path& path, Span span) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return fail(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                "cannot read " + path.string() + ": " + std::strerror(errno));
  }
  std::vector<std::uint8_t> data(span.length);
  std::size_t got = 0;
  while (got < data.size()) {
    ssize_t n =
        ::pread(fd, data.data() + got, data.size() - got, static_cast<off_t>(span.offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  auto corrupt = [&](const std::string& what) {
    return fail(ErrorCode::kCorrupt,
                path.string() + " at " + std::to_string(span.offset) + ": " + what);
  };
  if (got != data.size()) return corrupt("the file is shorter than its index says");
  Cursor c{std::span(data), 0};
  std::uint32_t nchunks = 0;
  if (!c.u32(nchunks)) return corrupt("truncated");
  std::vector<Chunk> out;
  // The count comes from disk: each chunk takes at least its 4-byte length, so a damaged
  // count can ask for no more than the span holds.
  out.reserve(std::min<std::size_t>(nchunks, data.size() / 4));
  for (std::uint32_t k = 0; k < nchunks; ++k) {
    std::uint32_t len = 0;
    std::span<const std::uint8_t> bytes;
    if (!c.u32(len) || !c.bytes(len, bytes)) return corrupt("a chunk is truncated");
    auto chunk = Chunk::deserialize(bytes);
    if (!chunk) return corrupt(chunk.error().message());
    out.push_back(std::move(*chunk));
  }
  return out;
}

}  // namespace aion::tsdb
