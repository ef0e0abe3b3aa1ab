#include <gtest/gtest.h>

#include "aion/diagnose/engine.h"
#include "aion/diagnose/incident_store.h"
#include "aion/store/database.h"
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

}  // namespace
}  // namespace aion::diagnose
