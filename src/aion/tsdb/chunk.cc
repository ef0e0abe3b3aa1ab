#include "aion/tsdb/chunk.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <string>

namespace aion::tsdb {
namespace {

// 1: values as XOR only. 2: also integer deltas ('111'); still reads 1.
constexpr std::uint8_t kVersion = 2;
constexpr double kMaxExactInt = 9007199254740992.0;  // 2^53

// An integral double whose value survives int64 round trips (not -0.0, which would lose its
// sign).
bool integral(double d) {
  return std::isfinite(d) && d == std::trunc(d) && std::fabs(d) <= kMaxExactInt &&
         !(d == 0 && std::signbit(d));
}

std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

std::uint64_t bits_of(double v) {
  return std::bit_cast<std::uint64_t>(v);
}

// Sign-extends the low `n` bits of `v`.
std::int64_t sign_extend(std::uint64_t v, int n) {
  if (n == 64) return static_cast<std::int64_t>(v);
  const std::uint64_t sign = std::uint64_t{1} << (n - 1);
  return static_cast<std::int64_t>((v ^ sign) - sign);
}

bool fits(std::int64_t v, int n) {
  const std::int64_t lo = -(std::int64_t{1} << (n - 1));
  const std::int64_t hi = (std::int64_t{1} << (n - 1)) - 1;
  return v >= lo && v <= hi;
}

void put_varint(std::vector<std::uint8_t>& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

bool get_varint(std::span<const std::uint8_t> in, std::size_t& pos, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= in.size()) return false;
    const std::uint8_t b = in[pos++];
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// The delta-of-delta buckets: prefix bits, prefix length, payload bits.
struct Bucket {
  std::uint64_t prefix;
  int prefix_bits;
  int bits;
};
constexpr Bucket kBuckets[] = {{0b10, 2, 7}, {0b110, 3, 9}, {0b1110, 4, 12}, {0b11110, 5, 32}};
// Integer-delta buckets (zigzag payload).
constexpr Bucket kIntBuckets[] = {{0b0, 1, 4}, {0b10, 2, 8}, {0b110, 3, 16}, {0b111, 3, 32}};

}  // namespace

Status Chunk::append(std::int64_t t_ms, double value) {
  const std::uint64_t v = bits_of(value);
  if (count_ == 0) {
    bits_.write(static_cast<std::uint64_t>(t_ms), 64);
    bits_.write(v, 64);
    first_t_ = last_t_ = t_ms;
    last_v_ = v;
    count_ = 1;
    return {};
  }
  if (t_ms <= last_t_) {
    return fail(ErrorCode::kInvalidArgument,
                "sample at " + std::to_string(t_ms) + " ms is not after the last one (" +
                    std::to_string(last_t_) + " ms); a series takes samples in time order");
  }
  // Unsigned arithmetic: a delta or delta-of-delta that overflows int64 wraps the same way
  // when read back.
  const std::uint64_t delta =
      static_cast<std::uint64_t>(t_ms) - static_cast<std::uint64_t>(last_t_);
  if (delta > static_cast<std::uint64_t>(INT64_MAX)) {
    return fail(ErrorCode::kInvalidArgument, "a gap of more than 2^63 ms between two samples");
  }
  const auto dod = static_cast<std::int64_t>(delta - last_delta_);
  if (dod == 0) {
    bits_.write_bit(false);
  } else {
    bool done = false;
    for (const Bucket& b : kBuckets) {
      if (fits(dod, b.bits)) {
        bits_.write(b.prefix, b.prefix_bits);
        bits_.write(static_cast<std::uint64_t>(dod), b.bits);
        done = true;
        break;
      }
    }
    if (!done) {
      bits_.write(0b11111, 5);
      bits_.write(static_cast<std::uint64_t>(dod), 64);
    }
  }

  const std::uint64_t x = v ^ last_v_;
  if (x == 0) {
    bits_.write_bit(false);
  } else {
    const int lead = std::countl_zero(x);
    const int trail = std::countr_zero(x);
    const bool reuse = lead_ >= 0 && lead >= lead_ && trail >= trail_;
    const int xor_bits = reuse ? 2 + (64 - lead_ - trail_) : 3 + 12 + (64 - lead - trail);
    // Integer-valued gauges and counters (GPU %, temperatures, byte counts) usually move by
    // small steps: their integer delta is cheaper than the XOR of their IEEE bits.
    const Bucket* ib = nullptr;
    std::uint64_t zz = 0;
    const double last = std::bit_cast<double>(last_v_);
    if (integral(value) && integral(last)) {
      zz = zigzag(static_cast<std::int64_t>(value) - static_cast<std::int64_t>(last));
      for (const Bucket& b : kIntBuckets) {
        if (b.bits == 64 || zz < (std::uint64_t{1} << b.bits)) {
          ib = &b;
          break;
        }
      }
    }
    if (ib && 3 + ib->prefix_bits + ib->bits < xor_bits) {
      bits_.write(0b111, 3);
      bits_.write(ib->prefix, ib->prefix_bits);
      bits_.write(zz, ib->bits);
    } else if (reuse) {
      bits_.write(0b10, 2);
      bits_.write(x >> trail_, 64 - lead_ - trail_);
    } else {
      const int len = 64 - lead - trail;
      bits_.write(0b110, 3);
      bits_.write(static_cast<std::uint64_t>(lead), 6);
      bits_.write(static_cast<std::uint64_t>(len - 1), 6);
      bits_.write(x >> trail, len);
      lead_ = lead;
      trail_ = trail;
    }
  }
  last_t_ = t_ms;
  last_delta_ = delta;
  last_v_ = v;
  ++count_;
  return {};
}

std::vector<std::uint8_t> Chunk::serialize() const {
  std::vector<std::uint8_t> out;
  out.reserve(bits_.bytes().size() + 12);
  out.push_back(kVersion);
  put_varint(out, count_);
  put_varint(out, bits_.bit_size());
  out.insert(out.end(), bits_.bytes().begin(), bits_.bytes().end());
  return out;
}

Result<Chunk> Chunk::deserialize(std::span<const std::uint8_t> bytes) {
  auto corrupt = [](const std::string& what) {
    return fail(ErrorCode::kCorrupt, "chunk: " + what);
  };
  if (bytes.empty()) return corrupt("empty");
  if (bytes[0] < 1 || bytes[0] > kVersion) {
    return corrupt("unknown format version " + std::to_string(bytes[0]) +
                   " (this build reads 1 to " + std::to_string(kVersion) + ")");
  }
  std::size_t pos = 1;
  std::uint64_t count = 0, nbits = 0;
  if (!get_varint(bytes, pos, count) || !get_varint(bytes, pos, nbits)) {
    return corrupt("truncated header");
  }
  const std::size_t payload = bytes.size() - pos;
  if (nbits > payload * 8 || (nbits + 7) / 8 != payload) {
    return corrupt("holds " + std::to_string(payload) + " bytes of samples, its header says " +
                   std::to_string(nbits) + " bits");
  }
  if ((count == 0) != (nbits == 0) || (count > 0 && nbits < 128) || count > nbits) {
    return corrupt("sample count " + std::to_string(count) + " does not fit " +
                   std::to_string(nbits) + " bits");
  }
  // Rebuild by decoding and re-appending: this checks every sample and restores the encoder's
  // state, so the chunk can take more samples.
  Chunk c;
  c.bits_.reserve(payload);
  Chunk raw;
  raw.count_ = count;
  std::span<const std::uint8_t> body = bytes.subspan(pos);
  Reader r(raw);
  r.in_ = BitReader(body, nbits);
  r.version_ = bytes[0];
  Sample s;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (!r.step(s))
      return corrupt("sample " + std::to_string(i) + " of " + std::to_string(count) +
                     " is malformed");
    if (auto st = c.append(s.t_ms, s.value); !st) {
      return corrupt("sample " + std::to_string(i) + ": " + st.error().message());
    }
  }
  if (r.in_.remaining() != 0) {
    return corrupt(std::to_string(r.in_.remaining()) + " bits left after the last sample");
  }
  return c;
}

Chunk::Reader::Reader(const Chunk& c)
    : in_(std::span<const std::uint8_t>(c.bits_.bytes()), c.bits_.bit_size()), left_(c.count_) {}

bool Chunk::Reader::next(Sample& out) {
  if (read_ >= left_) return false;
  return step(out);
}

bool Chunk::Reader::step(Sample& out) {
  std::uint64_t w = 0;
  if (read_ == 0) {
    std::uint64_t t = 0;
    if (!in_.read(64, t) || !in_.read(64, w)) return false;
    t_ = static_cast<std::int64_t>(t);
    v_ = w;
  } else {
    // Timestamp: count the leading ones of the prefix (at most 5).
    int ones = 0;
    bool bit = true;
    while (ones < 5) {
      if (!in_.read_bit(bit)) return false;
      if (!bit) break;
      ++ones;
    }
    std::int64_t dod = 0;
    if (ones > 0) {
      static constexpr int kBits[] = {0, 7, 9, 12, 32, 64};
      if (!in_.read(kBits[ones], w)) return false;
      dod = sign_extend(w, kBits[ones]);
    }
    delta_ += static_cast<std::uint64_t>(dod);
    if (delta_ == 0 || static_cast<std::int64_t>(delta_) < 0) return false;  // not increasing
    t_ = static_cast<std::int64_t>(static_cast<std::uint64_t>(t_) + delta_);

    if (!in_.read_bit(bit)) return false;
    if (bit) {
      if (!in_.read_bit(bit)) return false;
      bool fresh_window = bit;
      if (bit && version_ >= 2) {
        // '110' new window, '111' integer delta.
        if (!in_.read_bit(bit)) return false;
        if (bit) {
          int ones = 0;  // '0' 4 bits, '10' 8, '110' 16, '111' 32
          while (ones < 3) {
            if (!in_.read_bit(bit)) return false;
            if (!bit) break;
            ++ones;
          }
          static constexpr int kIntBits[] = {4, 8, 16, 32};
          const int nbits = kIntBits[ones];
          if (!in_.read(nbits, w)) return false;
          const double prev = std::bit_cast<double>(v_);
          const std::int64_t d = unzigzag(w);
          if (d == 0 || !integral(prev)) return false;  // the encoder never writes these
          const double next = static_cast<double>(static_cast<std::int64_t>(prev) + d);
          if (!integral(next)) return false;
          v_ = std::bit_cast<std::uint64_t>(next);
          out.t_ms = t_;
          out.value = next;
          ++read_;
          return true;
        }
        fresh_window = true;
      }
      int lead = lead_, trail = trail_;
      if (fresh_window) {
        std::uint64_t l = 0, n = 0;
        if (!in_.read(6, l) || !in_.read(6, n)) return false;
        lead = static_cast<int>(l);
        const int len = static_cast<int>(n) + 1;
        if (lead + len > 64) return false;
        trail = 64 - lead - len;
        lead_ = lead;
        trail_ = trail;
      } else if (lead_ < 0) {
        return false;  // reuse of a window that was never set
      }
      const int len = 64 - lead - trail;
      if (!in_.read(len, w)) return false;
      if (w == 0) return false;  // a stored XOR is never zero
      v_ ^= w << trail;
    }
  }
  out.t_ms = t_;
  out.value = std::bit_cast<double>(v_);
  ++read_;
  return true;
}

std::vector<Sample> Chunk::samples() const {
  std::vector<Sample> out;
  out.reserve(count_);
  Reader r(*this);
  Sample s;
  while (r.next(s)) out.push_back(s);
  return out;
}

}  // namespace aion::tsdb
