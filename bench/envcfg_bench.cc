// envcfg_bench: how long `aion env plan` takes to resolve a stack, the knowledge tables already
// loaded (as in one CLI call after start-up). Every recorded machine description in
// tests/fixtures/machines x every framework (and the toolkits), each request repeated; prints
// p50/p99/max per request and the table load time, and writes bench/results/envcfg.json. Target:
// under 5 ms.
//   envcfg_bench [--rounds N] [--out FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "aion/core/json.h"
#include "aion/core/version.h"
#include "aion/envcfg/knowledge.h"
#include "aion/envcfg/machine.h"
#include "aion/envcfg/resolver.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int rounds = 200;
  std::string out = std::string(AION_BENCH_RESULTS_DIR) + "/envcfg.json";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else {
      std::fprintf(stderr, "usage: envcfg_bench [--rounds N] [--out FILE]\n");
      return 2;
    }
  }
  const fs::path src = AION_SOURCE_DIR;
  auto t0 = Clock::now();
  auto kb = aion::envcfg::load_knowledge(src / "data" / "envcfg");
  const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!kb) {
    std::fprintf(stderr, "envcfg_bench: %s\n", kb.error().message().c_str());
    return 1;
  }
  std::vector<std::pair<std::string, aion::envcfg::Machine>> machines;
  for (const auto& e : fs::directory_iterator(src / "tests" / "fixtures" / "machines")) {
    if (e.path().extension() != ".json") continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    auto m = aion::envcfg::machine_from_json(ss.str(), e.path().string(), *kb);
    if (m) machines.emplace_back(e.path().stem().string(), std::move(*m));
  }
  std::sort(machines.begin(), machines.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  // Frameworks, an old pin whose failures re-plan their ways out, and toolkit requests.
  const std::vector<std::string> requests = {
      "pytorch",   "torch==2.4", "torch==2.1",  "tensorflow", "jax",
      "vllm",      "sglang",     "onnxruntime", "openvino",   "paddle",
      "torch_npu", "cuda",       "cuda==12.1",  "rocm",       "cann"};
  std::vector<double> us;
  std::size_t ok = 0, no_fit = 0;
  for (int r = 0; r < rounds; ++r) {
    for (const auto& [name, m] : machines) {
      for (const auto& q : requests) {
        auto s = Clock::now();
        auto plan = aion::envcfg::make_plan(*kb, m, {.framework = q});
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - s).count());
        if (r == 0) (plan && plan->ok ? ok : no_fit) += 1;
      }
    }
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) {
    return us[std::min(us.size() - 1, static_cast<std::size_t>(p * us.size()))];
  };
  std::printf("envcfg_bench: %zu machines x %zu requests x %d rounds (%zu plans, %zu no fit)\n",
              machines.size(), requests.size(), rounds, ok, no_fit);
  std::printf("knowledge tables loaded in %.1f ms\n", load_ms);
  std::printf("per request: p50 %.1f us, p99 %.1f us, max %.1f us (target: under 5 ms)\n", pct(0.5),
              pct(0.99), us.back());
  aion::Json j{{"benchmark", "envcfg_bench"},
               {"version", aion::kVersion},
               {"machines", machines.size()},
               {"requests_per_machine", requests.size()},
               {"rounds", rounds},
               {"kb_load_ms", load_ms},
               {"resolve_us", {{"p50", pct(0.5)}, {"p99", pct(0.99)}, {"max", us.back()}}},
               {"target_ms", 5}};
  std::error_code ec;
  fs::create_directories(fs::path(out).parent_path(), ec);
  std::ofstream(out) << j.dump(2) << "\n";
  std::printf("wrote %s\n", out.c_str());
  return 0;
}
