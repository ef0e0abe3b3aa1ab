#include "aion/api/env_routes.h"

#include <memory>
#include <mutex>

#include "aion/api/json_reply.h"
#include "aion/core/json.h"
#include "aion/core/paths.h"
#include "aion/envcfg/emit.h"
#include "aion/envcfg/knowledge.h"
#include "aion/envcfg/machine.h"
#include "aion/envcfg/resolver.h"
#include "aion/hw/inventory_json.h"

namespace aion::api {
namespace {

// The compatibility tables, read from the data directory on first use.
class EnvKnowledge {
 public:
  Result<std::shared_ptr<const envcfg::Knowledge>> get() {
    std::lock_guard lock(mu_);
    if (!kb_) {
      auto kb = envcfg::load_knowledge(data_dir() / "envcfg");
      if (!kb) return std::unexpected(kb.error());
      kb_ = std::make_shared<const envcfg::Knowledge>(std::move(*kb));
    }
    return kb_;
  }

 private:
  std::mutex mu_;                                // guards kb_
  std::shared_ptr<const envcfg::Knowledge> kb_;  // guarded by mu_
};

}  // namespace

void add_env_routes(Router& router, HwWatch& watch, HostFs host) {
  auto knowledge = std::make_shared<EnvKnowledge>();
  router.add({"GET", "/v1/env/plan", Role::kViewer,
              "The software stack for ?framework=NAME[==VERSION] on this node, with its Dockerfile",
              [&watch, host, knowledge](Request& r) {
                std::string framework = r.query_or("framework", "");
                if (framework.empty() || framework.size() > 200) {
                  return Response::error(400, "invalid_argument",
                                         "say which framework: ?framework=pytorch (or torch==2.4, "
                                         "tensorflow, jax, vllm, cuda==12.4, ...)");
                }
                auto kb = knowledge->get();
                if (!kb) return Response::from_error(kb.error());
                auto snap = watch.latest_json();
                if (!snap) return Response::from_error(snap.error());
                Json sj = Json::parse(*snap, nullptr, false);
                if (!sj.is_object() || !sj.contains("inventory")) {
                  return Response::error(503, "unavailable",
                                         "no hardware snapshot yet; retry shortly");
                }
                auto inv = hw::inventory_from_json(sj["inventory"].dump());
                if (!inv) return Response::from_error(inv.error());
                envcfg::Machine m = envcfg::machine_from_inventory(*inv, **kb);
                m.source = host.is_live() ? "this machine" : host.root().string();
                envcfg::read_software(host, m);
                auto plan = envcfg::make_plan(**kb, m, {framework, "", ""});
                if (!plan) return Response::from_error(plan.error());
                Json out{{"machine", m.source},
                         {"plan", Json::parse(envcfg::plan_to_json(*plan, -1), nullptr, false)},
                         {"dockerfile", nullptr}};
                if (plan->ok) {
                  auto files = envcfg::emit(*plan, envcfg::EmitFormat::kDockerfile, **kb);
                  if (files && !files->empty()) {
                    out["dockerfile"] = files->front().content;
                  } else if (!files) {
                    out["dockerfile_error"] = files.error().message();
                  }
                }
                return json_reply(200, out);
              }});
}

}  // namespace aion::api
