// dataset_bench: how fast `aion data` records, verifies and stages a dataset. Builds a
// synthetic tree of N small files of mixed modalities (PNG, JPEG, WAV, CSV, JSON Lines, text
// and gzip headers over pseudo-random bytes), then measures add (walk + XXH3-128 + modality +
// manifest in SQLite), verify (re-hash every file and walk for extras) and stage (copy while
// hashing) in files/s and MB/s; and, on one large file, raw XXH3-128 and SHA-256 throughput
// next to a plain read of the same file (what `cat > /dev/null` does). The files were just
// written, so reads come from the page cache: the figures are the CPU side of the work, an
// upper bound for a cold disk. Writes bench/results/dataset.json.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "aion/core/json.h"
#include "aion/core/version.h"
#include "aion/pipeline/dataset_add.h"
#include "aion/pipeline/dataset_catalog.h"
#include "aion/pipeline/dataset_pool.h"
#include "aion/pipeline/dataset_verify.h"
#include "aion/pipeline/hash.h"
#include "aion/pipeline/stage.h"
#include "bench_info.h"

namespace fs = std::filesystem;
namespace pl = aion::pipeline;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The first bytes of each kind of file the tree holds.
const std::vector<std::pair<std::string, std::string>>& kinds() {
  static const std::vector<std::pair<std::string, std::string>> k = {
      {".png", std::string("\x89PNG\r\n\x1a\n", 8)},
      {".jpg", std::string("\xff\xd8\xff\xe0", 4)},
      {".wav", std::string("RIFF\x24\0\0\0WAVE", 12)},
      {".csv", "a,b,c\n"},
      {".jsonl", "{\"x\": 1}\n"},
      {".txt", "text "},
      {".gz", std::string("\x1f\x8b\x08\0", 4)},
  };
  return k;
}

std::uint64_t build_tree(const fs::path& root, int files, int mean_size) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int> size_of(mean_size / 2, mean_size * 3 / 2);
  std::uint64_t bytes = 0;
  std::string buf;
  for (int i = 0; i < files; ++i) {
    fs::path dir = root / ("d" + std::to_string(i / 1000));
    if (i % 1000 == 0) fs::create_directories(dir);
    const auto& [ext, head] = kinds()[static_cast<std::size_t>(i) % kinds().size()];
    const int size = size_of(rng);
    buf = head;
    const bool text = ext == ".csv" || ext == ".jsonl" || ext == ".txt";
    while (static_cast<int>(buf.size()) < size) {
      std::uint64_t r = rng();
      if (text) {
        buf += std::to_string(r % 100000) + (ext == ".csv" ? ",1,2\n" : " word\n");
      } else {
        buf.append(reinterpret_cast<const char*>(&r), sizeof r);
      }
    }
    buf.resize(static_cast<std::size_t>(size));
    const fs::path file = dir / ("f" + std::to_string(i) + ext);
    std::ofstream(file, std::ios::binary) << buf;
    // An hour old, as a tree is that was not touched since it was last added: the re-add's
    // quick check can trust such mtimes (recent ones it reads again).
    const struct timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 3600, 0}};
    ::utimensat(AT_FDCWD, file.c_str(), times, 0);
    bytes += static_cast<std::uint64_t>(size);
  }
  return bytes;
}

aion::Json rate(double s, std::uint64_t files, std::uint64_t bytes) {
  return {{"seconds", s},
          {"files_per_s", s > 0 ? static_cast<double>(files) / s : 0},
          {"mb_per_s", s > 0 ? static_cast<double>(bytes) / s / 1e6 : 0}};
}

// Reads a file once with 1 MiB reads, discarding the bytes: the floor any hash pass pays.
double plain_read_seconds(const fs::path& file) {
  std::vector<char> buf(pl::kHashBufferBytes);
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  auto t = std::chrono::steady_clock::now();
  while (::read(fd, buf.data(), buf.size()) > 0) {
  }
  double s = seconds_since(t);
  ::close(fd);
  return s;
}

