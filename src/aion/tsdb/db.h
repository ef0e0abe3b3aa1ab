// The embedded metrics store: the recent samples of every series in memory as compressed
// chunks (the head), made durable by flushing what is new to a block file every flush
// interval. Once flushed, chunks older than `head_ms` before a series' newest sample leave
// memory; queries read them back from the block files (an index of where each series sits in
// each file is kept). After a crash the store reopens from its blocks and so loses at most
// what came after the last flush; open() checks every block's checksum and says what it
// found, which files were damaged (moved to quarantine/, the rest still loads) and when the
// last flush was. Retention drops data by age and keeps the block files under a size limit.
// Thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/tsdb/block.h"
#include "aion/tsdb/chunk.h"

namespace aion::tsdb {

struct DbOptions {
  std::filesystem::path dir;
  std::int64_t retention_ms = 0;  // drop samples older than this (0: keep)
  std::uint64_t max_bytes = 0;    // block files on disk stay under this (0: no limit)
  std::size_t chunk_samples = 120;
  // Flushed chunks older than this before their series' newest sample are dropped from memory
  // and read from disk when queried (0: everything stays in memory).
  std::int64_t head_ms = 0;
};

struct OpenReport {
  std::size_t blocks = 0;
  std::size_t series = 0;
  std::size_t samples = 0;
  std::int64_t last_sample_ms = 0;       // newest sample on disk: anything later was lost
  std::vector<std::string> quarantined;  // one message per damaged block file
};

struct FlushReport {
  std::size_t series = 0;
  std::size_t samples = 0;
  std::uint64_t bytes = 0;
  std::filesystem::path file;  // empty when there was nothing new
};

struct DbStats {
  std::size_t series = 0;
  std::size_t samples = 0;
  std::uint64_t memory_bytes = 0;  // compressed chunk bytes in memory (the head)
  std::uint64_t disk_bytes = 0;    // block files
  std::size_t blocks = 0;
  std::size_t unflushed_samples = 0;
};

class Db {
 public:
  static Result<std::unique_ptr<Db>> open(DbOptions options);

  // Adds one sample; a sample not after the series' last one is refused (kInvalidArgument).
  Status append(std::string_view series, std::int64_t t_ms, double value);
  // Writes every sample not yet on disk into a new block file. On failure (disk full:
  // kResourceExhausted) nothing is lost from memory and the next flush tries again.
  Result<FlushReport> flush();
  // Merges the newest run of small block files (each under `small_bytes`) into one once it
  // has at least `min_run` files, so one file per flush does not pile up. The merged file
  // takes the newest file's name; a crash midway leaves duplicates that open() skips.
  Result<std::size_t> compact(std::size_t min_run = 16, std::uint64_t small_bytes = 8ULL << 20);
  // Applies retention: by age relative to `now_ms`, then by the size of the block files.
  Status apply_retention(std::int64_t now_ms);

  // Samples of one series with from <= t <= to, in time order.
  std::vector<Sample> query(std::string_view series, std::int64_t from_ms,
                            std::int64_t to_ms) const;
  std::vector<std::string> series() const;
  // The newest sample of a series.
  std::optional<Sample> last(std::string_view series) const;
  // The time of the oldest sample of a series still kept.
  std::optional<std::int64_t> first_time(std::string_view series) const;
  DbStats stats() const;
  const OpenReport& opened() const { return opened_; }

 private:
  // One series' part of one block file.
  struct ColdRef {
    std::uint64_t seq = 0;  // the block's sequence number
    Span span;
    std::int64_t min_t = 0, max_t = 0;
    std::vector<std::pair<std::int64_t, std::uint32_t>> chunks;  // (last time, samples)
  };
  struct SeriesData {
    std::vector<Chunk> chunks;             // time order; the last one takes new samples
    std::int64_t persisted_t = INT64_MIN;  // newest sample already in a block file
    std::size_t samples = 0;               // in memory
    std::vector<ColdRef> cold;             // block order
  };
  struct BlockFile {
    std::filesystem::path path;
    std::uint64_t seq = 0;
    std::int64_t max_t = 0;
    std::uint64_t bytes = 0;
  };

  explicit Db(DbOptions o) : options_(std::move(o)) {}
  Status append_locked(SeriesData& s, std::int64_t t_ms, double value);
  void drop_before_locked(std::int64_t cutoff_ms);
  // Drops flushed chunks older than head_ms before the series' newest sample.
  void evict_locked(SeriesData& s);
  static ColdRef cold_ref(std::uint64_t seq, Span span, const std::vector<Chunk>& chunks);
  const std::filesystem::path* block_path_locked(std::uint64_t seq) const;

  DbOptions options_;
  OpenReport opened_;
  // mu_ guards series_, blocks_, next_seq_, floor_ms_ and unflushed_ (options_ and opened_
  // are fixed once open() returns); flush_mu_ is taken before mu_ by flush(), compact() and
  // apply_retention(), so block files are written and removed by one of them at a time.
  mutable std::mutex mu_;
  std::mutex flush_mu_;  // one flush at a time (the file is written without mu_)
  std::map<std::string, SeriesData, std::less<>> series_;
  std::vector<BlockFile> blocks_;  // oldest first
  std::uint64_t next_seq_ = 1;
  std::int64_t floor_ms_ = INT64_MIN;  // retention by age: nothing older is returned
  std::size_t unflushed_ = 0;
};

}  // namespace aion::tsdb
