// The log parser on every Loghub-2k data set, against recorded digests: the header fields
// must be those the RE2-only splitter gave before the fast matcher existed, and the template
// ids, texts and parameters those of the miner as last recorded, so that a change to what
// the miner outputs is made on purpose (the failure prints the new digest to record). Each
// data set is fed twice so that the second pass runs the steady state (every shape known)
// that the throughput benchmark measures. A second test compares the fast paths with RE2
// line by line.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "aion/core/config.h"
#include "aion/logs/header.h"
#include "aion/logs/masks.h"
#include "aion/logs/miner.h"

namespace aion::logs {
namespace {

namespace fs = std::filesystem;

const fs::path kLoghub = fs::path(AION_SOURCE_DIR) / ".." / "shared" / "data" / "loghub-2k";

struct Dataset {
  std::string name;
  std::string format;
};

std::vector<Dataset> loghub_settings() {
  ConfigSchema element;
  element.string("name", "", "").string("format", "", "").string("half", "", "");
  ConfigSchema schema;
  schema.integer("schema_version", 1, "", 1, 1).table_array("dataset", element, "");
  auto cfg = Config::load(fs::path(AION_SOURCE_DIR) / "bench" / "loghub_settings.toml", schema);
  EXPECT_TRUE(cfg) << cfg.error().message();
  std::vector<Dataset> out;
  if (!cfg) return out;
  for (const auto& t : cfg->get_tables("dataset")) {
    out.push_back({t.get_string("name"), t.get_string("format")});
  }
  return out;
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
  }
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

MaskSet shipped_mask_set() {
  auto masks = MaskSet::load(fs::path(AION_SOURCE_DIR) / "data/logs/masks.toml");
  EXPECT_TRUE(masks) << masks.error().message();
  return masks ? std::move(*masks) : MaskSet();
}

// FNV-1a over a sequence of fields, each followed by a separator byte no log text holds.
class Digest {
 public:
  void add(std::string_view s) {
    for (char c : s) mix(static_cast<unsigned char>(c));
    mix(0xff);
  }
  void add(std::uint64_t v) { add(std::to_string(v)); }
  std::uint64_t value() const { return h_; }

 private:
  void mix(unsigned char c) {
    h_ ^= c;
    h_ *= 0x100000001b3ull;
  }
  std::uint64_t h_ = 0xcbf29ce484222325ull;
};

struct Digests {
  std::uint64_t header = 0;
  std::uint64_t parse = 0;
};

Digests run_dataset(const Dataset& d) {
  auto format = HeaderFormat::parse(d.format);
  EXPECT_TRUE(format) << format.error().message();
  std::vector<std::string> lines = read_lines(kLoghub / d.name / (d.name + "_2k.log"));
  EXPECT_EQ(lines.size(), 2000u) << d.name;
  TemplateMiner miner(shipped_mask_set());
  Digest header, parse;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& raw : lines) {
      auto f = format->split(raw);
      header.add(f ? 1 : 0);
      if (f) {
        for (const auto& [k, v] : f->fields) {
          header.add(k);
          header.add(v);
        }
        header.add(f->content);
      }
      ParsedLine p = miner.add(f ? f->content : raw);
      parse.add(p.template_id);
      parse.add(p.template_text);
      parse.add(p.new_template ? 1 : 0);
      parse.add(p.params.size());
      for (const auto& v : p.params) parse.add(v);
    }
  }
  for (const auto& t : miner.templates()) {
    parse.add(t.id);
    parse.add(t.text);
    parse.add(t.count);
    parse.add(miner.resolve(t.id));
  }
  return {header.value(), parse.value()};
}

