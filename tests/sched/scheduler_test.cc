// The queue policy (make_plan) on a hand-made node: order, fair share, gang, preemption.
#include <gtest/gtest.h>

#include "aion/sched/scheduler.h"

namespace aion::sched {
namespace {

// 4 GPUs: 0-1 and 2-3 are NVLink pairs, pairs joined across sockets; 2 NUMA nodes of 8 CPUs.
NodeModel four_gpu_node() {
  NodeModel m;
  for (int i = 0; i < 4; ++i) {
    GpuSlot g;
    g.pci_address = "0000:0" + std::to_string(i) + ":00.0";
    g.vendor = "nvidia";
    g.model = "A100-SXM4-80GB";
    g.vendor_index = i;
    g.memory_bytes = 80ull << 30;
    g.numa_node = i / 2;
    m.gpus.push_back(g);
  }
  using L = hw::LinkLevel;
  m.links.assign(4, std::vector<L>(4, L::kSys));
  m.link_count.assign(4, std::vector<int>(4, 0));
  for (int i = 0; i < 4; ++i) m.links[i][i] = L::kSelf;
  for (auto [a, b] : {std::pair{0, 1}, std::pair{2, 3}}) {
    m.links[a][b] = m.links[b][a] = L::kNvlink;
    m.link_count[a][b] = m.link_count[b][a] = 12;
  }
  for (int n = 0; n < 2; ++n) {
    NumaInfo info;
    info.id = n;
    for (int c = 0; c < 8; ++c) info.cpus.push_back(n * 8 + c);
    info.memory_bytes = 64ull << 30;
    info.distances = n == 0 ? std::vector<int>{10, 21} : std::vector<int>{21, 10};
    m.numa.push_back(info);
  }
  m.cpu_count = 16;
  m.memory_bytes = 128ull << 30;
  return m;
}

Job make_job(std::int64_t id, int gpus, int priority = 0, std::string user = "alice",
             std::int64_t submit_ms = 1000) {
  Job j;
  j.id = id;
  j.spec.command = {"x"};
  j.spec.user = std::move(user);
  j.spec.priority = priority;
  j.spec.resources.gpus = gpus;
  j.spec.resources.cpus = 1;
  j.submit_ms = submit_ms;
  return j;
}

struct Fixture {
  NodeModel model = four_gpu_node();
  NodeState state{model};
  FairShare fairshare;
  PolicyConfig config;
  std::vector<Job> running;