double hash_seconds(const fs::path& file, bool sha256) {
  pl::FileHasher h(sha256);
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  auto t = std::chrono::steady_clock::now();
  auto r = h.hash_fd(fd, "bench file");
  double s = seconds_since(t);
  ::close(fd);
  if (!r) std::fprintf(stderr, "dataset_bench: %s\n", r.error().message().c_str());
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int files = 100000, mean_size = 4096, large_mib = 512, threads = 0;
  std::string base = fs::temp_directory_path().string();
  std::string out = std::string(AION_BENCH_RESULTS_DIR) + "/dataset.json";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--files") {
      files = std::max(100, std::atoi(next().c_str()));
    } else if (a == "--size") {
      mean_size = std::max(64, std::atoi(next().c_str()));
    } else if (a == "--large-mib") {
      large_mib = std::max(16, std::atoi(next().c_str()));
    } else if (a == "--threads") {
      threads = std::atoi(next().c_str());
    } else if (a == "--dir") {
      base = next();
    } else if (a == "--out") {
      out = next();
    } else {
      std::fprintf(stderr,
                   "usage: dataset_bench [--files 100000] [--size 4096 (mean bytes)] "
                   "[--large-mib 512] [--threads N] [--dir TMPDIR] [--out FILE]\n");
      return 2;
    }
  }
  if (threads <= 0) threads = pl::default_hash_threads();
  const fs::path work = fs::path(base) / ("aion-dataset-bench-" + std::to_string(::getpid()));
  fs::create_directories(work);
  std::printf("dataset_bench %s (%s build), %s, %d hash threads\n", aion::kVersion,
              aion::bench::build_kind(), aion::bench::cpu_model().c_str(), threads);

  auto t = std::chrono::steady_clock::now();
  const std::uint64_t tree_bytes = build_tree(work / "tree", files, mean_size);
  std::printf("tree: %d files, %.1f MB (mean %d B), written in %.1f s\n", files,
              static_cast<double>(tree_bytes) / 1e6, mean_size, seconds_since(t));

  auto modalities =
      pl::ModalityTable::load(fs::path(AION_SOURCE_DIR) / "data/pipeline/modalities.toml");
  auto catalog = pl::DatasetCatalog::open(work / "datasets.db");
  if (!modalities || !catalog) {
    std::fprintf(stderr, "dataset_bench: cannot open the catalog or the modality rules\n");
    return 1;
  }
  pl::AddOptions ao;
  ao.threads = threads;
  t = std::chrono::steady_clock::now();
  auto added = pl::add_dataset(**catalog, *modalities, "bench", work / "tree", ao);
  const double add_s = seconds_since(t);
  if (!added) {
    std::fprintf(stderr, "dataset_bench: add: %s\n", added.error().message().c_str());
    return 1;
  }
  t = std::chrono::steady_clock::now();
  auto again = pl::add_dataset(**catalog, *modalities, "bench", work / "tree", ao);
  const double readd_s = seconds_since(t);
  pl::AddOptions rehash = ao;
  rehash.rehash = true;
  t = std::chrono::steady_clock::now();
  auto reread = pl::add_dataset(**catalog, *modalities, "bench", work / "tree", rehash);
  const double rehash_s = seconds_since(t);
  t = std::chrono::steady_clock::now();
  auto verified = pl::verify_dataset(**catalog, added->version, {.threads = threads});
  const double verify_s = seconds_since(t);
  t = std::chrono::steady_clock::now();
  auto staged =
      pl::stage_dataset(**catalog, added->version, {.to = work / "staged", .threads = threads}, {});
  const double stage_s = seconds_since(t);
  if (!again || !reread || again->reused != added->version.files || !verified || !verified->ok() ||
      !staged) {
    std::fprintf(stderr, "dataset_bench: re-add, verify or stage failed\n");
    return 1;
  }
  const std::uint64_t db_bytes = fs::file_size(work / "datasets.db");

  // One large file: raw hash throughput against a plain read.
  const fs::path large = work / "large" / "large.bin";
  fs::create_directories(large.parent_path());
  {
    std::vector<char> block(1 << 20);
    std::mt19937_64 rng(7);
    for (auto& c : block) c = static_cast<char>(rng());
    std::ofstream f(large, std::ios::binary);
    for (int i = 0; i < large_mib; ++i) f.write(block.data(), static_cast<long>(block.size()));
  }
  plain_read_seconds(large);  // into the page cache
  const double read_s = plain_read_seconds(large);
  const double xxh_s = hash_seconds(large, false);
  const double sha_s = hash_seconds(large, true);
  const double large_mb = static_cast<double>(large_mib) * 1048576.0 / 1e6;
  // The large file as a dataset, added once, then again unchanged: where the quick check
  // pays (big files, or files not in the page cache), against reading it all again.
  {
    const struct timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 3600, 0}};
    ::utimensat(AT_FDCWD, large.c_str(), times, 0);
  }
  auto big = pl::add_dataset(**catalog, *modalities, "large", large.parent_path(), ao);
  t = std::chrono::steady_clock::now();
  auto big_quick = pl::add_dataset(**catalog, *modalities, "large", large.parent_path(), ao);
  const double big_quick_s = seconds_since(t);
  t = std::chrono::steady_clock::now();
  auto big_reread = pl::add_dataset(**catalog, *modalities, "large", large.parent_path(), rehash);
  const double big_rehash_s = seconds_since(t);
  if (!big || !big_quick || big_quick->reused != 1 || !big_reread) {
    std::fprintf(stderr, "dataset_bench: the large file's dataset failed\n");
    return 1;
  }

  std::printf("\n%-28s %10s %12s %10s\n", "", "seconds", "files/s", "MB/s");
  auto row = [&](const char* what, double s, std::uint64_t n, std::uint64_t b) {
    std::printf("%-28s %10.2f %12.0f %10.0f\n", what, s, static_cast<double>(n) / s,
                static_cast<double>(b) / s / 1e6);
  };
  row("add (new version)", add_s, added->version.files, tree_bytes);
  row("add (unchanged, quick check)", readd_s, added->version.files, tree_bytes);
  row("add (unchanged, --rehash)", rehash_s, added->version.files, tree_bytes);
  row("verify", verify_s, added->version.files, tree_bytes);
  row("stage --to (copy+hash)", stage_s, added->version.files, tree_bytes);
  std::printf(
      "\nlarge file %d MiB (page cache):  read %.0f MB/s  xxh3-128 %.0f MB/s  "
      "xxh3+sha256 %.0f MB/s\n",
      large_mib, large_mb / read_s, large_mb / xxh_s, large_mb / sha_s);
  std::printf("large file as a dataset, re-added unchanged: quick check %.4f s, --rehash %.3f s\n",
              big_quick_s, big_rehash_s);
  std::printf("catalog: %.1f MB for %d files (%.0f B per file)\n",
              static_cast<double>(db_bytes) / 1e6, files, static_cast<double>(db_bytes) / files);

  aion::Json j{
      {"benchmark", "dataset_bench"},
      {"version", aion::kVersion},
      {"build", aion::bench::build_kind()},
      {"cpu", aion::bench::cpu_model()},
      {"cpus", ::sysconf(_SC_NPROCESSORS_ONLN)},
      {"hash_threads", threads},
      {"what",
       "aion data add/verify/stage on a synthetic tree of small mixed-modality files, "
       "and raw XXH3-128/SHA-256 vs a plain read on one large file; all reads from the "
       "page cache (files just written, their mtimes set an hour back); the unchanged re-add "
       "trusts size and mtime, --rehash reads every file"},
      {"tree", {{"files", files}, {"bytes", tree_bytes}, {"mean_file_bytes", mean_size}}},
      {"add", rate(add_s, added->version.files, tree_bytes)},
      {"add_unchanged", rate(readd_s, added->version.files, tree_bytes)},
      {"add_unchanged_rehash", rate(rehash_s, added->version.files, tree_bytes)},
      {"verify", rate(verify_s, added->version.files, tree_bytes)},
      {"stage_copy", rate(stage_s, added->version.files, tree_bytes)},
      {"catalog_bytes", db_bytes},
      {"large_file",
       {{"mib", large_mib},
        {"plain_read_mb_per_s", large_mb / read_s},
        {"xxh3_128_mb_per_s", large_mb / xxh_s},
        {"xxh3_128_and_sha256_mb_per_s", large_mb / sha_s},
        {"readd_unchanged_quick_check_s", big_quick_s},
        {"readd_unchanged_rehash_s", big_rehash_s}}}};
  std::error_code ec;
  fs::remove_all(work, ec);
  return aion::bench::write_results(j, out, "dataset_bench") ? 0 : 1;
}
