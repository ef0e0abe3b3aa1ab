#include <set>

#include <gtest/gtest.h>

#include "aion/api/diagnose_routes.h"
#include "aion/api/env_routes.h"
#include "aion/api/hw_watch.h"
#include "aion/api/job_routes.h"
#include "aion/api/logs_routes.h"
#include "aion/api/metrics_routes.h"
#include "aion/api/node_schema.h"
#include "aion/api/pipeline_routes.h"
#include "aion/api/routes.h"
#include "aion/api/web_routes.h"
#include "aion/core/json.h"
#include "aion/store/database.h"
#include "copilot_routes.h"
#include "support/fixtures.h"

namespace aion::api {
namespace {

// Builds the daemon's real route table on an in-memory store.
class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<store::Migration> m;
    for (auto s : {store::EventLog::migrations(), TokenStore::migrations(), HwWatch::migrations(),
                   sched::JobManager::migrations(), pipeline::PipelineService::migrations()}) {
      m.insert(m.end(), s.begin(), s.end());
    }
    auto db = store::Database::open({.path = ":memory:"}, m);
    ASSERT_TRUE(db);
    store_ = std::make_unique<store::Store>(std::move(*db));
    events_ = std::make_unique<store::EventLog>(*store_, clock_);
    tokens_ = std::make_unique<TokenStore>(*store_, clock_);
    info_.listeners = [] { return std::vector<ListenerInfo>{}; };
    info_.state = [] { return std::string("running"); };
    info_.reload = [] { return Status{}; };
    ctx_ = std::make_unique<RouteContext>(RouteContext{info_, *store_, *events_, *tokens_, clock_});
    add_daemon_routes(router_, *ctx_);
    hw_ = std::make_unique<HwWatch>(*store_, *events_,
                                    HostFs(::aion::testing::hw_fixture_root("cpu-vm")),
                                    hw::DiscoveryOptions{});
    add_hw_routes(router_, *hw_);
    add_env_routes(router_, *hw_, HostFs("/"));
    add_web_routes(router_, std::make_shared<SessionStore>(), nullptr, {});
    jobs_ = std::make_unique<sched::JobManager>(*store_, *events_, HostFs("/"), hw::Inventory{},
                                                sched::RunnerConfig{}, clock_);
    add_job_routes(router_, *jobs_);
    launcher_ = std::make_unique<SchedLauncher>(*jobs_);
    pipelines_ = std::make_unique<pipeline::PipelineService>(
        *store_, *launcher_, catalog_datasets("/nonexistent"), clock_);
    add_pipeline_routes(router_, *pipelines_, *jobs_, HostFs("/"));
    telemetry::TelemetryOptions t;
    t.enabled = false;
    telemetry_ = std::make_unique<telemetry::Telemetry>(t, HostFs("/"),
                                                        std::vector<hw::Accelerator>{}, nullptr);
    add_metrics_routes(router_, *telemetry_);
    logs::LogOptions lo;
    lo.enabled = false;
    logs_ = std::make_unique<logs::LogService>(lo, HostFs("/"), nullptr, clock_);
    add_logs_routes(router_, *logs_);
    add_diagnose_routes(router_, nullptr);  // the table only; diagnosis off answers 503
    copilot_ = std::make_unique<aiond::CopilotService>(
        router_, hw_.get(),
        aiond::CopilotRouteOptions{HostFs("/"), "/nonexistent",
                                   Config::defaults(node_config_schema())});
  }

  ManualClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::EventLog> events_;
  std::unique_ptr<TokenStore> tokens_;
  DaemonInfo info_;
  std::unique_ptr<RouteContext> ctx_;
  std::unique_ptr<HwWatch> hw_;
  std::unique_ptr<sched::JobManager> jobs_;
  std::unique_ptr<SchedLauncher> launcher_;
  std::unique_ptr<pipeline::PipelineService> pipelines_;
  std::unique_ptr<telemetry::Telemetry> telemetry_;
  std::unique_ptr<logs::LogService> logs_;
  Router router_;
  std::unique_ptr<aiond::CopilotService> copilot_;  // after router_: destroyed first
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST_F(OpenApiTest, DescribesExactlyTheRoutesTheRouterServes) {
  Json doc = Json::parse(openapi_json(), nullptr, false);
  ASSERT_TRUE(doc.is_object()) << "openapi.json is not valid JSON";
  EXPECT_EQ(doc.value("openapi", ""), "3.0.3");
  std::set<std::string> documented, served;
  for (auto& [path, ops] : doc["paths"].items()) {
    for (auto& [method, op] : ops.items()) {
      documented.insert(lower(method) + " " + path);
      EXPECT_TRUE(op.contains("summary")) << method << " " << path;
      EXPECT_TRUE(op.contains("x-aion-role")) << method << " " << path;
    }
  }
  for (const auto& r : router_.routes()) {
    served.insert(lower(r.method) + " " + r.pattern);
    const Json& op = doc["paths"][r.pattern][lower(r.method)];
    if (op.is_object()) {
      EXPECT_EQ(op.value("x-aion-role", ""), std::string(to_string(r.min_role)))
          << r.method << " " << r.pattern;
    }
  }
  EXPECT_EQ(documented, served);
}

TEST_F(OpenApiTest, IsServedByTheDaemon) {
  Request r;
  r.method = "GET";
  r.path = "/v1/openapi.json";
  Response res = router_.dispatch(r);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, openapi_json());
}

TEST_F(OpenApiTest, BadEventBodiesGet400Envelopes) {
  for (std::string body : {"", "[1]", "{", "{\"message\":5}", "{\"message\":\"\"}",
                           "{\"message\":\"x\",\"severity\":\"loud\"}"}) {
    Request r;
    r.method = "POST";
    r.path = "/v1/events";
    r.body = body;
    r.caller = {Role::kOperator, "t", -1};
    Response res = router_.dispatch(r);
    EXPECT_EQ(res.status, 400) << body;
    Json j = Json::parse(res.body, nullptr, false);
    EXPECT_TRUE(j.contains("error")) << res.body;
  }
}

TEST_F(OpenApiTest, ViewerCannotCreateTokensButAdminCan) {
  Request r;
  r.method = "POST";
  r.path = "/v1/admin/tokens";
  r.body = R"({"role":"viewer"})";
  r.caller = {Role::kViewer, "uid:65534", 65534};
  EXPECT_EQ(router_.dispatch(r).status, 403);
  r.caller = {Role::kAdmin, "uid:0", 0};
  Response res = router_.dispatch(r);
  ASSERT_EQ(res.status, 201) << res.body;
  std::string token = Json::parse(res.body)["token"];
  std::string id = Json::parse(res.body)["id"];
  auto who = tokens_->verify(token);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->role, Role::kViewer);
  Request del;
  del.method = "DELETE";
  del.path = "/v1/admin/tokens/" + id;
  del.caller = {Role::kAdmin, "uid:0", 0};
  EXPECT_EQ(router_.dispatch(del).status, 200);
  auto after = tokens_->verify(token);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code(), ErrorCode::kUnauthenticated);
  del.path = "/v1/admin/tokens/nope";
  EXPECT_EQ(router_.dispatch(del).status, 404);
}

TEST(TokenStoreTest, StoresOnlySaltedHashes) {
  ManualClock clock;
  auto db = store::Database::open({.path = ":memory:"}, TokenStore::migrations());
  ASSERT_TRUE(db);
  store::Store s(std::move(*db));
  TokenStore tokens(s, clock);
  auto a = tokens.create(Role::kAdmin, "ci");
  ASSERT_TRUE(a);
  std::string secret = a->token.substr(a->token.rfind('_') + 1);
  bool found_secret = s.with([&](store::Database& d) {
    auto st = d.prepare("SELECT salt || hash || note FROM api_tokens");
    bool found = false;
    while ((*st)->step().value_or(false))
      found = found || (*st)->column_text(0).find(secret) != std::string::npos;
    return found;
  });
  EXPECT_FALSE(found_secret);
  std::string altered = a->token;
  altered.back() = altered.back() == '0' ? '1' : '0';  // always a different secret
  EXPECT_FALSE(tokens.verify(altered));
  EXPECT_FALSE(tokens.verify("aion_garbage"));
  EXPECT_TRUE(tokens.verify(a->token));
}

}  // namespace
}  // namespace aion::api
