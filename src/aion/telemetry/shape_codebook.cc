#include "aion/telemetry/shape_codebook.h"

#include <algorithm>
#include <cmath>

namespace aion::telemetry {

ShapeCodebook::ShapeCodebook(ShapeOptions options) : opt_(options) {
  opt_.len = opt_.len < 2 ? 0 : std::min(opt_.len, kMaxLen);
  opt_.codes = std::clamp<std::size_t>(opt_.codes, 1, kMaxCodes);
  opt_.novel = std::max(1.0, opt_.novel);
  opt_.rate_rows = std::max(1.0, opt_.rate_rows);
  opt_.memory_rows = std::max(1.0, opt_.memory_rows);
  opt_.typical_rows = std::max(1.0, opt_.typical_rows);
}

double ShapeCodebook::observe(double value, double scale) {
  const std::size_t len = opt_.len;
  if (len == 0 || !(scale > 0)) return 0;
  std::copy(window_.begin() + 1, window_.begin() + static_cast<long>(len), window_.begin());
  window_[len - 1] = static_cast<float>(value);
  if (filled_ < len) ++filled_;
  if (filled_ < len) return 0;

  double mean = 0;
  for (std::size_t j = 0; j < len; ++j) mean += window_[j];
  mean /= static_cast<double>(len);
  Shape x{};
  for (std::size_t j = 0; j < len; ++j) x[j] = static_cast<float>((window_[j] - mean) / scale);

  double best = INFINITY;
  std::size_t nearest = 0;
  for (std::size_t c = 0; c < used_; ++c) {
    double d2 = 0;
    for (std::size_t j = 0; j < len; ++j) {
      const double e = x[j] - code_[c][j];
      d2 += e * e;
    }
    if (d2 < best) {
      best = d2;
      nearest = c;
    }
  }
  const double d = used_ > 0 ? std::sqrt(best / static_cast<double>(len)) : 0.0;

  const auto keep = static_cast<float>(std::exp(-1.0 / opt_.memory_rows));
  for (std::size_t c = 0; c < used_; ++c) count_[c] *= keep;
  // While codes are free, any shape farther than usual gets one (so the first distinct shapes
  // are not averaged together); after that, only a clearly novel one replaces a code.
  const double bar = (used_ < opt_.codes ? 1.0 : opt_.novel) * std::max(typical_, 1e-6);
  if (used_ == 0 || d > bar) {
    std::size_t slot = used_;
    if (used_ < opt_.codes) {
      ++used_;
    } else {
      slot = static_cast<std::size_t>(
          std::min_element(count_.begin(), count_.begin() + static_cast<long>(used_)) -
          count_.begin());
    }
    code_[slot] = x;
    count_[slot] = 1;
  } else {
    const double r = std::max(1.0 / (count_[nearest] + 1.0), 1.0 / opt_.rate_rows);
    for (std::size_t j = 0; j < len; ++j) {
      code_[nearest][j] += static_cast<float>(r * (x[j] - code_[nearest][j]));
    }
    count_[nearest] += 1;
  }
  if (used_ > 0) {
    seen_ = std::min(seen_ + 1, opt_.typical_rows);
    typical_ += (d - typical_) / seen_;
  }
  return d;
}

}  // namespace aion::telemetry
