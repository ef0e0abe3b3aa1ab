// A compressed run of samples of one series, in the manner of Facebook's Gorilla paper
// (Pelkonen et al., VLDB 2015): timestamps as delta-of-delta in variable-width buckets,
// values as the XOR with the previous value, storing only its meaningful bits.
//
// Bit layout (most significant bit first):
//   sample 0   timestamp (64 bits, two's complement ms) and value (64 bits, IEEE 754)
//   then per sample: timestamp delta-of-delta, value XOR
//     dod: '0' = 0 | '10' 7 bits | '110' 9 bits | '1110' 12 bits | '11110' 32 bits |
//          '11111' 64 bits   (signed, two's complement; the delta before sample 1 is 0)
//     value: '0' = same value |
//          '10' decimal delta at the chunk's current scale k, exact: the value is m / 10^k and
//               m minus the previous value's mantissa at k follows (the previous decimal's m
//               when the previous value was one at k, else round(previous x 10^k)), zigzag:
//               '0' 4 bits | '10' 8 | '110' 12 | '1110' 16 | '11110' 32 | '11111' 64 |
//          '110' XOR's meaningful bits in the previous window |
//          '1110' 6 bits leading zeros, 6 bits (length - 1), then the XOR's meaningful bits |
//          '1111' decimal delta that is r ulps off m / 10^k (|r| <= 4) or changes the scale:
//               '0' 3 bits zigzag(r) - 1 | '1' 4 bits new k, then '0' (r = 0) or '1' 3 bits
//               zigzag(r) - 1; then the mantissa delta as above
//          (k starts at 0 in each chunk, so integers are decimals with k = 0; whichever of XOR
//          and decimal delta is shorter is written. Format 1 had '10' window, '11' new window;
//          format 2 '10' window, '110' new window, '111' integer delta in buckets '0' 4 |
//          '10' 8 | '110' 16 | '111' 32 bits; both are still read.)
// Serialized: version byte (3), sample count (varint), bit length (varint), the bytes.
// Values are kept bit-exact (NaN payloads, -0.0, infinities).
#pragma once

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
  // Checks the whole stream while reading it: a truncated or altered chunk is an error
  // (kCorrupt) naming what is wrong, never a crash or a wrong sample count.
  static Result<Chunk> deserialize(std::span<const std::uint8_t> bytes);

  // Reads the samples in order.
  class Reader {
   public:
    explicit Reader(const Chunk& c);
    // The next sample, or false at the end.
    bool next(Sample& out);

   private:
    friend class Chunk;
    bool step(Sample& out);  // false on a malformed stream
    bool decimal_step(Sample& out, bool flagged);
    BitReader in_;
    std::size_t left_;
    std::size_t read_ = 0;
    std::int64_t t_ = 0;
    std::uint64_t delta_ = 0;
    std::uint64_t v_ = 0;
    int lead_ = -1, trail_ = 0;
    int scale_ = 0;            // decimal scale of the last decimal delta (format 3)
    std::int64_t last_m_ = 0;  // mantissa of the last value when it was a decimal at m_scale_
    int m_scale_ = -1;
    int version_ = 3;  // format being read (a deserialized chunk may be version 1 or 2)
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
};

}  // namespace aion::tsdb
