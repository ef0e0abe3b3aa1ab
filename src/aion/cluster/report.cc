#include "aion/cluster/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "aion/core/json.h"

namespace aion::cluster {
namespace {

std::vector<std::string> policies_of(const SimResult& r) {
  std::vector<std::string> out;
  for (const auto& run : r.runs) {
    if (std::find(out.begin(), out.end(), run.policy) == out.end()) out.push_back(run.policy);
  }
  return out;
}

int max_pct(const SimResult& r, const std::string& policy) {
  int m = -1;
  for (const auto& run : r.runs) {
    if (run.policy == policy) m = std::max(m, static_cast<int>(run.samples.size()) - 1);
  }
  return m;
}

Json number(double v) {
  return std::isnan(v) ? Json(nullptr) : Json(std::round(v * 1e4) / 1e4);
}

std::string fmt(double v, const char* f = "%.4g") {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

}  // namespace

std::string to_json(const SimResult& r) {
  Json j;
  j["nodes"] = r.nodes;
  j["gpus"] = r.gpus;
  j["trace_pods"] = r.trace_pods;
  j["pod_types"] = r.pod_types;
  j["seconds"] = number(r.seconds);
  j["policies"] = Json::array();
  for (const auto& p : policies_of(r)) {
    Json pj;
    pj["policy"] = p;
    pj["unallocated_gpu_pct_at_100"] = {
        {"mean", number(mean_at(r, p, 100, &Sample::unallocated_pct))},
        {"sd", number(stddev_at(r, p, 100, &Sample::unallocated_pct))}};
    pj["curve"] = Json::array();
    for (int k = 0; k <= max_pct(r, p); ++k) {
      pj["curve"].push_back(
          {{"arrived_pct", k},
           {"allocated_pct", number(mean_at(r, p, k, &Sample::allocated_pct))},
           {"unallocated_pct", number(mean_at(r, p, k, &Sample::unallocated_pct))},
           {"frag_gpus", number(mean_at(r, p, k, &Sample::frag_gpus))},
           {"frag_rate_pct", number(mean_at(r, p, k, &Sample::frag_rate_pct))}});
    }
    j["policies"].push_back(pj);
  }
  j["runs"] = Json::array();
  for (const auto& run : r.runs) {
    Json failed, arrived;
    for (int k = 0; k < kPodKinds; ++k) {
      const std::string kind(to_string(static_cast<PodKind>(k)));
      failed[kind] = run.failed[k];
      arrived[kind] = run.arrived[k];
    }
    const Sample* s = run.at(100);
    j["runs"].push_back({{"policy", run.policy},
                         {"seed", run.seed},
                         {"pods", run.pods},
                         {"arrived", arrived},
                         {"failed", failed},
                         {"unallocated_gpu_pct_at_100", s ? number(s->unallocated_pct) : Json()},
                         {"seconds", number(run.seconds)},
                         {"decision_ns", number(run.decision_ns)}});
  }
  return j.dump(2);
}

std::string to_csv(const SimResult& r) {
  std::string out = "policy,seed,arrived_pct,allocated_pct,unallocated_pct,frag_gpus,frag_rate_pct";
  for (int k = 0; k < kPodKinds; ++k) {
    out += ",failed_" + std::string(to_string(static_cast<PodKind>(k)));
  }
  out += "\n";
  for (const auto& run : r.runs) {
    for (const auto& s : run.samples) {
      out += run.policy + "," + std::to_string(run.seed) + "," + std::to_string(s.arrived_pct) +
             "," + fmt(s.allocated_pct, "%.4f") + "," + fmt(s.unallocated_pct, "%.4f") + "," +
             fmt(s.frag_gpus, "%.3f") + "," + fmt(s.frag_rate_pct, "%.4f");
      for (int f : s.failed) out += "," + std::to_string(f);
      out += "\n";
    }
  }
  return out;
}

std::string to_svg(const SimResult& r, const std::string& title, int x_from) {
  const double W = 760, H = 460, left = 64, right = 170, top = 40, bottom = 50;
  const double pw = W - left - right, ph = H - top - bottom;
  const auto policies = policies_of(r);
  int x_to = x_from + 1;
  double y_max = 1;
  for (const auto& p : policies) {
    x_to = std::max(x_to, max_pct(r, p));
    for (int k = x_from; k <= max_pct(r, p); ++k) {
      const double v = mean_at(r, p, k, &Sample::unallocated_pct);
      if (!std::isnan(v)) y_max = std::max(y_max, v);
    }
  }
  y_max = std::ceil(y_max / 10) * 10;
  auto X = [&](double x) { return left + (x - x_from) / (x_to - x_from) * pw; };
  auto Y = [&](double y) { return top + ph - y / y_max * ph; };
  static const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                  "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt(W) + "\" height=\"" +
                  fmt(H) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + fmt(left) + "\" y=\"24\" font-size=\"14\">" + title + "</text>\n";
  for (int i = 0; i <= 5; ++i) {
    const double y = y_max * i / 5;
    s += "<line x1=\"" + fmt(left) + "\" x2=\"" + fmt(left + pw) + "\" y1=\"" + fmt(Y(y)) +
         "\" y2=\"" + fmt(Y(y)) + "\" stroke=\"#ddd\"/>\n";
    s += "<text x=\"" + fmt(left - 6) + "\" y=\"" + fmt(Y(y) + 4) + "\" text-anchor=\"end\">" +
         fmt(y, "%.0f") + "</text>\n";
  }
  const int step = (x_to - x_from) > 60 ? 20 : 10;
  for (int x = (x_from + step - 1) / step * step; x <= x_to; x += step) {
    s += "<line x1=\"" + fmt(X(x)) + "\" x2=\"" + fmt(X(x)) + "\" y1=\"" + fmt(top) + "\" y2=\"" +
         fmt(top + ph) + "\" stroke=\"#ddd\"/>\n";
    s += "<text x=\"" + fmt(X(x)) + "\" y=\"" + fmt(top + ph + 16) + "\" text-anchor=\"middle\">" +
         std::to_string(x) + "</text>\n";
  }
  s += "<rect x=\"" + fmt(left) + "\" y=\"" + fmt(top) + "\" width=\"" + fmt(pw) + "\" height=\"" +
       fmt(ph) + "\" fill=\"none\" stroke=\"black\"/>\n";
  s += "<text x=\"" + fmt(left + pw / 2) + "\" y=\"" + fmt(H - 12) +
       "\" text-anchor=\"middle\">Arrived workload (% of cluster GPU capacity)</text>\n";
  s += "<text transform=\"translate(18," + fmt(top + ph / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">Unallocated GPU (%)</text>\n";
  for (std::size_t i = 0; i < policies.size(); ++i) {
    const char* color = kColors[i % 8];
    std::string points;
    for (int k = x_from; k <= max_pct(r, policies[i]); ++k) {
      const double v = mean_at(r, policies[i], k, &Sample::unallocated_pct);
      if (std::isnan(v)) continue;
      points += fmt(X(k), "%.1f") + "," + fmt(Y(v), "%.1f") + " ";
    }
    s += "<polyline fill=\"none\" stroke=\"" + std::string(color) +
         "\" stroke-width=\"1.6\" points=\"" + points + "\"/>\n";
    const double ly = top + 16 + 18 * static_cast<double>(i);
    const double at100 = mean_at(r, policies[i], 100, &Sample::unallocated_pct);
    s += "<line x1=\"" + fmt(left + pw + 12) + "\" x2=\"" + fmt(left + pw + 32) + "\" y1=\"" +
         fmt(ly - 4) + "\" y2=\"" + fmt(ly - 4) + "\" stroke=\"" + color +
         "\" stroke-width=\"2\"/>\n";
    s += "<text x=\"" + fmt(left + pw + 38) + "\" y=\"" + fmt(ly) + "\">" + policies[i] +
         (std::isnan(at100) ? "" : " (" + fmt(at100, "%.1f") + "%)") + "</text>\n";
  }
  s += "</svg>\n";
  return s;
}

}  // namespace aion::cluster
