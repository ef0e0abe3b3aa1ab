// A plain aligned text table for human output: columns padded to their widest cell, a
// header row, two spaces between columns. Not thread-safe; build, then print once.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace aion::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.size() <= 1; }
  void print(std::FILE* out = stdout) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "3d 4h", "5m 12s", "42s".
std::string format_duration(long long seconds);

}  // namespace aion::cli