// Header digests: recorded with the RE2-only splitter (before the fast matcher). Parse
// digests: the miner's output as last changed on purpose.
const std::map<std::string, Digests> kRecorded = {
    {"HDFS", {0xb7ada3512985c2c1ull, 0xd2dca6310e84c983ull}},
    {"Hadoop", {0xe8328178d4161d45ull, 0xc11e1f2485fd5776ull}},
    {"Spark", {0x54421b4905d630edull, 0xf90822eb39de73baull}},
    {"Zookeeper", {0x7ef4e4fb9aab4f65ull, 0x9fafe0db5f9870a0ull}},
    {"BGL", {0x616075689af6836dull, 0xba099e47aa752a3bull}},
    {"HPC", {0x3d278ea9e00a1e49ull, 0x8832a2926d9eef4dull}},
    {"Windows", {0xde4b92d6aaafc365ull, 0x42d384c37f231101ull}},
    {"Linux", {0x370a8b1fdcc85ae9ull, 0x785712123614d4a6ull}},
    {"Android", {0x0f98f57689fd0ac5ull, 0x8cdd853d2027a77aull}},
    {"HealthApp", {0x1ab029e8226e3a55ull, 0x2b4c950cac3603d8ull}},
    {"Apache", {0xfa12e229c8c75ae5ull, 0xaad9d2cff753d19full}},
    {"OpenSSH", {0x913c4a1824ad7909ull, 0xa7e59591316b3915ull}},
};

TEST(LoghubEquivalenceTest, EveryDatasetParsesAsRecordedBeforeTheFastPaths) {
  if (!fs::exists(kLoghub)) {
    GTEST_SKIP() << "Loghub-2k not found at " << kLoghub << " (../shared/data, read-only)";
  }
  auto sets = loghub_settings();
  ASSERT_EQ(sets.size(), 12u);
  for (const auto& d : sets) {
    Digests got = run_dataset(d);
    auto it = kRecorded.find(d.name);
    if (it == kRecorded.end()) {
      ADD_FAILURE() << d.name << ": no recorded digest";
      continue;
    }
    EXPECT_EQ(got.header, it->second.header) << d.name << ": header fields differ";
    EXPECT_EQ(got.parse, it->second.parse)
        << d.name << ": templates or parameters differ; if the miner was changed on purpose, "
        << "record 0x" << std::hex << got.parse;
  }
}

// Line by line on every data set: the fast header matcher against RE2, the mask scanners
// against RE2, and the whole parser on fast masks against the parser on RE2 masks.
TEST(LoghubEquivalenceTest, FastPathsEqualRe2OnEveryLine) {
  if (!fs::exists(kLoghub)) {
    GTEST_SKIP() << "Loghub-2k not found at " << kLoghub << " (../shared/data, read-only)";
  }
  for (const auto& d : loghub_settings()) {
    auto format = HeaderFormat::parse(d.format);
    ASSERT_TRUE(format) << format.error().message();
    MaskSet masks = shipped_mask_set();
    MaskSet reference = masks.reference();
    TemplateMiner fast(masks.combined(MaskSet())), slow(masks.reference());
    std::size_t n = 0;
    for (const auto& raw : read_lines(kLoghub / d.name / (d.name + "_2k.log"))) {
      ++n;
      auto f = format->split(raw);
      auto r = format->split_reference(raw);
      ASSERT_EQ(f.has_value(), r.has_value()) << d.name << ":" << n;
      if (f) {
        ASSERT_EQ(f->fields, r->fields) << d.name << ":" << n;
        ASSERT_EQ(f->content, r->content) << d.name << ":" << n;
      }
      std::string_view content = f ? std::string_view(f->content) : std::string_view(raw);
      MaskedText a = masks.apply(content), b = reference.apply(content);
      ASSERT_EQ(a.text, b.text) << d.name << ":" << n;
      ASSERT_EQ(a.values, b.values) << d.name << ":" << n;
      ASSERT_EQ(a.rules, b.rules) << d.name << ":" << n;
      ParsedLine p = fast.add(content), q = slow.add(content);
      ASSERT_EQ(p.template_id, q.template_id) << d.name << ":" << n;
      ASSERT_EQ(p.template_text, q.template_text) << d.name << ":" << n;
      ASSERT_EQ(p.params, q.params) << d.name << ":" << n;
    }
  }
}

}  // namespace
}  // namespace aion::logs
