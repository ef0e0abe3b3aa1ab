// Block files: the persisted part of the metrics store. One file per flush holds, for each
// series, the samples that were not yet on disk, as compressed chunks; a CRC-32C over the
// whole file tells a damaged file from a good one. Files are written to a temporary name,
// fsynced and renamed, so a crash leaves either the whole block or none of it. Functions of
// their arguments and the files named; thread-safe (the caller keeps two threads from
// writing one path).
//
// Layout (integers little-endian):
//   "AIONTSDB"  u32 version (1)  i64 min_t  i64 max_t  u32 series
//   per series: u32 key length, key bytes, u32 chunks, per chunk: u32 length, chunk bytes
//   u32 CRC-32C of everything after the magic
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/tsdb/chunk.h"

namespace aion::tsdb {

// CRC-32C (Castagnoli), the checksum of block files.
std::uint32_t crc32c(std::span<const std::uint8_t> data, std::uint32_t crc = 0);

struct BlockSeries {
  std::string key;  // the series, as `name{label="value",...}`
  std::vector<Chunk> chunks;
  // Where the series' chunk list (u32 chunks, then per chunk u32 length and bytes) sits in
  // the file; read_block() fills it in.
  std::uint64_t offset = 0;
  std::uint32_t length = 0;
};

// The place of one series' chunk list in a block file.
struct Span {
  std::uint64_t offset = 0;
  std::uint32_t length = 0;
};

struct Block {
  std::int64_t min_t = 0, max_t = 0;
  std::vector<BlockSeries> series;
  std::size_t samples() const;
};

// Writes `block` to `path` atomically (temporary file, fsync, rename, fsync of the directory).
// kResourceExhausted when the disk is full (the temporary file is removed). `spans` (if
// given) receives where each series' chunk list went, in the order of block.series.
Status write_block(const std::filesystem::path& path, const Block& block,
                   std::vector<Span>* spans = nullptr);

// Reads and checks a block file: kCorrupt with what is wrong (checksum, truncation, a bad
// chunk), kNotFound/kIo when it cannot be read.
Result<Block> read_block(const std::filesystem::path& path);

// Reads one series' chunks from a block file checked earlier by read_block(): only its span
// is read (pread), and every chunk is checked as it is decoded (kCorrupt otherwise).
Result<std::vector<Chunk>> read_chunks(const std::filesystem::path& path, Span span);

}  // namespace aion::tsdb
