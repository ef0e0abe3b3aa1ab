// The compressed chunk: every sample comes back bit-exact, the encoding is as small as the
// data allows, and damaged input is refused with a reason instead of read as samples.
#include "aion/tsdb/chunk.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace aion::tsdb {
namespace {

// Compares bit patterns, so NaN payloads and -0.0 count.
void expect_same(const std::vector<Sample>& want, const std::vector<Sample>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i].t_ms, got[i].t_ms) << "sample " << i;
    ASSERT_EQ(std::bit_cast<std::uint64_t>(want[i].value),
              std::bit_cast<std::uint64_t>(got[i].value))
        << "sample " << i << ": " << want[i].value << " vs " << got[i].value;
  }
}

Chunk build(const std::vector<Sample>& samples) {
  Chunk c;
  for (const auto& s : samples) {
    auto st = c.append(s.t_ms, s.value);
    EXPECT_TRUE(st) << st.error().message();
  }
  return c;
}

void round_trip(const std::vector<Sample>& samples) {
  Chunk c = build(samples);
  EXPECT_EQ(c.size(), samples.size());
  expect_same(samples, c.samples());
  auto back = Chunk::deserialize(c.serialize());
  ASSERT_TRUE(back) << back.error().message();
  expect_same(samples, back->samples());
}

TEST(ChunkTest, EmptyChunkHasNoSamplesAndSurvivesSerialization) {
  Chunk c;
  EXPECT_TRUE(c.empty());
  EXPECT_TRUE(c.samples().empty());
  auto back = Chunk::deserialize(c.serialize());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_TRUE(back->empty());
}

TEST(ChunkTest, RegularSecondlySamplesWithJitterRoundTrip) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> util(55, 12);
  std::uniform_int_distribution<int> jitter(-3, 3);
  std::vector<Sample> s;
  std::int64_t t = 1'796'000'000'000;
  for (int i = 0; i < 5000; ++i) {
    t += 1000 + jitter(rng);
    s.push_back({t, std::round(util(rng))});
  }
  round_trip(s);
}

