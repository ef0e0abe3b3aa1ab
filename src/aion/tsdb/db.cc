#include "aion/tsdb/db.h"

#include <algorithm>
#include <cstdio>

namespace aion::tsdb {
namespace {

namespace fs = std::filesystem;

// block-<sequence>.tsb: the sequence orders blocks by the time they were written.
fs::path block_name(const fs::path& dir, std::uint64_t seq) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "block-%012llu.tsb", static_cast<unsigned long long>(seq));
  return dir / buf;
}

bool parse_block_name(const fs::path& p, std::uint64_t& seq) {
  unsigned long long v = 0;
  char tail = 0;
  if (std::sscanf(p.filename().c_str(), "block-%llu.ts%c", &v, &tail) != 2 || tail != 'b' ||
      p.extension() != ".tsb") {
    return false;
  }
  seq = v;
  return true;
}

}  // namespace

Result<std::unique_ptr<Db>> Db::open(DbOptions options) {
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) {
    return fail(ErrorCode::kIo, "cannot create the metrics directory " + options.dir.string() +
                                    ": " + ec.message());
  }
  if (options.chunk_samples < 2) options.chunk_samples = 2;
  std::unique_ptr<Db> db(new Db(std::move(options)));
  const fs::path& dir = db->options_.dir;

  std::vector<std::pair<std::uint64_t, fs::path>> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    if (e.path().extension() == ".tmp") {  // a flush that a crash interrupted
      fs::remove(e.path(), ec);
      continue;
    }
    std::uint64_t seq = 0;
    if (parse_block_name(e.path(), seq)) files.emplace_back(seq, e.path());
  }
  if (ec) return fail(ErrorCode::kIo, "cannot list " + dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());

  // Pass 1: check every block whole (checksum, every chunk) and index where each series
  // sits in it; only the index is kept.
  for (const auto& [seq, path] : files) {
    db->next_seq_ = std::max(db->next_seq_, seq + 1);
    auto block = read_block(path);
    if (!block) {
      if (block.error().code() != ErrorCode::kCorrupt) return std::unexpected(block.error());
      fs::path q = dir / "quarantine";
      fs::create_directories(q, ec);
      fs::rename(path, q / path.filename(), ec);
      db->opened_.quarantined.push_back(block.error().message() + " (moved to " +
                                        (q / path.filename()).string() + ")");
      continue;
    }
    for (auto& s : block->series) {
      if (s.chunks.empty()) continue;
      SeriesData& sd = db->series_[s.key];
      sd.cold.push_back(cold_ref(seq, {s.offset, s.length}, s.chunks));
      sd.persisted_t = std::max(sd.persisted_t, s.chunks.back().last_time());
    }
    db->opened_.samples += block->samples();
    db->opened_.last_sample_ms = std::max(db->opened_.last_sample_ms, block->max_t);
    db->blocks_.push_back({path, seq, block->max_t, fs::file_size(path, ec)});
    ++db->opened_.blocks;
  }
  // Pass 2: the head, each series' chunks from head_ms before its newest sample on, back in
  // memory (everything with head_ms = 0).
  for (auto& [key, sd] : db->series_) {
    const std::int64_t cutoff =
        db->options_.head_ms > 0 ? sd.persisted_t - db->options_.head_ms : INT64_MIN;
    for (const auto& ref : sd.cold) {
      if (ref.max_t < cutoff) continue;
      const fs::path* path = db->block_path_locked(ref.seq);
      if (!path) continue;
      auto chunks = read_chunks(*path, ref.span);
      if (!chunks) return std::unexpected(chunks.error());
      for (const auto& c : *chunks) {
        if (c.last_time() < cutoff) continue;
        auto r = c.reader();
        Sample x;
        while (r.next(x)) {
          ignore(db->append_locked(sd, x.t_ms, x.value),
                 "a sample not after what is loaded already (two blocks overlap) is skipped");
        }
      }
    }
  }
  db->opened_.series = db->series_.size();
  db->unflushed_ = 0;
  return db;
}

Status Db::append_locked(SeriesData& s, std::int64_t t_ms, double value) {
  if (s.chunks.empty() || s.chunks.back().size() >= options_.chunk_samples) {
    if (!s.chunks.empty() && t_ms <= s.chunks.back().last_time()) {
      return fail(ErrorCode::kInvalidArgument,
                  "sample at " + std::to_string(t_ms) + " ms is not after the last one (" +
                      std::to_string(s.chunks.back().last_time()) + " ms)");
    }
    s.chunks.emplace_back();
  }
  if (auto st = s.chunks.back().append(t_ms, value); !st) return st;
  ++s.samples;
  ++unflushed_;
  return {};
}

