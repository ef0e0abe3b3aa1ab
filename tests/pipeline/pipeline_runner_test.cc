// The pipeline engine on a fake scheduler and a ManualClock: DAG order, retries with backoff
// and checkpoint resume, timeouts, skipping unchanged stages, artifacts and lineage, cancel and
// retry, and durability across a restart of the service.
#include "aion/pipeline/pipeline_runner.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "aion/pipeline/hash.h"

#include "pipeline_engine_util.h"

namespace aion::pipeline {
namespace {

using test::Engine;

constexpr const char* kDiamond = R"(name = "diamond"
[[stage]]
name = "a"
command = ["a"]
outputs = ["a.out"]
[[stage]]
name = "b"
command = ["b"]
depends_on = ["a"]
inputs = ["a.out"]
outputs = ["b.out"]
[[stage]]
name = "c"
command = ["c"]
depends_on = ["a"]
inputs = ["a.out"]
outputs = ["c.out"]
[[stage]]
name = "d"
command = ["d"]
depends_on = ["b", "c"]
inputs = ["b.out", "c.out"]
outputs = ["d.out"]
)";

TEST(PipelineRunner, RunsTheDagInOrderAsStagesBecomeReady) {
  Engine e;
  auto run = e.run(kDiamond);
  e.svc->tick();
  EXPECT_EQ(e.jobs.stages_submitted(), std::vector<std::string>{"a"});
  EXPECT_EQ(e.run_state(run), "running");
  e.svc->tick();
  EXPECT_EQ(e.jobs.count(), 1u);  // a still pending
  e.succeed("a", {{"a.out", "A"}});
  e.svc->tick();
  EXPECT_EQ(e.jobs.stages_submitted(), (std::vector<std::string>{"a", "b", "c"}));
  e.succeed("b", {{"b.out", "B"}});
  e.svc->tick();
  EXPECT_EQ(e.jobs.count(), 3u);  // d waits for c
  EXPECT_EQ(e.state(run, "d"), "pending");
  e.succeed("c", {{"c.out", "C"}});
  e.svc->tick();
  EXPECT_EQ(e.jobs.stages_submitted().back(), "d");
  e.succeed("d", {{"d.out", "D"}});
  e.svc->tick();
  EXPECT_EQ(e.run_state(run), "succeeded");
  // The job carries the run, the stage, the attempt and the owner.
  auto spec = e.jobs.spec(e.jobs.job_of("b"));
  EXPECT_EQ(spec.env.at("AION_PIPELINE_RUN"), std::to_string(run));
  EXPECT_EQ(spec.env.at("AION_STAGE"), "b");
  EXPECT_EQ(spec.env.at("AION_ATTEMPT"), "1");
  EXPECT_EQ(spec.uid, ::geteuid());
  EXPECT_EQ(spec.user, "tester");
  EXPECT_EQ(spec.cwd, e.dir.string());
  EXPECT_EQ(spec.name, "pipeline-" + std::to_string(run) + "-b-1");
}

void touch_at(const std::filesystem::path& p, std::int64_t sec) {
  struct timespec t[2] = {{sec, 0}, {sec, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, p.c_str(), t, 0), 0);
}

constexpr const char* kTrain = R"(name = "train"
[[stage]]
name = "train"
command = ["train"]
retries = 2
backoff_s = 10
checkpoint_dir = "ckpt"
outputs = ["model.bin"]
[[stage]]
name = "eval"
command = ["eval"]
depends_on = ["train"]
inputs = ["model.bin"]
)";

