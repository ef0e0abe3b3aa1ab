// Integrity checks: checksum files as sha256sum writes them, files checked against them, and an
// installed tree against the package's manifest (modified, missing and unlisted files).
#include <gtest/gtest.h>

#include <fstream>

#include "aion/guard/integrity.h"
#include "support/temp_dir.h"

namespace aion::guard {
namespace {

namespace fs = std::filesystem;

// SHA-256 of "hello\n" and of "" (FIPS 180-4 test values as sha256sum prints them).
constexpr const char* kHello = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
constexpr const char* kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(Integrity, Sha256OfAFile) {
  testing::TempDir dir("guard-integrity");
  std::ofstream(dir.path() / "a") << "hello\n";
  std::ofstream(dir.path() / "e");
  EXPECT_EQ(*sha256_file(dir.path() / "a"), kHello);
  EXPECT_EQ(*sha256_file(dir.path() / "e"), kEmpty);
  EXPECT_FALSE(sha256_file(dir.path() / "nope").has_value());
}

TEST(Integrity, ChecksumFilesParseAsSha256sumWritesThem) {
  auto e = parse_sums(
      std::string("# weights\n") + kHello + "  model/a.bin\n" + kEmpty + " *b.bin\r\n\n", "SUMS");
  ASSERT_TRUE(e.has_value()) << e.error().message();
  ASSERT_EQ(e->size(), 2u);
  EXPECT_EQ((*e)[0].path, "model/a.bin");
  EXPECT_EQ((*e)[1].path, "b.bin");
  auto bad = parse_sums(std::string(kHello) + "  ok\nnot a sum line\n", "SUMS");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("SUMS:2"), std::string::npos) << bad.error().message();
}

TEST(Integrity, FilesAreCheckedAgainstTheirSums) {
  testing::TempDir dir("guard-integrity");
  std::ofstream(dir.path() / "a") << "hello\n";
  std::ofstream(dir.path() / "b") << "tampered\n";
  const auto r = verify_sums({{kHello, "a"}, {kEmpty, "b"}, {kEmpty, "gone"}}, dir.path());
  ASSERT_EQ(r.files.size(), 3u);
  EXPECT_EQ(r.files[0].state, FileVerdict::kOk);
  EXPECT_EQ(r.files[1].state, FileVerdict::kMismatch);
  EXPECT_EQ(r.files[2].state, FileVerdict::kMissing);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.bytes, 15u);
  EXPECT_TRUE(verify_sums({{kHello, "a"}}, dir.path()).ok());
}

TEST(Integrity, AnInstalledTreeIsCheckedAgainstThePackageManifest) {
  testing::TempDir root("guard-package");
  fs::create_directories(root.path() / "usr/lib/aion");
  fs::create_directories(root.path() / "usr/share/aion/guard");
  std::ofstream(root.path() / "usr/lib/aion/aion-shim") << "hello\n";
  std::ofstream(root.path() / "usr/share/aion/guard/profiles.toml");
  std::ofstream(root.path() / kManifestPath) << kHello << "  usr/lib/aion/aion-shim\n"
                                             << kEmpty << "  usr/share/aion/guard/profiles.toml\n";
  auto r = verify_package(root.path(), std::string(kManifestPath));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_TRUE(r->ok());
  std::ofstream(root.path() / "usr/share/aion/guard/profiles.toml") << "network = \"host\"\n";
  std::ofstream(root.path() / "usr/lib/aion/extra.so") << "?";
  r = verify_package(root.path(), std::string(kManifestPath));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->ok());
  int modified = 0, unlisted = 0;
  for (const auto& f : r->files) {
    modified += f.state == FileVerdict::kMismatch && f.path == "usr/share/aion/guard/profiles.toml";
    unlisted += f.state == FileVerdict::kUnlisted && f.path == "usr/lib/aion/extra.so";
  }
  EXPECT_EQ(modified, 1);
  EXPECT_EQ(unlisted, 1);
  auto none = verify_package(root.path() / "elsewhere", std::string(kManifestPath));
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace aion::guard
