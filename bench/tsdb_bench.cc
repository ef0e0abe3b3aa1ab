// tsdb_bench: the compressed chunk codec on real and typical data. Reads every NAB series
// (../shared/data/nab/data, read-only), a synthetic set of GPU node metrics (GPU utilisation,
// temperature and power at 1 s, a byte counter) and this machine's host metrics recorded live
// for --host-seconds (default 120), encodes them in chunks of --chunk samples and
// reports, on one core: encode (ingest) rate in samples/s, decode rate, and bytes per sample
// (serialized chunks, headers included).
//   tsdb_bench [--nab DIR] [--chunk N] [--seconds S] [--host-seconds S] [--out FILE]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "aion/core/host_fs.h"
#include "aion/core/json.h"
#include "aion/core/version.h"
#include "aion/telemetry/host_collector.h"
#include "aion/telemetry/metric.h"
#include "aion/telemetry/query.h"
#include "aion/tsdb/chunk.h"
#include "aion/tsdb/db.h"

namespace {

namespace fs = std::filesystem;
using aion::tsdb::Chunk;
using aion::tsdb::Sample;
using Series = std::vector<Sample>;

// "YYYY-MM-DD HH:MM:SS" (UTC) to ms since the epoch; -1 when malformed.
std::int64_t parse_time(const std::string& s) {
  std::tm tm{};
  if (std::sscanf(s.c_str(), "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec) != 6) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

std::vector<Series> load_nab(const fs::path& dir) {
  std::vector<Series> all;
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().extension() == ".csv") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::string line;
    std::getline(in, line);  // header
    Series s;
    while (std::getline(in, line)) {
      auto comma = line.find(',');
      if (comma == std::string::npos) continue;
      std::int64_t t = parse_time(line.substr(0, comma));
      if (t < 0 || (!s.empty() && t <= s.back().t_ms)) continue;
      s.push_back({t, std::strtod(line.c_str() + comma + 1, nullptr)});
    }
    if (!s.empty()) all.push_back(std::move(s));
  }
  return all;
}

// One hour at 1 s of what a GPU node reports: per GPU utilisation (integer %), temperature
// (integer °C), power (W, one decimal), memory used (bytes, moves in MiB steps), and a
// network byte counter.
std::vector<Series> node_metrics() {
  std::mt19937_64 rng(42);
  std::vector<Series> all;
  const std::int64_t t0 = 1'796'000'000'000;
  std::uniform_int_distribution<int> jitter(-2, 2);
  for (int gpu = 0; gpu < 8; ++gpu) {
    Series util, temp, power, mem;
    double u = 60, c = 55, p = 250, m = 20.0 * (1 << 30);
    for (int i = 0; i < 3600; ++i) {
      std::int64_t t = t0 + i * 1000LL + jitter(rng);
      u = std::clamp(u + std::round(std::normal_distribution<double>(0, 3)(rng)), 0.0, 100.0);
      c = std::clamp(c + (u > 70 ? 0.2 : -0.2) + std::normal_distribution<double>(0, 0.3)(rng),
                     30.0, 95.0);
      p = std::clamp(100 + 3 * u + std::normal_distribution<double>(0, 5)(rng), 50.0, 400.0);
      if (rng() % 20 == 0)
        m += static_cast<double>((static_cast<int>(rng() % 200) - 100)) * (1 << 20);
      util.push_back({t, u});
      temp.push_back({t, std::round(c)});
      power.push_back({t, std::round(p * 10) / 10});
      mem.push_back({t, m});
    }
    for (auto* s : {&util, &temp, &power, &mem}) all.push_back(std::move(*s));
  }
  Series bytes;
  double total = 0;
  for (int i = 0; i < 3600; ++i) {
    total += static_cast<double>(rng() % 10'000'000);
    bytes.push_back({t0 + i * 1000LL, total});
  }
  all.push_back(std::move(bytes));
  return all;
}

// This machine's own host metrics as aiond collects them (HostCollector on /proc and /sys),
// recorded live at 1 s for `seconds`: CPU time per core and mode, memory, PSI, disks,
// network — mostly counters and gauges with a few decimals.
std::vector<Series> record_host(int seconds) {
  aion::telemetry::HostCollector collector{aion::HostFs("/")};
  std::map<std::string, Series> by_key;
  std::fprintf(stderr, "recording this machine's host metrics at 1 s for %d s...\n", seconds);
  auto next = std::chrono::steady_clock::now();
  for (int i = 0; i < seconds; ++i) {
    const std::int64_t t = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    for (const auto& f : collector.collect()) {
      for (const auto& smp : f.samples) {
        by_key[aion::telemetry::series_key(f.name, smp.labels)].push_back({t, smp.value});
      }
    }
    next += std::chrono::seconds(1);
    std::this_thread::sleep_until(next);
  }
  std::vector<Series> all;
  for (auto& [k, v] : by_key) all.push_back(std::move(v));
  return all;
}

struct Figures {
  std::size_t samples = 0;
  std::size_t bytes = 0;
  double encode_per_s = 0;
  double decode_per_s = 0;
};

Figures measure(const std::vector<Series>& data, std::size_t chunk_len, double seconds) {
  Figures f;
  std::vector<std::vector<std::uint8_t>> encoded;
  for (const auto& s : data) {
    for (std::size_t i = 0; i < s.size(); i += chunk_len) {
      Chunk c;
      for (std::size_t k = i; k < std::min(s.size(), i + chunk_len); ++k)
        ignore(c.append(s[k].t_ms, s[k].value),
               "the samples are in time order, so every one is taken");
      encoded.push_back(c.serialize());
      f.bytes += encoded.back().size();
    }
    f.samples += s.size();
  }
  using Clock = std::chrono::steady_clock;
  // Encode: append every sample into fresh chunks, over and over for `seconds`.
  std::size_t done = 0;
  std::size_t sink = 0;
  auto t0 = Clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    for (const auto& s : data) {
      for (std::size_t i = 0; i < s.size(); i += chunk_len) {
        Chunk c;
        const std::size_t end = std::min(s.size(), i + chunk_len);
        for (std::size_t k = i; k < end; ++k)
          ignore(c.append(s[k].t_ms, s[k].value),
                 "the samples are in time order, so every one is taken");
        sink += c.byte_size();
        done += end - i;
      }
    }
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  f.encode_per_s = static_cast<double>(done) / elapsed;
  // Decode: read every chunk back.
  std::vector<Chunk> chunks;
  for (const auto& e : encoded) chunks.push_back(*Chunk::deserialize(e));
  done = 0;
  t0 = Clock::now();
  elapsed = 0;
  double acc = 0;
  while (elapsed < seconds) {
    for (const auto& c : chunks) {
      auto r = c.reader();
      Sample s;
      while (r.next(s)) {
        acc += s.value;
        ++done;
      }
    }
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  f.decode_per_s = static_cast<double>(done) / elapsed;
  if (sink == 0 && acc == 0.5) std::puts("");  // keep the work observable
  return f;
}

struct StoreFigures {
  double ingest_per_s = 0;
  double disk_bytes_per_sample = 0;
  double query_raw_p50_ms = 0, query_raw_p99_ms = 0;
  double query_step_p50_ms = 0, query_step_p99_ms = 0;
  std::size_t samples = 0;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// The store: 10,000 series x 120 samples appended round-robin (as collectors do), flushed and
// compacted; then one day of 1 s samples for 10 series and queries over the whole day.
StoreFigures measure_store(const fs::path& dir) {
  using Clock = std::chrono::steady_clock;
  StoreFigures f;
  fs::remove_all(dir);
  auto db = aion::tsdb::Db::open({.dir = dir / "ingest"});
  if (!db) return f;
  std::vector<std::string> keys;
  for (int i = 0; i < 10000; ++i) {
    keys.push_back("aion_bench_value{gpu=\"" + std::to_string(i % 8) + "\",series=\"" +
                   std::to_string(i) + "\"}");
  }
  std::mt19937_64 rng(9);
  const std::int64_t t0 = 1'796'000'000'000;
  auto start = Clock::now();
  std::size_t n = 0;
  for (int step = 0; step < 120; ++step) {
    for (std::size_t k = 0; k < keys.size(); ++k) {
      double v = static_cast<double>((k * 7 + static_cast<std::size_t>(step) + rng() % 3) % 100);
      ignore((*db)->append(keys[k], t0 + step * 1000LL, v),
             "the samples are in time order, so every one is taken");
      ++n;
    }
  }
  f.ingest_per_s =
      static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
  f.samples = n;
  if (auto fl = (*db)->flush(); !fl) {
    std::fprintf(stderr, "tsdb_bench: flush: %s\n", fl.error().message().c_str());
  }
  if (auto c = (*db)->compact(2); !c) {
    std::fprintf(stderr, "tsdb_bench: compact: %s\n", c.error().message().c_str());
  }
  f.disk_bytes_per_sample = static_cast<double>((*db)->stats().disk_bytes) / static_cast<double>(n);

  auto day = aion::tsdb::Db::open({.dir = dir / "day"});
  if (!day) return f;
  for (int s = 0; s < 10; ++s) {
    std::string key = "aion_gpu_temperature_celsius{gpu=\"" + std::to_string(s) + "\"}";
    double temp = 50;
    for (int i = 0; i < 86400; ++i) {
      temp = std::clamp(temp + static_cast<double>(static_cast<int>(rng() % 3) - 1), 30.0, 90.0);
      ignore((*day)->append(key, t0 + i * 1000LL, temp),
             "the samples are in time order, so every one is taken");
    }
  }
  std::vector<double> raw, stepped;
  auto sel = aion::telemetry::parse_selector(R"(aion_gpu_temperature_celsius{gpu="3"})");
  for (int r = 0; r < 50; ++r) {
    auto q0 = Clock::now();
    auto pts = (*day)->query(R"(aion_gpu_temperature_celsius{gpu="3"})", t0, t0 + 86'400'000);
    raw.push_back(std::chrono::duration<double, std::milli>(Clock::now() - q0).count());
    if (pts.size() != 86400) std::fprintf(stderr, "tsdb_bench: query returned %zu\n", pts.size());
    q0 = Clock::now();
    aion::telemetry::QueryRange range{t0, t0 + 86'399'000, 60'000,
                                      aion::telemetry::Aggregation::kAvg};
    auto res = aion::telemetry::run_query(**day, *sel, range, "bench");
    stepped.push_back(std::chrono::duration<double, std::milli>(Clock::now() - q0).count());
    if (!res || (*res)[0].points.size() != 1440) std::fprintf(stderr, "tsdb_bench: step query\n");
  }
  f.query_raw_p50_ms = percentile(raw, 0.5);
  f.query_raw_p99_ms = percentile(raw, 0.99);
  f.query_step_p50_ms = percentile(stepped, 0.5);
  f.query_step_p99_ms = percentile(stepped, 0.99);
  fs::remove_all(dir);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path nab = fs::path(AION_SOURCE_DIR) / "../shared/data/nab/data";
  std::size_t chunk_len = 120;
  double seconds = 2;
  int host_seconds = 120;
  std::string out = std::string(AION_BENCH_RESULTS_DIR) + "/tsdb.json";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--nab" && i + 1 < argc) {
      nab = argv[++i];
    } else if (a == "--chunk" && i + 1 < argc) {
      chunk_len = static_cast<std::size_t>(std::max(2, std::atoi(argv[++i])));
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::max(0.1, std::atof(argv[++i]));
    } else if (a == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else if (a == "--host-seconds" && i + 1 < argc) {
      host_seconds = std::max(2, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr,
                   "usage: tsdb_bench [--nab DIR] [--chunk N] [--seconds S] [--host-seconds S] "
                   "[--out FILE]\n");
      return 2;
    }
  }
  std::error_code ec;
  if (!fs::is_directory(nab, ec)) {
    std::fprintf(stderr, "tsdb_bench: %s is not a directory; pass --nab DIR (NAB's data/)\n",
                 nab.c_str());
    return 1;
  }
  auto nab_series = load_nab(nab);
  auto node = node_metrics();
  auto host = record_host(host_seconds);
  const std::string host_name = "this host (" + std::to_string(host.size()) + " series, " +
                                std::to_string(host_seconds) + " s @ 1 s)";
  std::printf("tsdb_bench: chunk codec, one core, chunks of %zu samples, %.1f s per figure\n",
              chunk_len, seconds);
  std::printf("%-34s %10s %12s %14s %14s\n", "data", "samples", "bytes/sample", "encode/s",
              "decode/s");
  aion::Json j;
  j["benchmark"] = "tsdb_bench";
  j["version"] = aion::kVersion;
  j["what"] = "Gorilla-style chunk encode/decode on one core; bytes/sample of serialized chunks";
  j["chunk_samples"] = chunk_len;
  j["targets"] = {{"min_encode_samples_per_s", 2'000'000}, {"max_bytes_per_sample", 2.0}};
  struct Set {
    const char* name;
    const char* key;
    const std::vector<Series>* data;
  };
  for (const Set& set : {Set{"NAB (58 series)", "nab", &nab_series},
                         Set{"GPU node, synthetic (33 series, 1 h)", "node", &node},
                         Set{host_name.c_str(), "host_recorded", &host}}) {
    Figures f = measure(*set.data, chunk_len, seconds);
    double bps = static_cast<double>(f.bytes) / static_cast<double>(f.samples);
    std::printf("%-34s %10zu %12.2f %14.0f %14.0f\n", set.name, f.samples, bps, f.encode_per_s,
                f.decode_per_s);
    j[set.key] = {{"series", set.data->size()},
                  {"samples", f.samples},
                  {"bytes", f.bytes},
                  {"bytes_per_sample", bps},
                  {"encode_samples_per_s", f.encode_per_s},
                  {"decode_samples_per_s", f.decode_per_s}};
  }
  StoreFigures st = measure_store(fs::temp_directory_path() / "aion-tsdb-bench");
  std::printf(
      "\nstore: %zu samples into 10,000 series at %.0f samples/s (one core), %.2f bytes/sample "
      "on disk\n",
      st.samples, st.ingest_per_s, st.disk_bytes_per_sample);
  std::printf(
      "query one day of 1 s data (86,400 samples): raw p50 %.2f ms p99 %.2f ms; "
      "1 min avg p50 %.2f ms p99 %.2f ms\n",
      st.query_raw_p50_ms, st.query_raw_p99_ms, st.query_step_p50_ms, st.query_step_p99_ms);
  j["store"] = {
      {"series", 10000},
      {"samples", st.samples},
      {"ingest_samples_per_s", st.ingest_per_s},
      {"disk_bytes_per_sample", st.disk_bytes_per_sample},
      {"query_day_raw_ms", {{"p50", st.query_raw_p50_ms}, {"p99", st.query_raw_p99_ms}}},
      {"query_day_1m_avg_ms", {{"p50", st.query_step_p50_ms}, {"p99", st.query_step_p99_ms}}}};
  j["targets"]["max_query_ms"] = 5;
  fs::create_directories(fs::path(out).parent_path(), ec);
  std::ofstream(out) << j.dump(2) << "\n";
  std::printf("wrote %s\n", out.c_str());
  return 0;
}