TEST(PipelineRunner, RetriesWithBackoffAndResumesFromTheNewestCheckpoint) {
  Engine e;
  e.dir.write("ckpt/step-200", "new");
  e.dir.mkdir("ckpt/step-100");
  touch_at(e.dir / "ckpt/step-200", 2000);
  touch_at(e.dir / "ckpt/step-100", 1000);
  auto run = e.run(kTrain);
  e.svc->tick();
  ASSERT_EQ(e.jobs.count(), 1u);
  EXPECT_EQ(e.jobs.spec(1).env.count("AION_RESUME_FROM"), 0u);
  e.jobs.set(1, JobPhase::kFailed, 3);
  e.svc->tick();
  EXPECT_EQ(e.state(run, "train"), "waiting");
  EXPECT_NE(e.stage(run, "train")["message"].get<std::string>().find("exited with code 3"),
            std::string::npos);
  e.advance_s(9);
  e.svc->tick();
  EXPECT_EQ(e.jobs.count(), 1u);  // backoff_s = 10 not over yet
  e.advance_s(1);
  e.svc->tick();
  ASSERT_EQ(e.jobs.count(), 2u);
  auto second = e.jobs.spec(2);
  EXPECT_EQ(second.env.at("AION_ATTEMPT"), "2");
  EXPECT_EQ(second.env.at("AION_RESUME_FROM"), (e.dir / "ckpt/step-200").string());
  EXPECT_EQ(e.stage(run, "train")["attempt"], 2);
  // The second retry waits twice as long.
  e.jobs.set(2, JobPhase::kFailed, 1);
  e.svc->tick();
  e.advance_s(19);
  e.svc->tick();
  EXPECT_EQ(e.jobs.count(), 2u);
  e.advance_s(1);
  e.svc->tick();
  ASSERT_EQ(e.jobs.count(), 3u);
  EXPECT_EQ(e.jobs.spec(3).env.at("AION_ATTEMPT"), "3");
  // Every attempt failed: the stage fails, downstream is not run, the run fails.
  e.jobs.set(3, JobPhase::kFailed, 1);
  e.svc->tick();
  EXPECT_EQ(e.state(run, "train"), "failed");
  EXPECT_NE(e.stage(run, "train")["message"].get<std::string>().find("after 3 attempts"),
            std::string::npos);
  EXPECT_EQ(e.state(run, "eval"), "cancelled");
  EXPECT_EQ(e.stage(run, "eval")["message"], "not run: 'train' failed");
  EXPECT_EQ(e.run_state(run), "failed");
  e.advance_s(600);
  e.svc->tick();
  EXPECT_EQ(e.jobs.count(), 3u);
}

TEST(PipelineRunner, ATimedOutStageIsCancelledAndCountsAsAFailure) {
  Engine e;
  auto run = e.run(R"(name = "t"
[[stage]]
name = "slow"
command = ["sleep", "1000"]
timeout_s = 5
)");
  e.svc->tick();
  e.jobs.set(1, JobPhase::kPending);
  e.advance_s(100);  // time in the queue does not count
  e.svc->tick();
  e.jobs.set(1, JobPhase::kRunning);
  e.svc->tick();
  e.advance_s(4);
  e.svc->tick();
  EXPECT_EQ(e.state(run, "slow"), "running");
  e.advance_s(1);
  e.svc->tick();
  EXPECT_EQ(e.jobs.cancelled(), std::vector<std::int64_t>{1});
  EXPECT_EQ(e.state(run, "slow"), "failed");
  EXPECT_EQ(e.stage(run, "slow")["message"], "timed out after 5 s");
  EXPECT_EQ(e.run_state(run), "failed");
}

TEST(PipelineRunner, AMissingDeclaredOutputFailsTheStage) {
  Engine e;
  auto run = e.run(
      "name = \"m\"\n[[stage]]\nname = \"a\"\ncommand = [\"a\"]\n"
      "outputs = [\"never.txt\"]\n");
  e.svc->tick();
  e.succeed("a");
  e.svc->tick();
  EXPECT_EQ(e.state(run, "a"), "failed");
  EXPECT_EQ(e.stage(run, "a")["message"],
            "declared output " + (e.dir / "never.txt").string() + " was not written");
}

constexpr const char* kChain = R"(name = "chain"
[[stage]]
name = "prep"
command = ["prep"]
inputs = ["raw.txt", "dataset:mnist"]
outputs = ["prep.txt"]
[[stage]]
name = "train"
command = ["train"]
depends_on = ["prep"]
inputs = ["prep.txt"]
outputs = ["model"]
[[stage]]
name = "eval"
command = ["eval"]
depends_on = ["train"]
inputs = ["model", "holdout.txt"]
outputs = ["report.txt"]
)";

// Runs kChain to the end, each stage writing what `outs` says (defaults otherwise).
std::int64_t run_chain(Engine& e, bool force = false,
                       std::map<std::string, std::string> prep_out = {{"prep.txt", "P1"}}) {
  auto run = e.run(kChain, force);
  for (int i = 0; i < 10 && e.run_state(run) != "succeeded" && e.run_state(run) != "failed"; ++i) {
    e.svc->tick();
    auto stages = e.get(run)["stages"];
    for (const auto& s : stages) {
      if (s["state"] != "running") continue;
      const std::string name = s["stage"];
      if (name == "prep") e.succeed("prep", prep_out);
      if (name == "train") e.succeed("train", {{"model/w.bin", "W"}, {"model/cfg.json", "{}"}});
      if (name == "eval") e.succeed("eval", {{"report.txt", "R"}});
    }
  }
  return run;
}

