// GPU shares placed by a policy of the cluster library (the one `aion sim` and the Kubernetes
// extender use), with the node as a one-node cluster.
#include <gtest/gtest.h>

#include <set>

#include "aion/cluster/cluster.h"
#include "aion/cluster/fragmentation.h"
#include "aion/cluster/policy.h"
#include "aion/core/config.h"
#include "aion/core/settings.h"
#include "aion/hw/discovery.h"
#include "aion/sched/runner.h"
#include "aion/sched/scheduler.h"

namespace aion::sched {
namespace {

// 4 identical GPUs on one NUMA node of 16 CPUs; links do not matter to shares here.
NodeModel node(int gpus = 4) {
  NodeModel m;
  for (int i = 0; i < gpus; ++i) {
    GpuSlot g;
    g.pci_address = "0000:0" + std::to_string(i) + ":00.0";
    g.vendor = "nvidia";
    g.model = "L4";
    g.vendor_index = i;
    g.memory_bytes = 24ull << 30;
    g.numa_node = 0;
    m.gpus.push_back(g);
  }
  m.links.assign(gpus, std::vector<hw::LinkLevel>(gpus, hw::LinkLevel::kNode));
  m.link_count.assign(gpus, std::vector<int>(gpus, 0));
  for (int i = 0; i < gpus; ++i) m.links[i][i] = hw::LinkLevel::kSelf;
  NumaInfo n;
  for (int c = 0; c < 16; ++c) n.cpus.push_back(c);
  n.memory_bytes = 64ull << 30;
  n.distances = {10};
  m.numa.push_back(n);
  m.cpu_count = 16;
  m.memory_bytes = 64ull << 30;
  return m;
}

Job share_job(std::int64_t id, double fraction, int priority = 0) {
  Job j;
  j.id = id;
  j.spec.command = {"x"};
  j.spec.user = "alice";
  j.spec.priority = priority;
  j.spec.resources.gpu_fraction = fraction;
  j.spec.resources.cpus = 1;
  j.submit_ms = 1000;
  return j;
}

// The queue: GPU 0 carries two 0.3 shares (0.4 left), GPU 1 one 0.4 share (0.6 left), GPUs 2
// and 3 are free; pending: a 0.2 share (first, higher priority) and two 0.4 shares.
struct Queue {
  NodeModel model = node();
  NodeState state{model};
  FairShare fairshare;
  std::vector<Job> running;
  std::vector<Job> pending = {share_job(1, 0.2, 5), share_job(2, 0.4), share_job(3, 0.4)};

