// POST /v1/ask: the copilot served by aiond. Wiring between two services that sit side by
// side (api's router and the copilot), so it lives with the program. The question is answered as
// `aion ask` answers it (the router, or the configured model with the privacy gate), from the
// daemon's hardware snapshot, the shipped catalogs and tables, the document index under the
// state directory (read-only: `aion ask --reindex` keeps it), and the daemon's own routes
// dispatched with the caller's identity, so a caller learns through the copilot only what its
// role lets it read directly. The copilot never changes state: actions come back as suggested
// commands.
//
// A streamed question (?stream=1) that goes to the model is answered on a thread of its own
// (at most kMaxLiveAnswers at once), whose text reaches the caller token by token as the model
// writes it; the server's worker is free meanwhile.
// Thread-safety: constructed before the server starts; the handler runs on any worker thread
// at once; stop() is called once the server has stopped, before the router is destroyed.
#pragma once

#include <filesystem>
#include <memory>

#include "aion/api/hw_watch.h"
#include "aion/api/router.h"
#include "aion/core/config.h"
#include "aion/core/host_fs.h"

namespace aiond {

struct CopilotRouteOptions {
  aion::HostFs host;
  std::filesystem::path state_dir;
  aion::Config config;  // [copilot] and [privacy]
};

class CopilotService {
 public:
  // Streamed model answers in flight at once; one more is answered 503.
  static constexpr int kMaxLiveAnswers = 4;

  // Loads what every question shares and adds POST /v1/ask to `router`, which must outlive
  // this service (the tools dispatch to the routes it holds).
  CopilotService(aion::api::Router& router, aion::api::HwWatch* hw, CopilotRouteOptions options);
  ~CopilotService();
  CopilotService(const CopilotService&) = delete;
  CopilotService& operator=(const CopilotService&) = delete;

  // Cancels the model requests of answers still streaming (they end within ~100 ms, answered
  // without the model) and waits for their threads.
  void stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace aiond