TEST(PipelineRunner, SkipsUnchangedStagesAndRerunsExactlyDownstreamOfAChange) {
  Engine e;
  e.dataset_versions["mnist"] = 1;
  e.dir.write("raw.txt", "raw-1");
  e.dir.write("holdout.txt", "h-1");
  auto r1 = run_chain(e);
  ASSERT_EQ(e.run_state(r1), "succeeded");
  EXPECT_EQ(e.jobs.count(), 3u);

  // Nothing changed: every stage is skipped, nothing runs.
  auto r2 = run_chain(e);
  EXPECT_EQ(e.run_state(r2), "succeeded");
  EXPECT_EQ(e.jobs.count(), 3u);
  EXPECT_EQ(e.state(r2, "prep"), "skipped");
  EXPECT_EQ(e.stage(r2, "eval")["message"], "unchanged since run " + std::to_string(r1));
  EXPECT_EQ(e.stage(r2, "train")["fingerprint"], e.stage(r1, "train")["fingerprint"]);

  // A changed input of the last stage reruns it alone.
  e.dir.write("holdout.txt", "h-2");
  auto r3 = run_chain(e);
  EXPECT_EQ(e.jobs.stages_submitted().size(), 4u);
  EXPECT_EQ(e.jobs.stages_submitted().back(), "eval");
  EXPECT_EQ(e.state(r3, "prep"), "skipped");
  EXPECT_EQ(e.state(r3, "train"), "skipped");

  // A new dataset version reruns prep; prep writing other bytes reruns train; eval then sees
  // the same model and holdout as in run 3 and is skipped (content decides, not history).
  e.dataset_versions["mnist"] = 2;
  auto r4 = run_chain(e, false, {{"prep.txt", "P2"}});
  EXPECT_EQ(e.run_state(r4), "succeeded");
  EXPECT_EQ(e.jobs.stages_submitted(),
            (std::vector<std::string>{"prep", "train", "eval", "eval", "prep", "train"}));
  EXPECT_EQ(e.state(r4, "eval"), "skipped");
  EXPECT_EQ(e.stage(r4, "eval")["message"], "unchanged since run " + std::to_string(r3));

  // A deleted output defeats the skip.
  std::filesystem::remove(e.dir / "report.txt");
  auto r5 = run_chain(e, false, {{"prep.txt", "P2"}});
  EXPECT_EQ(e.state(r5, "train"), "skipped");
  EXPECT_EQ(e.state(r5, "eval"), "succeeded");
  EXPECT_EQ(e.jobs.count(), 7u);

  // force runs every stage.
  auto r6 = run_chain(e, true, {{"prep.txt", "P2"}});
  EXPECT_EQ(e.run_state(r6), "succeeded");
  EXPECT_EQ(e.jobs.count(), 10u);
}

TEST(PipelineRunner, RecordsArtifactsAndTheirLineage) {
  Engine e;
  e.dataset_versions["mnist"] = 7;
  e.dir.write("raw.txt", "raw");
  e.dir.write("holdout.txt", "h");
  auto run = run_chain(e);
  ASSERT_EQ(e.run_state(run), "succeeded");
  auto arts = e.svc->artifacts(run);
  ASSERT_TRUE(arts);
  ASSERT_EQ(arts->size(), 3u);
  const Json& model = (*arts)[1];
  EXPECT_EQ(model["path"], (e.dir / "model").string());
  EXPECT_EQ(model["kind"], "dir");
  EXPECT_EQ(model["size"], 3);  // "W" + "{}"
  EXPECT_EQ(model["command"], Json::array({"train"}));
  EXPECT_EQ(model["xxh3"].get<std::string>().size(), 32u);
  EXPECT_EQ(model["fingerprint"], e.stage(run, "train")["fingerprint"]);

  auto lin = e.svc->lineage((e.dir / "report.txt").string());
  ASSERT_TRUE(lin) << lin.error().message();
  EXPECT_EQ((*lin)["stage"]["stage"], "eval");
  const Json& model_in = (*lin)["inputs"][0];
  EXPECT_EQ(model_in["path"], (e.dir / "model").string());
  EXPECT_EQ(model_in["lineage"]["stage"]["stage"], "train");
  const Json& prep_in = model_in["lineage"]["inputs"][0];
  EXPECT_EQ(prep_in["lineage"]["stage"]["stage"], "prep");
  const Json& prep_inputs = prep_in["lineage"]["inputs"];
  EXPECT_EQ(prep_inputs[0]["path"], (e.dir / "raw.txt").string());
  EXPECT_FALSE(prep_inputs[0].contains("lineage"));  // not made by a stage
  EXPECT_EQ(prep_inputs[1]["dataset"], "mnist");
  EXPECT_EQ(prep_inputs[1]["version_id"], 7);
  EXPECT_EQ(prep_inputs[1]["manifest_id"], "manifest-7");

  EXPECT_EQ(e.jobs.spec(e.jobs.job_of("prep")).env.at("AION_DATASET_MNIST"),
            (e.dir / "datasets/mnist").string());

  auto none = e.svc->lineage((e.dir / "nope").string());
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
}