Status Db::append(std::string_view series, std::int64_t t_ms, double value) {
  std::lock_guard lock(mu_);
  auto it = series_.find(series);
  if (it == series_.end()) it = series_.emplace(std::string(series), SeriesData{}).first;
  return append_locked(it->second, t_ms, value);
}

Db::ColdRef Db::cold_ref(std::uint64_t seq, Span span, const std::vector<Chunk>& chunks) {
  ColdRef r;
  r.seq = seq;
  r.span = span;
  r.min_t = chunks.front().first_time();
  r.max_t = chunks.back().last_time();
  r.chunks.reserve(chunks.size());
  for (const auto& c : chunks) r.chunks.emplace_back(c.last_time(), c.size());
  return r;
}

const fs::path* Db::block_path_locked(std::uint64_t seq) const {
  auto it = std::lower_bound(blocks_.begin(), blocks_.end(), seq,
                             [](const BlockFile& b, std::uint64_t s) { return b.seq < s; });
  return it != blocks_.end() && it->seq == seq ? &it->path : nullptr;
}

void Db::evict_locked(SeriesData& s) {
  if (options_.head_ms <= 0 || s.chunks.size() < 2) return;
  const std::int64_t keep_from = s.chunks.back().last_time() - options_.head_ms;
  std::size_t n = 0;
  while (n + 1 < s.chunks.size() && s.chunks[n].last_time() <= s.persisted_t &&
         s.chunks[n].last_time() < keep_from) {
    s.samples -= s.chunks[n].size();
    ++n;
  }
  s.chunks.erase(s.chunks.begin(), s.chunks.begin() + static_cast<std::ptrdiff_t>(n));
}

Result<FlushReport> Db::flush() {
  std::lock_guard one_at_a_time(flush_mu_);
  std::unique_lock lock(mu_);
  Block block;
  block.min_t = INT64_MAX;
  block.max_t = INT64_MIN;
  std::vector<std::pair<SeriesData*, std::int64_t>> advanced;  // in block.series order
  for (auto& [key, sd] : series_) {
    if (sd.chunks.empty() || sd.chunks.back().last_time() <= sd.persisted_t) continue;
    // The chunks holding anything newer than what is on disk, oldest first.
    std::size_t first = sd.chunks.size();
    while (first > 0 && sd.chunks[first - 1].last_time() > sd.persisted_t) --first;
    BlockSeries bs{key, {}};
    for (std::size_t i = first; i < sd.chunks.size(); ++i) {
      const Chunk& c = sd.chunks[i];
      if (c.first_time() > sd.persisted_t) {
        bs.chunks.push_back(c);
        continue;
      }
      Chunk tail;  // only the part after the last flush
      auto r = c.reader();
      Sample x;
      while (r.next(x)) {
        if (x.t_ms > sd.persisted_t) {
          ignore(tail.append(x.t_ms, x.value),
                 "a chunk's samples are in increasing time, so the copy takes every one");
        }
      }
      bs.chunks.push_back(std::move(tail));
    }
    block.min_t = std::min(block.min_t, bs.chunks.front().first_time());
    block.max_t = std::max(block.max_t, sd.chunks.back().last_time());
    advanced.emplace_back(&sd, sd.chunks.back().last_time());
    block.series.push_back(std::move(bs));
  }
  FlushReport report;
  if (block.series.empty()) return report;
  report.series = block.series.size();
  report.samples = block.samples();
  const std::size_t flushed_now = unflushed_;
  const std::uint64_t seq = next_seq_;
  const fs::path path = block_name(options_.dir, seq);
  // The write happens without the lock: appends go on meanwhile. (Series are not erased
  // meanwhile: retention and compaction wait for flush_mu_.)
  lock.unlock();
  std::vector<Span> spans;
  auto st = write_block(path, block, &spans);
  lock.lock();
  if (!st) return std::unexpected(st.error());
  ++next_seq_;
  for (std::size_t i = 0; i < advanced.size(); ++i) {
    auto& [sd, t] = advanced[i];
    sd->persisted_t = std::max(sd->persisted_t, t);
    sd->cold.push_back(cold_ref(seq, spans[i], block.series[i].chunks));
    evict_locked(*sd);
  }
  unflushed_ -= std::min(unflushed_, flushed_now);
  std::error_code ec;
  report.bytes = fs::file_size(path, ec);
  report.file = path;
  blocks_.push_back({path, seq, block.max_t, report.bytes});
  return report;
}

