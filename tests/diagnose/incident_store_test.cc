#include <gtest/gtest.h>

#include "aion/diagnose/engine.h"
#include "aion/diagnose/incident_store.h"
#include "aion/store/database.h"
#include "support/temp_dir.h"
#include "test_util.h"

namespace aion::diagnose {
namespace {

using testing::at;
using testing::shipped;

class IncidentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::Database::open({.path = ":memory:"}, IncidentStore::migrations());
    ASSERT_TRUE(db) << db.error().message();
    store_ = std::make_unique<store::Store>(std::move(*db));
    incidents_ = std::make_unique<IncidentStore>(*store_, clock_);
  }
  ManualClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<IncidentStore> incidents_;
};

TEST_F(IncidentStoreTest, IncidentsRoundTripAndMergedOnesDisappear) {
  Engine e(shipped().catalog, *shipped().matcher, {});
  e.set_listener([&](const Incident& i, const std::vector<std::int64_t>& merged) {
    ASSERT_TRUE(incidents_->save(i, merged));
  });
  e.on_log_line("job:5", at(1, 0, 0), "RuntimeError: CUDA error: unspecified launch failure");
  e.on_log_line("kmsg", at(1, 0, 1),
                "NVRM: Xid (PCI:0000:07:00): 79, pid=9, GPU has fallen off the bus.");
  ASSERT_EQ(incidents_->list()->size(), 2u);
  e.on_event("job", "warning", "job 5 failed",
             R"({"id":5,"state":"failed","gpu_pci":["0000:07:00.0"]})", at(1, 0, 2));
  auto list = incidents_->list();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  auto got = incidents_->get(list->front().id);
  ASSERT_TRUE(got);
  auto mem = e.incident(got->id);
  ASSERT_TRUE(mem);
  EXPECT_EQ(got->title, mem->title);
  EXPECT_EQ(got->jobs, std::vector<std::int64_t>{5});
  ASSERT_EQ(got->hypotheses.size(), mem->hypotheses.size());
  EXPECT_EQ(got->hypotheses[0].signature, "nvidia-xid-79");
  EXPECT_EQ(got->hypotheses[0].action, mem->hypotheses[0].action);
  EXPECT_DOUBLE_EQ(got->hypotheses[0].confidence, mem->hypotheses[0].confidence);
  EXPECT_EQ(got->evidence.size(), 3u);
  EXPECT_EQ(*incidents_->max_id(), 1);
  auto missing = incidents_->get(99);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST_F(IncidentStoreTest, AuditLogIsAppendOnly) {
  auto id = incidents_->audit({.incident_id = 1,
                               .playbook = "p",
                               .step = 1,
                               .action = "drain_gpu",
                               .approved_by = "uid:0 (root)",
                               .caller = "uid:0 (root)",
                               .outcome = "ok",
                               .detail = "GPU 0 drained"});
  ASSERT_TRUE(id) << id.error().message();
  for (const char* sql :
       {"UPDATE diagnose_audit SET approved_by = 'someone else'", "DELETE FROM diagnose_audit",
        "UPDATE diagnose_audit SET outcome = 'ok' WHERE id = 1"}) {
    Status st = store_->with([&](store::Database& db) { return db.exec(sql); });
    ASSERT_FALSE(st) << sql;
    EXPECT_NE(st.error().message().find("append-only"), std::string::npos) << st.error().message();
  }
  auto log = incidents_->audit_log(1);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ(log->front().approved_by, "uid:0 (root)");
  EXPECT_EQ(log->front().time_ms, to_unix_ms(clock_.wall()));
  EXPECT_TRUE(incidents_->audit_log(2)->empty());
}

// An Xid 79 on GPU 0 at `at_s` seconds past 01:00.
void xid79(Engine& e, int at_s) {
  e.on_log_line("kmsg", at(1, 0, at_s),
                "NVRM: Xid (PCI:0000:07:00): 79, pid=9, GPU has fallen off the bus.");
}

TEST_F(IncidentStoreTest, AResolvedIncidentLeavesTheOpenListAndTakesNoMoreEvidence) {
  Engine e(shipped().catalog, *shipped().matcher, {});
  e.set_listener([&](const Incident& i, const std::vector<std::int64_t>& merged) {
    ASSERT_TRUE(incidents_->save(i, merged));
  });
  xid79(e, 0);
  ASSERT_EQ(incidents_->list(50, IncidentFilter::kOpen)->size(), 1u);
  auto done = incidents_->resolve(1, "uid:1000 (alice)", "reseated the riser");
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_TRUE(done->resolved());
  EXPECT_EQ(done->resolved_by, "uid:1000 (alice)");
  EXPECT_EQ(done->resolution, "reseated the riser");
  EXPECT_EQ(done->resolved_ms, to_unix_ms(clock_.wall()));
  e.resolved(1, done->resolved_ms, done->resolved_by, done->resolution);

  // The same fault ten seconds later, well inside the correlation window: a new incident.
  xid79(e, 10);
  auto open = incidents_->list(50, IncidentFilter::kOpen);
  ASSERT_TRUE(open);
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ(open->front().id, 2);
  auto resolved = incidents_->list(50, IncidentFilter::kResolved);
  ASSERT_EQ(resolved->size(), 1u);
  EXPECT_EQ(resolved->front().id, 1);
  EXPECT_EQ(resolved->front().evidence_total, 1u);
  EXPECT_EQ(incidents_->list()->size(), 2u);

  // Resolving twice says who did it first; an unknown id is not found.
  auto again = incidents_->resolve(1, "uid:1001 (bob)", "");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kConflict);
  EXPECT_NE(again.error().message().find("alice"), std::string::npos) << again.error().message();
  EXPECT_EQ(incidents_->get(1)->resolved_by, "uid:1000 (alice)");
  auto missing = incidents_->resolve(99, "root", "");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);

  // The audit trail has it, append-only like the remediation steps.
  auto log = incidents_->audit_log(1);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ(log->front().action, "resolve");
  EXPECT_EQ(log->front().caller, "uid:1000 (alice)");
  EXPECT_EQ(log->front().detail, "reseated the riser");
}