TEST(PipelineRunner, LineageStopsAtACycleOfAFileRewrittenInPlace) {
  Engine e;
  const std::string text =
      "name = \"loop\"\n[[stage]]\nname = \"flip\"\ncommand = [\"flip\"]\n"
      "inputs = [\"state.txt\"]\noutputs = [\"state.txt\"]\n";
  e.dir.write("state.txt", "A");
  auto r1 = e.run(text);
  e.svc->tick();
  e.succeed("flip", {{"state.txt", "B"}});
  e.svc->tick();
  ASSERT_EQ(e.run_state(r1), "succeeded");
  auto r2 = e.run(text);
  e.svc->tick();
  e.succeed("flip", {{"state.txt", "A"}});
  e.svc->tick();
  ASSERT_EQ(e.run_state(r2), "succeeded");
  auto lin = e.svc->lineage((e.dir / "state.txt").string());
  ASSERT_TRUE(lin) << lin.error().message();
  EXPECT_EQ((*lin)["artifact"]["run_id"], r2) << lin->dump(1);
  ASSERT_TRUE((*lin)["inputs"][0].contains("lineage")) << lin->dump(1);
  const Json& up = (*lin)["inputs"][0]["lineage"];
  EXPECT_EQ(up["artifact"]["run_id"], r1);
  EXPECT_EQ(up["inputs"][0]["cycle"], true);
}

TEST(PipelineRunner, CancelStopsJobsAndRetryRerunsTheStageAndItsDependents) {
  Engine e;
  auto run = e.run(kDiamond);
  e.svc->tick();
  e.succeed("a", {{"a.out", "A"}});
  e.svc->tick();
  ASSERT_EQ(e.jobs.count(), 3u);
  ASSERT_TRUE(e.svc->cancel(run));
  auto cancelled = e.jobs.cancelled();
  std::sort(cancelled.begin(), cancelled.end());
  EXPECT_EQ(cancelled, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(e.run_state(run), "cancelled");
  EXPECT_EQ(e.state(run, "a"), "succeeded");
  EXPECT_EQ(e.state(run, "d"), "cancelled");
  auto again = e.svc->cancel(run);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kConflict);

  ASSERT_TRUE(e.svc->retry(run, "b"));
  EXPECT_EQ(e.run_state(run), "running");
  EXPECT_EQ(e.state(run, "b"), "pending");
  EXPECT_EQ(e.state(run, "d"), "pending");
  EXPECT_EQ(e.state(run, "c"), "cancelled");  // not below b: stays as it was
  e.svc->tick();
  EXPECT_EQ(e.jobs.stages_submitted().back(), "b");
  EXPECT_EQ(e.jobs.count(), 4u);
  auto bad = e.svc->retry(run, "b");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kConflict);
}

