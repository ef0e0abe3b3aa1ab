// Downsampled rollups: for every series and every bucket of a fixed width (1 min, 1 h), the
// minimum, maximum, sum and count of its samples, kept in a store of their own so they can
// outlive the raw samples. A rollup is derived data: update() builds the buckets that are
// complete from its source (the raw store, or a finer rollup) after each flush, so it keeps no
// state of its own beyond its store, and after a crash it resumes at its newest bucket.
//
// A bucket [b, b + width) is complete once its series has a sample at or after b + width, or
// once `now` is past b + width + grace (a series that stopped). A sample arriving for a bucket
// already built is kept in the raw store only.
//
// In the rollup's own store, each aggregate is one series: the source key followed by "\x1f"
// and "min", "max", "sum" or "count", all four with the bucket start as their timestamp.
//
// Thread-safety: a Rollup keeps no state beyond its Db, which is thread-safe, so query(),
// series() and covered_until() may run on any thread while update() runs; update() is called
// from one thread at a time (two at once could both build the same bucket).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/tsdb/db.h"

namespace aion::tsdb {

struct Aggregate {
  std::int64_t t_ms = 0;  // bucket start
  double min = 0, max = 0, sum = 0;
  double count = 0;
  double avg() const { return count > 0 ? sum / count : 0; }
  friend bool operator==(const Aggregate&, const Aggregate&) = default;
};

class Rollup {
 public:
  // `options.dir` holds this rollup's block files; its retention and size limit apply to them.
  static Result<std::unique_ptr<Rollup>> open(DbOptions options, std::int64_t width_ms);

  std::int64_t width_ms() const { return width_ms_; }

  // Builds every complete bucket of every series in `raw` newer than the rollup's newest
  // bucket of that series; returns how many buckets were added.
  std::size_t update(const Db& raw, std::int64_t now_ms, std::int64_t grace_ms);
  // The same from a finer rollup (1 h buckets from 1 min buckets).
  std::size_t update(const Rollup& finer, std::int64_t now_ms, std::int64_t grace_ms);

  // Buckets of one series with from <= start <= to, in time order.
  std::vector<Aggregate> query(std::string_view series, std::int64_t from_ms,
                               std::int64_t to_ms) const;
  // The source keys this rollup has buckets for.
  std::vector<std::string> series() const;
  // Start of the newest bucket of `series` + the width: everything before it is rolled up
  // (INT64_MIN when the series has no bucket).
  std::int64_t covered_until(std::string_view series) const;

  Db& store() { return *db_; }
  const Db& store() const { return *db_; }

 private:
  Rollup(std::unique_ptr<Db> db, std::int64_t width) : db_(std::move(db)), width_ms_(width) {}
  template <typename Next>
  std::size_t build(const std::string& key, std::int64_t now_ms, std::int64_t grace_ms,
                    Next&& next);

  std::unique_ptr<Db> db_;
  std::int64_t width_ms_;
};

}  // namespace aion::tsdb
