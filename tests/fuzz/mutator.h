// A small deterministic mutation fuzzer for the parsers at aiond's trust boundary (GCC has no
// libFuzzer). A Mutator turns seed inputs (real files, blocks the store wrote, real requests) into
// variants: bit flips, byte insert/delete/duplicate, splices between seeds, interesting
// values, truncation, and for text formats token-aware edits (dictionary tokens, numbers,
// whole lines). run_fuzz() feeds a target `iterations` inputs, prints the seed so that a run
// reproduces, and on a crash (signal, sanitizer report) or a failed invariant writes the
// input to a file and prints its path.
//
// Environment: AION_FUZZ_SEED (the RNG seed, default kDefaultSeed), AION_FUZZ_ITERATIONS
// (inputs per target, default the target's own count), AION_FUZZ_INPUT (replay one file
// instead of fuzzing), AION_FUZZ_CRASH_DIR (where inputs that fail go, default the working
// directory). Not thread-safe: one fuzz loop per process at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace aion::fuzz {

inline constexpr std::uint64_t kDefaultSeed = 20261206;

// What a target says about one input: whether the parser accepted it (accepted inputs join
// the corpus now and then, which lets later mutations reach deeper), or the text of a broken
// invariant.
struct Verdict {
  bool accepted = false;
  std::string violation;  // non-empty: an invariant failed
};

class Mutator {
 public:
  // `seeds` must not be empty. `tokens`: the text format's dictionary (keywords, delimiters),
  // may be empty for binary formats. `text`: also do line- and number-aware edits.
  Mutator(std::uint64_t seed, std::vector<std::string> seeds, std::vector<std::string> tokens,
          bool text);

  // The next input: a seed with 1 to 4 stacked mutations, at most max_size bytes.
  std::string next();
  // Keeps an input that the target accepted as a further seed (bounded; old extras are
  // replaced in turn).
  void keep(std::string input);

  std::size_t max_size = 64 << 10;
  std::size_t corpus_size() const { return corpus_.size(); }
  std::uint64_t pick(std::uint64_t n);  // uniform in [0, n), n > 0

 private:
  void mutate(std::string& s);
  void flip_bit(std::string& s);
  void set_byte(std::string& s);
  void insert_bytes(std::string& s);
  void erase_bytes(std::string& s);
  void duplicate_range(std::string& s);
  void splice(std::string& s);
  void interesting(std::string& s);
  void truncate(std::string& s);
  void insert_token(std::string& s);
  void replace_number(std::string& s);
  void line_edit(std::string& s);

  std::mt19937_64 rng_;
  std::vector<std::string> corpus_;
  std::size_t seeds_;  // corpus_[0, seeds_) are the given seeds, never replaced
  std::size_t next_extra_ = 0;
  std::vector<std::string> tokens_;
  bool text_;
};

struct FuzzOptions {
  std::uint64_t seed = kDefaultSeed;
  std::uint64_t iterations = 0;
};

// The seed and iteration count for `target` (AION_FUZZ_SEED, AION_FUZZ_ITERATIONS).
FuzzOptions fuzz_options(std::uint64_t default_iterations);

// Runs `target` on `options.iterations` inputs from `mutator` (or on AION_FUZZ_INPUT only).
// Returns false after the first violated invariant (its input written and reported through
// ADD_FAILURE); a crash writes the input from a signal or sanitizer death callback and dies.
// Prints "fuzz NAME: seed=S iterations=N" first and the rate and acceptance last.
bool run_fuzz(std::string_view name, Mutator& mutator, const FuzzOptions& options,
              const std::function<Verdict(std::string_view input)>& target);

// Every regular file under `dir` (recursively) whose name ends in one of `suffixes` (all
// when empty), in name order, as seeds; at most max_bytes bytes of each.
std::vector<std::string> read_seeds(const std::filesystem::path& dir,
                                    const std::vector<std::string>& suffixes,
                                    std::size_t max_bytes = 64 << 10);
std::string read_file(const std::filesystem::path& file);

// The lines of `texts` (without '\n'), non-empty ones only, deduplicated, in order.
std::vector<std::string> lines_of(const std::vector<std::string>& texts);

}  // namespace aion::fuzz