TEST(PipelineRunner, RetryWithoutAStageRerunsEveryFailedOrCancelledStage) {
  Engine e;
  auto run = e.run(kDiamond);
  e.svc->tick();
  e.succeed("a", {{"a.out", "A"}});
  e.svc->tick();
  e.jobs.set(e.jobs.job_of("b"), JobPhase::kFailed, 2);
  e.succeed("c", {{"c.out", "C"}});
  e.svc->tick();
  ASSERT_EQ(e.run_state(run), "failed");
  EXPECT_EQ(e.state(run, "d"), "cancelled");
  auto unknown = e.svc->retry(run, "zzz");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), ErrorCode::kNotFound);
  auto all = e.svc->retry(run, "");
  ASSERT_TRUE(all) << all.error().message();
  EXPECT_EQ(e.state(run, "a"), "succeeded");
  EXPECT_EQ(e.state(run, "c"), "succeeded");
  EXPECT_EQ(e.state(run, "b"), "pending");
  EXPECT_EQ(e.state(run, "d"), "pending");
  e.svc->tick();
  e.succeed("b", {{"b.out", "B"}});
  e.svc->tick();
  e.succeed("d", {{"d.out", "D"}});
  e.svc->tick();
  EXPECT_EQ(e.run_state(run), "succeeded");
  EXPECT_EQ(e.jobs.stages_submitted(), (std::vector<std::string>{"a", "b", "c", "b", "d"}));
}

TEST(PipelineRunner, AfterARestartSucceededStagesNeverRunAgainAndRunningJobsAreFollowed) {
  Engine e("state.db");
  auto run = e.run(kDiamond);
  e.svc->tick();
  e.succeed("a", {{"a.out", "A"}});
  e.svc->tick();
  e.jobs.set(2, JobPhase::kRunning);
  e.svc->tick();
  ASSERT_EQ(e.jobs.count(), 3u);

  e.reopen();  // a new daemon on the same database file; the scheduler still knows its jobs
  ASSERT_TRUE(e.svc->recover());
  e.svc->tick();
  e.svc->tick();
  EXPECT_EQ(e.jobs.count(), 3u);
  EXPECT_EQ(e.state(run, "a"), "succeeded");
  EXPECT_EQ(e.stage(run, "b")["job_id"], 2);
  e.succeed("b", {{"b.out", "B"}});
  e.succeed("c", {{"c.out", "C"}});
  e.svc->tick();
  e.succeed("d", {{"d.out", "D"}});
  e.svc->tick();
  EXPECT_EQ(e.run_state(run), "succeeded");
  EXPECT_EQ(e.jobs.stages_submitted(), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(PipelineRunner, AfterARestartAStageWhoseJobIsGoneIsRetriedFromItsCheckpoint) {
  Engine e("state.db");
  e.dir.write("ckpt/epoch-3", "x");
  auto run = e.run(kTrain);
  e.svc->tick();
  e.jobs.set(1, JobPhase::kRunning);
  e.svc->tick();

  e.jobs.forget(1);  // the job vanished while aiond was down
  e.reopen();
  ASSERT_TRUE(e.svc->start());
  e.svc->stop();
  EXPECT_EQ(e.state(run, "train"), "waiting");
  EXPECT_NE(e.stage(run, "train")["message"].get<std::string>().find("lost while aiond was down"),
            std::string::npos);
  e.advance_s(10);
  e.svc->tick();
  ASSERT_EQ(e.jobs.count(), 2u);
  EXPECT_EQ(e.jobs.spec(2).env.at("AION_ATTEMPT"), "2");
  EXPECT_EQ(e.jobs.spec(2).env.at("AION_RESUME_FROM"), (e.dir / "ckpt/epoch-3").string());
}

TEST(PipelineRunner, AfterARestartASubmittingStageFollowsTheJobTheSchedulerAlreadyHas) {
  Engine e("state.db");
  auto run = e.run(kDiamond);
  e.svc->tick();
  ASSERT_EQ(e.jobs.count(), 1u);
  // As if aiond died right after submit() returned, before the job id was written.
  {
    auto st = PipelineStore(*e.store).stages(run);
    ASSERT_TRUE(st);
    StageRecord a = (*st)[0];
    a.state = StageState::kSubmitting;
    a.job_id = 0;
    ASSERT_TRUE(PipelineStore(*e.store).put_stage(a));
  }
  e.reopen();
  ASSERT_TRUE(e.svc->recover());
  EXPECT_EQ(e.stage(run, "a")["job_id"], 1);
  EXPECT_EQ(e.state(run, "a"), "running");
  e.svc->tick();
  EXPECT_EQ(e.jobs.count(), 1u);
}

TEST(PipelineRunner, JobNamesStayUniqueAcrossARetryOfTheRun) {
  Engine e;
  auto run = e.run("name = \"n\"\n[[stage]]\nname = \"a\"\ncommand = [\"a\"]\n");
  e.svc->tick();
  e.jobs.set(1, JobPhase::kFailed, 1);
  e.svc->tick();
  ASSERT_EQ(e.run_state(run), "failed");
  ASSERT_TRUE(e.svc->retry(run, "a"));
  e.svc->tick();
  ASSERT_EQ(e.jobs.count(), 2u);
  EXPECT_EQ(e.jobs.spec(1).name, "pipeline-" + std::to_string(run) + "-a-1");
  EXPECT_EQ(e.jobs.spec(2).name, "pipeline-" + std::to_string(run) + "-a-g1-1");
}

TEST(PipelineRunner, ListShowsRunsWithTheirStages) {
  Engine e;
  auto r1 = e.run(kDiamond);
  auto list = e.svc->list(std::nullopt);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0]["id"], r1);
  EXPECT_EQ((*list)[0]["name"], "diamond");
  EXPECT_EQ((*list)[0]["stages"].size(), 4u);
  auto other = e.svc->list(42u);
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->empty());
  auto missing = e.svc->get(999);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

