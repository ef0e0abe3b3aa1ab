// MaskSet: the rules that hide a log line's variables (IPs, hex ids, block ids, paths,
// numbers) before template mining, loaded from a TOML data file (data/logs/masks.toml).
//
// A rule is a name, an RE2 regular expression and a replacement token such as "<IP>". When
// the expression has a capturing group, only the first group's text is replaced (so
// 'blk_(-?\d+)' keeps the "blk_" prefix); otherwise the whole match is. Rules apply in file
// order, each to the output of the previous ones. The masked text carries each hidden value
// as one placeholder byte (kPlaceholder); the values themselves come back in `values`, in
// the order their placeholders appear, so a miner can report a line's parameters.
// A MaskSet is immutable after loading; thread-safe, use it from any thread.
//
// Speed: a rule may name a built-in scanner (`scanner = "ip"`), hand-written code that gives
// RE2's leftmost-first result for that rule's expression and is skipped when the line lacks
// a byte every match needs. Loading checks each named scanner against RE2 on probe lines and
// refuses the file when they differ (an edited expression with a stale scanner name); a rule
// without a scanner runs through RE2. reference() runs every rule through RE2: tests compare
// both on whole corpora.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace re2 {
class RE2;
}

namespace aion::logs {

// Stands for one masked value in masked text. Log text never holds this control byte (it is
// stripped from input lines).
inline constexpr char kPlaceholder = '\x1a';

struct MaskRule {
  std::string name;          // "ip"
  std::string regex;         // RE2 syntax
  std::string token;         // "<IP>", shown in parameter listings
  std::string scanner = {};  // a built-in scanner standing for `regex`; "" runs RE2
};

struct MaskedText {
  std::string text;                 // the line with every masked value as kPlaceholder
  std::vector<std::string> values;  // the hidden values, in placeholder order
  std::vector<int> rules;           // for each value, the index of the rule that hid it
};

class MaskSet {
 public:
  MaskSet();
  ~MaskSet();
  MaskSet(MaskSet&&) noexcept;
  MaskSet& operator=(MaskSet&&) noexcept;

  // Compiles the rules; kConfig naming `source` and the rule when a regex does not compile,
  // matches the empty string, or a field is empty; kCorrupt when a named scanner is unknown
  // or does not mask the probe lines exactly as the rule's regex does.
  static Result<MaskSet> from_rules(std::vector<MaskRule> rules, std::string_view source);
  // Parses a masks file: `schema_version = 1` and [[mask]] tables with name, regex, token
  // (and an optional `source` note). Errors name the file and the offending key.
  static Result<MaskSet> parse(std::string_view toml_text, std::string source);
  static Result<MaskSet> load(const std::filesystem::path& file);

  // This set followed by the rules of `more` (per-source extras after the defaults).
  MaskSet combined(const MaskSet& more) const;

  MaskedText apply(std::string_view line) const;
  // As apply(), reusing `out`'s buffers (no allocation once they are large enough).
  void apply(std::string_view line, MaskedText& out) const;
  // This set with every rule run through RE2: the definition the scanners must equal.
  MaskSet reference() const;
  const std::vector<MaskRule>& rules() const { return rules_; }

 private:
  struct Found;
  static Status check_scanner(const MaskRule& rule, std::shared_ptr<const re2::RE2> re, int scanner,
                              const std::string& where);
  bool find(std::size_t rule, std::string_view text, std::size_t pos, Found& found) const;

  std::vector<MaskRule> rules_;
  std::vector<std::shared_ptr<const re2::RE2>> compiled_;
  std::vector<int> scanners_;  // per rule: the hand-written scanner, 0 = RE2
};

}  // namespace aion::logs
