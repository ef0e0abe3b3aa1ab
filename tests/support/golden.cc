#include "support/golden.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

namespace aion::testing {
namespace fs = std::filesystem;

namespace {

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool update_mode() {
  const char* v = std::getenv("AION_UPDATE_GOLDEN");
  return v != nullptr && std::string_view(v) == "1";
}

// Where `want` and `got` first differ, with the lines around it.
std::string first_difference(std::string_view want, std::string_view got) {
  const auto w = lines_of(want);
  const auto g = lines_of(got);
  std::size_t i = 0;
  while (i < w.size() && i < g.size() && w[i] == g[i]) ++i;
  std::ostringstream out;
  if (i == w.size() && i == g.size()) {
    out << "the texts differ only in their final newline";
    return out.str();
  }
  out << "first difference at line " << i + 1 << " (golden " << w.size() << " lines, output "
      << g.size() << " lines):\n";
  const std::size_t from = i >= 2 ? i - 2 : 0;
  for (std::size_t k = from; k < i; ++k) out << "    " << w[k] << "\n";
  std::string want_line = i < w.size() ? w[i] : "<end of file>";
  std::string got_line = i < g.size() ? g[i] : "<end of output>";
  // A long line is shown around its first differing column.
  constexpr std::size_t kWide = 160, kAround = 60;
  if (i < w.size() && i < g.size() && std::max(want_line.size(), got_line.size()) > kWide) {
    std::size_t col = 0;
    while (col < want_line.size() && col < got_line.size() && want_line[col] == got_line[col])
      ++col;
    const std::size_t start = col > kAround ? col - kAround : 0;
    out << "  (column " << col + 1 << ")\n";
    want_line = "..." + want_line.substr(start, 2 * kAround) + "...";
    got_line = "..." + got_line.substr(start, 2 * kAround) + "...";
  }
  out << "  - " << want_line << "\n";
  out << "  + " << got_line << "\n";
  return out.str();
}

}  // namespace

fs::path golden_dir() {
  return fs::path(AION_SOURCE_DIR) / "tests" / "golden";
}

namespace {

// Replaces every "<prefix>NAME-XXXXXX" (NAME of [A-Za-z0-9_.-], XXXXXX six letters or digits:
// a TempDir's mkdtemp name) with @TMP@. Plain scanning, not <regex>: GCC 12 reports a false
// maybe-uninitialized inside <regex> in the sanitizer build.
void replace_temp_dirs(std::string& out, const std::string& prefix) {
  auto name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  };
  for (std::size_t at = out.find(prefix); at != std::string::npos; at = out.find(prefix, at)) {
    std::size_t end = at + prefix.size();
    while (end < out.size() && name_char(out[end])) ++end;
    // The name ends in "-" and six alphanumerics; back off to the longest such ending.
    std::size_t cut = std::string::npos;
    for (std::size_t e = end; e >= at + prefix.size() + 8; --e) {
      bool six = out[e - 7] == '-';
      for (std::size_t k = e - 6; six && k < e; ++k)
        six = std::isalnum(static_cast<unsigned char>(out[k])) != 0;
      if (six) {
        cut = e;
        break;
      }
    }
    if (cut == std::string::npos) {
      at = end;
      continue;
    }
    out.replace(at, cut - at, "@TMP@");
    at += 5;
  }
}

// Replaces the value of every "seconds": N with "@DURATION@".
void replace_seconds(std::string& out) {
  const std::string key = "\"seconds\":";
  for (std::size_t at = out.find(key); at != std::string::npos; at = out.find(key, at + 1)) {
    std::size_t v = at + key.size();
    while (v < out.size() && std::isspace(static_cast<unsigned char>(out[v]))) ++v;
    std::size_t e = v;
    if (e < out.size() && out[e] == '-') ++e;
    if (e >= out.size() || !std::isdigit(static_cast<unsigned char>(out[e]))) continue;
    while (e < out.size() && (std::isdigit(static_cast<unsigned char>(out[e])) ||
                              std::strchr(".eE+-", out[e]) != nullptr))
      ++e;
    out.replace(v, e - v, "\"@DURATION@\"");
  }
}

}  // namespace

std::string normalize_output(std::string_view text) {
  std::string out(text);
  // 1 and 2: the build directory first, as it usually sits inside the source directory.
  replace_all(out, fs::path(AION_BIN_DIR).parent_path().string(), "@BUILD@");
  replace_all(out, std::string(AION_SOURCE_DIR), "@SRC@");
  // 3: TempDir's mkdtemp names, below the system temp dir or /tmp.
  std::error_code ec;
  std::string tmp = fs::temp_directory_path(ec).string();
  if (ec || tmp.empty()) tmp = "/tmp";
  if (tmp.size() > 1 && tmp.back() == '/') tmp.pop_back();
  for (const std::string& base : {tmp, std::string("/tmp")})
    replace_temp_dirs(out, base + "/aion-");
  // 4: measured run times.
  replace_seconds(out);
  return out;
}

::testing::AssertionResult matches_golden(std::string_view name, std::string_view actual) {
  return matches_golden_file(golden_dir() / name, actual);
}

::testing::AssertionResult matches_golden_json(std::string_view name, std::string_view actual) {
  auto doc = nlohmann::ordered_json::parse(actual, nullptr, false);
  if (doc.is_discarded()) {
    return ::testing::AssertionFailure()
           << "output for golden file " << name << " is not one JSON document:\n"
           << actual;
  }
  return matches_golden(name, doc.dump(2) + "\n");
}

::testing::AssertionResult matches_golden_file(const fs::path& file, std::string_view actual) {
  const std::string got = normalize_output(actual);
  std::ifstream in(file, std::ios::binary);
  const bool exists = static_cast<bool>(in);
  const std::string want =
      exists ? std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>())
             : std::string();
  if (exists && want == got) return ::testing::AssertionSuccess();
  if (update_mode()) {
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(got.data(), static_cast<std::streamsize>(got.size()));
    if (!out.flush()) return ::testing::AssertionFailure() << "cannot write " << file.string();
    return ::testing::AssertionSuccess();
  }
  if (!exists) {
    return ::testing::AssertionFailure()
           << "no golden file " << file.string()
           << "; run the test with AION_UPDATE_GOLDEN=1 to write it, then review it";
  }
  return ::testing::AssertionFailure()
         << "output differs from golden file " << file.string() << "\n"
         << first_difference(want, got)
         << "If the change is intended, rerun with AION_UPDATE_GOLDEN=1 and review the diff.";
}

}  // namespace aion::testing
