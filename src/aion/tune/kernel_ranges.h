// KernelRanges: the ranges the kernel accepts for integer settings, loaded from
// data/tune/kernel_ranges.toml (schema_version 1, a source per range). Immutable once
// loaded; thread-safe to read from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion::tune {

// Ranges the kernel accepts for integer settings, from data/tune/kernel_ranges.toml.
class KernelRanges {
 public:
  struct Range {
    std::string key;
    std::int64_t min = 0;
    std::int64_t max = 0;
    std::string source;
  };
  static Result<KernelRanges> load(const std::filesystem::path& file);
  static Result<KernelRanges> parse(std::string_view text, const std::string& file);
  const Range* find(std::string_view key) const;

 private:
  std::vector<Range> ranges_;
};

std::filesystem::path default_kernel_ranges_file();

}  // namespace aion::tune