  Queue() {
    run(share_job(100, 0.3), 0);
    run(share_job(101, 0.3), 0);
    run(share_job(102, 0.4), 1);
  }
  void run(Job j, int gpu) {
    Allocation a;
    a.gpus = {gpu};
    a.gpu_fraction = j.spec.resources.gpu_fraction;
    a.gpu_memory_bytes = static_cast<std::uint64_t>(a.gpu_fraction * (24ull << 30));
    a.cpus = {static_cast<int>(running.size())};
    a.mems = {0};
    j.allocation = a;
    j.state = JobState::kRunning;
    state.add(a);
    running.push_back(std::move(j));
  }
  Plan plan(const std::string& share_policy) {
    PlanInput in;
    in.model = &model;
    in.state = &state;
    in.fairshare = &fairshare;
    in.now_ms = 2000;
    for (const auto& j : pending) in.pending.push_back(&j);
    for (const auto& j : running) in.running.push_back(&j);
    PolicyConfig config;
    config.share_policy = share_policy;
    return make_plan(in, config);
  }
};

int gpu_of(const Plan& p, std::int64_t job) {
  for (const auto& s : p.starts)
    if (s.job_id == job) return s.allocation.gpus.at(0);
  ADD_FAILURE() << "job " << job << " did not start";
  return -1;
}

std::set<int> gpus_used(const Plan& p) {
  std::set<int> g;
  for (const auto& s : p.starts) g.insert(s.allocation.gpus.begin(), s.allocation.gpus.end());
  return g;
}

TEST(SharePolicy, LocalBestFitFillsTheFullestGpuAndOpensAFreshOne) {
  // Best fit puts 0.2 where least is left after (GPU 0: 0.4 -> 0.2). Neither 0.4 share then
  // fits GPU 0, one takes GPU 1 (0.6 -> 0.2), the other needs a free GPU.
  Queue q;
  Plan p = q.plan("local");
  ASSERT_EQ(p.starts.size(), 3u);
  EXPECT_EQ(gpu_of(p, 1), 0);
  EXPECT_EQ(gpu_of(p, 2), 1);
  EXPECT_GE(gpu_of(p, 3), 2);
}

TEST(SharePolicy, FgdAgainstTheNodesOwnJobsKeepsEveryFreeGpuWhole) {
  // The node's workload is 0.3, 0.4 and 0.2 shares. 0.2 on GPU 0 would leave 0.2, which the
  // 0.3 and 0.4 shares cannot use (fragmentation +167 milli-GPU); on GPU 1 it leaves 0.4, which
  // they can (+0). Then each 0.4 share fills one of GPUs 0 and 1 exactly: GPUs 2 and 3 stay free.
  Queue q;
  Plan p = q.plan("fgd");
  ASSERT_EQ(p.starts.size(), 3u);
  EXPECT_EQ(gpu_of(p, 1), 1);
  EXPECT_EQ(gpus_used(p), (std::set<int>{0, 1}));
  EXPECT_NE(p.starts.front().why.find("policy fgd: "), std::string::npos) << p.starts.front().why;
}

TEST(SharePolicy, NodeChoiceIsTheClusterLibrarysChoiceOnTheSameState) {
  // place() must pick exactly what cluster::place() picks on a one-node cluster built by hand
  // from the same state, for every policy of the library (random with the same seed).
  Queue q;
  const Request req = q.pending[0].spec.resources;
  const cluster::WorkloadDistribution dist(
      {{.cpu_milli = 1000, .num_gpu = 1, .gpu_milli = 300, .weight = 0.5},
       {.cpu_milli = 1000, .num_gpu = 1, .gpu_milli = 400, .weight = 0.5}});
  auto c = cluster::Cluster::create(
      {{.name = "n", .cpu_milli = 16000, .memory_mib = 64 << 10, .gpus = 4, .model = "gpu"}});
  ASSERT_TRUE(c);
  cluster::PodRequest busy{.cpu_milli = 3000, .memory_mib = 0};
  c->allocate(0, busy, 0);
  c->allocate(0, {.num_gpu = 1, .gpu_milli = 600}, 0b0001);
  c->allocate(0, {.num_gpu = 1, .gpu_milli = 400}, 0b0010);
  const cluster::PodRequest pod = pod_request(req);
  for (auto name : cluster::policy_names()) {
    auto policy = cluster::make_policy(name, &dist);
    ASSERT_TRUE(policy) << name;
    std::vector<double> frag = {cluster::fragmentation(*c, 0, dist)};
    cluster::Rng rng(7);
    cluster::Decision d = cluster::place(*c, **policy, pod, frag, rng);
    ASSERT_EQ(d.node, 0) << name;
    auto r = place(q.model, q.state, req, 4, {.share_policy = policy->get(), .seed = 7});
    ASSERT_FALSE(r.candidates.empty()) << name << ": " << r.reason;
    EXPECT_EQ(cluster::GpuMask(1u << r.candidates.front().allocation.gpus.at(0)), d.gpus)
        << name << ": " << r.candidates.front().why;
    // The other candidates are still best fit's, and distinct.
    std::set<int> seen;
    for (const auto& cand : r.candidates) EXPECT_TRUE(seen.insert(cand.allocation.gpus[0]).second);
  }
}

TEST(SharePolicy, WholeGpuJobsAndBigNodesKeepTopologyRanking) {
  // Whole GPUs never go through the share policy; a node with more than 8 matching GPUs (the
  // cluster library's node size) keeps best fit for shares too.
  NodeModel big = node(10);
  NodeState st(big);
  Allocation a;
  a.gpus = {9};
  a.gpu_fraction = 0.5;
  a.cpus = {0};
  a.mems = {0};
  st.add(a);
  const cluster::WorkloadDistribution dist({{.num_gpu = 1, .gpu_milli = 500, .weight = 1}});
  auto fgd = cluster::make_policy("fgd", &dist);
  ASSERT_TRUE(fgd);
  auto r = place(big, st, {.gpu_fraction = 0.5, .cpus = 1}, 1, {.share_policy = fgd->get()});
  ASSERT_EQ(r.candidates.size(), 1u);
  EXPECT_EQ(r.candidates[0].allocation.gpus, std::vector<int>{9});  // best fit: the shared one
  EXPECT_EQ(r.candidates[0].why.find("policy"), std::string::npos);
  auto w = place(big, st, {.gpus = 2, .cpus = 1}, 1, {.share_policy = fgd->get()});
  ASSERT_EQ(w.candidates.size(), 1u);
  EXPECT_EQ(w.candidates[0].why.find("policy"), std::string::npos);
}

TEST(SharePolicy, ConfigNamesAPolicyOrFailsListingTheKnownOnes) {
  EXPECT_TRUE(check_share_policy("fgd"));
  EXPECT_TRUE(check_share_policy("local"));
  EXPECT_TRUE(check_share_policy("BestFit"));
  auto bad = check_share_policy("fgdd");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("unknown share policy 'fgdd'"), std::string::npos);
  EXPECT_NE(bad.error().message().find("local, random"), std::string::npos);

  ConfigSchema schema = base_schema();
  schema.merge(hw::hw_config_schema()).merge(sched_config_schema());
  auto cfg = Config::parse("[sched]\nshare_policy = \"tetris\"\n", "aion.toml", schema);
  ASSERT_TRUE(cfg) << cfg.error().message();
  auto rc = runner_config(*cfg, "/tmp/aion-share-policy-test");
  ASSERT_FALSE(rc);
  EXPECT_NE(rc.error().message().find("aion.toml: sched.share_policy: unknown share policy"),
            std::string::npos)
      << rc.error().message();
  auto good = Config::parse("", "aion.toml", schema);
  ASSERT_TRUE(good);
  auto rg = runner_config(*good, "/tmp/aion-share-policy-test");
  ASSERT_TRUE(rg) << rg.error().message();
  EXPECT_EQ(rg->policy.share_policy, "fgd");
}

}  // namespace
}  // namespace aion::sched
