// logparse_bench: how fast aion parses and matches logs on one core, against `wc -l` on the
// same file as the speed-of-light reference (reading every byte and finding line ends).
//  1. Parsing: a file of at least --size-mb built by repeating the Loghub-2k `*_2k.log`
//     files (raw lines in their own formats). Each line gets its data set's header split
//     (bench/loghub_settings.toml), masking (data/logs/masks.toml) and
//     template mining, one miner per data set, as bench/loghub_eval does; one thread.
//  2. Signature matching: a kernel log of the same size built by repeating real kernel lines
//     (tests/fixtures/logs/gpu_fault.log, which match signatures, and Loghub's Linux and BGL
//     logs, which mostly do not), every line run through the diagnose matcher (data/signatures).
// Both files are read from the page cache (read once before timing); the timings include
// reading them. Prints a table and writes bench/results/logparse.json; the files are deleted
// at the end unless --keep.
//   logparse_bench [--size-mb N] [--dir DIR] [--keep] [--loghub DIR] [--out FILE] [--help]
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "aion/core/config.h"
#include "aion/core/json.h"
#include "aion/core/process.h"
#include "aion/diagnose/catalog.h"
#include "aion/diagnose/matcher.h"
#include "aion/logs/header.h"
#include "aion/logs/masks.h"
#include "aion/logs/miner.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  std::uint64_t size_mb = 1024;
  fs::path dir = fs::temp_directory_path();
  bool keep = false;
  fs::path loghub = fs::path(AION_SOURCE_DIR) / ".." / "shared" / "data" / "loghub-2k";
  fs::path settings = fs::path(AION_SOURCE_DIR) / "bench" / "loghub_settings.toml";
  fs::path masks = fs::path(AION_SOURCE_DIR) / "data" / "logs" / "masks.toml";
  fs::path signatures = fs::path(AION_SOURCE_DIR) / "data" / "signatures";
  fs::path fixtures = fs::path(AION_SOURCE_DIR) / "tests" / "fixtures" / "logs";
  fs::path out = fs::path(AION_BENCH_RESULTS_DIR) / "logparse.json";
};

const char* kUsage =
    "usage: logparse_bench [--size-mb N] [--dir DIR] [--keep] [--loghub DIR] [--out FILE]\n"
    "  --size-mb N   size of each generated file in MiB (default 1024)\n"
    "  --dir DIR     where to write the generated files (default the temp directory)\n"
    "  --keep        keep the generated files\n"
    "  --loghub DIR  Loghub-2k (default ../shared/data/loghub-2k)\n"
    "  --out FILE    JSON results (default bench/results/logparse.json)\n";

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "logparse_bench: %s\n", msg.c_str());
  std::exit(2);
}

bool parse_args(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die(k + " needs a value");
      return argv[++i];
    };
    if (k == "--size-mb") {
      a.size_mb = std::strtoull(next().c_str(), nullptr, 10);
      if (a.size_mb == 0) die("--size-mb must be a positive number");
    } else if (k == "--dir") {
      a.dir = next();
    } else if (k == "--keep") {
      a.keep = true;
    } else if (k == "--loghub") {
      a.loghub = next();
    } else if (k == "--out") {
      a.out = next();
    } else if (k == "--help" || k == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else {
      std::fputs(kUsage, stderr);
      return false;
    }
  }
  return true;
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) die("cannot read " + p.string());
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
  }
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

// Progress on stderr: a self-overwriting line on a terminal, a line per quarter otherwise.
class Progress {
 public:
  Progress(std::string what, std::uint64_t total)
      : what_(std::move(what)), total_(total), tty_(isatty(STDERR_FILENO) != 0) {}
  void update(std::uint64_t done) {
    int pct = total_ ? static_cast<int>(done * 100 / total_) : 100;
    int step = tty_ ? 1 : 25;
    if (pct / step == shown_ / step) return;
    shown_ = pct;
    if (tty_) {
      std::fprintf(stderr, "\r%s: %3d%%", what_.c_str(), pct);
    } else {
      std::fprintf(stderr, "%s: %d%%\n", what_.c_str(), pct);
    }
  }
  void done() {
    if (tty_) std::fprintf(stderr, "\r%s: done\n", what_.c_str());
  }

