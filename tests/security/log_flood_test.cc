// A local user floods the node's logs (`logger` with random words) to grow aiond's memory and
// templates.json without end. The miner must keep both under its caps while a real recurring
// message keeps its template through the flood.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

#include "aion/logs/miner.h"
#include "support/scale.h"
#include "support/temp_dir.h"

namespace aion::logs {
namespace {

namespace fs = std::filesystem;

MaskSet shipped_masks() {
  auto set = MaskSet::load(fs::path(AION_SOURCE_DIR) / "data/logs/masks.toml");
  EXPECT_TRUE(set) << set.error().message();
  return std::move(*set);
}

std::string random_words(std::mt19937& rng) {
  std::uniform_int_distribution<int> letter(0, 25), len(3, 9), words(4, 12);
  std::string out;
  for (int w = words(rng); w > 0; --w) {
    if (!out.empty()) out += ' ';
    for (int k = len(rng); k > 0; --k) out += static_cast<char>('a' + letter(rng));
  }
  return out;
}

TEST(LogFloodTest, UniqueRandomLinesStayUnderTheTemplateAndStateCaps) {
  const MinerOptions defaults;
  TemplateMiner m(shipped_masks());
  std::mt19937 rng(2024);
  const std::string real = "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.";
  const std::uint64_t real_id = m.add(real).template_id;
  // 200,000 lines (20,000 under the sanitizers): either is more than max_templates.
  constexpr int kLines = 200000 / ::aion::testing::kStressDivisor;
  static_assert(kLines > 10000, "the flood must outgrow the template cap");
  for (int i = 1; i <= kLines; ++i) {
    m.add(random_words(rng), i, "journal");
    if (i % 1000 == 0) m.add(real, i, "kmsg");
    // Fail as soon as the cap is broken rather than after the whole flood.
    if (i % 10000 == 0) {
      ASSERT_LE(m.size(), defaults.max_templates) << "after " << i << " flood lines";
    }
  }
  EXPECT_LE(m.size(), defaults.max_templates);
  const ::aion::testing::TempDir tmp("log-flood");
  const fs::path dir = tmp.path();
  ASSERT_TRUE(m.save(dir / "templates.json"));
  const auto bytes = fs::file_size(dir / "templates.json");
  EXPECT_LE(bytes, defaults.max_state_bytes);
  std::printf("flood: %d lines, %zu templates, %ju evicted, templates.json %ju bytes\n", kLines,
              m.size(), static_cast<std::uintmax_t>(m.evicted()),
              static_cast<std::uintmax_t>(bytes));
  // The real message survived the flood, in memory and in the saved state.
  EXPECT_EQ(m.match(real).template_id, real_id);
  TemplateMiner back(shipped_masks());
  ASSERT_TRUE(back.load(dir / "templates.json"));
  EXPECT_EQ(back.match(real).template_id, real_id);
}

}  // namespace
}  // namespace aion::logs
