#include "aion/tsdb/rollup.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include <spdlog/spdlog.h>

namespace aion::tsdb {
namespace {

constexpr char kSep = '\x1f';
constexpr std::string_view kParts[] = {"min", "max", "sum", "count"};

std::string part_key(std::string_view key, std::string_view part) {
  std::string k;
  k.reserve(key.size() + 1 + part.size());
  k.append(key);
  k.push_back(kSep);
  k.append(part);
  return k;
}

std::int64_t bucket_of(std::int64_t t, std::int64_t width) {
  std::int64_t b = t / width * width;
  if (b > t) b -= width;  // negative times round down too
  return b;
}

}  // namespace

Result<std::unique_ptr<Rollup>> Rollup::open(DbOptions options, std::int64_t width_ms) {
  if (width_ms <= 0) return fail(ErrorCode::kInvalidArgument, "a rollup needs a positive width");
  auto db = Db::open(std::move(options));
  if (!db) return std::unexpected(db.error());
  return std::unique_ptr<Rollup>(new Rollup(std::move(*db), width_ms));
}

std::int64_t Rollup::covered_until(std::string_view series) const {
  auto last = db_->last(part_key(series, "count"));
  return last ? last->t_ms + width_ms_ : INT64_MIN;
}

// `next(Aggregate&)` yields the source's records after the rollup's newest bucket, in time
// order (a raw sample is a record with count 1).
template <typename Next>
std::size_t Rollup::build(const std::string& key, std::int64_t now_ms, std::int64_t grace_ms,
                          Next&& next) {
  const std::string keys[4] = {part_key(key, kParts[0]), part_key(key, kParts[1]),
                               part_key(key, kParts[2]), part_key(key, kParts[3])};
  std::size_t added = 0;
  auto emit = [&](const Aggregate& a) {
    if (!db_->append(keys[0], a.t_ms, a.min)) return;  // not after the newest: built already
    // The parts are appended together, so a bucket new to min is new to the others.
    for (const auto& [k, v] : {std::pair{&keys[1], a.max}, std::pair{&keys[2], a.sum},
                               std::pair{&keys[3], static_cast<double>(a.count)}}) {
      if (auto st = db_->append(*k, a.t_ms, v); !st) {
        spdlog::warn("event=metrics_rollup_append_failed series=\"{}\" error=\"{}\"", key,
                     st.error().message());
      }
    }
    ++added;
  };
  Aggregate cur;
  bool open = false;
  Aggregate r;
  while (next(r)) {
    if (std::isnan(r.min) || std::isnan(r.max) || std::isnan(r.sum)) continue;
    const std::int64_t b = bucket_of(r.t_ms, width_ms_);
    if (open && b != cur.t_ms) {
      emit(cur);
      open = false;
    }
    if (!open) {
      cur = r;
      cur.t_ms = b;
      open = true;
      continue;
    }
    cur.min = std::min(cur.min, r.min);
    cur.max = std::max(cur.max, r.max);
    cur.sum += r.sum;
    cur.count += r.count;
  }
  if (open && now_ms >= cur.t_ms + width_ms_ + grace_ms) emit(cur);
  return added;
}

std::size_t Rollup::update(const Db& raw, std::int64_t now_ms, std::int64_t grace_ms) {
  std::size_t added = 0;
  for (const auto& key : raw.series()) {
    const std::int64_t from = covered_until(key);
    auto samples = raw.query(key, from, INT64_MAX);
    std::size_t i = 0;
    added += build(key, now_ms, grace_ms, [&](Aggregate& out) {
      if (i == samples.size()) return false;
      const Sample& s = samples[i++];
      out = {s.t_ms, s.value, s.value, s.value, 1};
      return true;
    });
  }
  return added;
}

std::size_t Rollup::update(const Rollup& finer, std::int64_t now_ms, std::int64_t grace_ms) {
  std::size_t added = 0;
  for (const auto& key : finer.series()) {
    const std::int64_t from = covered_until(key);
    auto buckets = finer.query(key, from, INT64_MAX);
    std::size_t i = 0;
    // A coarse bucket is complete only once the finer rollup has built past its end.
    added += build(key, now_ms, grace_ms, [&](Aggregate& out) {
      if (i == buckets.size()) return false;
      out = buckets[i++];
      return true;
    });
  }
  return added;
}

std::vector<Aggregate> Rollup::query(std::string_view series, std::int64_t from_ms,
                                     std::int64_t to_ms) const {
  std::vector<Sample> parts[4];
  for (int p = 0; p < 4; ++p) parts[p] = db_->query(part_key(series, kParts[p]), from_ms, to_ms);
  std::vector<Aggregate> out;
  // The four series are appended together; after retention or a damaged block they may not
  // line up, so only timestamps present in all four make a bucket.
  std::size_t i[4] = {0, 0, 0, 0};
  while (i[0] < parts[0].size()) {
    const std::int64_t t = parts[0][i[0]].t_ms;
    bool all = true;
    for (int p = 1; p < 4; ++p) {
      while (i[p] < parts[p].size() && parts[p][i[p]].t_ms < t) ++i[p];
      if (i[p] == parts[p].size() || parts[p][i[p]].t_ms != t) all = false;
    }
    if (all) {
      out.push_back({t, parts[0][i[0]].value, parts[1][i[1]].value, parts[2][i[2]].value,
                     parts[3][i[3]].value});
    }
    ++i[0];
  }
  return out;
}

std::vector<std::string> Rollup::series() const {
  std::vector<std::string> out;
  const std::string suffix = part_key("", "count");
  for (auto& k : db_->series()) {
    if (k.size() > suffix.size() && k.ends_with(suffix)) {
      k.resize(k.size() - suffix.size());
      out.push_back(std::move(k));
    }
  }
  return out;
}

}  // namespace aion::tsdb
