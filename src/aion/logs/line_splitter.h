// Cuts a byte stream, fed in chunks of any size, into '\n'-ended lines of at most `max_line`
// bytes. A longer line is dropped whole, however many chunks it spans, and holds no more than
// `max_line` bytes while it passes: what a file tail and the kmsg reader share. Not
// thread-safe: a splitter belongs to its reader's thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace aion::logs {

class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line) : max_(max_line) {}

  // Calls line(std::string_view) for every complete line (without '\n') in order, and
  // dropped() once for every line longer than max_line.
  template <class Line, class Dropped>
  void feed(std::string_view chunk, Line&& line, Dropped&& dropped) {
    if (skipping_) {
      auto nl = chunk.find('\n');
      if (nl == std::string_view::npos) {
        skipped_ += chunk.size();
        return;
      }
      skipping_ = false;
      skipped_ = 0;
      chunk.remove_prefix(nl + 1);
    }
    partial_.append(chunk);
    std::size_t start = 0;
    for (std::size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (nl - start > max_) {
        dropped();
      } else {
        line(std::string_view(partial_).substr(start, nl - start));
      }
    }
    partial_.erase(0, start);
    if (partial_.size() > max_) {  // no '\n' within the limit: skip to the line's end
      dropped();
      skipping_ = true;
      skipped_ = partial_.size();
      partial_.clear();
    }
  }

  // Bytes fed since the last line ended: the unfinished line, or the part of an overlong one
  // seen so far. The stream offset minus this is where that line starts.
  std::uint64_t unfinished() const { return skipping_ ? skipped_ : partial_.size(); }

  // The unfinished line (empty while skipping one), and a fresh start.
  std::string take_unfinished() {
    std::string rest = skipping_ ? std::string() : std::move(partial_);
    reset();
    return rest;
  }
  void reset() {
    partial_.clear();
    skipping_ = false;
    skipped_ = 0;
  }

 private:
  std::size_t max_;
  std::string partial_;
  bool skipping_ = false;
  std::uint64_t skipped_ = 0;
};

}  // namespace aion::logs
