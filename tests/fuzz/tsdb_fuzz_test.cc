// Fuzzes what the metrics store reads back from disk: compressed chunks and whole block
// files, from chunks and blocks the code itself writes (counters, gauges, decimals, NaN
// payloads). A damaged file must be an error, never a crash or a chunk whose samples do not
// survive a re-encode.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "aion/tsdb/block.h"
#include "aion/tsdb/chunk.h"
#include "mutator.h"
#include "support/temp_dir.h"

namespace aion::tsdb {
namespace {

namespace fs = std::filesystem;
using fuzz::Verdict;

// Sample runs of the shapes the collectors produce.
std::vector<std::vector<Sample>> sample_runs() {
  std::vector<std::vector<Sample>> runs;
  std::int64_t t0 = 1764470000000;
  std::vector<Sample> counter, gauge, decimal, odd, jitter;
  for (int i = 0; i < 300; ++i) {
    counter.push_back({t0 + 15000 * i, 1e6 + 4096.0 * i});
    gauge.push_back({t0 + 10000 * i, 40 + 20 * std::sin(i / 7.0)});
    decimal.push_back({t0 + 1000 * i, (i % 17) * 0.25 + 71.5});
    jitter.push_back({t0 + 1000 * i + (i * 37 % 11), static_cast<double>(i % 3)});
  }
  std::uint64_t nan_bits = 0x7ff8000000000123ULL;
  double nan_payload;
  std::memcpy(&nan_payload, &nan_bits, 8);
  odd = {{-5, 0.0},
         {0, -0.0},
         {1, nan_payload},
         {2, INFINITY},
         {3, -INFINITY},
         {1LL << 40, 1e-300},
         {(1LL << 40) + 1, 1.7976931348623157e308}};
  runs = {counter, gauge, decimal, odd, jitter, {{t0, 1.0}}};
  return runs;
}

Chunk chunk_of(const std::vector<Sample>& run) {
  Chunk c;
  for (const auto& s : run) EXPECT_TRUE(c.append(s.t_ms, s.value));
  return c;
}

std::vector<std::string> chunk_seeds() {
  std::vector<std::string> out;
  for (const auto& run : sample_runs()) {
    auto bytes = chunk_of(run).serialize();
    out.emplace_back(bytes.begin(), bytes.end());
    // Shorter chunks of the same run too: mutations then hit headers more often.
    if (run.size() > 20) {
      auto small = chunk_of({run.begin(), run.begin() + 20}).serialize();
      out.emplace_back(small.begin(), small.end());
    }
  }
  return out;
}

bool bit_equal(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// A chunk that deserialized must hold exactly its sample count, in strictly increasing time,
// and re-encode to the same samples bit for bit.
std::string check_chunk(const Chunk& c) {
  auto samples = c.samples();
  if (samples.size() != c.size()) {
    return "read " + std::to_string(samples.size()) + " samples of a chunk of " +
           std::to_string(c.size());
  }
  Chunk again;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (i > 0 && samples[i].t_ms <= samples[i - 1].t_ms)
      return "sample " + std::to_string(i) + " is not later than the one before it";
    if (!again.append(samples[i].t_ms, samples[i].value))
      return "sample " + std::to_string(i) + " cannot be appended again";
  }
  if (!samples.empty() &&
      (c.first_time() != samples.front().t_ms || c.last_time() != samples.back().t_ms)) {
    return "first/last time differ from the samples";
  }
  auto bytes = again.serialize();
  auto back = Chunk::deserialize(bytes);
  if (!back) return "a re-encoded chunk does not read back: " + back.error().message();
  auto samples2 = back->samples();
  if (samples2.size() != samples.size()) return "the re-encoded chunk lost samples";
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (samples2[i].t_ms != samples[i].t_ms || !bit_equal(samples2[i].value, samples[i].value))
      return "sample " + std::to_string(i) + " changed in a re-encode";
  }
  // A chunk of the current format can take more samples after being read.
  Chunk more = c;
  if (!samples.empty() && samples.back().t_ms < INT64_MAX) {
    if (!more.append(samples.back().t_ms + 1, 1.5)) return "a read chunk refused a later sample";
    if (more.samples().size() != samples.size() + 1) return "the appended sample is lost";
  }
  return {};
}

Verdict fuzz_chunk(std::string_view input) {
  std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(input.data()),
                                      input.size());
  auto c = Chunk::deserialize(bytes);
  if (!c) {
    if (c.error().code() != ErrorCode::kCorrupt)
      return {false, "a bad chunk is not kCorrupt: " + c.error().message()};
    return {};
  }
  return {true, check_chunk(*c)};
}

