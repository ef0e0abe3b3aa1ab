// The router without a language model, over a fixture node: the dgx-a100 machine as `aion hw`
// reads it, the tuning host fixture, the shipped catalogs and tables, and aiond's answers for
// recorded jobs and incidents (tests/fixtures/copilot). Each case is a question, the kind it
// must be taken for and the facts its answer must hold; questions outside the router's reach
// must get an honest "I can't answer that".
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "aion/copilot/node_tools.h"
#include "aion/copilot/router.h"
#include "aion/diagnose/catalog.h"
#include "aion/envcfg/machine.h"
#include "aion/hw/inventory_json.h"
#include "support/fixtures.h"

namespace aion::copilot {
namespace {

using aion::testing::fixture_path;
using aion::testing::read_fixture;
using aion::testing::source_path;

std::shared_ptr<NodeFacts> dgx_facts() {
  auto f = std::make_shared<NodeFacts>();
  auto inv = hw::inventory_from_json(read_fixture("../golden/cli/hw/dgx-a100.json"));
  EXPECT_TRUE(inv.has_value()) << inv.error().message();
  f->inventory = std::move(*inv);
  f->machine_label = "dgx-a100 fixture";
  f->host = HostFs(fixture_path("tune/host"));
  auto cat = diagnose::Catalog::load_dir(source_path("data/signatures"));
  EXPECT_TRUE(cat.has_value()) << cat.error().message();
  f->catalog = std::make_shared<const diagnose::Catalog>(std::move(*cat));
  auto kb = envcfg::load_knowledge(source_path("data/envcfg"));
  EXPECT_TRUE(kb.has_value()) << kb.error().message();
  auto m = envcfg::machine_from_json(read_fixture("machines/dgx-a100.json"), "dgx-a100.json", *kb);
  EXPECT_TRUE(m.has_value()) << m.error().message();
  f->env_machine = std::move(*m);
  f->knowledge = std::make_shared<const envcfg::Knowledge>(std::move(*kb));
  auto profiles = tune::ProfileCatalog::load(source_path("data/profiles"), *f->host);
  EXPECT_TRUE(profiles.has_value()) << profiles.error().message();
  f->profiles = std::make_shared<const tune::ProfileCatalog>(std::move(*profiles));
  return f;
}

// aiond's tools answering from the recorded daemon state.
void add_recorded_daemon(Toolbox& box) {
  static const Json d = Json::parse(read_fixture("copilot/daemon.json"));
  const auto obj = [] { return Json{{"type", "object"}, {"properties", Json::object()}}; };
  box.add({"jobs", "jobs", obj()}, [](const Json& a) -> Result<ToolOutput> {
    const long long id = int_arg(a, "id", -1);
    if (id < 0) return ToolOutput{d["jobs"]["active"], "aiond: jobs"};
    if (!d["jobs"].contains(std::to_string(id)))
      return fail(ErrorCode::kNotFound, "no job " + std::to_string(id));
    return ToolOutput{d["jobs"][std::to_string(id)], "aiond: job " + std::to_string(id)};
  });
  for (const char* name : {"queue", "gpus_free", "incidents"}) {
    box.add({name, name, obj()}, [name](const Json&) -> Result<ToolOutput> {
      return ToolOutput{d[name], std::string("aiond: ") + name};
    });
  }
  box.add({"metrics", "metrics", obj()}, [](const Json& a) -> Result<ToolOutput> {
    const std::string q = string_arg(a, "query");
    return ToolOutput{d["metrics"].value(q, Json{{"series", Json::array()}}),
                      "aiond: metrics " + q};
  });
  box.add({"log_templates", "log templates", obj()}, [](const Json&) -> Result<ToolOutput> {
    return ToolOutput{d["log_templates"], "aiond: log templates"};
  });
  box.add({"job_guard", "guard record", obj()}, [](const Json& a) -> Result<ToolOutput> {
    const std::string id = std::to_string(int_arg(a, "id", -1));
    if (!d["guard"].contains(id)) return fail(ErrorCode::kNotFound, "no job " + id);
    return ToolOutput{d["guard"][id], "aiond: job " + id + "'s guard record"};
  });
}

const Router& router() {
  static const Router r = [] {
    auto loaded = Router::load(source_path("data/copilot/intents.toml"));
    EXPECT_TRUE(loaded.has_value()) << loaded.error().message();
    return std::move(*loaded);
  }();
  return r;
}

const Toolbox& node_with_daemon() {
  static const Toolbox box = [] {
    Toolbox b;
    add_node_tools(b, dgx_facts());
    add_recorded_daemon(b);
    return b;
  }();
  return box;
}

struct Case {
  std::string question;
  std::string intent;
  std::vector<std::string> facts;  // substrings the answer must hold
};

// The questions with the kind they are and the facts of the fixture node they need.
const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"How many GPUs does this machine have?",
       "gpu_count",
       {"8 gpus", "8 x NVIDIA A100-SXM4-80GB"}},
      {"how many accelerators are in this box", "gpu_count", {"8 gpus"}},
      {"Which GPU models are installed?",
       "gpu_models",
       {"8 x NVIDIA A100-SXM4-80GB", "0000:c5:00.0"}},
      {"What kind of GPU is GPU 5?", "gpu_models", {"GPU5", "0000:85:00.0"}},
      {"How much memory does each GPU have?",
       "gpu_memory",
       {"GPU0 (NVIDIA A100-SXM4-80GB): 80.0 GiB", "640 GiB"}},
      {"How much VRAM does GPU 2 have?", "gpu_memory", {"GPU2", "80.0 GiB"}},
      {"Which GPUs are NVLinked?",
       "nvlink",
       {"8 GPUs are linked", "NV12: NVLink, 12 links", "28 pairs"}},
      {"How are GPU 0 and GPU 5 connected?", "gpu_link", {"GPU0 and GPU5", "NV12"}},
      {"what is the link between gpu 1 and gpu 7?", "gpu_link", {"NVLink"}},
      {"Which NIC is closest to GPU 3?",
       "nic_for_gpu",
       {"GPU3: closest NIC mlx5_2 (ibp68s0) (NIC2, PIX)"}},
      {"which rdma nic should gpu 6 use", "nic_for_gpu", {"mlx5_6"}},
      {"Which NUMA node is GPU 2 on?", "gpu_numa", {"GPU2: NUMA node 1", "4-7,20-23"}},
      {"what are the local cpus of gpu 7", "gpu_numa", {"GPU7: NUMA node 3", "12-15,28-31"}},
      {"Is MIG enabled?", "mig", {"MIG is disabled on GPU0", "GPU7"}},
      {"What compute capability do the GPUs have?",
       "compute_capability",
       {"compute capability 8.0 (sm_80)"}},
      {"Which NVIDIA driver version is installed?",
       "driver_version",
       {"NVIDIA driver: 535.104.05", "nvme0 firmware 1.0"}},
      {"Are the GPUs' PCIe links running at full speed?",
       "pcie_link",
       {"GPU3: 16.0 GT/s PCIe x8 (max 16.0 GT/s PCIe x16)  DEGRADED", "1 link(s)"}},
      {"Are all GPUs healthy?", "gpu_health", {"All 8 accelerators report state ok"}},
      {"How many NUMA nodes are there?",
       "numa_nodes",
       {"4 NUMA nodes", "node 3: CPUs 12-15,28-31"}},
      {"What CPU does this machine have?",
       "cpu_info",
       {"AMD EPYC 7742 64-Core Processor", "2 socket(s)", "32 logical CPUs"}},
      {"How much RAM is there?", "memory_total", {"1.0 TiB in all", "768 GiB available"}},
      {"How many hugepages are reserved?", "hugepages", {"Hugepages of 2.0 MiB: 0 reserved"}},
      {"Which network interfaces does this node have?",
       "nics",
       {"ibp4s0: 200 Gb/s", "RDMA mlx5_0"}},
      {"What disks are installed?", "storage", {"nvme0n1: SAMSUNG MZ1LB1T9HALS", "1.7 TiB"}},
      {"Which kernel is running?", "kernel_version", {"5.15.0-aion-fixture"}},
      {"What is this node's hostname?", "hostname", {"dgx-a100-like"}},
      {"What does Xid 79 mean and what do I do?",
       "xid_meaning",
       {"fallen off the bus", "What to do:"}},
      {"xid 48?", "xid_meaning", {"Xid 48", "ECC"}},
      {"What does 'GPU has fallen off the bus' mean?", "fault_meaning", {"fallen off the bus"}},
      {"What does 'CUDA driver version is insufficient for CUDA runtime version' mean?",
       "env_error",
       {"NVIDIA driver too old for the CUDA runtime", "driver 535.104.05 runs CUDA up to 12.2"}},
      {"ImportError: libcudnn.so.9: cannot open shared object file",
       "env_error",
       {"cuDNN library not found", "libcudnn.so.9"}},
      {"What would the ai-training profile change on this node?",
       "tuning_diff",
       {"Applying ai-training would change 12 setting(s), 20 attribute(s)",
        "sysctl.kernel.numa_balancing: 1 -> 0", "sysctl.vm.swappiness: 60 -> 10",
        "sudo aion tune apply ai-training"}},
      {"Can this box run PyTorch 2.8?", "env_can_run", {"Yes: torch 2.8", "pip install"}},
      {"can I install tensorflow here", "env_can_run", {"Yes: tensorflow"}},
      {"Which CUDA version can I use on this machine?",
       "cuda_version",
       {"The newest CUDA toolkit that fits", "12."}},
      {"How do I turn off NUMA balancing?",
       "numa_balancing",
       {"is 1 (on)", "sysctl -w kernel.numa_balancing=0"}},
      {"Are transparent hugepages enabled?", "thp", {"always [madvise] never"}},
      {"What is vm.swappiness set to?", "swappiness", {"vm.swappiness is 60"}},
      {"How is this node tuned?", "tuning_status", {"numa_balancing = 1", "ai-training"}},
      {"What did job 44's sandbox refuse, and which endpoints did it reach?",
       "job_guard",
       {"Job 44 runs under the 'agent' sandbox", "fs.read_file /home/bob/.ssh/id_ed25519",
        "162.159.140.245:443 (OpenAI API): 17.8 KiB sent, 94.3 KiB received", "aion guard log 44"}},
      {"which APIs did job 40 talk to?", "job_guard", {"Job 40 ran without a sandbox"}},
      {"Why did job 42 die?",
       "job_died",
       {"Job 42 (llama-finetune) failed", "OOM killer", "aion logs 42"}},
      {"why did job 43 fail",
       "job_died",
       {"exit code 1", "Incident 5 involves it", "fell off the bus"}},
      {"Why is job 7 still pending?",
       "job_waits",
       {"needs 8 GPUs, 4 free", "number 2 in the queue"}},
      {"What is job 40 doing?", "job_status", {"Job 40 (serve-llm) is running", "GPUs 0,1"}},
      {"Which jobs are running?",
       "jobs_overview",
       {"2 job(s) running: 40 serve-llm and 41 eval-nightly", "1 job(s) pending"}},
      {"Which GPUs are free and NVLinked?",
       "free_gpus",
       {"4 GPU(s) free: GPU4, GPU5, GPU6 and GPU7", "drained: Xid 79", "GPU4-GPU5 (NV12)"}},
      {"Any incidents on this node?",
       "incidents",
       {"2 incident(s)", "#5 [critical] GPU 0000:45:00.0 fell off the bus (Xid 79)"}},
      {"What is the GPU utilization right now?", "gpu_metrics", {"gpu=\"0\"}: 93%", "88%"}},
      {"how hot are the gpus", "gpu_metrics", {"64 C"}},
      {"What errors showed up in the logs recently?", "log_errors", {"3  NVRM: Xid"}},
  };
  return c;
}

