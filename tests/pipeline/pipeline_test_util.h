// Helpers of the pipeline tests: the shipped modality rules, a catalog in a TempDir, and
// options without progress. Test code; one thread.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "aion/pipeline/dataset_add.h"
#include "aion/pipeline/dataset_catalog.h"
#include "aion/pipeline/modality.h"
#include "support/temp_dir.h"

namespace aion::pipeline::test {

inline const ModalityTable& shipped_modalities() {
  static const ModalityTable table = [] {
    auto t = ModalityTable::load(std::filesystem::path(AION_SOURCE_DIR) /
                                 "data/pipeline/modalities.toml");
    if (!t) {
      ADD_FAILURE() << t.error().message();
      return ModalityTable();
    }
    return std::move(*t);
  }();
  return table;
}

inline std::unique_ptr<DatasetCatalog> open_catalog(const aion::testing::TempDir& dir) {
  auto c = DatasetCatalog::open(dir / "state/datasets.db");
  EXPECT_TRUE(c) << (c ? "" : c.error().message());
  return c ? std::move(*c) : nullptr;
}

inline AddResult add_ok(DatasetCatalog& cat, const std::string& name,
                        const std::filesystem::path& dir, AddOptions o = {}) {
  if (o.threads == 0) o.threads = 2;
  auto r = add_dataset(cat, shipped_modalities(), name, dir, o);
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r ? std::move(*r) : AddResult{};
}

// Sets a file's mtime (nanoseconds since the epoch).
inline void set_mtime(const std::filesystem::path& p, std::int64_t ns) {
  struct timespec t[2] = {
      {0, UTIME_OMIT},
      {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)}};
  ASSERT_EQ(utimensat(AT_FDCWD, p.c_str(), t, 0), 0);
}

}  // namespace aion::pipeline::test