TEST_F(IncidentStoreTest, AnEngineCopySavedAfterTheResolutionKeepsIt) {
  Engine e(shipped().catalog, *shipped().matcher, {});
  std::vector<Incident> copies;
  e.set_listener([&](const Incident& i, const std::vector<std::int64_t>&) { copies.push_back(i); });
  xid79(e, 0);
  ASSERT_EQ(copies.size(), 1u);
  ASSERT_TRUE(incidents_->save(copies[0]));
  ASSERT_TRUE(incidents_->resolve(1, "root", "done"));
  // The copy the engine made before it heard of the resolution is written late.
  ASSERT_FALSE(copies[0].resolved());
  ASSERT_TRUE(incidents_->save(copies[0]));
  auto got = incidents_->get(1);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->resolved());
  EXPECT_EQ(got->resolution, "done");
}

TEST(IncidentStoreMigrationTest, IncidentsOfAnEarlierVersionOpenAsOpen) {
  testing::TempDir dir("incident-migration");
  const auto path = dir / "aion.db";
  const auto all = IncidentStore::migrations();
  ASSERT_GE(all.size(), 2u);
  ManualClock clock;
  {
    auto db = store::Database::open({.path = path}, all.first(1));
    ASSERT_TRUE(db) << db.error().message();
    store::Store s(std::move(*db));
    IncidentStore old(s, clock);
    Incident i;
    i.id = 7;
    i.opened_ms = i.updated_ms = 1000;
    i.severity = "critical";
    i.title = "before the upgrade";
    ASSERT_TRUE(old.save(i));
  }
  auto db = store::Database::open({.path = path}, all);
  ASSERT_TRUE(db) << db.error().message();
  store::Store s(std::move(*db));
  IncidentStore now(s, clock);
  auto got = now.get(7);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->title, "before the upgrade");
  EXPECT_FALSE(got->resolved());
  EXPECT_EQ(now.list(50, IncidentFilter::kOpen)->size(), 1u);
  EXPECT_TRUE(now.resolve(7, "root", ""));
}

}  // namespace
}  // namespace aion::diagnose
