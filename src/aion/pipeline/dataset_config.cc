#include "aion/pipeline/dataset_config.h"

namespace aion::pipeline {

// 100 GiB: a few typical training sets on one NVMe drive, far below its size.
constexpr std::int64_t kDefaultStageCacheBytes = std::int64_t{100} << 30;

ConfigSchema datasets_config_schema() {
  ConfigSchema s;
  s.path("datasets.catalog", "",
         "The dataset catalog (SQLite); empty: datasets.db in the state directory")
      .path("datasets.stage_dir", "",
            "The stage cache: where `aion data stage` without --to puts staged copies; empty: "
            "aion-stage/ on an NVMe file system of a NUMA node with GPUs, else stage/ in the "
            "state directory")
      .integer("datasets.stage_cache_max_bytes", kDefaultStageCacheBytes,
               "Bound of the stage cache in bytes; the least recently used staged versions are "
               "removed to make room",
               0)
      .integer("datasets.hash_threads", 0, "Threads that hash files; 0: one per CPU, at most 8", 0,
               64);
  return s;
}

DatasetSettings dataset_settings(const Config& config, const std::filesystem::path& state_dir) {
  DatasetSettings s;
  const std::string& catalog = config.get_string("datasets.catalog");
  s.catalog = catalog.empty() ? state_dir / "datasets.db" : std::filesystem::path(catalog);
  const std::string& stage = config.get_string("datasets.stage_dir");
  s.stage_dir = stage.empty() ? state_dir / "stage" : std::filesystem::path(stage);
  s.stage_cache_max_bytes =
      static_cast<std::uint64_t>(config.get_int("datasets.stage_cache_max_bytes"));
  s.hash_threads = static_cast<int>(config.get_int("datasets.hash_threads"));
  return s;
}

}  // namespace aion::pipeline
