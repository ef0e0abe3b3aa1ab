#include "mutator.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

// The sanitizers call this when they report an error and are about to exit; absent (null)
// in builds without them.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace aion::fuzz {
namespace {

// Values that sit on the edges parsers get wrong: sizes, signs, widths.
constexpr std::uint64_t kInteresting[] = {0,
                                          1,
                                          0x7f,
                                          0x80,
                                          0xff,
                                          0x100,
                                          0x7fff,
                                          0x8000,
                                          0xffff,
                                          0x10000,
                                          0x7fffffff,
                                          0x80000000,
                                          0xffffffff,
                                          0x100000000,
                                          0x7fffffffffffffff,
                                          0x8000000000000000,
                                          0xffffffffffffffff};

// Numbers as text that break naive conversions.
const char* const kInterestingNumbers[] = {"0",
                                           "-0",
                                           "-1",
                                           "1e308",
                                           "-1e308",
                                           "1e-400",
                                           "nan",
                                           "NaN",
                                           "+Inf",
                                           "-inf",
                                           "0x10",
                                           "4294967295",
                                           "4294967296",
                                           "9223372036854775807",
                                           "9223372036854775808",
                                           "-9223372036854775809",
                                           "18446744073709551616",
                                           "99999999999999999999999999",
                                           "1.",
                                           ".5",
                                           "1_000",
                                           "007",
                                           "",
                                           " ",
                                           "1e",
                                           "-",
                                           "+",
                                           "2147483648"};

// What a crash needs at hand inside a signal handler or a sanitizer callback.
struct Current {
  const std::string* input = nullptr;
  char path[4096] = {};
  std::uint64_t iteration = 0;
};
Current g_current;

void write_str(int fd, const char* s) {
  ssize_t r = ::write(fd, s, std::strlen(s));
  (void)r;  // nothing to do about a failed write while crashing
}

// Async-signal-safe: writes the input being run and names it on stderr.
void save_current() {
  if (!g_current.input) return;
  int fd = ::open(g_current.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    std::size_t off = 0;
    while (off < g_current.input->size()) {
      ssize_t n = ::write(fd, g_current.input->data() + off, g_current.input->size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }
  char num[24];
  char* p = num + sizeof num;
  *--p = '\0';
  std::uint64_t v = g_current.iteration;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  write_str(2, "\nfuzz: crash on input ");
  write_str(2, p);
  write_str(2, "; the input is in ");
  write_str(2, g_current.path);
  write_str(2, " (replay: AION_FUZZ_INPUT=<that file>)\n");
  g_current.input = nullptr;
}

void on_fatal_signal(int sig) {
  save_current();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_crash_hooks() {
  static bool done = false;
  if (done) return;
  done = true;
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(save_current);
#ifndef __SANITIZE_ADDRESS__
  // Without ASan, catch the crash ourselves (ASan's own handlers report it, then call the
  // death callback).
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::signal(sig, on_fatal_signal);
#else
  ::signal(SIGABRT, on_fatal_signal);  // abort_on_error=1 after the report, or an assert
#endif
}

std::filesystem::path crash_dir() {
  if (const char* d = std::getenv("AION_FUZZ_CRASH_DIR"); d && *d) return d;
  return std::filesystem::current_path();
}

std::uint64_t env_number(const char* name, std::uint64_t def) {
  const char* v = std::getenv(name);
  if (!v || !*v) return def;
  char* end = nullptr;
  unsigned long long n = std::strtoull(v, &end, 0);
  if (end == v || *end != '\0') {
    std::fprintf(stderr, "fuzz: %s=%s is not a number; using %llu\n", name, v,
                 static_cast<unsigned long long>(def));
    return def;
  }
  return n;
}

}  // namespace

Mutator::Mutator(std::uint64_t seed, std::vector<std::string> seeds,
                 std::vector<std::string> tokens, bool text)
    : rng_(seed), corpus_(std::move(seeds)), tokens_(std::move(tokens)), text_(text) {
  if (corpus_.empty()) corpus_.push_back("");
  seeds_ = corpus_.size();
}

std::uint64_t Mutator::pick(std::uint64_t n) {
  return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_);
}

std::string Mutator::next() {
  std::string s = corpus_[pick(corpus_.size())];
  // Mostly few mutations (stay close to valid and get deep), sometimes many.
  int rounds = 1 + static_cast<int>(pick(4));
  if (pick(8) == 0) rounds += static_cast<int>(pick(12));
  for (int i = 0; i < rounds; ++i) mutate(s);
  if (s.size() > max_size) s.resize(max_size);
  return s;
}

void Mutator::keep(std::string input) {
  constexpr std::size_t kMaxExtras = 512;
  if (input.size() > max_size) return;
  if (corpus_.size() < seeds_ + kMaxExtras) {
    corpus_.push_back(std::move(input));
  } else {
    corpus_[seeds_ + next_extra_] = std::move(input);
    next_extra_ = (next_extra_ + 1) % kMaxExtras;
  }
}

void Mutator::mutate(std::string& s) {
  const int kinds = text_ ? 12 : 9;
  switch (pick(kinds)) {
    case 0: return flip_bit(s);
    case 1: return set_byte(s);
    case 2: return insert_bytes(s);
    case 3: return erase_bytes(s);
    case 4: return duplicate_range(s);
    case 5: return splice(s);
    case 6: return interesting(s);
    case 7: return truncate(s);
    case 8: return tokens_.empty() ? flip_bit(s) : insert_token(s);
    case 9: return insert_token(s);
    case 10: return replace_number(s);
    default: return line_edit(s);
  }
}

void Mutator::flip_bit(std::string& s) {
  if (s.empty()) return insert_bytes(s);
  auto pos = pick(s.size());
  s[pos] = static_cast<char>(static_cast<unsigned char>(s[pos]) ^ (1u << pick(8)));
}

void Mutator::set_byte(std::string& s) {
  if (s.empty()) return insert_bytes(s);
  auto pos = pick(s.size());
  static const char special[] = {'\0', '\n', '\r', '"', '\\', '=', '{', '}', '[',
                                 ']',  ',',  ';',  ' ', '\t', '%', '&', '?', '\x7f'};
  s[pos] = pick(2) ? static_cast<char>(pick(256)) : special[pick(sizeof special)];
}

void Mutator::insert_bytes(std::string& s) {
  auto pos = pick(s.size() + 1);
  auto n = 1 + pick(pick(8) == 0 ? 256 : 8);
  std::string b(n, '\0');
  const char fill = static_cast<char>(pick(256));
  bool same = pick(2);
  for (auto& c : b) c = same ? fill : static_cast<char>(pick(256));
  s.insert(pos, b);
}

void Mutator::erase_bytes(std::string& s) {
  if (s.empty()) return;
  auto pos = pick(s.size());
  auto n = 1 + pick(std::min<std::uint64_t>(s.size() - pos, pick(4) == 0 ? 256 : 8));
  s.erase(pos, n);
}

void Mutator::duplicate_range(std::string& s) {
  if (s.empty()) return;
  auto pos = pick(s.size());
  auto n = 1 + pick(std::min<std::uint64_t>(s.size() - pos, 512));
  std::string part = s.substr(pos, n);
  auto copies = 1 + pick(pick(8) == 0 ? 64 : 3);
  std::string rep;
  for (std::uint64_t i = 0; i < copies && rep.size() < max_size; ++i) rep += part;
  s.insert(pick(s.size() + 1), rep);
}

void Mutator::splice(std::string& s) {
  const std::string& other = corpus_[pick(corpus_.size())];
  if (other.empty()) return;
  auto from = pick(other.size());
  auto n = 1 + pick(other.size() - from);
  auto at = pick(s.size() + 1);
  if (pick(2)) {
    s = s.substr(0, at) + other.substr(from);  // head of one, tail of another
  } else {
    s.insert(at, other.substr(from, n));
  }
}

void Mutator::interesting(std::string& s) {
  const std::uint64_t v = kInteresting[pick(std::size(kInteresting))];
  const int widths[] = {1, 2, 4, 8};
  const int w = widths[pick(4)];
  if (s.size() < static_cast<std::size_t>(w)) return insert_bytes(s);
  auto pos = pick(s.size() - w + 1);
  const bool big = pick(2);
  for (int i = 0; i < w; ++i) {
    int shift = 8 * (big ? w - 1 - i : i);
    s[pos + i] = static_cast<char>((v >> shift) & 0xff);
  }
}

void Mutator::truncate(std::string& s) {
  if (s.empty()) return;
  s.resize(pick(s.size()));
}

void Mutator::insert_token(std::string& s) {
  if (tokens_.empty()) return insert_bytes(s);
  const std::string& t = tokens_[pick(tokens_.size())];
  auto pos = pick(s.size() + 1);
  if (pick(3) == 0 && !s.empty()) {
    // Replace a run of the same length class instead of inserting.
    auto n = 1 + pick(std::min<std::uint64_t>(s.size() - std::min<std::uint64_t>(pos, s.size()) + 1,
                                              16));
    if (pos < s.size()) s.erase(pos, n);
  }
  s.insert(std::min<std::size_t>(pos, s.size()), t);
}

void Mutator::replace_number(std::string& s) {
  // Find a digit run near a random place and replace it.
  if (s.empty()) return insert_token(s);
  auto start = pick(s.size());
  std::size_t i = start;
  while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == s.size()) {
    i = 0;
    while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == s.size()) return insert_token(s);
  }
  std::size_t j = i;
  while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
  std::string with;
  switch (pick(3)) {
    case 0: with = kInterestingNumbers[pick(std::size(kInterestingNumbers))]; break;
    case 1:
      with = std::to_string(static_cast<std::int64_t>(kInteresting[pick(std::size(kInteresting))]));
      break;
    default: {
      // Off by one from what was there.
      // Wrapping at the ends of the range (in unsigned arithmetic: no overflow).
      const auto n = static_cast<unsigned long long>(std::atoll(s.substr(i, j - i).c_str()));
      with = std::to_string(static_cast<long long>(pick(2) ? n + 1 : n - 1));
    }
  }
  s.replace(i, j - i, with);
}

