// Job specs as users type them and as the API carries them; the job table.
#include <gtest/gtest.h>

#include <unistd.h>
#include <functional>

#include <filesystem>
#include <fstream>

#include "aion/sched/job.h"
#include "aion/sched/job_json.h"
#include "aion/sched/job_store.h"
#include "support/temp_dir.h"

namespace aion::sched {
namespace {

TEST(ParseSize, AcceptsCommonSpellings) {
  EXPECT_EQ(parse_size("512").value(), 512u);
  EXPECT_EQ(parse_size("64K").value(), 64u << 10);
  EXPECT_EQ(parse_size("10G").value(), 10ull << 30);
  EXPECT_EQ(parse_size("10gb").value(), 10ull << 30);
  EXPECT_EQ(parse_size("4GiB").value(), 4ull << 30);
  EXPECT_EQ(parse_size("1.5T").value(), 3ull << 39);
  EXPECT_EQ(parse_size(" 100M ").value(), 100ull << 20);
}

TEST(ParseSize, RejectsNegativeMalformedAndUnknownUnits) {
  for (const char* bad : {"-5G", "", "G", "ten", "5X", "5 gigs", "1e400", "99999999999P"}) {
    auto r = parse_size(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(r.error().message().find("invalid size"), std::string::npos) << bad;
  }
  EXPECT_NE(parse_size("-5G").error().message().find("negative"), std::string::npos);
}

TEST(FormatSize, ReadsLikeAPerson) {
  EXPECT_EQ(format_size(512), "512 B");
  EXPECT_EQ(format_size(64ull << 30), "64.0 GiB");
  EXPECT_EQ(format_size(1536ull << 20), "1.5 GiB");
}

TEST(SpecJson, RoundTripsEveryField) {
  JobSpec s;
  s.name = "train";
  s.command = {"python3", "train.py", "--lr", "3e-4"};
  s.env = {{"PATH", "/usr/bin"}, {"HF_HOME", "/data/hf"}};
  s.cwd = "/home/alice";
  s.resources = {.gpus = 4, .gpu_model = "A100", .cpus = 32, .memory_bytes = 64ull << 30};
  s.priority = 10;
  s.queue = "train";
  s.requeue = true;
  s.uid = 1000;
  s.gid = 1000;
  s.user = "alice";
  auto back = spec_from_json(to_json(s));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->command, s.command);
  EXPECT_EQ(back->env, s.env);
  EXPECT_EQ(back->resources.gpus, 4);
  EXPECT_EQ(back->resources.gpu_model, "A100");
  EXPECT_EQ(back->resources.memory_bytes, 64ull << 30);
  EXPECT_EQ(back->priority, 10);
  EXPECT_TRUE(back->requeue);
  EXPECT_EQ(back->uid, 1000u);
}

TEST(SpecJson, SandboxFieldsRoundTrip) {
  JobSpec s;
  s.command = {"python3", "agent.py"};
  s.sandbox = "agent";
  s.allow_net = {"api.openai.com:443", "10.0.0.0/8"};
  s.verify = {"/data/models/SHA256SUMS"};
  auto back = spec_from_json(to_json(s));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->sandbox, "agent");
  EXPECT_EQ(back->allow_net, s.allow_net);
  EXPECT_EQ(back->verify, s.verify);
  Json j = to_json(s);
  j["sandbox"] = "";
  EXPECT_FALSE(spec_from_json(j).has_value());  // rules need a profile to add to
  j = to_json(s);
  j["verify"] = Json::array({"relative/SUMS"});
  EXPECT_FALSE(spec_from_json(j).has_value());
}

// The launch file separates its records with NUL: a NUL in any string of a job would smuggle
// a record of its own ("groups=0", "uid=0") into it. Every such job is refused.
TEST(SpecJson, NoStringMayHoldANulByte) {
  const std::string smuggled = std::string("x") + '\0' + "groups=0";
  JobSpec base;
  base.command = {"/bin/echo", "hi"};
  base.sandbox = "agent";
  for (const auto& edit : std::vector<std::function<void(JobSpec&)>>{
           [&](JobSpec& s) { s.command.push_back(smuggled); },
           [&](JobSpec& s) { s.env["A"] = smuggled; },
           [&](JobSpec& s) { s.env[smuggled] = "v"; },
           [&](JobSpec& s) { s.cwd = "/tmp/" + smuggled; },
           [&](JobSpec& s) { s.name = smuggled; },
           [&](JobSpec& s) { s.allow_net = {smuggled}; },
           [&](JobSpec& s) { s.verify = {"/" + smuggled}; },
       }) {
    JobSpec s = base;
    edit(s);
    EXPECT_FALSE(spec_from_json(to_json(s)).has_value());
  }
  JobSpec s = base;
  s.command.push_back(smuggled);
  auto r = spec_from_json(to_json(s));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("without NUL bytes"), std::string::npos)
      << r.error().message();
}

TEST(SpecJson, SizesMayBeStrings) {
  auto s = spec_from_json(Json::parse(
      R"({"command":["x"],"resources":{"memory_bytes":"2G","gpu_fraction":0.25,"gpu_memory_bytes":"10G"}})"));
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->resources.memory_bytes, 2ull << 30);
  EXPECT_EQ(s->resources.gpu_memory_bytes, 10ull << 30);
  EXPECT_DOUBLE_EQ(s->resources.gpu_fraction, 0.25);
}