TEST(ChunkTest, EveryKindOfDeltaAndValueRoundTrips) {
  // Timestamp gaps that hit every delta-of-delta bucket, in both directions, and values that
  // hit every XOR case, including the special floating-point values.
  const double nan_payload = std::bit_cast<double>(std::uint64_t{0x7ff8'0000'dead'beef});
  std::vector<double> values = {0.0,
                                -0.0,
                                1.0,
                                1.0,
                                std::numeric_limits<double>::infinity(),
                                -std::numeric_limits<double>::infinity(),
                                std::numeric_limits<double>::quiet_NaN(),
                                nan_payload,
                                std::numeric_limits<double>::denorm_min(),
                                std::numeric_limits<double>::max(),
                                -std::numeric_limits<double>::max(),
                                3.141592653589793,
                                3.141592653589794,
                                1e-300,
                                -42.5};
  std::vector<std::int64_t> gaps = {1, 1,       2, 65,        64, 300,     5000,
                                    1, 1 << 20, 7, 1LL << 40, 3,  100'000, 1};
  std::vector<Sample> s;
  std::int64_t t = -5'000'000;  // before 1970 is fine too
  for (std::size_t i = 0; i < 200; ++i) {
    t += gaps[i % gaps.size()];
    s.push_back({t, values[(i * 7) % values.size()]});
  }
  round_trip(s);
}

TEST(ChunkTest, RandomDoublesAndExtremeTimestampsRoundTrip) {
  std::mt19937_64 rng(7);
  std::vector<Sample> s;
  std::int64_t t = std::numeric_limits<std::int64_t>::min() + 10;
  for (int i = 0; i < 2000; ++i) {
    t += 1 + static_cast<std::int64_t>(rng() % 1'000'000'000'000ULL);
    s.push_back({t, std::bit_cast<double>(rng())});
  }
  round_trip(s);
  // The largest gap that is allowed, then the last possible timestamp.
  Chunk c;
  ASSERT_TRUE(c.append(-1, 1));
  ASSERT_TRUE(c.append(std::numeric_limits<std::int64_t>::max() - 1, 2));
  ASSERT_TRUE(c.append(std::numeric_limits<std::int64_t>::max(), 3));
  auto back = Chunk::deserialize(c.serialize());
  ASSERT_TRUE(back) << back.error().message();
  expect_same(c.samples(), back->samples());
}

TEST(ChunkTest, OutOfOrderAndDuplicateTimestampsAreRefusedAndChangeNothing) {
  Chunk c;
  ASSERT_TRUE(c.append(1000, 1));
  ASSERT_TRUE(c.append(2000, 2));
  auto dup = c.append(2000, 3);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(dup.error().message().find("not after the last one"), std::string::npos);
  EXPECT_FALSE(c.append(1500, 3));
  ASSERT_TRUE(c.append(3000, 4));
  expect_same({{1000, 1}, {2000, 2}, {3000, 4}}, c.samples());
  Chunk wide;
  ASSERT_TRUE(wide.append(std::numeric_limits<std::int64_t>::min(), 0));
  EXPECT_FALSE(wide.append(std::numeric_limits<std::int64_t>::max(), 0));  // gap > 2^63
}

TEST(ChunkTest, ACompressedChunkTakesMoreSamplesAfterDeserialization) {
  Chunk c = build({{0, 1.5}, {1000, 1.5}, {2000, 2.5}});
  auto back = Chunk::deserialize(c.serialize());
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->append(3000, 2.5));
  ASSERT_TRUE(c.append(3000, 2.5));
  EXPECT_EQ(back->serialize(), c.serialize());
  EXPECT_FALSE(back->append(3000, 1));
}

TEST(ChunkTest, SteadySeriesCostAFewBitsPerSample) {
  // A regular 1 s series of a counter-like gauge that rarely changes: the timestamp costs one
  // bit, an unchanged value one bit.
  Chunk flat;
  for (int i = 0; i < 3600; ++i) ASSERT_TRUE(flat.append(i * 1000LL, 42.0));
  EXPECT_LT(static_cast<double>(flat.byte_size()) / 3600, 0.3) << flat.byte_size();
  // Integer-valued utilisation that moves by small steps.
  Chunk util;
  std::mt19937_64 rng(3);
  double v = 50;
  for (int i = 0; i < 3600; ++i) {
    v = std::clamp(v + static_cast<double>(static_cast<int>(rng() % 5) - 2), 0.0, 100.0);
    ASSERT_TRUE(util.append(i * 1000LL, v));
  }
  EXPECT_LT(static_cast<double>(util.byte_size()) / 3600, 2.0) << util.byte_size();
}

TEST(ChunkTest, IntegerSeriesUseIntegerDeltasAndStayExact) {
  // Integral values next to fractions, -0.0, the largest exact integers and deltas too wide
  // for 32 bits (which fall back to XOR).
  const double big = 9007199254740992.0;  // 2^53
  std::vector<double> values = {0,    -0.0, 0,     5,
                                6,    -100, 1e9,   -1e9,
                                big,  -big, big,   big - 1,
                                0.5,  1,    2,     4294967296.0 * 3,
                                -7.0, -8.0, 1e300, std::nan(""),
                                3,    3,    12345, 12344};
  std::vector<Sample> s;
  for (std::size_t i = 0; i < values.size(); ++i)
    s.push_back({static_cast<std::int64_t>(i), values[i]});
  round_trip(s);

  // A GPU utilisation in percent moving by small steps: about a byte per sample, timestamp
  // included (plain XOR needed over two).
  Chunk util;
  std::mt19937_64 rng(21);
  double v = 50;
  for (int i = 0; i < 3600; ++i) {
    v = std::clamp(v + static_cast<double>(static_cast<int>(rng() % 7) - 3), 0.0, 100.0);
    ASSERT_TRUE(util.append(i * 1000LL, v));
  }
  EXPECT_LT(static_cast<double>(util.byte_size()) / 3600, 1.1) << util.byte_size();
}

TEST(ChunkTest, DecimalSeriesUseDecimalDeltasAndStayBitExact) {
  // CloudWatch-style CPU percentages with three decimals, some of them one ulp off the
  // decimal (51.846000000000004 is what the data set holds, not 51.846), a scale change to
  // six decimals and back, negative values, and numbers that are no short decimal at all.
  std::vector<double> values = {0.132,
                                0.134,
                                0.134,
                                51.846000000000004,
                                44.508,
                                41.244,
                                48.56800000000001,
                                13.334000000000001,
                                15.0,
                                -2.5,
                                -2.501,
                                0.000001,
                                0.1 + 0.2,
                                1.0 / 3,
                                2.0 / 3,
                                7,
                                7.25,
                                1e-300,
                                -0.0,
                                0.0,
                                123456.789,
                                123456.788};
  std::vector<Sample> s;
  for (std::size_t i = 0; i < values.size(); ++i)
    s.push_back({static_cast<std::int64_t>(i) * 300'000, values[i]});
  round_trip(s);

  // A three-decimal series moving by small steps costs about two bytes a sample, where the
  // XOR of its IEEE bits needs five or more.
  Chunk cpu;
  std::mt19937_64 rng(7);
  std::int64_t milli = 20'000;
  for (int i = 0; i < 120; ++i) {
    milli = std::max<std::int64_t>(0, milli + static_cast<std::int64_t>(rng() % 101) - 50);
    ASSERT_TRUE(cpu.append(i * 300'000LL, static_cast<double>(milli) / 1000));
  }
  EXPECT_LT(static_cast<double>(cpu.byte_size()) / 120, 2.0) << cpu.byte_size();
  auto back = Chunk::deserialize(cpu.serialize());
  ASSERT_TRUE(back);
  expect_same(cpu.samples(), back->samples());
}

TEST(ChunkTest, EveryModeSwitchKeepsSamplesExact) {
  // Long regular decimal runs (run mode) broken by every kind of escape: a late or early
  // timestamp, a value one ulp off its decimal, a new scale, a jump too long for the Rice
  // code, NaN and its repeat, -0.0, a random double, an unchanged value; checked in chunks of
  // 120 as the store cuts them and in one long chunk.
  std::mt19937_64 rng(29);
  std::vector<Sample> s;
  std::int64_t t = 1'700'000'000'000, step = 5000;
  std::int64_t milli = 50'000;
  for (int i = 0; i < 20'000; ++i) {
    const int event = static_cast<int>(rng() % 40);
    t += step;
    if (event == 0) t += static_cast<std::int64_t>(rng() % 7) - 3 + 4;  // jitter
    if (event == 1) step = 1000 + static_cast<std::int64_t>(rng() % 9000);
    milli += static_cast<std::int64_t>(rng() % 201) - 100;
    double v = static_cast<double>(milli) / 1000;
    switch (event) {
      case 2: v = std::bit_cast<double>(std::bit_cast<std::uint64_t>(v) + 1); break;
      case 3: v += 0.0001; break;  // a fourth decimal
      case 4:
        milli += 1'000'000'000;
        v = static_cast<double>(milli) / 1000;
        break;
      case 5: v = std::nan(""); break;
      case 6: v = -0.0; break;
      case 7: v = std::bit_cast<double>(rng()); break;
      case 8: v = s.empty() ? v : s.back().value; break;
      default: break;
    }
    s.push_back({t, v});
    if (event == 5) s.push_back({t += step, v});  // NaN again: the same bits
  }
  for (std::size_t i = 0; i < s.size(); i += 120) {
    round_trip(
        std::vector<Sample>(s.begin() + static_cast<std::ptrdiff_t>(i),
                            s.begin() + static_cast<std::ptrdiff_t>(std::min(s.size(), i + 120))));
  }
  round_trip(s);
}

TEST(ChunkTest, ADeserializedChunkContinuesExactlyAsTheOriginal) {
  // Reading a chunk back restores its writer's state from the reader's (adaptive Rice
  // parameters, run mode, scale, XOR window): appending the same samples to the original and
  // to its copy gives the same bytes, whatever mode the cut fell in.
  std::mt19937_64 rng(37);
  std::vector<Sample> s;
  std::int64_t t = 1'000'000, milli = 7'000;
  for (int i = 0; i < 400; ++i) {
    t += 1000 + (rng() % 10 == 0 ? static_cast<std::int64_t>(rng() % 5) : 0);
    milli += static_cast<std::int64_t>(rng() % 61) - 30;
    double v = static_cast<double>(milli) / 1000;
    if (rng() % 25 == 0) v = std::bit_cast<double>(std::bit_cast<std::uint64_t>(v) + 1);
    if (rng() % 50 == 0) v = 1.0 / 3;
    s.push_back({t, v});
  }
  for (std::size_t cut : {1, 2, 5, 9, 17, 60, 199, 333}) {
    Chunk original;
    for (std::size_t i = 0; i < cut; ++i) ASSERT_TRUE(original.append(s[i].t_ms, s[i].value));
    auto copy = Chunk::deserialize(original.serialize());
    ASSERT_TRUE(copy) << copy.error().message();
    for (std::size_t i = cut; i < s.size(); ++i) {
      ASSERT_TRUE(original.append(s[i].t_ms, s[i].value));
      ASSERT_TRUE(copy->append(s[i].t_ms, s[i].value));
    }
    EXPECT_EQ(original.serialize(), copy->serialize()) << "cut after " << cut;
    expect_same(s, copy->samples());
  }
}

TEST(ChunkTest, RegularDecimalSeriesCostLittleMoreThanTheirDeltas) {
  // A 5 min series with three decimals moving by up to +-0.5 (uniform mantissa deltas,
  // 10 bits of entropy each): once in run mode a sample costs its Rice code only, no
  // timestamp or prefix bits. With the chunk's first sample and header that is about 12.5
  // bits; format 3 took 18.
  Chunk c;
  std::mt19937_64 rng(31);
  std::int64_t milli = 40'000;
  for (int i = 0; i < 120; ++i) {
    milli += static_cast<std::int64_t>(rng() % 1001) - 500;
    ASSERT_TRUE(c.append(1'400'000'000'000 + i * 300'000LL, static_cast<double>(milli) / 1000));
  }
  const double bits = 8.0 * static_cast<double>(c.serialize().size()) / 120;
  EXPECT_LT(bits, 13) << bits;
}

TEST(ChunkTest, ChunksOfAnyOtherFormatVersionAreRefusedAsUnknown) {
  // A chunk of format 3, as its encoder wrote it: a version no release ever wrote to disk.
  const std::vector<std::uint8_t> v3 = {
      0x03, 0x0a, 0x9e, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f, 0xc0, 0xe5,
      0x60, 0x41, 0x89, 0x37, 0x4c, 0xe3, 0xe9, 0xf9, 0x88, 0x5f, 0x7c, 0x7c, 0x00, 0x03, 0x28,
      0x01, 0x03, 0xb8, 0xe5, 0x4d, 0x78, 0x00, 0x04, 0x94, 0x1e, 0xfb, 0xc7, 0x81, 0x81, 0xf0,
      0x3f, 0x7f, 0xc8, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x68, 0x3c, 0x56, 0x2d, 0x3b, 0xaa,
      0xa4, 0x19, 0x37, 0xdc, 0xf9, 0xcb, 0x90, 0xf2, 0x20, 0x01, 0xd6, 0x70};
  auto old = Chunk::deserialize(v3);
  ASSERT_FALSE(old) << old->size() << " samples read";
  EXPECT_EQ(old.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(old.error().message().find("unknown format version 3"), std::string::npos)
      << old.error().message();

  // A good chunk of the current format under any other version byte.
  std::vector<Sample> s;
  for (int i = 0; i < 50; ++i) s.push_back({i * 1000LL, i * 0.5});
  const std::vector<std::uint8_t> good = build(s).serialize();
  ASSERT_TRUE(Chunk::deserialize(good));
  for (int version : {0, 1, 2, 3, 5, 255}) {
    std::vector<std::uint8_t> bytes = good;
    bytes[0] = static_cast<std::uint8_t>(version);
    auto c = Chunk::deserialize(bytes);
    ASSERT_FALSE(c) << "version " << version << " was read";
    EXPECT_EQ(c.error().code(), ErrorCode::kCorrupt);
    EXPECT_NE(c.error().message().find("unknown format version " + std::to_string(version)),
              std::string::npos)
        << c.error().message();
  }
}

TEST(ChunkTest, DamagedChunksAreRefusedWithAReason) {
  std::vector<Sample> s;
  for (int i = 0; i < 300; ++i) s.push_back({i * 1000LL + (i % 3), std::sin(i * 0.1) * 100});
  const std::vector<std::uint8_t> good = build(s).serialize();

  EXPECT_FALSE(Chunk::deserialize({}));
  std::vector<std::uint8_t> version = good;
  version[0] = 9;
  auto v = Chunk::deserialize(version);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(v.error().message().find("version 9"), std::string::npos) << v.error().message();

  // Every truncation is refused.
  for (std::size_t n = 0; n < good.size(); ++n) {
    auto r = Chunk::deserialize(std::span(good).first(n));
    EXPECT_FALSE(r) << "a chunk cut to " << n << " of " << good.size() << " bytes was accepted";
  }
  // Flipped bits are refused or, where the damage still decodes, give the stated number of
  // samples in time order; they never crash (AddressSanitizer watches the reads).
  std::mt19937_64 rng(11);
  int refused = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::uint8_t> bad = good;
    bad[1 + rng() % (bad.size() - 1)] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    auto r = Chunk::deserialize(bad);
    if (!r) {
      ++refused;
      EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
      continue;
    }
    auto got = r->samples();
    EXPECT_EQ(got.size(), r->size());
    for (std::size_t k = 1; k < got.size(); ++k) ASSERT_LT(got[k - 1].t_ms, got[k].t_ms);
  }
  // A chunk has no checksum of its own (blocks on disk do), but most damage breaks the stream.
  EXPECT_GT(refused, 0);
}

// Found by the parser fuzz suite (tsdb_chunk, seed 20261206, input 16,437): a damaged delta
// of the current format that decodes to a second sample at or before the first. Readers rely
// on strictly increasing time, so the chunk is corrupt.
TEST(ChunkTest, AChunkWhoseTimesGoBackIsCorrupt) {
  const std::vector<std::uint8_t> bytes = {
      0x04, 0x07, 0xbb, 0x04, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb, 0x3f,
      0xe1, 0xd7, 0xc0, 0x07, 0xfd, 0xe0, 0x7f, 0xff, 0x56, 0x08, 0x00, 0x00, 0x00,
      0x02, 0x47, 0x0e, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x01, 0x23, 0x8e, 0x80,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xd1, 0xff, 0xff, 0xff, 0xff,
      0xf8, 0xef, 0xe5, 0x56, 0xe1, 0xfc, 0x2f, 0x8f, 0x35, 0x9d, 0xff, 0xff, 0xff,
      0xff, 0xef, 0xcf, 0xc9, 0x52, 0x3c, 0x07, 0xa0, 0xe1, 0x94, 0xc0,
  };
  auto c = Chunk::deserialize(bytes);
  ASSERT_FALSE(c) << c->samples().size() << " samples read";
  EXPECT_EQ(c.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(c.error().message().find("not later"), std::string::npos) << c.error().message();
}

}  // namespace
}  // namespace aion::tsdb