 private:
  std::string what_;
  std::uint64_t total_;
  bool tty_;
  int shown_ = -1;
};

// Writes `block` (whole lines) again and again until the file holds at least `bytes`.
// Returns the number of whole repetitions written.
std::uint64_t write_repeated(const fs::path& file, const std::string& block, std::uint64_t bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) die("cannot write " + file.string());
  Progress progress("writing " + file.filename().string(), bytes);
  std::uint64_t written = 0, reps = 0;
  while (written < bytes) {
    out.write(block.data(), static_cast<std::streamsize>(block.size()));
    written += block.size();
    ++reps;
    progress.update(std::min(written, bytes));
  }
  out.flush();
  if (!out) die("writing " + file.string() + " failed (disk full?)");
  progress.done();
  return reps;
}

// Reads `file` in large chunks and calls fn(line) for every line (without its '\n').
template <typename Fn>
std::uint64_t for_each_line(const fs::path& file, const std::string& what, Fn&& fn) {
  std::ifstream in(file, std::ios::binary);
  if (!in) die("cannot read " + file.string());
  const std::uint64_t total = fs::file_size(file);
  Progress progress(what, total);
  constexpr std::size_t kChunk = 8 << 20;
  std::vector<char> buf(kChunk + 1);
  std::size_t have = 0;
  std::uint64_t lines = 0, consumed = 0;
  for (;;) {
    in.read(buf.data() + have, static_cast<std::streamsize>(kChunk - have));
    std::size_t got = static_cast<std::size_t>(in.gcount());
    have += got;
    bool eof = got == 0;
    std::size_t start = 0;
    for (;;) {
      const void* nl = std::memchr(buf.data() + start, '\n', have - start);
      if (nl == nullptr) break;
      std::size_t end = static_cast<std::size_t>(static_cast<const char*>(nl) - buf.data());
      fn(std::string_view(buf.data() + start, end - start));
      ++lines;
      start = end + 1;
    }
    if (eof) {
      if (start < have) {
        fn(std::string_view(buf.data() + start, have - start));
        ++lines;
      }
      break;
    }
    if (start == 0 && have == kChunk) die(file.string() + ": a line longer than the buffer");
    consumed += start;
    std::memmove(buf.data(), buf.data() + start, have - start);
    have -= start;
    progress.update(consumed);
  }
  progress.done();
  return lines;
}

void warm_cache(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<char> buf(8 << 20);
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
  }
}