TEST(SpecJson, RejectsBadInputWithTheFieldNamed) {
  struct Case {
    const char* json;
    const char* mentions;
  };
  for (const Case& c : {
           Case{R"({})", "command"},
           Case{R"({"command":[]})", "command"},
           Case{R"({"command":"ls"})", "command"},
           Case{R"({"command":[""]})", "command"},
           Case{R"({"command":["x"],"resources":{"gpus":-1}})", "resources.gpus"},
           Case{R"({"command":["x"],"resources":{"gpus":"two"}})", "resources.gpus"},
           Case{R"({"command":["x"],"resources":{"cpus":0}})", "resources.cpus"},
           Case{R"({"command":["x"],"resources":{"gpu_fraction":1.5}})", "gpu_fraction"},
           Case{R"({"command":["x"],"resources":{"gpu_fraction":-0.1}})", "gpu_fraction"},
           Case{R"({"command":["x"],"resources":{"memory_bytes":"-4G"}})", "negative"},
           Case{R"({"command":["x"],"resources":{"memory_bytes":"lots"}})", "memory_bytes"},
           Case{R"({"command":["x"],"priority":5000})", "priority"},
           Case{R"({"command":["x"],"cwd":"relative/dir"})", "cwd"},
           Case{R"({"command":["x"],"gpus":2})", "unknown job field 'gpus'"},
       }) {
    auto s = spec_from_json(Json::parse(c.json));
    ASSERT_FALSE(s) << c.json;
    EXPECT_NE(s.error().message().find(c.mentions), std::string::npos)
        << c.json << " -> " << s.error().message();
  }
}

TEST(ResolveCommand, FindsProgramsInThePathAndExplainsWhatIsMissing) {
  JobSpec s;
  s.cwd = "/";
  s.env["PATH"] = "/nonexistent:/usr/bin:/bin";
  s.command = {"sh", "-c", "true"};
  auto r = resolve_command(s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(*r == "/usr/bin/sh" || *r == "/bin/sh") << *r;

  s.command = {"no-such-trainer-xyz"};
  r = resolve_command(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("no-such-trainer-xyz"), std::string::npos);

  const ::aion::testing::TempDir tmp("not-executable");
  const auto plain = tmp.write("data", "data\n");
  std::filesystem::permissions(
      plain, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  s.command = {plain.string()};  // exists, not executable
  s.uid = 1000;
  r = resolve_command(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);

  s.command = {"/tmp"};
  r = resolve_command(s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("directory"), std::string::npos);
}

class JobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::Database::open({.path = ":memory:"}, JobStore::migrations());
    ASSERT_TRUE(db) << db.error().message();
    store_ = std::make_unique<store::Store>(std::move(*db));
    jobs_ = std::make_unique<JobStore>(*store_);
  }
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<JobStore> jobs_;
};

TEST_F(JobStoreTest, InsertUpdateGetAndListByState) {
  Job a;
  a.spec.command = {"a"};
  a.spec.user = "alice";
  a.submit_ms = 1000;
  ASSERT_TRUE(jobs_->insert(a));
  Job b = a;
  b.spec.command = {"b"};
  ASSERT_TRUE(jobs_->insert(b));
  EXPECT_EQ(a.id, 1);
  EXPECT_EQ(b.id, 2);

  b.state = JobState::kRunning;
  b.allocation =
      Allocation{.gpus = {0, 1}, .cpus = {0, 1, 2}, .mems = {0}, .memory_bytes = 1 << 30};
  b.shim_pid = 4242;
  b.usage.cpu_time_ms = 77;
  ASSERT_TRUE(jobs_->update(b));

  auto got = jobs_->get(2);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->state, JobState::kRunning);
  EXPECT_EQ((*got)->allocation->gpus, (std::vector<int>{0, 1}));
  EXPECT_EQ((*got)->allocation->cpus, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ((*got)->shim_pid, 4242);
  EXPECT_EQ((*got)->usage.cpu_time_ms, 77);
  EXPECT_EQ((*got)->spec.command, (std::vector<std::string>{"b"}));

  auto pending = jobs_->list({.states = {JobState::kPending}});
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->front().id, 1);
  auto none = jobs_->get(99);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);

  Job ghost;
  ghost.id = 99;
  EXPECT_EQ(jobs_->update(ghost).error().code(), ErrorCode::kNotFound);
}

TEST_F(JobStoreTest, IdsAreNeverReused) {
  std::vector<Job> many(100);
  for (auto& j : many) {
    j.spec.command = {"x"};
    ASSERT_TRUE(jobs_->insert(j));
  }
  EXPECT_EQ(many.back().id, 100);
  ASSERT_TRUE(store_->with([](store::Database& db) { return db.exec("DELETE FROM jobs"); }));
  Job next;
  next.spec.command = {"y"};
  ASSERT_TRUE(jobs_->insert(next));
  EXPECT_EQ(next.id, 101);
}

}  // namespace
}  // namespace aion::sched
