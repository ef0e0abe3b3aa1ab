// Helpers shared by the diagnosis tests: the repository's catalog and playbooks, temporary
// directories, times.
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "aion/core/clock.h"
#include "aion/diagnose/catalog.h"
#include "aion/diagnose/matcher.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace aion::diagnose::testing {

using ::aion::testing::fixture_path;
using ::aion::testing::hw_fixture_root;
using ::aion::testing::TempDir;

inline std::filesystem::path data_dir() {
  return ::aion::testing::source_path("data");
}

// The shipped catalog and its matcher, loaded once per test binary.
struct Shipped {
  Catalog catalog;
  std::unique_ptr<Matcher> matcher;
};
inline const Shipped& shipped() {
  static const Shipped* s = [] {
    auto c = Catalog::load_dir(data_dir() / "signatures");
    if (!c) {
      ADD_FAILURE() << c.error().message();
      std::abort();
    }
    auto* out = new Shipped{std::move(*c), nullptr};
    auto m = Matcher::build(out->catalog);
    if (!m) std::abort();
    out->matcher = std::move(*m);
    return out;
  }();
  return *s;
}

// A wall time at hh:mm:ss on the fixtures' day (2026-11-30, UTC).
inline Clock::Wall at(int h, int m, int s) {
  using namespace std::chrono;
  sys_days day = year_month_day{year{2026}, month{11}, std::chrono::day{30}};
  return Clock::Wall(duration_cast<Clock::Wall::duration>(day.time_since_epoch() + hours(h) +
                                                          minutes(m) + seconds(s)));
}

}  // namespace aion::diagnose::testing