// tick() hashes a stage's inputs before it takes the engine's lock: a cancel made while a big
// input is read goes through at once, and the step after the hashing sees it.
TEST(PipelineRunner, HashingAnInputHoldsUpNoCallThatChangesRuns) {
  using namespace std::chrono_literals;
  Engine e;
  e.dir.write("big.bin", "pretend this is many gigabytes");
  std::promise<void> hashing, go_on;
  std::shared_future<void> released = go_on.get_future().share();
  std::atomic<int> seen{0};
  e.svc->set_hash_observer([&](const std::string&) {
    if (seen++ == 0) {
      hashing.set_value();
      released.wait();
    }
  });
  auto run = e.run(R"(name = "slow"
[[stage]]
name = "train"
command = ["train"]
inputs = ["big.bin"]
)");
  std::thread ticker([&] { e.svc->tick(); });
  hashing.get_future().wait();
  auto cancel = std::async(std::launch::async, [&] { return e.svc->cancel(run); });
  const bool prompt = cancel.wait_for(10s) == std::future_status::ready;
  go_on.set_value();
  ticker.join();
  ASSERT_TRUE(prompt) << "the cancel waited for the hashing";
  EXPECT_TRUE(cancel.get());
  EXPECT_EQ(e.run_state(run), "cancelled");
  EXPECT_EQ(e.jobs.count(), 0u) << "a job was submitted for a cancelled run";
}

// The step uses what was hashed ahead (it does not read the inputs again under the lock): an
// input rewritten after it was hashed is recorded as it was hashed.
TEST(PipelineRunner, TheStepUsesTheHashesMadeBeforeIt) {
  Engine e;
  const auto first = e.dir.write("a.bin", "a as hashed");
  e.dir.write("b.bin", "b");
  std::vector<std::string> hashed;
  e.svc->set_hash_observer([&](const std::string& path) {
    hashed.push_back(path);
    if (path.ends_with("/b.bin")) e.dir.write("a.bin", "a rewritten after its hash");
  });
  auto run = e.run(R"(name = "ahead"
[[stage]]
name = "s"
command = ["s"]
inputs = ["a.bin", "b.bin"]
outputs = ["out.txt"]
)");
  e.svc->tick();
  EXPECT_EQ(hashed, (std::vector<std::string>{first.string(), (e.dir / "b.bin").string()}));
  ASSERT_EQ(e.jobs.stages_submitted(), std::vector<std::string>{"s"});
  hashed.clear();
  e.succeed("s", {{"out.txt", "done"}});
  e.svc->tick();
  // The output was hashed ahead of the step that records it.
  EXPECT_EQ(hashed, std::vector<std::string>{(e.dir / "out.txt").string()});
  ASSERT_EQ(e.run_state(run), "succeeded");
  const Json arts = e.get(run)["artifacts"];
  ASSERT_EQ(arts.size(), 1u);
  const std::string want = FileHasher(false).hash_bytes("a as hashed").xxh3.hex();
  ASSERT_TRUE(arts[0]["inputs"].is_array()) << arts.dump();
  EXPECT_EQ(arts[0]["inputs"][0]["xxh3"], want) << arts.dump();
  EXPECT_EQ(arts[0]["xxh3"], FileHasher(false).hash_bytes("done").xxh3.hex());
}

}  // namespace
}  // namespace aion::pipeline
