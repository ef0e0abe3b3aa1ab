// A plain aligned text table for human output: columns padded to their widest cell, two
// spaces between columns, no padding after the last. A table has a header row (lists) or none
// (key/value blocks, lines of a report); a row may have fewer cells than others. Not
// thread-safe; build, then print once (or stream rows with print_row()).
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

namespace aion::cli {

class Table {
 public:
  // No header row.
  Table() = default;
  explicit Table(std::vector<std::string> header) : header_(true), rows_{std::move(header)} {}

  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // No rows besides the header.
  bool empty() const { return rows_.size() <= (header_ ? 1u : 0u); }

  // The rendered table, one line per row, each ending in '\n'.
  std::string str() const;
  void print(std::FILE* out = stdout) const;

  // For rows that arrive one at a time after print() (a --follow stream): prints `row` now,
  // each cell padded to the widest seen so far in its column; a wider cell widens its column
  // for the rows after it.
  void print_row(const std::vector<std::string>& row, std::FILE* out = stdout);

 private:
  void widen(const std::vector<std::string>& row);
  std::string line(const std::vector<std::string>& row) const;

  bool header_ = false;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::size_t> widths_;  // of the rows added so far, kept by print_row()
};

// "3d 4h", "5m 12s", "42s".
std::string format_duration(long long seconds);

}  // namespace aion::cli
