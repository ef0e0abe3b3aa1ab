#include "aion/pipeline/modality.h"

#include "aion/core/data_file.h"
#include "aion/core/paths.h"
#include "aion/core/strings.h"

namespace aion::pipeline {

namespace {

constexpr std::array<std::string_view, kModalityCount> kModalityNames = {
    "text", "image", "audio", "video", "tabular", "archive", "other"};

// "89 50 4e 47" or "52 49 46 46 ?? ?? ?? ?? 57 41 56 45": bytes in hex, ?? for any byte.
std::optional<std::vector<int>> parse_pattern(std::string_view text) {
  std::vector<int> out;
  for (const auto& word : split_words(text)) {
    if (word == "??") {
      out.push_back(-1);
      continue;
    }
    if (word.size() != 2) return std::nullopt;
    int v = 0;
    for (char c : word) {
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + d;
    }
    out.push_back(v);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

bool looks_like_text(std::string_view head) {
  if (head.empty()) return false;
  for (unsigned char c : head) {
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') return false;
    if (c == 0x7f) return false;
  }
  // A multi-byte sequence cut off by the end of the head is not an error.
  std::size_t end = head.size();
  for (std::size_t back = 0; back < 3 && end > 0; ++back) {
    unsigned char c = static_cast<unsigned char>(head[end - 1]);
    if ((c & 0xc0) == 0x80) {
      --end;
      continue;
    }
    if (c >= 0xc0) --end;  // a lead byte whose continuation was cut off
    break;
  }
  return is_utf8(head.substr(0, end));
}

}  // namespace

std::string_view to_string(Modality m) {
  return kModalityNames[static_cast<std::size_t>(m)];
}

std::optional<Modality> modality_from(std::string_view name) {
  for (std::size_t i = 0; i < kModalityCount; ++i) {
    if (kModalityNames[i] == name) return static_cast<Modality>(i);
  }
  return std::nullopt;
}

std::optional<Modality> modality_from_index(std::int64_t index) {
  if (index < 0 || index >= static_cast<std::int64_t>(kModalityCount)) return std::nullopt;
  return static_cast<Modality>(index);
}

bool is_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(n) >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += static_cast<std::size_t>(n) + 1;
  }
  return true;
}

std::filesystem::path ModalityTable::builtin_file() {
  return data_dir() / "pipeline" / "modalities.toml";
}

Result<ModalityTable> ModalityTable::load(const std::filesystem::path& file) {
  auto df = DataFile::read(file);
  if (!df) return std::unexpected(df.error());
  return from_data(*df);
}

Result<ModalityTable> ModalityTable::parse(std::string_view text, std::string source) {
  auto df = DataFile::parse(text, std::move(source));
  if (!df) return std::unexpected(df.error());
  return from_data(*df);
}

Result<ModalityTable> ModalityTable::from_data(const DataFile& df) {
  if (auto v = df.expect_schema_version(1); !v) return std::unexpected(v.error());
  if (auto k = df.expect_keys(df.root(), {"schema_version", "magic", "extension"}, "the file");
      !k) {
    return std::unexpected(k.error());
  }
  ModalityTable table;
  auto modality_of = [&](const toml::table& row) -> Result<Modality> {
    auto name = df.string(row, "modality");
    if (!name) return std::unexpected(name.error());
    auto m = modality_from(*name);
    if (!m) {
      return df.bad(row, "modality '" + *name +
                             "' is not one of text, image, audio, video, tabular, archive, other");
    }
    return *m;
  };
  auto magic_rows = df.rows(df.root(), "magic");
  if (!magic_rows) return std::unexpected(magic_rows.error());
  for (const toml::table* row : *magic_rows) {
    if (auto k =
            df.expect_keys(*row, {"format", "modality", "offset", "bytes", "source"}, "magic rule");
        !k) {
      return std::unexpected(k.error());
    }
    Magic m;
    auto format = df.string(*row, "format");
    if (!format) return std::unexpected(format.error());
    auto modality = modality_of(*row);
    if (!modality) return std::unexpected(modality.error());
    if (auto src = df.string(*row, "source"); !src) return std::unexpected(src.error());
    auto bytes = df.string(*row, "bytes");
    if (!bytes) return std::unexpected(bytes.error());
    auto pattern = parse_pattern(*bytes);
    if (!pattern) {
      return df.bad(*row, "bytes '" + *bytes +
                              "' is not hex bytes separated by spaces (\"89 50 4e 47\", ?? for "
                              "any byte)");
    }
    if (row->contains("offset")) {
      auto off = df.integer(*row, "offset");
      if (!off) return std::unexpected(off.error());
      if (*off < 0 || *off + static_cast<std::int64_t>(pattern->size()) >
                          static_cast<std::int64_t>(kHeadBytesForRules)) {
        return df.bad(*row, "offset " + std::to_string(*off) +
                                " puts the magic number beyond the bytes read for detection (" +
                                std::to_string(kHeadBytesForRules) + ")");
      }
      m.offset = static_cast<std::size_t>(*off);
    }
    m.pattern = std::move(*pattern);
    m.detection = Detection{*modality, *format, true};
    table.magic_.push_back(std::move(m));
  }
  auto ext_rows = df.rows(df.root(), "extension");
  if (!ext_rows) return std::unexpected(ext_rows.error());
  for (const toml::table* row : *ext_rows) {
    if (auto k = df.expect_keys(*row, {"names", "format", "modality", "source"}, "extension rule");
        !k) {
      return std::unexpected(k.error());
    }
    auto names = df.strings(*row, "names", true);
    if (!names) return std::unexpected(names.error());
    auto format = df.string(*row, "format");
    if (!format) return std::unexpected(format.error());
    auto modality = modality_of(*row);
    if (!modality) return std::unexpected(modality.error());
    if (auto src = df.string(*row, "source"); !src) return std::unexpected(src.error());
    for (const auto& n : *names) {
      std::string key = lower(n);
      if (!table.extensions_.emplace(key, Detection{*modality, *format, false}).second) {
        return df.bad(*row, "extension '" + key + "' is listed twice");
      }
    }
  }
  return table;
}

Detection ModalityTable::detect(std::string_view head, std::string_view file_name) const {
  for (const auto& m : magic_) {
    if (head.size() < m.offset + m.pattern.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < m.pattern.size() && match; ++i) {
      match = m.pattern[i] < 0 ||
              static_cast<unsigned char>(head[m.offset + i]) == static_cast<unsigned>(m.pattern[i]);
    }
    if (match) return m.detection;
  }
  auto dot = file_name.rfind('.');
  if (dot != std::string_view::npos && dot + 1 < file_name.size() && dot > 0) {
    auto it = extensions_.find(lower(file_name.substr(dot + 1)));
    if (it != extensions_.end()) return it->second;
  }
  if (looks_like_text(head)) return Detection{Modality::kText, "text", false};
  return Detection{Modality::kOther, "", false};
}

}  // namespace aion::pipeline
