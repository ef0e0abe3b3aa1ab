#include "aion/tsdb/chunk.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

namespace aion::tsdb {
namespace {

// The one format written and read (chunk.h); a chunk of any other version is refused.
constexpr std::uint8_t kChunkFormat = 4;
constexpr int kRiceLimit = 8;   // unary '1's before a long delta or the escape marker
constexpr int kRunToEnter = 8;  // common samples in a row that enter run mode
constexpr double kMaxExactInt = 9007199254740992.0;  // 2^53
constexpr int kMaxScale = 15;
constexpr double kPow10[kMaxScale + 1] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                          1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

// The mantissa of `v` at decimal scale `k` (v x 10^k rounded), or false when it is not a
// finite number within 2^53. Encoder and decoder call it on the same doubles, so they agree.
bool mantissa(double v, int k, std::int64_t& m) {
  const double x = v * kPow10[k];
  if (!std::isfinite(x) || std::fabs(x) >= kMaxExactInt) return false;
  m = std::llround(x);
  return true;
}

// The double m / 10^k (correctly rounded: both are exact doubles).
double decimal(std::int64_t m, int k) {
  // (integers skip the division: dividing by 1.0 changes nothing)
  return k == 0 ? static_cast<double>(m) : static_cast<double>(m) / kPow10[k];
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

// A value as a decimal: mantissa at a scale, plus its distance in ulps from that decimal's
// double (values such as 51.846000000000004 are one ulp away from 51.846).
struct Decimal {
  int scale = 0;
  std::int64_t m = 0;      // the mantissa
  std::int64_t delta = 0;  // mantissa minus the previous value's mantissa at this scale
  std::int64_t residual = 0;
  std::uint64_t zz = 0;
  int bits = 0;  // cost of the escape's value code
};

// Bits of a mantissa delta's Rice code with parameter p (`marker`: run mode's extra bit on a
// long delta).
int rice_bits(std::uint64_t zz, int p, bool marker) {
  const std::uint64_t q = zz >> p;
  if (q < kRiceLimit) return static_cast<int>(q) + 1 + p;
  return kRiceLimit + (marker ? 1 : 0) + 6 + std::bit_width(zz | 1);
}

// `prev_m`: the previous value's mantissa when it was a decimal at scale k (then it is the
// predictor, which saves decoding it again), else null.
bool as_decimal(double value, double prev, int k, int current_scale, const std::int64_t* prev_m,
                int p, Decimal& d) {
  std::int64_t m = 0, mp = 0;
  if (!std::isfinite(value) || !mantissa(value, k, m)) return false;
  if (prev_m) {
    mp = *prev_m;
  } else if (!mantissa(prev, k, mp)) {
    return false;
  }
  const double clean = decimal(m, k);
  if (std::signbit(clean) != std::signbit(value)) return false;
  const auto res = static_cast<std::int64_t>(bits_of(value) - bits_of(clean));
  if (res < -4 || res > 3) return false;
  d.scale = k;
  d.m = m;
  d.delta =
      static_cast<std::int64_t>(static_cast<std::uint64_t>(m) - static_cast<std::uint64_t>(mp));
  d.residual = res;
  d.zz = zigzag(d.delta);
  // '0' same scale, exact | '110' then '0' + 3 bits residual (same scale) or '1' + 4 bits
  // scale + '0' (exact) or '1' + 3 bits residual.
  const int head = k == current_scale ? (res == 0 ? 1 : 7) : (res == 0 ? 9 : 12);
  d.bits = head + rice_bits(d.zz, p, false);
  return true;
}

void write_rice(BitWriter& out, std::uint64_t zz, int p, bool marker) {
  const std::uint64_t q = zz >> p;
  if (q < kRiceLimit) {
    // q '1's and a '0' (q < 12, so one write), then the low p bits.
    out.write(((std::uint64_t{1} << q) - 1) << 1, static_cast<int>(q) + 1);
    out.write(zz & ((std::uint64_t{1} << p) - 1), p);
    return;
  }
  out.write((std::uint64_t{1} << kRiceLimit) - 1, kRiceLimit);
  if (marker) out.write_bit(false);
  const int len = std::bit_width(zz | 1);
  out.write(static_cast<std::uint64_t>(len - 1), 6);
  out.write(zz, len);
}

}  // namespace

// Kept whole: the encoder of format 4, read top to bottom against the bit layout in chunk.h;
// its choices and the bits they write share a dozen pieces of encoder state, and steps cut out
// of it would pass them all.
Status Chunk::append(std::int64_t t_ms, double value) {
  const std::uint64_t v = bits_of(value);
  std::int64_t dod = 0;
  std::uint64_t delta = 0;
  if (count_ == 0) {
    bits_.write(static_cast<std::uint64_t>(t_ms), 64);
    first_t_ = t_ms;
    // The first value is coded against 0.0, the decimal 0 at scale 0.
    last_v_ = 0;
    last_m_ = 0;
    m_scale_ = 0;
    scale_ = 0;
  } else {
    if (t_ms <= last_t_) {
      return fail(ErrorCode::kInvalidArgument,
                  "sample at " + std::to_string(t_ms) + " ms is not after the last one (" +
                      std::to_string(last_t_) + " ms); a series takes samples in time order");
    }
    // Unsigned arithmetic: a delta or delta-of-delta that overflows int64 wraps the same way
    // when read back.
    delta = static_cast<std::uint64_t>(t_ms) - static_cast<std::uint64_t>(last_t_);
    if (delta > static_cast<std::uint64_t>(INT64_MAX)) {
      return fail(ErrorCode::kInvalidArgument, "a gap of more than 2^63 ms between two samples");
    }
    dod = static_cast<std::int64_t>(delta - last_delta_);
  }

  // The value as a decimal: at the current scale first; other scales (or a residual in ulps)
  // are searched when that fails.
  const int p = rice_.param();
  const double last = std::bit_cast<double>(last_v_);
  auto cached = [&](int k) { return k == m_scale_ ? &last_m_ : nullptr; };
  Decimal dec, best;
  bool have = as_decimal(value, last, scale_, scale_, cached(scale_), p, best);
  // Values that are no short decimal (measured ratios, random doubles) would pay for a
  // search over every scale at each sample; after a run of misses it is tried only now and
  // then. (Encoder state only: the bits say what was chosen.)
  const bool search =
      have ? best.residual != 0 && count_ % 16 == 0 : misses_ < 8 || count_ % 16 == 0;
  if (search) {
    for (int k = 0; k <= kMaxScale; ++k) {
      if (k != scale_ && as_decimal(value, last, k, scale_, cached(k), p, dec) &&
          (!have || dec.bits < best.bits)) {
        best = dec;
        have = true;
        if (dec.residual == 0) break;
      }
    }
  }
  misses_ = have ? 0 : misses_ + 1;

  const bool exact_here = have && best.scale == scale_ && best.residual == 0;
  // Common: a regular timestamp and an exact decimal at the current scale; only a flag (none
  // in run mode) before its mantissa delta.
  const bool common = count_ > 0 && dod == 0 && exact_here;
  bool as_decimal_delta = common;
  if (common) {
    if (!run_mode_) bits_.write_bit(false);
  } else {
    if (count_ > 0) {
      if (run_mode_) {
        bits_.write((std::uint64_t{1} << (kRiceLimit + 1)) - 1, kRiceLimit + 1);  // the marker
      } else {
        bits_.write_bit(true);
      }
      run_mode_ = false;
      run_ = 0;
      const std::uint64_t tz = zigzag(dod);
      write_rice(bits_, tz, ts_rice_.param(), false);
      if (count_ > 1) ts_rice_.add(tz);  // the first delta is no delta-of-delta
    }
    const std::uint64_t x = v ^ last_v_;
    const int lead = x == 0 ? 0 : std::countl_zero(x);
    const int trail = x == 0 ? 0 : std::countr_zero(x);
    const bool reuse = x != 0 && lead_ >= 0 && lead >= lead_ && trail >= trail_;
    const int xor_bits = x == 0  ? 2
                         : reuse ? 4 + (64 - lead_ - trail_)
                                 : 4 + 12 + (64 - lead - trail);
    as_decimal_delta = have && best.bits <= xor_bits;
    if (as_decimal_delta) {
      if (exact_here) {
        bits_.write_bit(false);
      } else {
        bits_.write(0b110, 3);
        if (best.scale == scale_) {
          bits_.write_bit(false);
        } else {
          bits_.write_bit(true);
          bits_.write(static_cast<std::uint64_t>(best.scale), 4);
          bits_.write_bit(best.residual != 0);
          scale_ = best.scale;
        }
        if (best.residual != 0) bits_.write(zigzag(best.residual) - 1, 3);
      }
    } else if (x == 0) {
      bits_.write(0b10, 2);  // the same bits (a decimal stays one)
    } else if (reuse) {
      bits_.write(0b1110, 4);
      bits_.write(x >> trail_, 64 - lead_ - trail_);
      m_scale_ = -1;
    } else {
      const int len = 64 - lead - trail;
      bits_.write(0b1111, 4);
      bits_.write(static_cast<std::uint64_t>(lead), 6);
      bits_.write(static_cast<std::uint64_t>(len - 1), 6);
      bits_.write(x >> trail, len);
      lead_ = lead;
      trail_ = trail;
      m_scale_ = -1;
    }
  }
  if (as_decimal_delta) {
    write_rice(bits_, best.zz, p, common && run_mode_);
    rice_.add(best.zz);
    last_m_ = best.m;
    m_scale_ = best.scale;
  }
  if (common && ++run_ >= kRunToEnter) run_mode_ = true;
  last_t_ = t_ms;
  last_delta_ = delta;
  last_v_ = v;
  ++count_;
  return {};
}

std::vector<std::uint8_t> Chunk::serialize() const {
  std::vector<std::uint8_t> out;
  out.reserve(bits_.bytes().size() + 12);
  out.push_back(kChunkFormat);
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
  if (bytes[0] != kChunkFormat) {
    return corrupt("unknown format version " + std::to_string(bytes[0]) +
                   " (this build reads format " + std::to_string(kChunkFormat) + " only)");
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
  const std::uint64_t min_bits = 65;  // the first sample: its timestamp and a value code
  if ((count == 0) != (nbits == 0) || (count > 0 && nbits < min_bits) || count > nbits) {
    return corrupt("sample count " + std::to_string(count) + " does not fit " +
                   std::to_string(nbits) + " bits");
  }
  // Every sample is decoded, which checks the whole stream. The chunk keeps its bytes and
  // takes the reader's final state as its encoder's (the reader tracks exactly what the
  // writer does), so it can take more samples.
  Chunk c;
  Chunk raw;
  raw.count_ = count;
  std::span<const std::uint8_t> body = bytes.subspan(pos);
  Reader r(raw);
  r.in_ = BitReader(body, nbits);
  Sample s;
  std::int64_t prev_t = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (!r.step(s))
      return corrupt("sample " + std::to_string(i) + " of " + std::to_string(count) +
                     " is malformed");
    // A damaged delta can decode to a time at or before the last one; readers rely on
    // samples in strictly increasing time.
    if (i > 0 && s.t_ms <= prev_t)
      return corrupt("sample " + std::to_string(i) + " is not later than the one before it");
    prev_t = s.t_ms;
    if (i == 0) c.first_t_ = s.t_ms;
  }
  if (r.in_.remaining() != 0) {
    return corrupt(std::to_string(r.in_.remaining()) + " bits left after the last sample");
  }
  if (count > 0) {
    c.bits_.adopt(std::vector<std::uint8_t>(body.begin(), body.end()), nbits);
    c.count_ = count;
    c.last_t_ = r.t_;
    c.last_delta_ = r.delta_;
    c.last_v_ = r.v_;
    c.lead_ = r.lead_;
    c.trail_ = r.trail_;
    c.scale_ = r.scale_;
    c.last_m_ = r.last_m_;
    c.m_scale_ = r.m_scale_;
    c.rice_ = r.rice_;
    c.ts_rice_ = r.ts_rice_;
    c.run_mode_ = r.run_mode_;
    c.run_ = r.run_;
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
  if (read_ == 0) {
    std::uint64_t t = 0;
    if (!in_.read(64, t)) return false;
    t_ = static_cast<std::int64_t>(t);
    v_ = 0;  // the first value is coded against 0.0, the decimal 0 at scale 0
    last_m_ = 0;
    m_scale_ = 0;
    scale_ = 0;
    if (!value_v4()) return false;
  } else {
    bool escaped = false;
    std::uint64_t zz = 0;
    if (!run_mode_ && !in_.read_bit(escaped)) return false;
    if (!escaped && !rice_v4(zz, rice_.param(), run_mode_, escaped)) return false;
    if (!escaped) {
      if (delta_ == 0) return false;  // a common sample repeats a delta, never the first one
      t_ = static_cast<std::int64_t>(static_cast<std::uint64_t>(t_) + delta_);
      if (!decimal_v4(zz, 0)) return false;
      if (++run_ >= kRunToEnter) run_mode_ = true;
    } else {
      run_mode_ = false;
      run_ = 0;
      std::uint64_t tz = 0;
      bool unused = false;
      if (!rice_v4(tz, ts_rice_.param(), false, unused)) return false;
      if (read_ > 1) ts_rice_.add(tz);
      delta_ += static_cast<std::uint64_t>(unzigzag(tz));
      if (delta_ == 0 || static_cast<std::int64_t>(delta_) < 0) return false;  // not increasing
      t_ = static_cast<std::int64_t>(static_cast<std::uint64_t>(t_) + delta_);
      if (!value_v4()) return false;
    }
  }
  out.t_ms = t_;
  out.value = std::bit_cast<double>(v_);
  ++read_;
  return true;
}

bool Chunk::Reader::rice_v4(std::uint64_t& zz, int p, bool marker, bool& escaped) {
  const std::uint64_t bits = in_.peek();
  const int ones = std::countl_one(bits);
  const int q = ones < kRiceLimit ? ones : kRiceLimit;
  escaped = false;
  if (q < kRiceLimit) {
    // q '1's, the '0' and p low bits, from one look when they fit in it. Bits past the end
    // read as zeros, so the length is checked against what is left.
    const int len = q + 1 + p;
    if (in_.remaining() < static_cast<std::size_t>(len)) return false;
    if (len <= 64) {
      const std::uint64_t low = p == 0 ? 0 : (bits << (q + 1)) >> (64 - p);
      zz = (static_cast<std::uint64_t>(q) << p) | low;
      in_.skip(static_cast<std::size_t>(len));
      return true;
    }
    std::uint64_t w = 0;
    in_.skip(static_cast<std::size_t>(q + 1));
    if (!in_.read(p, w)) return false;
    zz = (static_cast<std::uint64_t>(q) << p) | w;
    return true;
  }
  if (in_.remaining() < static_cast<std::size_t>(kRiceLimit)) return false;
  in_.skip(kRiceLimit);
  std::uint64_t w = 0;
  if (marker) {
    if (!in_.read_bit(escaped)) return false;
    if (escaped) return true;
  }
  if (!in_.read(6, w)) return false;
  const int len = static_cast<int>(w) + 1;
  return in_.read(len, zz);
}

// An escape's value: '0' decimal, exact | '10' the same bits | '110' decimal with flags |
// '1110' XOR in the window | '1111' new window.
bool Chunk::Reader::value_v4() {
  int ones = 0;
  bool bit = true;
  while (ones < 4) {
    if (!in_.read_bit(bit)) return false;
    if (!bit) break;
    ++ones;
  }
  if (ones == 1) return true;  // the same bits
  if (ones == 0 || ones == 2) {
    std::int64_t residual = 0;
    if (ones == 2 && !decimal_flags(residual)) return false;
    std::uint64_t zz = 0;
    bool unused = false;
    return rice_v4(zz, rice_.param(), false, unused) && decimal_v4(zz, residual);
  }
  return xor_value(ones == 4);
}

// '0' + 3 bits residual (same scale) | '1' + 4 bits new scale, then '0' (exact) or '1' + 3
// bits residual.
bool Chunk::Reader::decimal_flags(std::int64_t& residual) {
  bool new_scale = false, has_residual = true;
  std::uint64_t w = 0;
  if (!in_.read_bit(new_scale)) return false;
  if (new_scale) {
    if (!in_.read(4, w) || w > kMaxScale) return false;
    scale_ = static_cast<int>(w);
    if (!in_.read_bit(has_residual)) return false;
  }
  residual = 0;
  if (has_residual) {
    if (!in_.read(3, w)) return false;
    residual = unzigzag(w + 1);
  }
  return true;
}

// The XOR with the previous value, in the previous window or (`fresh`) a new one: 6 bits
// leading zeros, 6 bits (length - 1); then the meaningful bits.
bool Chunk::Reader::xor_value(bool fresh) {
  int lead = lead_, trail = trail_;
  if (fresh) {
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
  std::uint64_t w = 0;
  if (!in_.read(len, w)) return false;
  if (w == 0) return false;  // a stored XOR is never zero
  v_ ^= w << trail;
  m_scale_ = -1;
  return true;
}

// The value m / 10^scale_ (+ residual ulps), m the previous mantissa plus unzigzag(zz).
bool Chunk::Reader::decimal_value(std::uint64_t zz, std::int64_t residual) {
  std::int64_t mp = last_m_;
  if (m_scale_ != scale_ && !mantissa(std::bit_cast<double>(v_), scale_, mp)) return false;
  const std::int64_t m = static_cast<std::int64_t>(static_cast<std::uint64_t>(mp) +
                                                   static_cast<std::uint64_t>(unzigzag(zz)));
  if (m <= -static_cast<std::int64_t>(kMaxExactInt) ||
      m >= static_cast<std::int64_t>(kMaxExactInt)) {
    return false;
  }
  v_ = bits_of(decimal(m, scale_)) + static_cast<std::uint64_t>(residual);
  last_m_ = m;
  m_scale_ = scale_;
  return true;
}

bool Chunk::Reader::decimal_v4(std::uint64_t zz, std::int64_t residual) {
  if (!decimal_value(zz, residual)) return false;
  rice_.add(zz);
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
