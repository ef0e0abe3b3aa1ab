// DetectorSet: what the privacy gate looks for, loaded from data/privacy/*.toml.
//
// A detector is an RE2 expression with a category (secret, email, ip, ...), a capture group
// that holds the value, an optional validator run on each candidate (Luhn, check digits,
// entropy, JWT header...) and a confidence. Word lists the validators consult (top-level
// domains, system accounts, placeholder values) live in the same files as [[list]] tables.
// Loading validates everything through core's Config loader: unknown keys and wrong types
// fail with file:line:col, and a bad regex, unknown category or validator, or duplicate id
// fails naming file:line of the [[detector]] entry and the field.
// A DetectorSet is an immutable value after loading; thread-safe, share it between threads.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion::privacy {

inline constexpr int kDetectorSchemaVersion = 1;

// The categories, in the order findings win when they overlap (a secret beats an e-mail
// address that contains it, an e-mail address beats its domain).
enum class Category {
  kSecret,
  kNationalId,
  kCard,
  kEmail,
  kPhone,
  kIp,
  kMac,
  kSerial,
  kUser,
  kHost
};
inline constexpr int kCategoryCount = 10;

// "secret", "national_id", "card", "email", "phone", "ip", "mac", "serial", "user", "host".
std::string_view category_name(Category c);
// The placeholder stem: "SECRET", "EMAIL", ...
std::string_view category_token(Category c);
std::optional<Category> category_from(std::string_view name);

struct Detector {
  std::string id;  // "github-token", unique over all files
  Category category = Category::kSecret;
  std::string regex;       // RE2 syntax
  int group = 1;           // capture group holding the value; 0 = the whole match
  std::string validate;    // "" or a validator name (validators.h)
  double min_entropy = 0;  // for validate = "entropy": bits per character
  double confidence = 0.5;
  bool multiline = false;  // matched over the whole text rather than line by line
  // Literals (case-insensitive) of which every match contains at least one: the detector
  // runs only on lines holding one. A multi-line detector's literal must stand on the first
  // line of its match: it runs from the first line holding one to the end of the text.
  // Empty: it runs over the whole text.
  std::vector<std::string> prefilter;
  std::string source;
  std::string file;  // file:line of the entry, for messages
};

class DetectorSet {
 public:
  // Every *.toml in `dir`, in name order, then every *.toml of `extra_dir` when it is not
  // empty (site files add detectors and extend lists). kNotFound when `dir` is missing.
  static Result<DetectorSet> load_dir(const std::filesystem::path& dir,
                                      const std::filesystem::path& extra_dir = {});
  // One TOML document; `file` names it in errors.
  static Result<DetectorSet> parse(std::string_view text, const std::string& file);

  // Adds `other`'s detectors (a duplicate id is kConfig) and list values.
  Status merge(DetectorSet other);

  const std::vector<Detector>& detectors() const { return detectors_; }
  // The named list, lower-cased; empty when no file defines it.
  const std::set<std::string, std::less<>>& list(std::string_view name) const;

 private:
  std::vector<Detector> detectors_;
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> lists_;
};

}  // namespace aion::privacy