Result<std::size_t> Db::compact(std::size_t min_run, std::uint64_t small_bytes) {
  std::lock_guard one_at_a_time(flush_mu_);  // no flush adds a block meanwhile
  std::vector<BlockFile> run;
  {
    std::lock_guard lock(mu_);
    std::size_t first = blocks_.size();
    while (first > 0 && blocks_[first - 1].bytes < small_bytes) --first;
    if (blocks_.size() - first < std::max<std::size_t>(2, min_run)) return 0;
    run.assign(blocks_.begin() + static_cast<std::ptrdiff_t>(first), blocks_.end());
  }
  // Concatenate each series' samples over the run, in block order, into full chunks.
  std::map<std::string, std::vector<Chunk>, std::less<>> merged;
  Block out;
  out.min_t = INT64_MAX;
  out.max_t = INT64_MIN;
  for (const auto& f : run) {
    auto b = read_block(f.path);
    if (!b) return std::unexpected(b.error());
    out.min_t = std::min(out.min_t, b->min_t);
    out.max_t = std::max(out.max_t, b->max_t);
    for (const auto& s : b->series) {
      auto& chunks = merged[s.key];
      for (const auto& c : s.chunks) {
        auto r = c.reader();
        Sample x;
        while (r.next(x)) {
          if (chunks.empty() || chunks.back().size() >= options_.chunk_samples) {
            if (!chunks.empty() && x.t_ms <= chunks.back().last_time()) continue;
            chunks.emplace_back();
          }
          ignore(chunks.back().append(x.t_ms, x.value),
                 "a sample not after the merged ones (two blocks overlap) is skipped");
        }
      }
    }
  }
  for (auto& [key, chunks] : merged) out.series.push_back({key, std::move(chunks)});
  const fs::path target = run.back().path;
  const std::uint64_t seq = run.back().seq;
  std::vector<Span> spans;
  if (auto st = write_block(target, out, &spans); !st) return std::unexpected(st.error());
  std::error_code ec;
  for (std::size_t i = 0; i + 1 < run.size(); ++i) fs::remove(run[i].path, ec);
  std::lock_guard lock(mu_);
  // Flushes were held off, so the run is still the tail of blocks_, and of every series'
  // index: its references into the run become one into the merged file.
  const std::uint64_t first_seq = run.front().seq;
  for (std::size_t i = 0; i < out.series.size(); ++i) {
    auto it = series_.find(out.series[i].key);
    if (it == series_.end() || out.series[i].chunks.empty()) continue;
    auto& cold = it->second.cold;
    while (!cold.empty() && cold.back().seq >= first_seq) cold.pop_back();
    cold.push_back(cold_ref(seq, spans[i], out.series[i].chunks));
  }
  blocks_.resize(blocks_.size() - run.size());
  blocks_.push_back({target, seq, out.max_t, fs::file_size(target, ec)});
  return run.size();
}

void Db::drop_before_locked(std::int64_t cutoff_ms) {
  for (auto it = series_.begin(); it != series_.end();) {
    auto& chunks = it->second.chunks;
    std::size_t n = 0;
    while (n < chunks.size() && chunks[n].last_time() < cutoff_ms) {
      it->second.samples -= chunks[n].size();
      ++n;
    }
    chunks.erase(chunks.begin(), chunks.begin() + static_cast<std::ptrdiff_t>(n));
    if (chunks.empty() && it->second.cold.empty()) {
      it = series_.erase(it);
    } else {
      ++it;
    }
  }
}

