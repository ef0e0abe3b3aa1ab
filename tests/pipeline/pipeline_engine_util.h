// Helpers of the pipeline engine tests: a JobLauncher that runs nothing (the test sets each
// job's phase), an engine on an in-memory or file store with a ManualClock, and a pipeline
// parsed from text in a TempDir. FakeLauncher is thread-safe (its mutex); the rest is test
// code for one thread.
#pragma once

#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aion/pipeline/pipeline_runner.h"
#include "aion/pipeline/pipeline_spec.h"
#include "aion/store/database.h"
#include "aion/store/store.h"
#include "support/temp_dir.h"

namespace aion::pipeline::test {

class FakeLauncher : public JobLauncher {
 public:
  Result<std::int64_t> submit(const sched::JobSpec& spec) override {
    std::lock_guard lock(mu_);
    const std::int64_t id = next_id_++;
    specs_[id] = spec;
    jobs_[id] = JobStatus{JobPhase::kPending, 0, ""};
    order_.push_back(id);
    return id;
  }
  Result<JobStatus> status(std::int64_t id) override {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return JobStatus{JobPhase::kGone, 0, "unknown job"};
    return it->second;
  }
  Status cancel(std::int64_t id) override {
    std::lock_guard lock(mu_);
    cancelled_.push_back(id);
    if (auto it = jobs_.find(id); it != jobs_.end()) it->second.phase = JobPhase::kCancelled;
    return {};
  }
  Result<std::optional<std::int64_t>> find(const std::string& name) override {
    std::lock_guard lock(mu_);
    for (const auto& [id, s] : specs_) {
      if (s.name == name) return std::optional<std::int64_t>{id};
    }
    return std::optional<std::int64_t>{};
  }

  void set(std::int64_t id, JobPhase phase, int exit_code = 0) {
    std::lock_guard lock(mu_);
    jobs_[id] = JobStatus{phase, exit_code, ""};
  }
  void forget(std::int64_t id) {
    std::lock_guard lock(mu_);
    jobs_.erase(id);
  }
  // Submissions in order.
  std::vector<std::int64_t> submitted() {
    std::lock_guard lock(mu_);
    return order_;
  }
  std::size_t count() { return submitted().size(); }
  sched::JobSpec spec(std::int64_t id) {
    std::lock_guard lock(mu_);
    return specs_.at(id);
  }
  // The newest job of a stage (by AION_STAGE); 0 when none.
  std::int64_t job_of(const std::string& stage) {
    std::lock_guard lock(mu_);
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
      if (specs_.at(*it).env.at("AION_STAGE") == stage) return *it;
    }
    return 0;
  }
  std::vector<std::string> stages_submitted() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (auto id : order_) out.push_back(specs_.at(id).env.at("AION_STAGE"));
    return out;
  }
  std::vector<std::int64_t> cancelled() {
    std::lock_guard lock(mu_);
    return cancelled_;
  }

 private:
  // Guards every member below.
  std::mutex mu_;
  std::int64_t next_id_ = 1;
  std::map<std::int64_t, sched::JobSpec> specs_;
  std::map<std::int64_t, JobStatus> jobs_;
  std::vector<std::int64_t> order_;
  std::vector<std::int64_t> cancelled_;
};

inline std::unique_ptr<store::Store> open_store(const std::string& path) {
  auto db = store::Database::open({.path = path}, PipelineService::migrations());
  EXPECT_TRUE(db) << (db ? "" : db.error().message());
  return std::make_unique<store::Store>(std::move(*db));
}

struct Engine {
  explicit Engine(std::string db_path = ":memory:") : db_path(std::move(db_path)) { reopen(); }

  // A new service (and store connection) on the same database, as after a daemon restart.
  void reopen() {
    svc.reset();
    store.reset();
    store = open_store(db_path == ":memory:" ? db_path : (dir / db_path).string());
    svc = std::make_unique<PipelineService>(*store, jobs, datasets(), clock);
  }
  DatasetResolver datasets() {
    return [this](std::uint32_t, const std::string& name,
                  const std::string& version) -> Result<DatasetInput> {
      auto it = dataset_versions.find(name);
      if (it == dataset_versions.end()) return fail(ErrorCode::kNotFound, "no dataset " + name);
      return DatasetInput{it->second, "manifest-" + std::to_string(it->second),
                          (dir / "datasets" / name).string(),
                          version.empty() ? std::to_string(it->second) : version};
    };
  }

  PipelineSpec spec(const std::string& text) {
    auto r = parse_pipeline(text, dir.path());
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    auto v = validate(*r, NodeCapacity{8, 64, 0});
    EXPECT_TRUE(v) << (v ? "" : v.error().message());
    return *r;
  }
  std::int64_t run(const std::string& text, bool force = false) {
    auto id = svc->submit(spec(text), Owner{::geteuid(), ::getegid(), "tester"}, RunOptions{force});
    EXPECT_TRUE(id) << (id ? "" : id.error().message());
    return id ? *id : 0;
  }
  Json get(std::int64_t run_id) {
    auto j = svc->get(run_id);
    EXPECT_TRUE(j) << (j ? "" : j.error().message());
    return j ? *j : Json();
  }
  std::string run_state(std::int64_t run_id) { return get(run_id)["run"]["state"]; }
  Json stage(std::int64_t run_id, const std::string& name) {
    const Json run = get(run_id);
    for (const auto& s : run["stages"]) {
      if (s["stage"] == name) return s;
    }
    ADD_FAILURE() << "no stage " << name;
    return Json();
  }
  std::string state(std::int64_t run_id, const std::string& name) {
    return stage(run_id, name)["state"];
  }
  // Marks the newest job of `stage` succeeded after writing `outputs` (relative, content).
  void succeed(const std::string& stage_name,
               const std::map<std::string, std::string>& outputs = {}) {
    for (const auto& [p, text] : outputs) dir.write(p, text);
    const auto id = jobs.job_of(stage_name);
    ASSERT_NE(id, 0) << "no job for " << stage_name;
    jobs.set(id, JobPhase::kSucceeded);
  }
  void advance_s(int s) { clock.advance(std::chrono::seconds(s)); }

  aion::testing::TempDir dir{"pipeline-engine"};
  std::string db_path;
  ManualClock clock;
  FakeLauncher jobs;
  std::map<std::string, std::int64_t> dataset_versions;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<PipelineService> svc;
};

}  // namespace aion::pipeline::test
