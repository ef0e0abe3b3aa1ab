// The answer writers of the router (router.h), one per intent id, and the Draft they write
// into: it calls tools, records each call and its source, and collects the lines of the
// answer. Internal to the copilot module. Not thread-safe: a Draft belongs to one answer()
// call; the writers themselves hold no state.
#pragma once

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "aion/copilot/router.h"
#include "aion/copilot/tools.h"
#include "aion/core/json.h"

namespace aion::copilot {

class Draft {
 public:
  Draft(const Question& q, const Toolbox& tools, Answer& out) : q(q), tools_(tools), out_(out) {}

  // Calls the tool and records it. nullptr when it failed: the answer then says it cannot
  // answer and why (the first failure wins), and the writer should stop.
  const Json* use(std::string_view tool, Json args = Json::object());
  // As use(), but a failure only goes to the calls: for facts that add to an answer the
  // writer can give without them.
  const Json* try_use(std::string_view tool, Json args = Json::object());
  void say(std::string line);
  void suggest(std::string command);
  // The answer is "I can't answer that": why, and what would help.
  void cannot(std::string why);
  bool failed() const { return failed_; }

  const Question& q;

 private:
  const Toolbox& tools_;
  Answer& out_;
  std::deque<Json> held_;  // tool outputs, alive (and in place) for the writer
  bool failed_ = false;
};

using Writer = void (*)(Draft&);
struct WriterEntry {
  std::string_view intent;
  Writer write;
};

// The writers by area (writers_hw.cc, writers_ops.cc, writers_knowledge.cc).
const std::vector<WriterEntry>& hardware_writers();
const std::vector<WriterEntry>& operations_writers();
const std::vector<WriterEntry>& knowledge_writers();
Writer find_writer(std::string_view intent);

// Text helpers the writers share.
// A member as text ("" when absent or not a string) and as a number (`fallback`).
std::string str(const Json& j, const char* key);
long long num(const Json& j, const char* key, long long fallback = 0);
std::string human_bytes(double bytes);
std::string join_list(const std::vector<std::string>& items);  // "a, b and c"
// The accelerators of the hardware tool's output, by index within their vendor.
std::vector<const Json*> accelerators(const Json& hw);
std::string gpu_name(const Json& acc);  // "GPU3" (its kind and index)
// The pairs of devices the topology tool's output shows joined by a direct link (NVLink
// "NV<n>", AMD "XGMI..."), in matrix order.
struct DirectLink {
  std::string a, b;   // "GPU0", "GPU5"
  std::string level;  // "NV12"
};
std::vector<DirectLink> direct_links(const Json& topo);

}  // namespace aion::copilot
