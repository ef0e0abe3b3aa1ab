// The scheduler extender on hand-written ExtenderArgs (tests/fixtures/k8s, shaped like
// kube-scheduler's extender/v1 types: a v1.Pod and NodeNames or a v1.NodeList) against the
// node state in tests/fixtures/k8s/node-state.json:
//   a100-half    8 x A100, GPUs 0-3 taken, 32 of 128 CPUs and 256 of 1024 GiB in use
//   a100-empty   8 x A100, nothing on it
//   a100-shared  8 x A100, half of GPU 0 taken
//   v100-small   4 x V100
//   cpu-only     no GPU
// workload: 1-GPU pods 50%, 8-GPU pods 30%, half-GPU shares 20%.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "aion/api/client.h"
#include "aion/cluster/cluster.h"
#include "aion/cluster/policy.h"
#include "aion/core/json.h"
#include "aion/k8s/extender.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace aion::k8s {
namespace {

namespace fs = std::filesystem;

std::string fixture_path(const std::string& name) {
  return ::aion::testing::fixture_path("k8s/" + name).string();
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Json args(const std::string& name) {
  return Json::parse(read(fixture_path(name)));
}

std::unique_ptr<Extender> extender(const std::string& policy = "fgd") {
  auto view = load_cluster_view(fixture_path("node-state.json"));
  EXPECT_TRUE(view) << view.error().message();
  auto e = Extender::create({.policy = policy}, *view);
  EXPECT_TRUE(e) << e.error().message();
  return std::move(*e);
}

std::map<std::string, std::int64_t> scores(const Extender& e, const Json& a) {
  auto out = e.prioritize(a.dump());
  EXPECT_TRUE(out) << out.error().message();
  std::map<std::string, std::int64_t> m;
  for (const auto& hp : Json::parse(*out)) m[hp["host"]] = hp["score"];
  return m;
}

// A 1-GPU pod that accepts any model, on every node.
Json one_gpu_pod_args() {
  Json a = args("extender-args-4gpu-nodenames.json");
  a["pod"]["metadata"]["annotations"] = Json::object();
  a["pod"]["spec"]["containers"][0]["resources"] = {
      {"requests", {{"cpu", "8"}, {"memory", "32Gi"}}}, {"limits", {{"nvidia.com/gpu", 1}}}};
  return a;
}

TEST(ExtenderTest, PodDemandSumsContainersTakesInitMaxAndGpuLimits) {
  Json a = args("extender-args-4gpu-nodenames.json");
  auto d = pod_demand(a["pod"].dump(), "nvidia.com/gpu");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->name, "ml/train-4");
  EXPECT_EQ(d->cpu_milli, 15250);
  EXPECT_EQ(d->memory_mib, 120 * 1024 + 128);
  EXPECT_EQ(d->num_gpu, 4);
  EXPECT_EQ(d->gpu_milli, 1000);
  EXPECT_EQ(d->gpu_spec, "A100-SXM4-80GB");
}

TEST(ExtenderTest, QuantitiesFollowKubernetesSuffixes) {
  EXPECT_EQ(*parse_quantity("500m", 1000), 500);
  EXPECT_EQ(*parse_quantity("2", 1000), 2000);
  EXPECT_EQ(*parse_quantity("1.5", 1000), 1500);
  EXPECT_EQ(*parse_quantity("4Gi", 1.0 / (1 << 20)), 4096);
  EXPECT_EQ(*parse_quantity("1G", 1.0 / (1 << 20)), 954);  // 10^9 bytes, rounded up
  EXPECT_EQ(*parse_quantity("1e3", 1), 1000);
  EXPECT_EQ(*parse_quantity("100k", 1), 100000);
  EXPECT_FALSE(parse_quantity("two", 1));
  EXPECT_FALSE(parse_quantity("5Xi", 1));
  EXPECT_FALSE(parse_quantity("", 1));
}

TEST(ExtenderTest, FilterKeepsNodesWithFourFreeA100sAndMarksTheRestUnresolvable) {
  auto e = extender();
  auto out = e->filter(args("extender-args-4gpu-nodenames.json").dump());
  ASSERT_TRUE(out) << out.error().message();
  Json r = Json::parse(*out);
  EXPECT_EQ(r["nodenames"], Json({"a100-half", "a100-empty", "a100-shared"})) << r.dump(2);
  EXPECT_TRUE(r["failedNodes"].empty()) << r.dump(2);
  const Json& u = r["failedAndUnresolvableNodes"];
  ASSERT_EQ(u.size(), 3u) << r.dump(2);
  EXPECT_NE(u["v100-small"].get<std::string>().find("V100-SXM2-32GB is not one the pod accepts"),
            std::string::npos);
  EXPECT_NE(u["cpu-only"].get<std::string>().find("no GPU"), std::string::npos);
  EXPECT_NE(u["ghost"].get<std::string>().find("no state"), std::string::npos);
  EXPECT_EQ(r["error"], "");
}

TEST(ExtenderTest, FilterSaysHowManyGpusAreFreeWhenAnEightGpuPodDoesNotFitNow) {
  auto e = extender();
  Json a = args("extender-args-4gpu-nodenames.json");
  a["pod"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "8";
  Json r = Json::parse(*e->filter(a.dump()));
  EXPECT_EQ(r["nodenames"], Json({"a100-empty"})) << r.dump(2);
  EXPECT_EQ(r["failedNodes"]["a100-half"], "aion: needs 8 free GPUs, 4 free");
  EXPECT_EQ(r["failedNodes"]["a100-shared"], "aion: needs 8 free GPUs, 7 free");
  EXPECT_TRUE(r["failedAndUnresolvableNodes"].contains("v100-small"));
}

TEST(ExtenderTest, FilterWithNodeListReturnsTheNodeObjectsThatFitAShare) {
  auto e = extender();
  Json r = Json::parse(*e->filter(args("extender-args-share-nodes.json").dump()));
  ASSERT_TRUE(r.contains("nodes")) << r.dump(2);
  EXPECT_FALSE(r.contains("nodenames"));
  const Json& items = r["nodes"]["items"];
  ASSERT_EQ(items.size(), 2u) << r.dump(2);
  EXPECT_EQ(items[0]["metadata"]["name"], "a100-shared");
  EXPECT_EQ(items[0]["status"]["allocatable"]["nvidia.com/gpu"], "8");  // passed through whole
  EXPECT_EQ(items[1]["metadata"]["name"], "a100-empty");
  EXPECT_EQ(r["nodes"]["metadata"]["resourceVersion"], "1234");
  EXPECT_TRUE(r["failedAndUnresolvableNodes"].contains("cpu-only"));
}

TEST(ExtenderTest, AMalformedShareIsReportedInTheErrorField) {
  auto e = extender();
  Json a = args("extender-args-share-nodes.json");
  a["pod"]["metadata"]["annotations"]["aion.io/gpu-share"] = "1.5";
  Json r = Json::parse(*e->filter(a.dump()));
  EXPECT_NE(r["error"].get<std::string>().find("between 0 and 1"), std::string::npos) << r.dump();
  EXPECT_FALSE(e->filter("{not json"));
  EXPECT_FALSE(e->filter(R"({"nodenames": []})"));
}

// FGD with this workload: a 1-GPU pod on the empty node strands 7 GPUs for the 8-GPU pods
// (fragmentation +2100 milli-GPU), on the half-used, the shared or the V100 node it lowers
// it (-300): those three share the top score and the empty node gets the lowest.
TEST(ExtenderTest, FgdKeepsTheEmptyNodeWholeForEightGpuPods) {
  auto e = extender("fgd");
  auto s = scores(*e, one_gpu_pod_args());
  EXPECT_EQ(s["a100-half"], 10);
  EXPECT_EQ(s["a100-shared"], 10);
  EXPECT_EQ(s["v100-small"], 10);
  EXPECT_EQ(s["a100-empty"], 0);
  EXPECT_EQ(s["cpu-only"], 0);
  EXPECT_EQ(s["ghost"], 0);
}

// The oracle: the policy's own scores on the same cluster state, built independently.
std::map<std::string, double> policy_scores(const std::string& policy, const Json& a) {
  auto view = load_cluster_view(fixture_path("node-state.json"));
  std::vector<cluster::NodeSpec> specs;
  for (const auto& n : view->nodes) specs.push_back(n.spec);
  auto c = cluster::Cluster::create(specs);
  for (int n = 0; n < c->size(); ++n) {
    const auto& nv = view->nodes[static_cast<std::size_t>(n)];
    c->allocate(n, {.cpu_milli = nv.cpu_used_milli, .memory_mib = nv.memory_used_mib}, 0);
    for (int g = 0; g < nv.spec.gpus; ++g) {
      if (nv.gpu_used_milli[g] > 0) {
        c->allocate(n, {.num_gpu = 1, .gpu_milli = nv.gpu_used_milli[g]},
                    static_cast<cluster::GpuMask>(1u << g));
      }
    }
  }
  cluster::WorkloadDistribution dist(view->workload);
  auto p = cluster::make_policy(policy, &dist);
  auto d = pod_demand(a["pod"].dump(), "nvidia.com/gpu");
  cluster::PodSpec ps{.cpu_milli = d->cpu_milli,
                      .memory_mib = d->memory_mib,
                      .num_gpu = d->num_gpu,
                      .gpu_milli = d->gpu_milli,
                      .gpu_spec = d->gpu_spec};
  const cluster::PodRequest r = c->request(ps);
  cluster::Rng rng(1);
  std::map<std::string, double> out;
  for (int n = 0; n < c->size(); ++n) {
    if (!c->fits(n, r)) continue;
    out[c->name(n)] = (*p)->score(*c, n, r, cluster::fragmentation(*c, n, dist), rng).score;
  }
  return out;
}

TEST(ExtenderTest, ScoresOrderNodesAsEveryDeterministicPolicyDoes) {
  for (auto name : cluster::policy_names()) {
    if (name == "random") continue;
    for (const Json& a : {one_gpu_pod_args(), args("extender-args-4gpu-nodenames.json")}) {
      auto s = scores(*extender(std::string(name)), a);
      auto raw = policy_scores(std::string(name), a);
      ASSERT_FALSE(raw.empty());
      double hi = raw.begin()->second, lo = hi;
      for (const auto& [node, v] : raw) {
        hi = std::max(hi, v);
        lo = std::min(lo, v);
      }
      for (const auto& [x, vx] : raw) {
        if (vx == hi) {
          EXPECT_EQ(s[x], 10) << name << " " << x;
        }
        if (vx == lo && hi > lo) {
          EXPECT_EQ(s[x], 0) << name << " " << x;
        }
        for (const auto& [y, vy] : raw) {
          if (vx > vy) {
            EXPECT_GE(s[x], s[y]) << name << ": " << x << " over " << y;
          }
        }
      }
    }
  }
}

TEST(ExtenderTest, StateFileErrorsNameTheNode) {
  auto bad = parse_cluster_view(
      R"({"schema_version": 1, "nodes": [{"name": "n1", "gpus": 2, "gpu_used_milli": [0]}]})",
      "state.json");
  ASSERT_FALSE(bad);
  // A broken file is kParse (exit 1), not a usage error (exit 2).
  EXPECT_EQ(bad.error().code(), ErrorCode::kParse);
  EXPECT_NE(bad.error().message().find("state.json: nodes[0] (n1)"), std::string::npos)
      << bad.error().message();
  auto unversioned = parse_cluster_view(R"({"nodes": []})", "s");
  ASSERT_FALSE(unversioned);
  EXPECT_EQ(unversioned.error().code(), ErrorCode::kParse);
  EXPECT_FALSE(Extender::create({.policy = "nope"}, {}));
}

// `aion k8s extender` over HTTP, as kube-scheduler calls it; a changed state file is read again.
class ExtenderProcess {
 public:
  explicit ExtenderProcess(const fs::path& state) {
    log_ = dir_ / "log";
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      const std::string bin = ::aion::testing::bin_path("aion").string();
      ::execl(bin.c_str(), bin.c_str(), "k8s", "extender", "--listen", "127.0.0.1:0", "--state",
              state.c_str(), nullptr);
      ::_exit(127);
    }
  }
  ~ExtenderProcess() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  // The bound address from the "extender_listening" log line.
  std::string address() {
    for (int i = 0; i < 200; ++i) {
      const std::string log = read(log_.string());
      auto p = log.find("address=");
      if (p != std::string::npos && log.find(' ', p) != std::string::npos) {
        return log.substr(p + 8, log.find(' ', p) - p - 8);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return {};
  }
  std::string log() { return read(log_.string()); }

 private:
  ::aion::testing::TempDir dir_{"k8s-ext"};
  fs::path log_;
  pid_t pid_ = -1;
};

TEST(ExtenderTest, CliServesFilterAndPrioritizeOverHttpAndReloadsItsState) {
  const ::aion::testing::TempDir tmp("k8s-state");
  const fs::path state = tmp / "node-state.json";
  fs::copy_file(fixture_path("node-state.json"), state);
  ExtenderProcess p(state);
  const std::string addr = p.address();
  ASSERT_FALSE(addr.empty()) << p.log();
  auto c = api::Client::connect_tcp(addr, "");
  ASSERT_TRUE(c) << c.error().message();

  auto f = c->post("/filter", args("extender-args-4gpu-nodenames.json").dump());
  ASSERT_TRUE(f && f->status == 200) << (f ? f->body : f.error().message()) << p.log();
  EXPECT_EQ(Json::parse(f->body)["nodenames"].size(), 3u);
  auto pr = c->post("/prioritize", one_gpu_pod_args().dump());
  ASSERT_TRUE(pr && pr->status == 200) << (pr ? pr->body : "");
  EXPECT_EQ(Json::parse(pr->body).size(), 6u);
  auto bad = c->post("/filter", "{not json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;

  // a100-empty leaves the cluster: the next request sees it gone.
  Json st = Json::parse(read(state.string()));
  st["nodes"].erase(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a distinct mtime
  std::ofstream(state) << st.dump();
  auto f2 = c->post("/filter", args("extender-args-4gpu-nodenames.json").dump());
  ASSERT_TRUE(f2 && f2->status == 200);
  Json r2 = Json::parse(f2->body);
  EXPECT_EQ(r2["nodenames"], Json({"a100-half", "a100-shared"})) << r2.dump(2) << p.log();
  EXPECT_TRUE(r2["failedAndUnresolvableNodes"].contains("a100-empty"));
}

}  // namespace
}  // namespace aion::k8s
