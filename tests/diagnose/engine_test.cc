#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/diagnose/engine.h"
#include "aion/diagnose/logtime.h"
#include "test_util.h"

namespace aion::diagnose {
namespace {

using testing::at;
using testing::shipped;

void feed(Engine& e, const std::string& fixture, const std::string& source) {
  std::ifstream in(testing::fixture_path("logs") / fixture);
  ASSERT_TRUE(in) << fixture;
  Clock::Wall t{};
  for (std::string line; std::getline(in, line);) {
    if (auto p = parse_log_time(line, 2026, Clock::Wall{})) t = *p;
    e.on_log_line(source, t, line);
  }
}

const Incident* find_top(const std::vector<Incident>& all, const std::string& signature) {
  for (const auto& i : all)
    if (!i.hypotheses.empty() && i.hypotheses.front().signature == signature) return &i;
  return nullptr;
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

TEST(IncidentEngineTest, KernelLogFixtureGivesOneIncidentPerFaultWithTheRightRootCause) {
  Engine e(shipped().catalog, *shipped().matcher, {});
  feed(e, "gpu_fault.log", "kmsg");
  auto all = e.incidents();
  ASSERT_EQ(all.size(), 4u);

  const Incident* gpu = find_top(all, "nvidia-xid-79");
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->severity, "critical");
  EXPECT_TRUE(has(gpu->devices, "pci:0000:07:00.0"));
  EXPECT_EQ(gpu->title, "Xid 79: GPU has fallen off the bus on 0000:07:00.0");
  ASSERT_GE(gpu->hypotheses.size(), 3u);
  // The PCIe fatal error that preceded it is the runner-up, the Xid 45 clean-up far behind.
  EXPECT_EQ(gpu->hypotheses[1].signature, "pcie-aer-uncorrected");
  EXPECT_EQ(gpu->hypotheses.back().signature, "nvidia-xid-45");
  EXPECT_GT(gpu->hypotheses[0].confidence, gpu->hypotheses[1].confidence);
  double sum = 0;
  for (const auto& h : gpu->hypotheses) sum += h.confidence;
  EXPECT_NEAR(sum, 1.0, 0.02);
  EXPECT_EQ(gpu->hypotheses[0].playbook, "drain-and-reset-gpu");
  EXPECT_EQ(gpu->opened_ms, to_unix_ms(at(10, 12, 3)));
  EXPECT_EQ(gpu->evidence_total, 6u);  // 2 corrected AER, 2 fatal AER, Xid 79, Xid 45

  const Incident* oom = find_top(all, "oom-killer");
  ASSERT_NE(oom, nullptr);
  EXPECT_EQ(oom->jobs, std::vector<std::int64_t>{17});
  const Incident* hung = find_top(all, "hung-task");
  ASSERT_NE(hung, nullptr);
  EXPECT_NE(hung->id, oom->id);

  const Incident* disk = find_top(all, "nvme-reset");
  ASSERT_NE(disk, nullptr);
  EXPECT_TRUE(has(disk->devices, "disk:nvme0"));
  ASSERT_EQ(disk->hypotheses.size(), 3u);  // reset, ext4 error on its partition, timeouts
  EXPECT_EQ(disk->hypotheses[2].evidence_count, 2u);
}

TEST(IncidentEngineTest, EvidenceCorrelatesOnlyWithinTheWindowAndOnTheSameDevice) {
  EngineOptions o;
  o.window = std::chrono::minutes(5);
  Engine e(shipped().catalog, *shipped().matcher, o);
  // Distinct pids: a shared pid (one process on two GPUs) would correlate them too.
  int pid = 100;
  auto xid = [&pid](const char* pci, int code) {
    return std::string("NVRM: Xid (PCI:") + pci + "): " + std::to_string(code) +
           ", pid=" + std::to_string(++pid) + ", x";
  };
  e.on_log_line("kmsg", at(10, 0, 0), xid("0000:07:00", 48));
  e.on_log_line("kmsg", at(10, 4, 0), xid("0000:07:00", 63));   // 4 min later: same incident
  e.on_log_line("kmsg", at(10, 4, 30), xid("0000:0b:00", 79));  // other GPU: its own
  e.on_log_line("kmsg", at(10, 10, 0), xid("0000:07:00", 48));  // 6 min after the last: new
  auto all = e.incidents();
  ASSERT_EQ(all.size(), 3u);
  std::map<std::int64_t, const Incident*> by_id;
  for (const auto& i : all) by_id[i.id] = &i;
  EXPECT_EQ(by_id[1]->evidence_total, 2u);
  EXPECT_EQ(by_id[1]->hypotheses.front().signature, "nvidia-xid-48");
  EXPECT_TRUE(has(by_id[2]->devices, "pci:0000:0b:00.0"));
  EXPECT_EQ(by_id[3]->evidence_total, 1u);
  // A node-wide fault (no device) joins the most recent incident in its window.
  e.on_log_line("kmsg", at(10, 11, 0), "mce: [Hardware Error]: Machine check events logged");
  EXPECT_EQ(e.incident(3)->evidence_total, 2u);
  EXPECT_EQ(e.incidents().size(), 3u);
}

TEST(IncidentEngineTest, FailedJobIsLinkedToTheGpuFaultThatExplainsIt) {
  EngineOptions o;
  o.gpu_by_pci = {{"0000:07:00.0", 0}};
  Engine e(shipped().catalog, *shipped().matcher, o);
  std::vector<std::vector<std::int64_t>> merges;
  e.set_listener([&](const Incident&, const std::vector<std::int64_t>& merged) {
    if (!merged.empty()) merges.push_back(merged);
  });
  feed(e, "gpu_fault.log", "kmsg");
  feed(e, "job12_output.log", "job:12");
  // The job's CUDA errors stand alone until the scheduler says where the job ran.
  EXPECT_EQ(e.incidents().size(), 5u);
  Json job = {{"id", 12},
              {"state", "failed"},
              {"gpu_pci", {"0000:07:00.0"}},
              {"reason", "exited with status 1"}};
  e.on_event("job", "warning", "job 12 (train, alice): failed: exited with status 1", job.dump(),
             at(10, 13, 6), 345);
  auto all = e.incidents();
  ASSERT_EQ(all.size(), 4u);
  ASSERT_EQ(merges.size(), 1u);
  const Incident* gpu = find_top(all, "nvidia-xid-79");
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->jobs, std::vector<std::int64_t>{12});
  EXPECT_TRUE(has(gpu->devices, "gpu:0"));  // from the inventory's pci -> index map
  EXPECT_EQ(gpu->title, "Xid 79: GPU has fallen off the bus on GPU 0 (0000:07:00.0)");
  bool cuda = false, failed = false;
  for (const auto& ev : gpu->evidence) {
    cuda = cuda || (ev.signature == "cuda-error" && ev.source == "job:12");
    failed = failed || (ev.signature == "job-failed" && ev.source == "event:345");
  }
  EXPECT_TRUE(cuda);
  EXPECT_TRUE(failed);
  // Symptoms rank below the hardware fault.
  for (const auto& h : gpu->hypotheses) {
    if (h.signature == "job-failed" || h.signature == "nccl-timeout") {
      EXPECT_LT(h.confidence, gpu->hypotheses.front().confidence);
    }
  }
}

TEST(IncidentEngineTest, AJobNamedByAKernelLineIsLinkedOnlyIfThisSchedulerRanItThen) {
  // The OOM kill of another scheduler's job-1 (a test's cgroup, an old boot) sits in the ring
  // buffer next to a kill of this node's job 7.
  const std::string other =
      "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=job-1,mems_allowed=0,"
      "oom_memcg=/aion.test.17848/job-1,task_memcg=/aion.test.17848/job-1,task=dd,pid=17865,uid=0";
  const std::string ours =
      "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=job-7,mems_allowed=0,"
      "oom_memcg=/aion.jobs/job-7,task_memcg=/aion.jobs/job-7,task=python,pid=4242,uid=1000";
  for (bool checked : {false, true}) {
    EngineOptions o;
    std::vector<std::pair<std::int64_t, std::int64_t>> asked;
    if (checked) {
      o.job_ran_at = [&](std::int64_t job, std::int64_t t_ms) {
        asked.emplace_back(job, t_ms);
        return job == 7;
      };
    }
    Engine e(shipped().catalog, *shipped().matcher, o);
    e.on_log_line("kmsg", at(10, 0, 0), other);
    e.on_log_line("kmsg", at(10, 20, 0), ours);
    std::set<std::int64_t> linked;
    for (const auto& i : e.incidents()) linked.insert(i.jobs.begin(), i.jobs.end());
    if (checked) {
      EXPECT_EQ(linked, std::set<std::int64_t>{7});
      EXPECT_EQ(e.stats().unknown_jobs, 1u);
      ASSERT_EQ(asked.size(), 2u);
      EXPECT_EQ(asked[0].second, std::chrono::duration_cast<std::chrono::milliseconds>(
                                     at(10, 0, 0).time_since_epoch())
                                     .count());
    } else {
      EXPECT_EQ(linked, (std::set<std::int64_t>{1, 7}));  // no job table: taken as written
    }
  }
}

// With NFS's default timeo=600,retrans=2 the hung task watchdog (120 s) speaks before the
// client prints "not responding" (180 s): the cause arrives after its symptoms and takes in
// the incidents they opened.
TEST(IncidentEngineTest, ACauseArrivingAfterItsSymptomsTakesThemIn) {
  Engine e(shipped().catalog, *shipped().matcher, {});
  e.on_log_line("kmsg", at(3, 2, 0), "INFO: task python3:811 blocked for more than 120 seconds.");
  e.on_log_line("kmsg", at(3, 2, 0), "INFO: task rsync:902 blocked for more than 120 seconds.");
  e.on_log_line("kmsg", at(3, 2, 30), "INFO: task dd:977 blocked for more than 120 seconds.");
  EXPECT_EQ(e.incidents().size(), 3u);  // pids share nothing, and no cause is known yet
  e.on_log_line("kmsg", at(3, 3, 1), "nfs: server nas01 not responding, still trying");
  auto all = e.incidents();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].hypotheses.front().signature, "nfs-not-responding");
  EXPECT_EQ(all[0].evidence_total, 4u);
  // A GPU fault at the same time is no cause of hung tasks and stays apart.
  e.on_log_line("kmsg", at(3, 3, 5), "NVRM: Xid (PCI:0000:07:00): 79, pid=5, GPU has fallen");
  EXPECT_EQ(e.incidents().size(), 2u);
}

