#include "aion/api/node_schema.h"

#include "aion/copilot/llm.h"
#include "aion/core/settings.h"
#include "aion/diagnose/service.h"
#include "aion/hw/discovery.h"
#include "aion/logs/service.h"
#include "aion/privacy/policy.h"
#include "aion/sched/runner.h"
#include "aion/telemetry/service.h"

namespace aion::api {

ConfigSchema node_config_schema() {
  ConfigSchema s = base_schema();
  s.merge(hw::hw_config_schema());
  s.merge(sched::sched_config_schema());
  s.merge(telemetry::telemetry_config_schema());
  s.merge(logs::logs_config_schema());
  s.merge(diagnose::diagnose_config_schema());
  s.merge(privacy::privacy_config_schema());
  s.merge(copilot::copilot_config_schema());
  return s;
}

}  // namespace aion::api
