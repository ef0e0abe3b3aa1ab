// TarGzWriter: archives that tar itself reads back, owner-only, and nothing at the final path
// until finish().
#include "aion/core/archive.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "aion/core/process.h"
#include "support/temp_dir.h"

namespace aion {
namespace {

namespace fs = std::filesystem;

std::string run(std::vector<std::string> argv) {
  ProcessOptions o;
  o.argv = std::move(argv);
  auto r = run_process(o);
  EXPECT_TRUE(r && r->ok()) << (r ? r->err : r.error().message());
  return r ? r->out : "";
}

TEST(TarGzWriterTest, TarReadsBackEveryEntry) {
  testing::TempDir tmp("archive");
  const fs::path out = tmp.path() / "b.tar.gz";
  auto w = TarGzWriter::create(out);
  ASSERT_TRUE(w) << w.error().message();
  const std::string big(100000, 'x');  // several blocks, not a multiple of 512
  ASSERT_TRUE(w->add("hw.json", "{\"a\": 1}\n", 1700000000));
  ASSERT_TRUE(w->add("daemon/events.json", big, 1700000000));
  ASSERT_TRUE(w->add("empty.txt", "", 1700000000));
  EXPECT_FALSE(fs::exists(out)) << "nothing at the final path before finish()";
  ASSERT_TRUE(w->finish());
  EXPECT_TRUE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out.string() + ".partial"));
  EXPECT_EQ(fs::status(out).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(run({"tar", "-tzf", out.string()}), "hw.json\ndaemon/events.json\nempty.txt\n");
  EXPECT_EQ(run({"tar", "-xzOf", out.string(), "daemon/events.json"}), big);
  EXPECT_EQ(run({"tar", "-xzOf", out.string(), "hw.json"}), "{\"a\": 1}\n");
}

TEST(TarGzWriterTest, BadNamesAreRefusedAndAnUnfinishedArchiveLeavesNothing) {
  testing::TempDir tmp("archive");
  const fs::path out = tmp.path() / "b.tar.gz";
  {
    auto w = TarGzWriter::create(out);
    ASSERT_TRUE(w);
    EXPECT_FALSE(w->add("", "x", 0));
    EXPECT_FALSE(w->add("../etc/passwd", "x", 0));
    EXPECT_FALSE(w->add("/abs", "x", 0));
    EXPECT_FALSE(w->add(std::string(101, 'n'), "x", 0));
    ASSERT_TRUE(w->add("ok.txt", "x", 0));
  }  // dropped without finish(): an interrupted bundle
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out.string() + ".partial"));
  EXPECT_FALSE(TarGzWriter::create(tmp.path() / "no-such-dir" / "b.tar.gz"));
}

}  // namespace
}  // namespace aion
