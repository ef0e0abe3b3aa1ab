#include "aion/core/process.h"

#include <gtest/gtest.h>

namespace aion {
namespace {

using namespace std::chrono_literals;

TEST(ProcessTest, CapturesStdoutStderrAndExitCode) {
  auto r = run_process({.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"}});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->ok());
  EXPECT_EQ(r->describe(), "exited with status 3");
}

TEST(ProcessTest, ArgumentsAreNotInterpretedByAShell) {
  auto r = run_process({.argv = {"echo", "$HOME; rm -rf /", "*"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "$HOME; rm -rf / *\n");
}

TEST(ProcessTest, FeedsStdin) {
  auto r = run_process({.argv = {"cat"}, .stdin_data = std::string(200000, 'x')});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out.size(), 200000u);
}

TEST(ProcessTest, MissingProgramIsNotFound) {
  auto r = run_process({.argv = {"aion-no-such-program-xyz"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("aion-no-such-program-xyz"), std::string::npos);
}

TEST(ProcessTest, TimeoutKillsTheWholeProcessGroup) {
  auto r = run_process(
      {.argv = {"sh", "-c", "sleep 30 & sleep 30; wait"}, .timeout = 200ms, .kill_grace = 200ms});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->ok());
  EXPECT_LT(r->elapsed, 5000ms);
}

TEST(ProcessTest, EnvironmentIsSetAndCanBeIsolated) {
  auto r =
      run_process({.argv = {"/usr/bin/env"}, .env_set = {{"AION_X", "1"}}, .inherit_env = false});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "AION_X=1\n");
}

TEST(ProcessTest, OutputBeyondLimitIsTruncatedNotBlocking) {
  auto r = run_process({.argv = {"head", "-c", "1000000", "/dev/zero"}, .max_output = 1000});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out.size(), 1000u);
  EXPECT_TRUE(r->output_truncated);
  EXPECT_EQ(r->exit_code, 0);
}

TEST(ProcessTest, SignalDeathIsReported) {
  auto r = run_process({.argv = {"sh", "-c", "kill -9 $$"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->term_signal, 9);
  EXPECT_NE(r->describe().find("signal 9"), std::string::npos);
}

}  // namespace
}  // namespace aion
