#include "aion/telemetry/anomaly.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace aion::telemetry {
namespace {

std::string human_duration(double s) {
  char buf[32];
  if (s >= 86400 * 1.5) {
    std::snprintf(buf, sizeof buf, "%.0f d", s / 86400);
  } else if (s >= 3600 * 1.5) {
    std::snprintf(buf, sizeof buf, "%.0f h", s / 3600);
  } else if (s >= 90) {
    std::snprintf(buf, sizeof buf, "%.0f min", s / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f s", s);
  }
  return buf;
}

}  // namespace

std::string Score::explain() const {
  if (kind == AnomalyKind::kNone) return {};
  const char* dir = above ? "above" : "below";
  const std::string scale = baseline_s > 0 ? " " + human_duration(baseline_s) : "";
  char buf[224];
  switch (kind) {
    case AnomalyKind::kLevel:
      std::snprintf(buf, sizeof buf,
                    "%.1f sigma %s its%s baseline (value %.6g, baseline %.6g; as far only %.2g%% "
                    "of the time before)",
                    sigma, dir, scale.c_str(), value, baseline, 100 * tail);
      break;
    case AnomalyKind::kChange:
      std::snprintf(buf, sizeof buf,
                    "jumped %s by %.1f times its typical step (value %.6g, previous %.6g)", dir,
                    sigma, value, baseline);
      break;
    case AnomalyKind::kDrift:
      std::snprintf(buf, sizeof buf,
                    "level shifted %.1f sigma %s its%s baseline (value %.6g, baseline %.6g)", sigma,
                    dir, scale.c_str(), value, baseline);
      break;
    case AnomalyKind::kSeason:
      std::snprintf(buf, sizeof buf,
                    "%.1f sigma %s what this hour of the day usually shows (value %.6g, usual "
                    "%.6g)",
                    sigma, dir, value, baseline);
      break;
    case AnomalyKind::kSeasonDrift:
      std::snprintf(buf, sizeof buf,
                    "the last samples run %.1f sigma %s what these hours usually show (value "
                    "%.6g, usual %.6g)",
                    sigma, dir, value, baseline);
      break;
    case AnomalyKind::kSpread:
      std::snprintf(buf, sizeof buf,
                    "its recent steps are %.1f times %s than its%s typical step (value %.6g, "
                    "baseline %.6g)",
                    sigma, above ? "larger" : "smaller", scale.c_str(), value, baseline);
      break;
    case AnomalyKind::kShape:
      std::snprintf(buf, sizeof buf,
                    "its last samples take a shape unlike those it shows (%.1f sigma from the "
                    "nearest usual one; value %.6g, baseline %.6g)",
                    sigma, value, baseline);
      break;
    case AnomalyKind::kNone: break;
  }
  return buf;
}

double Detector::Rarity::observe(double z, double keep, bool learn_only) {
  int b = 0;
  if (z > 0.0625) b = std::min(kBins - 1, static_cast<int>((std::log2(z) + 4.0) * 8.0));
  double p = 1.0;
  if (!learn_only) {
    double tail = 0;
    int top = -1;  // highest bin still holding a surprise
    for (int i = kBins - 1; i >= 0 && i >= b; --i) {
      tail += count_[static_cast<std::size_t>(i)];
      if (top < 0 && count_[static_cast<std::size_t>(i)] > 1e-3f) top = i;
    }
    p = (tail + 0.5) / (total_ + 1.0);
    if (tail < 1e-3) {
      // Beyond everything seen: how far beyond counts too (a power-law tail), so a 20-sigma
      // spike outranks a value just past the previous maximum.
      for (int i = b - 1; i >= 0 && top < 0; --i) {
        if (count_[static_cast<std::size_t>(i)] > 1e-3f) top = i;
      }
      const double edge = std::exp2((top + 1) / 8.0 - 4.0);
      if (top >= 0 && z > edge) p *= (edge / z) * (edge / z);
    }
  }
  for (auto& c : count_) c = static_cast<float>(c * keep);
  total_ = total_ * keep + 1.0;
  count_[static_cast<std::size_t>(b)] += 1.0f;
  return std::min(1.0, p);
}

Detector::Detector(DetectorOptions options)
    : opt_(options),
      shapes_({.len = options.shape_rows,
               .codes = options.shape_codes,
               .novel = options.shape_novel,
               .memory_rows = options.memory_rows,
               .typical_rows = options.slow_rows}) {
  opt_.short_rows = std::clamp<std::size_t>(opt_.short_rows, 1, kMaxShort);
  opt_.slow_rows = std::max(1.0, opt_.slow_rows);
  opt_.memory_rows = std::max(1.0, opt_.memory_rows);
  opt_.max_log_p = std::max(0.1, opt_.max_log_p);
  opt_.spread_rows = std::max(0.0, opt_.spread_rows);
  opt_.season_min_samples = std::max(1.0, opt_.season_min_samples);
  opt_.season_dev_floor = std::max(0.0, opt_.season_dev_floor);
  opt_.value_range = std::isfinite(opt_.value_range) ? std::max(0.0, opt_.value_range) : 0.0;
  opt_.range_share = std::max(0.0, opt_.range_share);
  opt_.hold_share = std::max(0.0, opt_.hold_share);
}

namespace {

constexpr std::int64_t kHourMs = 3'600'000;

}  // namespace

void Detector::observe_time(std::int64_t t_ms, double value) {
  if (n_ == 0) {
    mean_ = lo_ = hi_ = prev_ = value;
    short_.fill(value);
    short_sum_ = value * static_cast<double>(opt_.short_rows);
  } else {
    const double dt = static_cast<double>(t_ms - last_t_);
    if (dt > 0) dt_ms_ = dt_ms_ == 0 ? dt : dt_ms_ + 0.05 * (dt - dt_ms_);
  }
  last_t_ = t_ms;
}

double Detector::push_short(double value) {
  short_sum_ += value - short_[short_pos_];
  short_[short_pos_] = value;
  short_pos_ = (short_pos_ + 1) % opt_.short_rows;
  return short_sum_ / static_cast<double>(opt_.short_rows);
}

int Detector::rarest_view(const std::array<double, kViews>& z, bool learning, double& p) {
  // With short_rows == 1 the drift views would repeat the level views.
  const bool use_drift = opt_.short_rows > 1;
  const bool use_spread = opt_.spread_rows > 0;
  const bool use_shape = opt_.shape_rows >= 2;
  const double keep = std::exp(-1.0 / opt_.memory_rows);
  p = 1.0;
  int view = -1;
  for (int i = 0; i < static_cast<int>(kViews); ++i) {
    if ((i == 2 || i == 4) && !use_drift) continue;
    if (i == 5 && !use_spread) continue;
    if (i == 6 && !use_shape) continue;
    const auto v = static_cast<std::size_t>(i);
    const double pi = rarity_[v].observe(z[v], keep, learning);
    if (pi < p) {
      p = pi;
      view = i;
    }
  }
  return view;
}

void Detector::learn(double value, double dev, double step, Slot& slot, double sdev) {
  // Clipped residuals keep an outlier from dragging the slow baseline.
  const double a = std::max(1.0 / static_cast<double>(n_ + 1), 1.0 / opt_.slow_rows);
  const double r = value - mean_;
  const double rc = n_ < 10 ? r : std::clamp(r, -opt_.clip_z * dev, opt_.clip_z * dev);
  mean_ += a * rc;
  dev_ += a * (std::abs(rc) - dev_);
  if (n_ > 0) {
    const double d = std::abs(value - prev_);
    const double dc = n_ < 10 ? d : std::min(d, opt_.clip_z * step);
    step_ += a * (dc - step_);
  }
  const double rows_per_slot = dt_ms_ > 0 ? std::max(1.0, kHourMs / dt_ms_) : 1.0;
  const double sa = std::max(1.0 / (slot.n + 1.0), 1.0 / (opt_.season_days * rows_per_slot));
  const double sr = value - slot.mean;
  const double src = slot.n < 3 ? sr : std::clamp(sr, -opt_.clip_z * sdev, opt_.clip_z * sdev);
  slot.mean += sa * src;
  slot.dev += sa * (std::abs(src) - slot.dev);
  slot.n += 1;
  lo_ = std::min(lo_, value);
  hi_ = std::max(hi_, value);
  prev_ = value;
  ++n_;
}

void Detector::report(double best, Score& out) {
  // Report only what beats the recent reports.
  refractory_ *= std::exp(-1.0 / std::max(1.0, opt_.refractory_rows));
  if (held_ > 0) {
    held_ -= 1;
    out.kind = AnomalyKind::kNone;
  } else if (best > refractory_) {
    refractory_ = best;
    out.score = best;
    if (best >= opt_.hold_level) held_ = opt_.hold_share * static_cast<double>(opt_.learn_rows);
  } else {
    out.kind = AnomalyKind::kNone;
  }
}

Score Detector::update(std::int64_t t_ms, double value) {
  Score out;
  out.value = value;
  if (!std::isfinite(value)) return out;
  observe_time(t_ms, value);
  const double short_mean = push_short(value);

  // Floors keep a flat series from dividing by zero: any move off a flat line is surprising.
  const double floor = std::max({1e-3 * (hi_ - lo_), 1e-9 * std::max(1.0, std::abs(mean_)),
                                 opt_.range_share * opt_.value_range});
  const double dev = std::max(dev_, floor);
  const double step = std::max(step_, floor);
  // Seasonal profile: the slot of this hour of the day.
  Slot& slot = season_[static_cast<std::size_t>(((t_ms / kHourMs) % 24 + 24) % 24)];
  const bool slot_known = slot.n >= opt_.season_min_samples;
  const double sdev = std::max({slot_known ? slot.dev : dev, floor, opt_.season_dev_floor * dev});
  const double sres = slot_known ? (value - slot.mean) / sdev : 0.0;
  const std::size_t spos = (short_pos_ + opt_.short_rows - 1) % opt_.short_rows;
  season_sum_ += sres - season_short_[spos];
  season_short_[spos] = sres;
  const double sdrift = season_sum_ / static_cast<double>(opt_.short_rows);

  // Spread: the recent typical step against the slow one, as a ratio >= 1 either way.
  double spread_ratio = 1;
  if (opt_.spread_rows > 0) {
    if (n_ > 0) spread_ += (std::abs(value - prev_) - spread_) / std::max(1.0, opt_.spread_rows);
    spread_ratio = std::max(spread_, floor) / step;
  }
  const double spread_z = std::max(spread_ratio, 1.0 / spread_ratio);
  const double shape_z = opt_.shape_rows >= 2 ? shapes_.observe(value, dev) : 0.0;

  const std::array<double, kViews> z = {std::abs(value - mean_) / dev,
                                        std::abs(value - prev_) / step,
                                        std::abs(short_mean - mean_) / dev,
                                        std::abs(sres),
                                        std::abs(sdrift),
                                        spread_z,
                                        shape_z};
  const std::size_t views = 3 + (opt_.short_rows > 1 ? 2 : 0) + (opt_.spread_rows > 0 ? 1 : 0) +
                            (opt_.shape_rows >= 2 ? 1 : 0);
  const bool learning = n_ < opt_.learn_rows;
  double p = 1.0;
  const int view = rarest_view(z, learning, p);
  double best = 0;
  if (!learning && view >= 0) {
    // Never saturates, so a rarer sample always outranks a less rare one.
    const double lp = -std::log10(std::min(1.0, static_cast<double>(views) * p));
    best = std::clamp(lp / (lp + opt_.max_log_p), 0.0, 1.0);
    constexpr AnomalyKind kKinds[kViews] = {
        AnomalyKind::kLevel,       AnomalyKind::kChange, AnomalyKind::kDrift, AnomalyKind::kSeason,
        AnomalyKind::kSeasonDrift, AnomalyKind::kSpread, AnomalyKind::kShape};
    const double signed_dev[kViews] = {value - mean_, value - prev_,    short_mean - mean_, sres,
                                       sdrift,        spread_ratio - 1, value - mean_};
    const auto v = static_cast<std::size_t>(view);
    out.kind = kKinds[v];
    out.sigma = z[v];
    out.tail = p;
    out.baseline = v == 1 ? prev_ : (v == 3 || v == 4) ? slot.mean : mean_;
    out.above = signed_dev[v] >= 0;
  }

  learn(value, dev, step, slot, sdev);
  report(best, out);
  if (dt_ms_ > 0) out.baseline_s = opt_.slow_rows * dt_ms_ / 1000.0;
  return out;
}

}  // namespace aion::telemetry
