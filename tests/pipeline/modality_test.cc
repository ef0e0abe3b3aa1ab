// Modality by content: real magic numbers written into files, detected through an add, and
// the rules file's validation.
#include <string>

#include <gtest/gtest.h>

#include "aion/pipeline/modality.h"
#include "pipeline_test_util.h"

namespace aion::pipeline {
namespace {

using test::shipped_modalities;

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

struct MagicCase {
  std::string name;
  std::string content;
  Modality modality;
  std::string format;
};

std::vector<MagicCase> magic_cases() {
  std::string tar(512, '\0');
  tar.replace(0, 8, "file.txt");
  tar.replace(257, 6, std::string("ustar\0", 6));
  std::string riff_wav = "RIFF" + bytes({0x24, 0, 0, 0}) + "WAVEfmt ";
  std::string riff_webp = "RIFF" + bytes({0x24, 0, 0, 0}) + "WEBPVP8 ";
  std::string riff_avi = "RIFF" + bytes({0x24, 0, 0, 0}) + "AVI LIST";
  return {
      {"a.bin", bytes({0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13}), Modality::kImage,
       "png"},
      {"b.bin", bytes({0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F'}), Modality::kImage,
       "jpeg"},
      {"c.bin", "GIF89a" + bytes({1, 0, 1, 0}), Modality::kImage, "gif"},
      {"d.bin", riff_webp, Modality::kImage, "webp"},
      {"e.bin", bytes({'I', 'I', 0x2a, 0, 8, 0, 0, 0}), Modality::kImage, "tiff"},
      {"f.bin", bytes({'B', 'M', 0x3a, 0, 0, 0, 0, 0, 0, 0, 0x36, 0}), Modality::kImage, "bmp"},
      {"g.bin", riff_wav, Modality::kAudio, "wav"},
      {"h.bin", "fLaC" + bytes({0, 0, 0, 0x22}), Modality::kAudio, "flac"},
      {"i.bin", "ID3" + bytes({4, 0, 0, 0, 0, 0, 0}), Modality::kAudio, "mp3"},
      {"j.bin", "OggS" + bytes({0, 2, 0, 0}), Modality::kAudio, "ogg"},
      {"k.bin", bytes({0, 0, 0, 0x18}) + "ftypmp42" + bytes({0, 0, 0, 0}), Modality::kVideo, "mp4"},
      {"l.bin", bytes({0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81}), Modality::kVideo,
       "matroska"},
      {"m.bin", riff_avi, Modality::kVideo, "avi"},
      {"n.bin", "PAR1" + bytes({0x15, 0x04}), Modality::kTabular, "parquet"},
      {"o.bin", "ARROW1" + bytes({0, 0}), Modality::kTabular, "arrow"},
      {"p.bin", bytes({'P', 'K', 3, 4, 20, 0}), Modality::kArchive, "zip"},
      {"q.bin", bytes({0x1f, 0x8b, 8, 0}), Modality::kArchive, "gzip"},
      {"r.bin", bytes({0x28, 0xb5, 0x2f, 0xfd, 0x24}), Modality::kArchive, "zstd"},
      {"s.bin", bytes({0xfd, '7', 'z', 'X', 'Z', 0}), Modality::kArchive, "xz"},
      {"t.bin", tar, Modality::kArchive, "tar"},
  };
}

TEST(ModalityTest, MagicNumbersDecideWhateverTheName) {
  const auto& table = shipped_modalities();
  for (const auto& c : magic_cases()) {
    // A misleading extension must not win over the content.
    Detection d = table.detect(c.content, c.name.substr(0, 1) + ".txt");
    EXPECT_EQ(d.modality, c.modality) << c.name << " " << c.format;
    EXPECT_EQ(d.format, c.format) << c.name;
    EXPECT_TRUE(d.by_content) << c.name;
  }
}

TEST(ModalityTest, ExtensionIsTheFallbackThenTextSniffing) {
  const auto& table = shipped_modalities();
  EXPECT_EQ(table.detect("a,b\n1,2\n", "train.CSV").modality, Modality::kTabular);
  EXPECT_EQ(table.detect("{\"a\":1}\n", "x.jsonl").modality, Modality::kTabular);
  EXPECT_EQ(table.detect("{\"a\":1}\n", "x.json").modality, Modality::kText);
  EXPECT_EQ(table.detect("plain words, ünïcode\n", "README").modality, Modality::kText);
  EXPECT_EQ(table.detect(bytes({0, 1, 2, 3, 0xfe}), "blob").modality, Modality::kOther);
  EXPECT_EQ(table.detect("", "empty").modality, Modality::kOther);
  EXPECT_EQ(table.detect("not utf8 \xff\xfe", "x").modality, Modality::kOther);
}

TEST(ModalityTest, AddCountsModalitiesOfRealFiles) {
  aion::testing::TempDir tmp("pipeline-modality");
  for (const auto& c : magic_cases()) tmp.write("tree/" + c.name, c.content);
  tmp.write("tree/t.csv", "a,b\n1,2\n");
  tmp.write("tree/notes", "hello\n");
  auto cat = test::open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto r = test::add_ok(*cat, "mixed", tmp / "tree");
  ASSERT_TRUE(r.created);
  const auto& t = r.version.totals;
  EXPECT_EQ(t.files[static_cast<int>(Modality::kImage)], 6u);
  EXPECT_EQ(t.files[static_cast<int>(Modality::kAudio)], 4u);
  EXPECT_EQ(t.files[static_cast<int>(Modality::kVideo)], 3u);
  EXPECT_EQ(t.files[static_cast<int>(Modality::kTabular)], 3u);
  EXPECT_EQ(t.files[static_cast<int>(Modality::kArchive)], 5u);
  EXPECT_EQ(t.files[static_cast<int>(Modality::kText)], 1u);
  auto png = cat->find_file(r.version.id, "a.bin");
  ASSERT_TRUE(png && *png);
  EXPECT_EQ((*png)->format, "png");
}

TEST(ModalityTest, BadRulesNameTheFileAndLine) {
  auto r = ModalityTable::parse(
      "schema_version = 1\n[[magic]]\nformat = \"x\"\nmodality = \"smell\"\nbytes = \"00\"\n"
      "source = \"s\"\n",
      "rules.toml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(r.error().message().find("rules.toml:2"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("smell"), std::string::npos);
  auto deep = ModalityTable::parse(
      "schema_version = 1\n[[magic]]\nformat = \"x\"\nmodality = \"text\"\nbytes = \"00 zz\"\n"
      "source = \"s\"\n",
      "rules.toml");
  ASSERT_FALSE(deep);
  EXPECT_NE(deep.error().message().find("hex bytes"), std::string::npos);
}

}  // namespace
}  // namespace aion::pipeline