void Mutator::line_edit(std::string& s) {
  std::vector<std::size_t> starts{0};
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\n' && i + 1 < s.size()) starts.push_back(i + 1);
  auto line = [&](std::size_t k) {
    std::size_t b = starts[k];
    std::size_t e = k + 1 < starts.size() ? starts[k + 1] : s.size();
    return std::pair{b, e};
  };
  auto [b, e] = line(pick(starts.size()));
  switch (pick(4)) {
    case 0: s.erase(b, e - b); break;                // drop a line
    case 1: s.insert(b, s.substr(b, e - b)); break;  // repeat it
    case 2: {                                        // move a line from another seed here
      const std::string& other = corpus_[pick(corpus_.size())];
      auto lines = lines_of({other});
      if (!lines.empty()) s.insert(b, lines[pick(lines.size())] + "\n");
      break;
    }
    default: {  // swap with another line
      auto [b2, e2] = line(pick(starts.size()));
      if (b2 == b) break;
      std::string l1 = s.substr(b, e - b), l2 = s.substr(b2, e2 - b2);
      if (b < b2) {
        s.replace(b2, e2 - b2, l1);
        s.replace(b, e - b, l2);
      } else {
        s.replace(b, e - b, l2);
        s.replace(b2, e2 - b2, l1);
      }
    }
  }
}