// Rates are per CPU second (user + system) of the work, so that other programs on the
// machine do not count against it; wall seconds are reported beside them.
struct Figure {
  std::string name;
  std::uint64_t lines = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;      // wall
  double cpu_seconds = 0;  // user + system of the thread (or of wc)
  double lines_per_s() const { return static_cast<double>(lines) / cpu_seconds; }
  double mb_per_s() const { return static_cast<double>(bytes) / cpu_seconds / 1e6; }
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double children_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  auto sec = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

// `wc -l FILE`, the real program, timed from start to exit.
Figure time_wc(const fs::path& file, std::uint64_t expect_lines) {
  warm_cache(file);
  aion::ProcessOptions opt;
  opt.argv = {"/usr/bin/wc", "-l", file.string()};
  auto t0 = Clock::now();
  double c0 = children_cpu_seconds();
  auto r = aion::run_process(opt);
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = children_cpu_seconds() - c0;
  if (!r) die("wc: " + r.error().message());
  if (!r->ok()) die("wc -l " + file.string() + ": " + r->describe());
  std::uint64_t n = std::strtoull(r->out.c_str(), nullptr, 10);
  if (n != expect_lines) {
    die("wc -l counts " + std::to_string(n) + " lines, the bench " + std::to_string(expect_lines));
  }
  return {"wc -l", n, fs::file_size(file), s, cpu};
}

struct Dataset {
  std::string name;
  aion::logs::HeaderFormat format;
  aion::logs::MaskSet masks;
  std::size_t lines = 0;
};

std::vector<Dataset> load_datasets(const Args& a, std::string& block) {
  aion::ConfigSchema element;
  element.string("name", "", "data set").string("format", "", "header").string("half", "", "");
  aion::ConfigSchema schema;
  schema.integer("schema_version", 1, "", 1, 1).table_array("dataset", element, "");
  auto cfg = aion::Config::load(a.settings, schema);
  if (!cfg) die(cfg.error().message());
  auto base = aion::logs::MaskSet::load(a.masks);
  if (!base) die(base.error().message());
  std::vector<Dataset> out;
  for (const auto& t : cfg->get_tables("dataset")) {
    std::string name = t.get_string("name");
    auto format = aion::logs::HeaderFormat::parse(t.get_string("format"));
    if (!format) die(name + ": " + format.error().message());
    auto lines = read_lines(a.loghub / name / (name + "_2k.log"));
    for (const auto& l : lines) {
      block += l;
      block += '\n';
    }
    out.push_back({name, std::move(*format), base->combined(aion::logs::MaskSet()), lines.size()});
  }
  if (out.empty()) die(a.settings.string() + ": no data sets");
  return out;
}

Figure bench_parse(const fs::path& file, std::vector<Dataset>& sets, std::size_t& templates) {
  std::vector<std::unique_ptr<aion::logs::TemplateMiner>> miners;
  for (auto& d : sets)
    miners.push_back(
        std::make_unique<aion::logs::TemplateMiner>(d.masks.combined(aion::logs::MaskSet())));
  std::size_t set = 0, left = sets[0].lines;
  std::uint64_t params = 0, unsplit = 0;
  aion::logs::HeaderView header;
  warm_cache(file);
  auto t0 = Clock::now();
  double c0 = thread_cpu_seconds();
  std::uint64_t lines = for_each_line(file, "parsing", [&](std::string_view line) {
    while (left == 0) {
      set = (set + 1) % sets.size();
      left = sets[set].lines;
    }
    --left;
    const bool split = sets[set].format.split(line, header);
    if (!split) ++unsplit;
    auto p = miners[set]->add(split ? header.content : line);
    params += p.params.size();
  });
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = thread_cpu_seconds() - c0;
  templates = 0;
  for (const auto& m : miners) templates += m->templates().size();
  std::fprintf(stderr, "parsing: %llu parameters, %llu lines without their header\n",
               static_cast<unsigned long long>(params), static_cast<unsigned long long>(unsplit));
  return {"parse (header+mask+mine)", lines, fs::file_size(file), s, cpu};
}

Figure bench_match(const fs::path& file, const aion::diagnose::Matcher& m, std::uint64_t& hit) {
  warm_cache(file);
  hit = 0;
  auto t0 = Clock::now();
  double c0 = thread_cpu_seconds();
  std::uint64_t lines = for_each_line(
      file, "matching", [&](std::string_view line) { hit += !m.match(line).empty(); });
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return {"signature match", lines, fs::file_size(file), s, thread_cpu_seconds() - c0};
}

aion::Json figure_json(const Figure& f, const Figure& wc) {
  return {{"lines", f.lines},
          {"bytes", f.bytes},
          {"wall_seconds", f.seconds},
          {"cpu_seconds", f.cpu_seconds},
          {"lines_per_s", f.lines_per_s()},
          {"mb_per_s", f.mb_per_s()},
          {"share_of_wc_l_speed", f.lines_per_s() / wc.lines_per_s()}};
}

void print_row(const Figure& f, const Figure& wc) {
  std::printf("%-26s %12llu %8.2f %8.2f %13.0f %9.1f %8.4f\n", f.name.c_str(),
              static_cast<unsigned long long>(f.lines), f.seconds, f.cpu_seconds, f.lines_per_s(),
              f.mb_per_s(), f.lines_per_s() / wc.lines_per_s());
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parse_args(argc, argv, a)) return 2;
  if (!fs::exists(a.loghub)) die("Loghub-2k not found at " + a.loghub.string() + " (--loghub)");
  const std::uint64_t bytes = a.size_mb << 20;
  std::error_code ec;
  auto space = fs::space(a.dir, ec);
  if (!ec && space.available < 2 * bytes + (256u << 20)) {
    die(a.dir.string() + " has " + std::to_string(space.available >> 20) + " MiB free; " +
        std::to_string(2 * (bytes >> 20)) + " MiB are needed (--dir, --size-mb)");
  }
  const std::string tag = std::to_string(getpid());
  const fs::path parse_file = a.dir / ("aion-logparse-loghub-" + tag + ".log");
  const fs::path kernel_file = a.dir / ("aion-logparse-kernel-" + tag + ".log");