Status Db::apply_retention(std::int64_t now_ms) {
  std::lock_guard one_at_a_time(flush_mu_);  // not while a compaction reads the files
  std::lock_guard lock(mu_);
  std::error_code ec;
  std::int64_t cutoff = INT64_MIN;
  if (options_.retention_ms > 0) cutoff = now_ms - options_.retention_ms;
  std::uint64_t total = 0;
  for (const auto& b : blocks_) total += b.bytes;
  std::size_t drop = 0;
  while (drop < blocks_.size() &&
         (blocks_[drop].max_t < cutoff || (options_.max_bytes > 0 && total > options_.max_bytes))) {
    total -= blocks_[drop].bytes;
    cutoff = std::max(cutoff, blocks_[drop].max_t + 1);
    fs::remove(blocks_[drop].path, ec);
    if (ec) {
      return fail(ErrorCode::kIo,
                  "cannot remove " + blocks_[drop].path.string() + ": " + ec.message());
    }
    ++drop;
  }
  if (drop > 0) {
    const std::uint64_t below = blocks_[drop - 1].seq + 1;  // refs to these blocks go
    for (auto& [key, sd] : series_) {
      auto& cold = sd.cold;
      std::size_t n = 0;
      while (n < cold.size() && cold[n].seq < below) ++n;
      cold.erase(cold.begin(), cold.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }
  blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(drop));
  if (cutoff != INT64_MIN) {
    // A block file is dropped once all of it is too old; what is too old in the rest is no
    // longer returned.
    floor_ms_ = std::max(floor_ms_, cutoff);
    for (auto& [key, sd] : series_) {
      auto& cold = sd.cold;
      std::size_t n = 0;
      while (n < cold.size() && cold[n].max_t < floor_ms_) ++n;
      cold.erase(cold.begin(), cold.begin() + static_cast<std::ptrdiff_t>(n));
    }
    drop_before_locked(cutoff);
  }
  return {};
}

std::vector<Sample> Db::query(std::string_view series, std::int64_t from_ms,
                              std::int64_t to_ms) const {
  std::lock_guard lock(mu_);
  std::vector<Sample> out;
  auto it = series_.find(series);
  if (it == series_.end()) return out;
  const SeriesData& sd = it->second;
  from_ms = std::max(from_ms, floor_ms_);
  // Older than the head: from the block files, in block order, skipping what an overlap of
  // two blocks repeats.
  const std::int64_t head_from = sd.chunks.empty() ? INT64_MAX : sd.chunks.front().first_time();
  if (from_ms < head_from) {
    const std::int64_t cold_to = std::min(to_ms, head_from - 1);
    for (const auto& ref : sd.cold) {
      if (ref.max_t < from_ms || ref.min_t > cold_to) continue;
      const fs::path* path = block_path_locked(ref.seq);
      if (!path) continue;
      auto chunks = read_chunks(*path, ref.span);
      if (!chunks) continue;  // a file damaged since open: what it held is missing
      for (const auto& c : *chunks) {
        if (c.last_time() < from_ms || c.first_time() > cold_to) continue;
        auto r = c.reader();
        Sample x;
        while (r.next(x)) {
          if (x.t_ms > cold_to) break;
          if (x.t_ms >= from_ms && (out.empty() || x.t_ms > out.back().t_ms)) out.push_back(x);
        }
      }
    }
  }
  for (const auto& c : sd.chunks) {
    if (c.last_time() < from_ms) continue;
    if (c.first_time() > to_ms) break;
    auto r = c.reader();
    Sample x;
    while (r.next(x)) {
      if (x.t_ms > to_ms) break;
      if (x.t_ms >= from_ms) out.push_back(x);
    }
  }
  return out;
}

std::vector<std::string> Db::series() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(series_.size());
  for (const auto& [k, v] : series_) out.push_back(k);
  return out;
}

std::optional<Sample> Db::last(std::string_view series) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(series);
  if (it == series_.end() || it->second.chunks.empty()) return std::nullopt;
  auto r = it->second.chunks.back().reader();
  Sample s, out;
  while (r.next(s)) out = s;
  return out;
}

std::optional<std::int64_t> Db::first_time(std::string_view series) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(series);
  if (it == series_.end()) return std::nullopt;
  if (!it->second.cold.empty()) {
    std::int64_t t = it->second.cold.front().min_t;
    for (const auto& r : it->second.cold) t = std::min(t, r.min_t);
    if (!it->second.chunks.empty()) t = std::min(t, it->second.chunks.front().first_time());
    return std::max(t, floor_ms_);
  }
  if (it->second.chunks.empty()) return std::nullopt;
  return it->second.chunks.front().first_time();
}

DbStats Db::stats() const {
  std::lock_guard lock(mu_);
  DbStats s;
  s.series = series_.size();
  for (const auto& [k, v] : series_) {
    s.samples += v.samples;
    for (const auto& c : v.chunks) s.memory_bytes += c.byte_size();
    // Samples only on disk: whole chunks older than the head (chunk-exact, as eviction is).
    const std::int64_t head_from = v.chunks.empty() ? INT64_MAX : v.chunks.front().first_time();
    std::int64_t counted_to = INT64_MIN;  // blocks may overlap after a crash in compaction
    for (const auto& r : v.cold) {
      for (const auto& [last, n] : r.chunks) {
        if (last < head_from && last > counted_to && last >= floor_ms_) {
          s.samples += n;
          counted_to = last;
        }
      }
    }
  }
  for (const auto& b : blocks_) s.disk_bytes += b.bytes;
  s.blocks = blocks_.size();
  s.unflushed_samples = unflushed_;
  return s;
}

}  // namespace aion::tsdb
