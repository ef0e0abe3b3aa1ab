// Redactor: finds secrets and personal data in text and replaces them with placeholders
// that can be restored. The one gate every byte that leaves the node passes.
//
// Matching: one case-insensitive multi-literal pass (Aho-Corasick over the detectors'
// prefilter literals) finds the lines where a keyed detector can match; only those detectors
// run on that line, screened first by one RE2::Set when the line points at several. Single-
// line detectors without literals (addresses, numbers) are combined into one RE2::Set that
// tells, line by line, which of them to run there; multi-line ones (PEM blocks) run from the
// first line holding their literal. Validators check each candidate. Values found in context
// (secrets, account names) are then searched for wherever else they stand in the text.
// Overlapping findings resolve by category rank (detectors.h), then length, within each
// cluster of overlapping candidates.
// A Redactor is immutable after construction and thread-safe, to share between threads; a
// PlaceholderMap belongs to one request and is not thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/core/host_fs.h"
#include "aion/privacy/detectors.h"
#include "aion/privacy/policy.h"

namespace aion::privacy {

struct Finding {
  Category category = Category::kSecret;
  std::string_view detector;  // the detector's id (owned by the Redactor)
  std::size_t begin = 0;      // byte span [begin, end) of the value in the scanned text
  std::size_t end = 0;
  double confidence = 0;
};

// Placeholders of one request: the same value gets the same placeholder in every text
// redacted with this map, numbered per category (<EMAIL_1>, <EMAIL_2>, <IP_1>...), and
// restore() puts the values back into text that comes back.
class PlaceholderMap {
 public:
  // The placeholder for `value`, allocating the next number of its category on first use,
  // skipping any placeholder that occurs literally in `input` (so restore stays exact).
  const std::string& assign(Category c, std::string_view value, std::string_view input);
  // As above, with the placeholder-shaped words of the input already collected
  // (placeholder_words()), for callers that assign many values from one input.
  const std::string& assign(Category c, std::string_view value,
                            const std::set<std::string, std::less<>>& reserved);
  // `text` with every known placeholder replaced by its value. A multi-line value was
  // written as its placeholder followed by its newlines; those are consumed when present.
  std::string restore(std::string_view text) const;
  std::size_t size() const { return by_token_.size(); }
  // Values replaced per category so far.
  const std::array<int, kCategoryCount>& counts() const { return next_; }

 private:
  std::map<std::pair<int, std::string>, std::string, std::less<>> by_value_;
  std::map<std::string, std::string, std::less<>> by_token_;
  std::array<int, kCategoryCount> next_{};
};

struct Redaction {
  std::string text;                       // the redacted text (same number of lines as the input)
  std::vector<Finding> findings;          // offsets into the input; only those replaced
  std::vector<std::string> placeholders;  // per finding
};

class Redactor {
 public:
  // Compiles the detectors; `users` (from local_users()) become an extra detector of known
  // account names. kConfig naming the detector when RE2 rejects the combined set.
  static Result<Redactor> create(DetectorSet detectors, Policy policy,
                                 std::vector<std::string> users = {});
  // Loads the detectors the policy names (data_dir()/privacy by default) and, when the policy
  // says so, the accounts of `host`'s /etc/passwd.
  static Result<Redactor> load(const Policy& policy, const HostFs& host);

  Redactor(Redactor&&) noexcept;
  Redactor& operator=(Redactor&&) noexcept;
  ~Redactor();

  // Every finding in `text` the policy replaces, sorted by offset, not overlapping.
  std::vector<Finding> scan(std::string_view text) const;
  // Like scan() but with every finding, the policy not applied.
  std::vector<Finding> scan_all(std::string_view text) const;
  // scan() and replace each finding with its placeholder from `map`.
  Redaction redact(std::string_view text, PlaceholderMap& map) const;

  const Policy& policy() const;
  const DetectorSet& detectors() const;

 private:
  struct Impl;
  explicit Redactor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Every "<WORD_N>"-shaped word of `text` (what a placeholder could collide with).
std::set<std::string, std::less<>> placeholder_words(std::string_view text);

// Non-system accounts of a passwd file (uid 1000..59999 and not in the system_user list).
std::vector<std::string> parse_passwd_users(std::string_view passwd);

}  // namespace aion::privacy
