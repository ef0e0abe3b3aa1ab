// Modality of a dataset file: what kind of data it holds (text, image, audio, video, tabular,
// archive, other), decided by content first (magic numbers at fixed offsets) and by the file
// name's extension only when no magic number matches, then by whether the first bytes read as
// UTF-8 text. The rules are data (data/pipeline/modalities.toml, schema_version 1, a source per
// rule), loaded once; a ModalityTable is immutable after loading and thread-safe to share.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion {
class DataFile;
}

namespace aion::pipeline {

// The bytes detection sees (hash.h's kHeadBytes): a rule whose magic number lies beyond them
// could never match and is refused when the rules load.
inline constexpr std::size_t kHeadBytesForRules = 512;

// Stored in the catalog by number: never renumber, only append.
enum class Modality : std::uint8_t {
  kText = 0,
  kImage = 1,
  kAudio = 2,
  kVideo = 3,
  kTabular = 4,
  kArchive = 5,
  kOther = 6,
};
inline constexpr std::size_t kModalityCount = 7;
inline constexpr std::array<Modality, kModalityCount> kAllModalities = {
    Modality::kText,    Modality::kImage,   Modality::kAudio, Modality::kVideo,
    Modality::kTabular, Modality::kArchive, Modality::kOther};

std::string_view to_string(Modality m);  // "text", "image", ...
std::optional<Modality> modality_from(std::string_view name);
std::optional<Modality> modality_from_index(std::int64_t index);

struct Detection {
  Modality modality = Modality::kOther;
  std::string format;       // "png", "csv", "text", "" when unknown
  bool by_content = false;  // a magic number matched (false: extension or text sniffing)
};

class ModalityTable {
 public:
  // Parses the rules; errors are kCorrupt naming source:line and the field (DataFile).
  static Result<ModalityTable> parse(std::string_view text, std::string source);
  static Result<ModalityTable> load(const std::filesystem::path& file);
  // data_dir()/pipeline/modalities.toml.
  static std::filesystem::path builtin_file();

  // `head` is the first bytes of the file (hash.h's kHeadBytes); `file_name` its last path
  // component. Magic numbers in file order, first match wins; then the extension
  // (case-insensitive); then text when `head` is non-empty valid UTF-8 without NUL or other
  // control bytes than tab, newline, carriage return and form feed; else other.
  Detection detect(std::string_view head, std::string_view file_name) const;

  std::size_t magic_rules() const { return magic_.size(); }

 private:
  static Result<ModalityTable> from_data(const DataFile& df);
  struct Magic {
    std::size_t offset = 0;
    std::vector<int> pattern;  // byte values, -1 for any byte ("??")
    Detection detection;
  };
  std::vector<Magic> magic_;
  std::map<std::string, Detection, std::less<>> extensions_;  // lowercase, without the dot
};

// True when `bytes` is valid UTF-8 (overlong forms and surrogates refused).
bool is_utf8(std::string_view bytes);

}  // namespace aion::pipeline