TEST(Router, AnswersTheFixtureNodesQuestionsWithTheirFacts) {
  int right = 0;
  for (const Case& c : cases()) {
    const Answer a = router().answer(c.question, node_with_daemon());
    std::string all = a.text;
    for (const auto& cmd : a.commands) all += "\n" + cmd;
    bool ok = a.answered && a.intent == c.intent && !a.sources.empty();
    for (const auto& f : c.facts) ok = ok && all.find(f) != std::string::npos;
    EXPECT_TRUE(ok) << "Q: " << c.question << "\n intent " << a.intent << " (want " << c.intent
                    << "), answered " << a.answered << "\n"
                    << a.text;
    right += ok;
  }
  std::printf("router: %d of %zu questions answered with the expected facts\n", right,
              cases().size());
  EXPECT_GE(cases().size(), 40u);
}

// Operators' phrasings of each kind (tests/fixtures/copilot/questions.tsv): the router must take
// at least 95% of each split for the kind written beside it.
TEST(Router, TakesPhrasingsForTheirKind) {
  std::map<std::string, std::pair<int, int>> score;  // split -> (right, all)
  std::istringstream in(read_fixture("copilot/questions.tsv"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    const std::string split = line.substr(0, t1), want = line.substr(t1 + 1, t2 - t1 - 1);
    const std::string q = line.substr(t2 + 1);
    const Intent* got = router().classify(q);
    // Two GPUs named in an NVLink question: the nvlink writer answers as gpu_link does.
    const bool ok = got && (got->id == want || (want == "gpu_link" && got->id == "nvlink"));
    EXPECT_TRUE(ok) << split << ": \"" << q << "\" taken for " << (got ? got->id : "nothing")
                    << ", not " << want;
    auto& [right, all] = score[split];
    right += ok;
    ++all;
  }
  for (const auto& [split, s] : score) {
    std::printf("router: %s split %d of %d phrasings taken for their kind\n", split.c_str(),
                s.first, s.second);
    EXPECT_GE(s.first * 100, s.second * 95) << split;
  }
  EXPECT_EQ(score.size(), 2u);
}

TEST(Router, EveryAnswerCitesTheToolsItUsed) {
  const Answer a = router().answer("Which GPUs are free and NVLinked?", node_with_daemon());
  ASSERT_EQ(a.calls.size(), 2u);
  EXPECT_EQ(a.calls[0].tool, "gpus_free");
  EXPECT_EQ(a.calls[1].tool, "topology");
  EXPECT_EQ(a.sources,
            (std::vector<std::string>{"aiond: gpus_free", "aion hw topo (dgx-a100 fixture)"}));
}

TEST(Router, SaysPlainlyWhatItCannotAnswer) {
  for (const char* q : {"What is the meaning of life?", "Write me a poem about GPUs in spring",
                        "Who won the football match yesterday?", "   "}) {
    const Answer a = router().answer(q, node_with_daemon());
    EXPECT_FALSE(a.answered) << q << "\n" << a.text;
    EXPECT_NE(a.text.find("I can't answer that"), std::string::npos) << a.text;
  }
  // A kind it knows about facts that are not there: no such GPU, no such job, no Xid entry.
  for (const char* q :
       {"Which NUMA node is GPU 12 on?", "Why did job 999 die?", "What does Xid 9999 mean?"}) {
    const Answer a = router().answer(q, node_with_daemon());
    EXPECT_FALSE(a.answered) << q << "\n" << a.text;
    EXPECT_NE(a.text.find("I can't answer that here"), std::string::npos) << a.text;
  }
}

TEST(Router, WithoutTheDaemonJobQuestionsSayWhatIsMissing) {
  Toolbox offline;
  add_node_tools(offline, dgx_facts());
  const Answer a = router().answer("Why did job 42 die?", offline);
  EXPECT_FALSE(a.answered);
  EXPECT_NE(a.text.find("they come from aiond"), std::string::npos) << a.text;
  EXPECT_TRUE(router().answer("How many GPUs are there?", offline).answered);
}

TEST(Question, NamesGpusJobsXidsAndFrameworks) {
  const Question q =
      parse_question("Are GPUs 0, 3 and 5 NVLinked to gpu7? job #12, xid: 79, torch 2.4");
  EXPECT_EQ(q.gpus, (std::vector<int>{0, 3, 5, 7}));
  EXPECT_EQ(q.job, 12);
  EXPECT_EQ(q.xid, 79);
  EXPECT_EQ(q.framework, "pytorch==2.4");
  EXPECT_TRUE(parse_question("how many cores").gpus.empty());
}

TEST(Intents, FileErrorsCiteFileAndLine) {
  auto r = Router::parse("schema_version = 1\n[[intent]]\nid = \"gpu_count\"\npatterns = ['(']\n",
                         "x.toml");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("x.toml:2"), std::string::npos) << r.error().message();
  auto w = Router::parse("schema_version = 1\n[[intent]]\nid = \"no_such\"\npatterns = ['x']\n",
                         "y.toml");
  ASSERT_FALSE(w.has_value());
  EXPECT_NE(w.error().message().find("no answer writer"), std::string::npos);
}

}  // namespace
}  // namespace aion::copilot