FuzzOptions fuzz_options(std::uint64_t default_iterations) {
  FuzzOptions o;
  o.seed = env_number("AION_FUZZ_SEED", kDefaultSeed);
  o.iterations = env_number("AION_FUZZ_ITERATIONS", default_iterations);
  return o;
}

bool run_fuzz(std::string_view name, Mutator& mutator, const FuzzOptions& options,
              const std::function<Verdict(std::string_view input)>& target) {
  install_crash_hooks();
  const std::filesystem::path dir = crash_dir();
  const std::string file =
      (dir / ("fuzz-crash-" + std::string(name) + "-seed" + std::to_string(options.seed))).string();
  std::snprintf(g_current.path, sizeof g_current.path, "%s", file.c_str());

  auto report = [&](const std::string& input, std::uint64_t i, const std::string& what) {
    std::ofstream(file, std::ios::binary) << input;
    ADD_FAILURE() << "fuzz " << name << ": input " << i << " (seed " << options.seed
                  << "): " << what << "\n  the input is in " << file
                  << "\n  replay: AION_FUZZ_INPUT=" << file;
  };

  if (const char* replay = std::getenv("AION_FUZZ_INPUT"); replay && *replay) {
    std::string input = read_file(replay);
    std::printf("fuzz %.*s: replaying %s (%zu bytes)\n", static_cast<int>(name.size()), name.data(),
                replay, input.size());
    g_current.input = &input;
    Verdict v = target(input);
    g_current.input = nullptr;
    std::printf("fuzz %.*s: %s\n", static_cast<int>(name.size()), name.data(),
                !v.violation.empty() ? v.violation.c_str()
                : v.accepted         ? "accepted"
                                     : "rejected");
    if (!v.violation.empty()) ADD_FAILURE() << v.violation;
    return v.violation.empty();
  }

  std::printf(
      "fuzz %.*s: seed=%llu iterations=%llu seeds=%zu (override with AION_FUZZ_SEED, "
      "AION_FUZZ_ITERATIONS)\n",
      static_cast<int>(name.size()), name.data(), static_cast<unsigned long long>(options.seed),
      static_cast<unsigned long long>(options.iterations), mutator.corpus_size());
  std::fflush(stdout);
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t accepted = 0;
  std::string input;
  for (std::uint64_t i = 0; i < options.iterations; ++i) {
    input = mutator.next();
    g_current.iteration = i;
    g_current.input = &input;
    Verdict v = target(input);
    g_current.input = nullptr;
    if (!v.violation.empty()) {
      report(input, i, v.violation);
      return false;
    }
    if (v.accepted) {
      ++accepted;
      if (mutator.pick(8) == 0) mutator.keep(input);
    }
  }
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("fuzz %.*s: %llu inputs in %.2f s (%.0f inputs/s), %llu accepted (%.1f%%)\n",
              static_cast<int>(name.size()), name.data(),
              static_cast<unsigned long long>(options.iterations), s,
              s > 0 ? static_cast<double>(options.iterations) / s : 0.0,
              static_cast<unsigned long long>(accepted),
              options.iterations
                  ? 100.0 * static_cast<double>(accepted) / static_cast<double>(options.iterations)
                  : 0.0);
  return true;
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> read_seeds(const std::filesystem::path& dir,
                                    const std::vector<std::string>& suffixes,
                                    std::size_t max_bytes) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string n = it->path().filename().string();
    bool match = suffixes.empty();
    for (const auto& suf : suffixes)
      if (n.size() >= suf.size() && n.compare(n.size() - suf.size(), suf.size(), suf) == 0)
        match = true;
    if (match) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (const auto& f : files) {
    std::string s = read_file(f);
    if (s.size() > max_bytes) s.resize(max_bytes);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> lines_of(const std::vector<std::string>& texts) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& t : texts) {
    std::size_t b = 0;
    while (b < t.size()) {
      std::size_t e = t.find('\n', b);
      if (e == std::string::npos) e = t.size();
      std::string l = t.substr(b, e - b);
      if (!l.empty() && seen.insert(l).second) out.push_back(std::move(l));
      b = e + 1;
    }
  }
  return out;
}

}  // namespace aion::fuzz
