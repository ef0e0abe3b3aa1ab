// The [datasets] section of the configuration (`aion data`): where the catalog and the stage
// cache live, the cache's size bound and the hashing threads; and the typed view of it. Plain
// values; thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>

#include "aion/core/config.h"

namespace aion::pipeline {

ConfigSchema datasets_config_schema();

struct DatasetSettings {
  std::filesystem::path catalog;    // datasets.db
  std::filesystem::path stage_dir;  // the stage cache
  std::uint64_t stage_cache_max_bytes = 0;
  int hash_threads = 0;  // 0: default_hash_threads()
};

// Fills the defaults that depend on the state directory: <state_dir>/datasets.db and
// <state_dir>/stage. `config` must have been built with datasets_config_schema() merged in.
DatasetSettings dataset_settings(const Config& config, const std::filesystem::path& state_dir);

}  // namespace aion::pipeline
