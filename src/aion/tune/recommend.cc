#include "aion/tune/recommend.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

namespace aion::tune {

namespace {

std::string pct(double v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", v * 100);
  return buf;
}

}  // namespace

void summarize_gpu_utilization(const std::vector<double>& samples, TelemetrySummary& out) {
  out.gpu_samples = samples.size();
  if (samples.empty()) return;
  std::vector<double> s = samples;
  std::sort(s.begin(), s.end());
  out.gpu_util_mean = std::accumulate(s.begin(), s.end(), 0.0) / static_cast<double>(s.size());
  std::size_t idx = static_cast<std::size_t>(0.95 * static_cast<double>(s.size() - 1) + 0.5);
  out.gpu_util_p95 = s[std::min(idx, s.size() - 1)];
}

Recommendation recommend(const hw::Inventory& inv, const TelemetrySummary& tel) {
  Recommendation r;
  int gpus = 0, simulated = 0, rdma = 0;
  for (const auto& a : inv.accelerators) {
    if (a.state != "ok") continue;
    ++gpus;
    simulated += a.simulated ? 1 : 0;
  }
  for (const auto& n : inv.nics) rdma += n.rdma ? 1 : 0;
  std::size_t nodes = inv.numa_nodes.size();

  if (gpus == 0) {
    bool big = nodes > 1 || inv.cpu.sockets > 1 || inv.cpu.threads >= 32;
    r.profile = big ? "throughput" : "balanced";
    r.reasons.push_back(
        "no accelerator found: the AI profiles would tune for GPU work that "
        "does not run here");
    r.reasons.push_back(big ? std::to_string(nodes) + " NUMA node(s), " +
                                  std::to_string(inv.cpu.threads) +
                                  " CPUs: a large machine for batch throughput"
                            : std::to_string(inv.cpu.threads) +
                                  " CPUs on one node: balanced keeps power and latency sane");
    if (!tel.available)
      r.reasons.push_back("no telemetry: " + (tel.note.empty() ? "not available" : tel.note));
    return r;
  }
  std::string gpu_text = std::to_string(gpus) + " accelerator(s)" +
                         (simulated ? " (" + std::to_string(simulated) + " simulated)" : "");
  r.reasons.push_back(gpu_text + ", " + std::to_string(rdma) + " RDMA NIC(s), " +
                      std::to_string(nodes) + " NUMA node(s)");
  if (tel.available && tel.gpu_samples > 0) {
    std::string seen = "GPU utilisation over the last " +
                       std::to_string(static_cast<int>(tel.window_hours)) + " h: mean " +
                       pct(tel.gpu_util_mean) + ", p95 " + pct(tel.gpu_util_p95);
    if (tel.jobs_seen >= 0) seen += ", " + std::to_string(tel.jobs_seen) + " job(s) seen";
    r.reasons.push_back(seen);
    if (tel.gpu_util_mean >= 0.5) {
      r.profile = "ai-training";
      r.reasons.push_back("sustained GPU use: throughput settings pay off");
      return r;
    }
    if (tel.gpu_util_p95 > 0.5 && tel.gpu_util_p95 >= 2 * tel.gpu_util_mean &&
        tel.gpu_util_mean < 0.35) {
      r.profile = "ai-inference";
      r.reasons.push_back(
          "bursty GPU use (peaks well above the mean): request serving, where "
          "latency matters more than throughput");
      return r;
    }
    r.reasons.push_back("telemetry does not show a clear pattern; falling back to hardware");
  } else {
    r.reasons.push_back("no telemetry: " +
                        (tel.note.empty() ? std::string("not available") : tel.note));
  }
  if (rdma > 0 || gpus > 1) {
    r.profile = "ai-training";
    r.reasons.push_back(rdma > 0 ? "RDMA NICs: built for multi-node collectives"
                                 : "several GPUs: multi-GPU training is the common use");
  } else {
    r.profile = "ai-inference";
    r.reasons.push_back("one GPU without RDMA: typical of a serving node");
  }
  return r;
}

}  // namespace aion::tune