  Plan plan(const std::vector<Job>& pending, std::int64_t now_ms = 2000) {
    PlanInput in;
    in.model = &model;
    in.state = &state;
    in.fairshare = &fairshare;
    in.now_ms = now_ms;
    for (const auto& j : pending) in.pending.push_back(&j);
    for (const auto& j : running) in.running.push_back(&j);
    return make_plan(in, config);
  }
  // Starts a job by hand on the given GPUs.
  void run(Job j, std::vector<int> gpus, std::int64_t start_ms = 1500) {
    Allocation a;
    a.gpus = std::move(gpus);
    a.cpus = {static_cast<int>(running.size())};
    a.mems = {0};
    j.allocation = a;
    j.state = JobState::kRunning;
    j.start_ms = start_ms;
    state.add(a);
    running.push_back(std::move(j));
  }
};

std::vector<std::int64_t> started(const Plan& p) {
  std::vector<std::int64_t> ids;
  for (const auto& s : p.starts) ids.push_back(s.job_id);
  return ids;
}

TEST(Plan, HigherPriorityGoesFirstWhenOnlyOneFits) {
  Fixture f;
  f.run(make_job(100, 2), {0, 1});
  auto p = f.plan({make_job(1, 2, 0), make_job(2, 2, 5)});
  EXPECT_EQ(started(p), (std::vector<std::int64_t>{2}));
  ASSERT_TRUE(p.waiting.contains(1));
  EXPECT_FALSE(p.waiting[1].empty());
}

TEST(Plan, SubmissionOrderBreaksTies) {
  Fixture f;
  f.run(make_job(100, 2), {0, 1});
  auto p = f.plan({make_job(7, 2), make_job(3, 2)});
  EXPECT_EQ(started(p), (std::vector<std::int64_t>{3}));
}

TEST(Plan, FairShareFavoursTheUserWhoUsedLess) {
  Fixture f;
  f.fairshare.add("alice", 1000, 1000);
  f.fairshare.add("bob", 10, 1000);
  f.run(make_job(100, 2), {0, 1});
  auto p = f.plan({make_job(1, 2, 0, "alice"), make_job(2, 2, 0, "bob")});
  EXPECT_EQ(started(p), (std::vector<std::int64_t>{2}));
  EXPECT_LT(f.fairshare.factor("alice", 1000), f.fairshare.factor("bob", 1000));
}

TEST(Plan, FairShareUsageDecaysWithItsHalfLife) {
  FairShare fs(60);  // one minute
  fs.add("alice", 100, 0);
  EXPECT_NEAR(fs.usage("alice", 60'000), 50, 1e-9);
  EXPECT_NEAR(fs.usage("alice", 120'000), 25, 1e-9);
}

TEST(Plan, QueueWeightsCountAtEqualPriority) {
  Fixture f;
  f.config.queue_weights = {{"default", 1}, {"interactive", 4}};
  f.run(make_job(100, 2), {0, 1});
  Job batch = make_job(1, 2);
  Job inter = make_job(2, 2);
  inter.spec.queue = "interactive";
  auto p = f.plan({batch, inter});
  EXPECT_EQ(started(p), (std::vector<std::int64_t>{2}));
}

TEST(Plan, GangJobWaitsWholeAndHoldsNothingWhileSmallerJobsRun) {
  Fixture f;
  f.config.preemption = false;
  f.run(make_job(100, 1), {0});
  f.run(make_job(101, 1), {2});
  auto p = f.plan({make_job(1, 4), make_job(2, 1)});
  EXPECT_EQ(started(p), (std::vector<std::int64_t>{2}));
  ASSERT_TRUE(p.waiting.contains(1));
  EXPECT_NE(p.waiting[1].find("4 GPU"), std::string::npos) << p.waiting[1];
}

TEST(Plan, StarvingJobHoldsTheLine) {
  Fixture f;
  f.config.preemption = false;
  f.config.starvation_after_ms = 60'000;
  f.run(make_job(100, 1), {0});
  f.run(make_job(101, 1), {2});
  // Job 1 has waited 10 minutes: job 2 must not take the GPU it is waiting for.
  auto p = f.plan({make_job(1, 4, 0, "alice", 1), make_job(2, 1)}, 600'000);
  EXPECT_TRUE(p.starts.empty());
  EXPECT_NE(p.waiting[2].find("behind job 1"), std::string::npos) << p.waiting[2];
}

TEST(Plan, PreemptsTheFewestLowerPriorityJobsThatMakeRoom) {
  Fixture f;
  f.run(make_job(100, 1, 0), {0}, 1000);
  f.run(make_job(101, 1, 0), {1}, 1100);
  f.run(make_job(102, 2, -5), {2, 3}, 1200);
  // A priority-10 job wanting 2 GPUs: stopping job 102 (lowest priority) alone is enough.
  auto p = f.plan({make_job(1, 2, 10)});
  EXPECT_TRUE(p.starts.empty());
  ASSERT_EQ(p.preemptions.size(), 1u);
  EXPECT_EQ(p.preemptions[0].for_job, 1);
  EXPECT_EQ(p.preemptions[0].victims, (std::vector<std::int64_t>{102}));
  EXPECT_NE(p.waiting[1].find("preempting"), std::string::npos);
}

TEST(Plan, NeverPreemptsEqualOrHigherPriority) {
  Fixture f;
  f.run(make_job(100, 4, 10), {0, 1, 2, 3});
  auto p = f.plan({make_job(1, 1, 10)});
  EXPECT_TRUE(p.preemptions.empty());
  EXPECT_TRUE(p.starts.empty());
}

TEST(Plan, JobsAlreadyStoppingAreNotChosenAgain) {
  Fixture f;
  f.run(make_job(100, 4, 0), {0, 1, 2, 3});
  PlanInput in;
  in.model = &f.model;
  in.state = &f.state;
  in.fairshare = &f.fairshare;
  in.now_ms = 2000;
  Job hi = make_job(1, 2, 10);
  in.pending = {&hi};
  in.running = {&f.running[0]};
  in.stopping = {100};
  auto p = make_plan(in, f.config);
  EXPECT_TRUE(p.preemptions.empty());
}

TEST(Plan, StartsAsManyAsFitAndEachGetsDistinctGpus) {
  Fixture f;
  auto p = f.plan({make_job(1, 1), make_job(2, 1), make_job(3, 2), make_job(4, 1)});
  ASSERT_EQ(p.starts.size(), 3u);  // 1 + 1 + 2 GPUs; job 4 waits
  std::set<int> used;
  for (const auto& s : p.starts) {
    for (int g : s.allocation.gpus) EXPECT_TRUE(used.insert(g).second) << "GPU " << g << " twice";
  }
  EXPECT_TRUE(p.waiting.contains(4));
}

}  // namespace
}  // namespace aion::sched
