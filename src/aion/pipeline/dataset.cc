#include "aion/pipeline/dataset.h"

#include <cstdio>

#include "aion/core/strings.h"

namespace aion::pipeline {

std::string VersionRef::text() const {
  return version ? name + "@" + std::to_string(*version) : name;
}

Status check_dataset_name(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorCode::kInvalidArgument,
                "dataset name '" + display_path(name) + "' " + std::string(why) +
                    ": use 1-128 letters, digits, '.', '_' or '-', not starting with '.' or '-'");
  };
  if (name.empty() || name.size() > 128) return bad("has the wrong length");
  if (name.front() == '.' || name.front() == '-') return bad("starts with '.' or '-'");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return bad("holds a character that is not allowed");
  }
  return {};
}

Result<VersionRef> parse_version_ref(std::string_view text) {
  VersionRef ref;
  auto at = text.rfind('@');
  ref.name = std::string(text.substr(0, at));
  if (auto ok = check_dataset_name(ref.name); !ok) return std::unexpected(ok.error());
  if (at != std::string_view::npos) {
    auto v = parse_int<int>(text.substr(at + 1));
    if (!v || *v < 1) {
      return fail(ErrorCode::kInvalidArgument,
                  "'" + display_path(text) +
                      "': the version after '@' must be a number from 1 (see `aion data show " +
                      ref.name + "`)");
    }
    ref.version = *v;
  }
  return ref;
}

std::string display_path(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  auto hex = [&](unsigned char c) {
    char buf[5];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
  };
  std::size_t i = 0;
  while (i < raw.size()) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c < 0x80) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c < 0x20 || c == 0x7f) {
        hex(c);
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    std::size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n > 0 && i + n <= raw.size() && is_utf8(raw.substr(i, n))) {
      out.append(raw.substr(i, n));
      i += n;
    } else {
      hex(c);
      ++i;
    }
  }
  return out;
}

std::string format_bytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, kUnits[u]);
  return buf;
}

}  // namespace aion::pipeline