TEST(IncidentEngineTest, NvmlXidAndAnomalyEventsBecomeEvidenceOnTheSameGpu) {
  EngineOptions o;
  o.gpu_by_pci = {{"0000:03:00.0", 0}};
  Engine e(shipped().catalog, *shipped().matcher, o);
  Json anomaly = {
      {"series", "aion_gpu_temperature_celsius{gpu=\"0\",model=\"A100\",pci=\"0000:03:00.0\"}"},
      {"value", 91.0},
      {"baseline", 62.0},
      {"score", 0.93}};
  e.on_event("anomaly", "warning", "aion_gpu_temperature_celsius...: far above", anomaly.dump(),
             at(9, 0, 0), 7);
  Json xid = {{"pci", "0000:03:00.0"}, {"kind", "xid"}, {"gpu", 0}, {"xid", 79}};
  e.on_event("gpu", "critical", "GPU 0 reported Xid 79 (NVML event)", xid.dump(), at(9, 0, 20), 8);
  e.on_event("daemon_started", "info", "aiond started", "{}", at(9, 0, 30), 9);  // ignored
  auto all = e.incidents();
  ASSERT_EQ(all.size(), 1u);
  const Incident& i = all.front();
  EXPECT_EQ(i.hypotheses.front().signature, "nvidia-xid-79");
  EXPECT_EQ(i.hypotheses.back().signature, "telemetry-anomaly");
  ASSERT_EQ(i.evidence.size(), 2u);
  Json m = Json::parse(i.evidence.front().metrics_json);
  EXPECT_EQ(m["value"], 91.0);
  EXPECT_EQ(m["baseline"], 62.0);
  EXPECT_EQ(e.stats().events, 3u);
}

}  // namespace
}  // namespace aion::diagnose
