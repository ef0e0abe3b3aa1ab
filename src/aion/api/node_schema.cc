#include "aion/api/node_schema.h"

#include "aion/core/settings.h"
#include "aion/diagnose/service.h"
#include "aion/hw/discovery.h"
#include "aion/logs/service.h"
#include "aion/pipeline/dataset_config.h"
#include "aion/privacy/policy.h"
#include "aion/sched/runner.h"
#include "aion/telemetry/service.h"

namespace aion::api {

namespace {

// [copilot]: the language model `aion ask`, `aion chat` and POST /v1/ask may use (read by
// copilot::model_endpoint()). Declared here with the node's other sections: the copilot sits
// beside api in the layering, so neither includes the other; the programs wire them.
ConfigSchema copilot_config_schema() {
  ConfigSchema s;
  s.string("copilot.base_url", "",
           "OpenAI-compatible endpoint for `aion ask` (e.g. http://127.0.0.1:8000/v1 for vLLM, "
           "https://api.example.com/v1 for a cloud API); empty: answer without a language model")
      .string("copilot.model", "", "Model name the endpoint serves")
      .path("copilot.api_key_file", "", "File holding the endpoint's API key; empty: none")
      .path("copilot.ca_file", "",
            "PEM file of the CAs an https:// endpoint's certificate must chain to; empty: the "
            "system's trust store")
      .integer("copilot.timeout_s", 60, "Seconds to wait for one model request", 1, 600)
      .integer("copilot.retries", 1, "Further attempts after a failed model request", 0, 5)
      .integer("copilot.max_tool_rounds", 4,
               "Model turns that may call tools before it must answer", 1, 16)
      .integer("copilot.max_tokens", 800, "Tokens the model may write per turn", 16, 32768)
      .boolean("copilot.stream", true,
               "Ask the model to stream its answer (server-sent events) and show it as it comes");
  return s;
}

}  // namespace

ConfigSchema node_config_schema() {
  ConfigSchema s = base_schema();
  s.merge(hw::hw_config_schema());
  s.merge(sched::sched_config_schema());
  s.merge(telemetry::telemetry_config_schema());
  s.merge(logs::logs_config_schema());
  s.merge(diagnose::diagnose_config_schema());
  s.merge(privacy::privacy_config_schema());
  s.merge(pipeline::datasets_config_schema());
  s.merge(copilot_config_schema());
  return s;
}

}  // namespace aion::api
