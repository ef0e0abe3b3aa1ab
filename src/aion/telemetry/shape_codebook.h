// The shapes a series' last few samples take, as a small codebook learned online: how far the
// current shape is from every shape the series has shown before. A heartbeat that skips, a
// square wave that loses a step or a ramp where there used to be a plateau leaves the level
// and the step size ordinary but makes a shape the codebook has not seen.
//
// A shape is the last `len` samples with their mean removed, in units of the caller's scale
// (the series' typical deviation). Each sample moves the nearest code towards the current
// shape; a shape farther than `novel` times the typical distance from every code becomes a code
// of its own, replacing the least used one once `codes` are in use. Memory is fixed (kMaxLen
// samples and kMaxCodes codes of kMaxLen floats, about 0.6 kB), observe() is O(codes * len).
//
// Thread-compatible, not thread-safe: one codebook belongs to its Detector's thread.
#pragma once

#include <array>
#include <cstddef>

namespace aion::telemetry {

struct ShapeOptions {
  std::size_t len = 6;         // samples in a shape, 2..kMaxLen (smaller: 0 switches it off)
  std::size_t codes = 8;       // codes kept, 1..kMaxCodes
  double novel = 3;            // a new code when the nearest is this many typical distances away
  double rate_rows = 100;      // slowest learning rate of a code, 1 / rate_rows
  double memory_rows = 5000;   // time constant of the use counts that pick a code to replace
  double typical_rows = 1000;  // time constant of the typical distance
};

class ShapeCodebook {
 public:
  static constexpr std::size_t kMaxLen = 8;
  static constexpr std::size_t kMaxCodes = 16;

  explicit ShapeCodebook(ShapeOptions options = {});

  // Adds `value` to the window; once the window is full, returns the RMS distance (in units of
  // `scale`, > 0) from the current shape to the nearest code, then learns the shape. Returns 0
  // while the window fills and for the very first shape.
  double observe(double value, double scale);

  // Codes learned so far (at most `codes`); tests check the bound and the replacement with it.
  std::size_t codes_in_use() const { return used_; }

 private:
  using Shape = std::array<float, kMaxLen>;
  ShapeOptions opt_;
  Shape window_{};
  std::size_t filled_ = 0;
  std::array<Shape, kMaxCodes> code_{};
  std::array<float, kMaxCodes> count_{};
  std::size_t used_ = 0;
  double typical_ = 0;  // EWMA of the distance to the nearest code
  double seen_ = 0;     // shapes seen, up to typical_rows
};

}  // namespace aion::telemetry
