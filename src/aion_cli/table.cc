#include "table.h"

#include <algorithm>

namespace aion::cli {
namespace {

// Display width of UTF-8 text: counts code points, not bytes.
std::size_t width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

void Table::widen(const std::vector<std::string>& row) {
  if (widths_.size() < row.size()) widths_.resize(row.size(), 0);
  for (std::size_t i = 0; i < row.size(); ++i) widths_[i] = std::max(widths_[i], width(row[i]));
}

std::string Table::line(const std::vector<std::string>& row) const {
  std::string out;
  for (std::size_t i = 0; i < row.size(); ++i) {
    out += row[i];
    if (i + 1 < row.size()) out += std::string(widths_[i] - width(row[i]) + 2, ' ');
  }
  out += '\n';
  return out;
}

std::string Table::str() const {
  Table sized;
  for (const auto& row : rows_) sized.widen(row);
  std::string out;
  for (const auto& row : rows_) out += sized.line(row);
  return out;
}

void Table::print(std::FILE* out) const {
  std::fputs(str().c_str(), out);
}

void Table::print_row(const std::vector<std::string>& row, std::FILE* out) {
  if (widths_.empty()) {
    for (const auto& r : rows_) widen(r);
  }
  widen(row);
  std::fputs(line(row).c_str(), out);
}

std::string format_duration(long long s) {
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m " + std::to_string(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h " + std::to_string((s % 3600) / 60) + "m";
  return std::to_string(s / 86400) + "d " + std::to_string((s % 86400) / 3600) + "h";
}

}  // namespace aion::cli
