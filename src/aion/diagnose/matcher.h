// Matcher: runs every pattern of a catalog over a log line in one pass (an RE2::Set, a
// single DFA), then extracts the named captures (device references) of the patterns that
// matched. Fallback signatures count only when nothing more specific matched the line.
// Immutable after build(); thread-safe: match() may be called from several threads at once.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/diagnose/catalog.h"

namespace aion::diagnose {

struct Hit {
  const Signature* signature = nullptr;
  std::map<std::string, std::string> captures;  // group name -> text ("pci" -> "0000:07:00")
};

class Matcher {
 public:
  // The catalog must outlive the matcher. kInternal when RE2 cannot build the set (memory).
  static Result<std::unique_ptr<Matcher>> build(const Catalog& catalog);
  ~Matcher();

  // The signatures that match `line`, each once, in catalog order.
  std::vector<Hit> match(std::string_view line) const;
  std::size_t pattern_count() const;

 private:
  struct Impl;  // RE2's set and regexes (RE2::Set is a nested class: no forward declaration)
  Matcher();
  std::unique_ptr<Impl> impl_;
};

}  // namespace aion::diagnose