  // Parsing.
  std::string block;
  std::vector<Dataset> sets = load_datasets(a, block);
  std::uint64_t reps = write_repeated(parse_file, block, bytes);
  std::uint64_t block_lines = 0;
  for (const auto& d : sets) block_lines += d.lines;
  std::size_t templates = 0;
  Figure parse = bench_parse(parse_file, sets, templates);
  if (parse.lines != reps * block_lines) die("parsed line count does not match the file");
  Figure parse_wc = time_wc(parse_file, parse.lines);
  if (!a.keep) fs::remove(parse_file);

  // Signature matching.
  auto catalog = aion::diagnose::Catalog::load_dir(a.signatures);
  if (!catalog) die(catalog.error().message());
  auto matcher = aion::diagnose::Matcher::build(*catalog);
  if (!matcher) die(matcher.error().message());
  std::string kblock;
  for (const fs::path& p : {a.fixtures / "gpu_fault.log", a.loghub / "Linux" / "Linux_2k.log",
                            a.loghub / "BGL" / "BGL_2k.log"}) {
    for (const auto& l : read_lines(p)) {
      kblock += l;
      kblock += '\n';
    }
  }
  write_repeated(kernel_file, kblock, bytes);
  std::uint64_t hit = 0;
  Figure match = bench_match(kernel_file, **matcher, hit);
  Figure match_wc = time_wc(kernel_file, match.lines);
  if (!a.keep) fs::remove(kernel_file);

  std::printf(
      "files of %llu MiB; one thread; page cache warm; rates per CPU second; share = "
      "lines/s / wc -l lines/s\n",
      static_cast<unsigned long long>(a.size_mb));
  std::printf("%-26s %12s %8s %8s %13s %9s %8s\n", "what", "lines", "wall s", "cpu s", "lines/s",
              "MB/s", "share");
  print_row(parse_wc, parse_wc);
  print_row(parse, parse_wc);
  print_row(match_wc, match_wc);
  print_row(match, match_wc);
  std::printf(
      "parsing: %zu templates over %zu data sets; matching: %zu patterns, %.1f%% of "
      "lines hit a signature\n",
      templates, sets.size(), (*matcher)->pattern_count(),
      100.0 * static_cast<double>(hit) / static_cast<double>(match.lines));

  aion::Json out{
      {"benchmark", "logparse"},
      {"size_mb", a.size_mb},
      {"threads", 1},
      {"rates", "per CPU second (user + system), page cache warm"},
      {"parse",
       {{"input", "Loghub-2k *_2k.log files (" + std::to_string(sets.size()) + " sets) repeated"},
        {"wc_l", figure_json(parse_wc, parse_wc)},
        {"parse", figure_json(parse, parse_wc)},
        {"templates", templates}}},
      {"match",
       {{"input", "gpu_fault.log + Loghub Linux_2k + BGL_2k repeated"},
        {"wc_l", figure_json(match_wc, match_wc)},
        {"match", figure_json(match, match_wc)},
        {"patterns", (*matcher)->pattern_count()},
        {"lines_with_hits", hit}}}};
  fs::create_directories(a.out.parent_path());
  std::ofstream(a.out) << out.dump(2) << "\n";
  return 0;
}
