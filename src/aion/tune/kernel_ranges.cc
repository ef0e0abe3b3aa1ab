#include "aion/tune/kernel_ranges.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include "aion/core/data_file.h"
#include "aion/core/paths.h"

namespace aion::tune {
namespace fs = std::filesystem;

Result<KernelRanges> KernelRanges::parse(std::string_view text, const std::string& file) {
  auto data = DataFile::parse(text, file);
  if (!data) return std::unexpected(data.error());
  if (auto st = data->expect_schema_version(1); !st) return std::unexpected(st.error());
  const toml::table& root = data->root();
  KernelRanges r;
  const toml::array* arr = root["range"].as_array();
  if (!arr) return fail(ErrorCode::kCorrupt, file + ": no [[range]] entries");
  for (const auto& e : *arr) {
    const toml::table* t = e.as_table();
    std::string at = file + ":" + std::to_string(e.source().begin.line);
    if (!t) return fail(ErrorCode::kCorrupt, at + ": range: must be a table");
    Range x;
    auto key = (*t)["key"].value<std::string>();
    auto min = (*t)["min"].value<std::int64_t>();
    auto max = (*t)["max"].value<std::int64_t>();
    auto source = (*t)["source"].value<std::string>();
    if (!key || !min || !max || !source || *min > *max)
      return fail(ErrorCode::kCorrupt, at + ": range needs key, min <= max and source");
    x.key = *key;
    x.min = *min;
    x.max = *max;
    x.source = *source;
    r.ranges_.push_back(std::move(x));
  }
  return r;
}

Result<KernelRanges> KernelRanges::load(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::unexpected(errno_error(errno, "reading " + file.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), file.string());
}

const KernelRanges::Range* KernelRanges::find(std::string_view key) const {
  for (const auto& r : ranges_) {
    if (r.key == key) return &r;
  }
  return nullptr;
}

fs::path default_kernel_ranges_file() {
  return data_dir() / "tune" / "kernel_ranges.toml";
}

}  // namespace aion::tune
