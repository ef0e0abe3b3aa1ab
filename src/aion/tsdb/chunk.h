// A compressed run of samples of one series, in the manner of Facebook's Gorilla paper
// (Pelkonen et al., VLDB 2015): timestamps as delta-of-delta, values as decimal mantissa deltas
// where they are short decimals, else as the XOR with the previous value, storing only its
// meaningful bits.
//
// Format 4 (bits most significant first):
//   sample 0: timestamp (64 bits, two's complement ms), then its value as in an escape below,
//     against a previous value of 0.0 (the decimal 0 at scale 0)
//   each later sample is common or an escape; the reader follows the writer's mode:
//     flag mode: '0' common | '1' escape
//     run mode, entered after 8 common samples in a row and left at an escape: no flag; the
//       escape is marked inside the mantissa delta's code (below)
//   common: the timestamp's delta-of-delta is 0 and the value is exactly a decimal at the
//     chunk's current scale k (m / 10^k); only its mantissa delta follows
//   escape: the delta-of-delta, zigzag, in a Rice code of its own, then the value:
//       '0' a decimal at the current scale, exact; the mantissa delta |
//       '10' the same bits as the previous value |
//       '110' a decimal with flags: '0' + 3 bits zigzag(r) - 1 (same scale, r ulps off
//             m / 10^k, -4 <= r <= 3) or '1' + 4 bits new scale k, then '0' (exact) or '1' +
//             3 bits as before; the mantissa delta |
//       '1110' the XOR's meaningful bits in the previous window |
//       '1111' 6 bits leading zeros, 6 bits (length - 1), the XOR's meaningful bits
//   mantissa delta: zz = zigzag(m - m_prev), m_prev the previous value's mantissa at scale k.
//   Rice code of zz with the adaptive parameter p of `Rice` below: q = zz >> p below 8: q
//     '1's, '0', the low p bits of zz. Else eight '1's, then, for a common sample in run
//     mode only, '0' (a long value) or '1' (the escape marker: an escape follows); a long
//     value is 6 bits (length - 1) and zz in that many bits. (The first delta-of-delta, the
//     first delta itself, does not move its parameter.)
// Serialized: version byte (4), sample count (varint), bit length (varint), the bytes.
// Values are kept bit-exact (NaN payloads, -0.0, infinities). Format 4 is the only one read:
// a chunk with another version byte is refused as corrupt.
//
// Thread-safety: a Chunk is a value and not thread-safe; const members only read, so a chunk
// nobody appends to may be read from several threads (the Db locks around its chunks).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "aion/core/error.h"
#include "aion/tsdb/bits.h"

namespace aion::tsdb {

struct Sample {
  std::int64_t t_ms = 0;
  double value = 0;
  friend bool operator==(const Sample&, const Sample&) = default;
};

class Chunk {
 public:
  // Appends a sample; timestamps must increase strictly (an older or equal one is refused,
  // and the chunk is unchanged).
  Status append(std::int64_t t_ms, double value);

  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  std::int64_t first_time() const { return first_t_; }
  std::int64_t last_time() const { return last_t_; }
  // Bytes of the compressed bit stream (what a sample costs in memory and on disk, without
  // the few bytes of the serialized header).
  std::size_t byte_size() const { return bits_.bytes().size(); }

  std::vector<std::uint8_t> serialize() const;
  // Checks the whole stream while reading it: a truncated or altered chunk, or one of an
  // unknown format version, is an error (kCorrupt) naming what is wrong, never a crash or a
  // wrong sample count.
  static Result<Chunk> deserialize(std::span<const std::uint8_t> bytes);

  // Format 4's adaptive Rice parameter, kept alike by the writer and the reader: the
  // smallest p with 2^p at least a running mean of the coded values in which the latest
  // weighs one half (capped at 2^50 each). Metric deltas change size quickly, so a longer
  // memory costs bits (tsdb_bench: NAB 1.96 bytes/sample with 16 values, 1.90 with this).
  struct Rice {
    std::uint64_t level = 0;
    bool seen = false;
    int param() const { return level <= 1 ? 0 : std::bit_width(level - 1); }
    void add(std::uint64_t zz) {
      constexpr std::uint64_t kCap = std::uint64_t{1} << 50;
      const std::uint64_t z = zz < kCap ? zz : kCap;
      level = seen ? (level + z) >> 1 : z;
      seen = true;
    }
  };

  // Reads the samples in order.
  class Reader {
   public:
    explicit Reader(const Chunk& c);
    // The next sample, or false at the end.
    bool next(Sample& out);

   private:
    friend class Chunk;
    bool step(Sample& out);  // false on a malformed stream
    bool value_v4();         // an escape's value
    bool decimal_v4(std::uint64_t zz, std::int64_t residual);
    bool decimal_flags(std::int64_t& residual);
    bool decimal_value(std::uint64_t zz, std::int64_t residual);
    bool xor_value(bool fresh);
    // A Rice code with parameter p; with `marker`, run mode's escape marker may come instead
    // (then `escaped` is set).
    bool rice_v4(std::uint64_t& zz, int p, bool marker, bool& escaped);
    BitReader in_;
    std::size_t left_;
    std::size_t read_ = 0;
    std::int64_t t_ = 0;
    std::uint64_t delta_ = 0;
    std::uint64_t v_ = 0;
    int lead_ = -1, trail_ = 0;
    int scale_ = 0;            // decimal scale of the last decimal delta
    std::int64_t last_m_ = 0;  // mantissa of the last value when it was a decimal at m_scale_
    int m_scale_ = -1;
    Rice rice_, ts_rice_;
    bool run_mode_ = false;
    int run_ = 0;
  };
  Reader reader() const { return Reader(*this); }
  std::vector<Sample> samples() const;

 private:
  BitWriter bits_;
  std::size_t count_ = 0;
  std::int64_t first_t_ = 0, last_t_ = 0;
  std::uint64_t last_delta_ = 0;
  std::uint64_t last_v_ = 0;
  int lead_ = -1, trail_ = 0;  // the window of the last stored XOR (lead_ < 0: none yet)
  int scale_ = 0;              // decimal scale of the last decimal delta
  std::int64_t last_m_ = 0;    // mantissa of the last value when it was a decimal at m_scale_
  int m_scale_ = -1;           // (-1: it was not; the predictor is then computed from it)
  int misses_ = 0;             // samples in a row that were no short decimal
  Rice rice_;                  // the mantissa deltas' Rice parameter
  Rice ts_rice_;               // the timestamps' delta-of-delta Rice parameter
  bool run_mode_ = false;      // run mode: only mantissa deltas
  int run_ = 0;                // common samples in a row
};

}  // namespace aion::tsdb
