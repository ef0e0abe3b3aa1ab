// A user's job prints without end to fill the disk through its log, which is root's and so
// outside the user's quota. The shim must stop recording at the cap, keep the job running to
// its end, and say in the log's last line that the cap was reached and how much was dropped.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(JobOutputFloodTest, OutputBeyondTheCapIsDroppedAndTheLogSaysSo) {
  const fs::path shim = fs::path(AION_BIN_DIR) / "aion-shim";
  if (!fs::exists(shim)) GTEST_SKIP() << "aion-shim not built at " << shim;
  const ::aion::testing::TempDir tmp("output-flood");
  const fs::path dir = tmp.path();
  constexpr std::uint64_t kCap = 100000;
  constexpr std::uint64_t kPrinted = 20'000'000;  // 200 times the cap
  std::string launch;
  auto rec = [&](const std::string& k, const std::string& v) {
    launch += k + "=" + v;
    launch.push_back('\0');
  };
  rec("exe", "/bin/sh");
  rec("arg", "sh");
  rec("arg", "-c");
  // Prints past the cap, then proves it was not stopped by writing a file.
  rec("arg", "head -c " + std::to_string(kPrinted) + " /dev/zero | tr '\\0' x; echo done > " +
                 (dir / "finished").string());
  rec("env", "PATH=/usr/bin:/bin");
  rec("cwd", "/");
  rec("log", (dir / "output.log").string());
  rec("log_max", std::to_string(kCap));
  {
    std::ofstream f(dir / "launch", std::ios::binary);
    f << launch;
  }
  std::string shim_s = shim.string(), dir_s = dir.string();
  char* argv[] = {shim_s.data(), dir_s.data(), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, shim_s.c_str(), nullptr, nullptr, argv, environ), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read(dir / "shim.log");

  EXPECT_TRUE(fs::exists(dir / "finished")) << "the job was stopped instead of its output";
  const std::string log = read(dir / "output.log");
  EXPECT_LE(log.size(), kCap + 1024) << "the log grew past the cap";
  // The last line (only it: the log may be huge when the cap did not hold).
  const auto last_nl = log.size() < 2 ? std::string::npos : log.find_last_of('\n', log.size() - 2);
  const std::string last =
      (last_nl == std::string::npos ? log : log.substr(last_nl + 1)).substr(0, 300);
  EXPECT_NE(last.find("output cap of 100000 bytes reached"), std::string::npos) << last;
  EXPECT_NE(last.find(std::to_string(kPrinted - kCap) + " bytes of output were dropped"),
            std::string::npos)
      << last;
  EXPECT_NE(read(dir / "status").find("output_dropped=" + std::to_string(kPrinted - kCap)),
            std::string::npos);
}

}  // namespace