TEST(TsdbFuzz, DamagedChunksAreErrorsAndGoodOnesReencode) {
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, chunk_seeds(), {}, false);
  m.max_size = 16 << 10;
  EXPECT_TRUE(fuzz::run_fuzz("tsdb_chunk", m, fuzz::fuzz_options(200000), fuzz_chunk));
}

std::uint32_t get32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
  return v;
}

void put32(std::string& s, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// Most random damage is caught by the checksum; mending it lets half of the inputs reach the
// parser behind it (a file damaged before its checksum was computed, or by an attacker).
void mend_checksum(std::string& s) {
  if (s.size() < 12) return;
  std::span<const std::uint8_t> body(reinterpret_cast<const std::uint8_t*>(s.data()) + 8,
                                     s.size() - 12);
  put32(s, s.size() - 4, crc32c(body));
}

TEST(TsdbFuzz, DamagedBlockFilesAreErrors) {
  const ::aion::testing::TempDir dir("fuzz");
  // Seeds: blocks written by write_block() itself.
  std::vector<std::string> seeds;
  auto runs = sample_runs();
  for (std::size_t n = 1; n <= runs.size(); n += 2) {
    Block b;
    b.min_t = INT64_MAX;
    b.max_t = INT64_MIN;
    for (std::size_t i = 0; i < n; ++i) {
      BlockSeries s;
      s.key = "aion_fuzz_series{gpu=\"" + std::to_string(i) + "\"}";
      std::vector<Sample> part(runs[i].begin(),
                               runs[i].begin() + std::min<std::size_t>(runs[i].size(), 40));
      s.chunks.push_back(chunk_of(part));
      b.min_t = std::min(b.min_t, part.front().t_ms);
      b.max_t = std::max(b.max_t, part.back().t_ms);
      b.series.push_back(std::move(s));
    }
    fs::path p = dir.path() / ("seed-" + std::to_string(n));
    ASSERT_TRUE(write_block(p, b));
    seeds.push_back(fuzz::read_file(p));
  }
  const fs::path file = dir.path() / "block";
  auto target = [&](std::string_view in) -> Verdict {
    std::string input(in);
    if (!input.empty() && (static_cast<unsigned char>(input.back()) & 1)) mend_checksum(input);
    { std::ofstream(file, std::ios::binary | std::ios::trunc) << input; }
    auto b = read_block(file);
    // read_chunks() takes the span from the index; fuzz it with spans over the raw bytes too
    // (a file changed on disk after read_block() checked it).
    if (input.size() >= 40) {
      Span span{32 + (input.size() > 64 ? get32(input, 32) % 64 : 0),
                static_cast<std::uint32_t>(input.size() / 2)};
      auto chunks = read_chunks(file, span);
      if (chunks) {
        for (const auto& c : *chunks)
          if (auto why = check_chunk(c); !why.empty()) return {false, "read_chunks: " + why};
      }
    }
    if (!b) {
      if (b.error().code() != ErrorCode::kCorrupt)
        return {false, "a damaged block is not kCorrupt: " + b.error().message()};
      return {};
    }
    for (const auto& s : b->series) {
      for (const auto& c : s.chunks)
        if (auto why = check_chunk(c); !why.empty()) return {true, s.key + ": " + why};
      // The index read_block() reports must lead read_chunks() to the same chunks.
      auto again = read_chunks(file, Span{s.offset, s.length});
      if (!again) return {true, "read_chunks on read_block's span: " + again.error().message()};
      if (again->size() != s.chunks.size()) return {true, "read_chunks found other chunks"};
    }
    return {true, {}};
  };
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, seeds, {}, false);
  m.max_size = 32 << 10;
  EXPECT_TRUE(fuzz::run_fuzz("tsdb_block", m, fuzz::fuzz_options(100000), target));
}

}  // namespace
}  // namespace aion::tsdb
