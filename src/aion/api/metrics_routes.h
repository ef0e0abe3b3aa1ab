// Telemetry's routes: /metrics in the Prometheus text format (on the TCP listener without a
// token only when telemetry.metrics_public is set; labels naming users and job names only
// with telemetry.exposition_identity_labels), the list of stored series with their latest
// values, and range queries over the embedded store. Thread-safety: add the routes before the
// server starts; the handlers run on any API worker thread at once, which Telemetry allows.
#pragma once

#include "aion/api/router.h"
#include "aion/telemetry/service.h"

namespace aion::api {

void add_metrics_routes(Router& router, telemetry::Telemetry& telemetry);

}  // namespace aion::api
