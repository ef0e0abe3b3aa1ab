#include "aion/cluster/trace.h"

#include <charconv>
#include <fstream>
#include <sstream>

namespace aion::cluster {
namespace {

// One CSV line split at commas (the trace has no quoted fields); keeps each field's column.
struct Row {
  std::vector<std::string_view> fields;
};

Row split(std::string_view line) {
  Row r;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = line.find(',', start);
    if (comma == std::string_view::npos) {
      r.fields.push_back(line.substr(start));
      break;
    }
    r.fields.push_back(line.substr(start, comma - start));
    start = comma + 1;
  }
  return r;
}

// Walks the lines of a CSV text with a header, giving each data row and where it is.
class CsvReader {
 public:
  CsvReader(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  // Reads the header; `required` columns must be present.
  Status header(const std::vector<std::string_view>& required) {
    std::string_view line;
    if (!next_line(&line)) return fail(ErrorCode::kParse, std::string(source_) + ": empty file");
    header_ = split(line).fields;
    for (auto name : required) {
      if (column(name) < 0) {
        return fail(ErrorCode::kParse,
                    std::string(source_) + ":1: missing column '" + std::string(name) + "'");
      }
    }
    return {};
  }

  int column(std::string_view name) const {
    for (std::size_t i = 0; i < header_.size(); ++i) {
      if (header_[i] == name) return static_cast<int>(i);
    }
    return -1;
  }

  // The next non-empty data row; false at the end.
  Result<bool> next(Row* row) {
    std::string_view line;
    while (next_line(&line)) {
      if (line.empty()) continue;
      *row = split(line);
      if (row->fields.size() != header_.size()) {
        return fail(ErrorCode::kParse, where(-1) + ": expected " + std::to_string(header_.size()) +
                                           " fields, found " + std::to_string(row->fields.size()));
      }
      return true;
    }
    return false;
  }

  // "file:line:col (name)" for the current row; col < 0 names the line only.
  std::string where(int col) const {
    std::string s = std::string(source_) + ":" + std::to_string(line_no_);
    if (col >= 0) {
      s += ":" + std::to_string(col + 1) + " (" + std::string(header_[col]) + ")";
    }
    return s;
  }

  // The integer in column `col` of `row`; empty allowed only when `empty_value` is given.
  Result<std::int64_t> integer(const Row& row, int col, std::int64_t min, std::int64_t max,
                               const std::int64_t* empty_value = nullptr) const {
    std::string_view f = row.fields[col];
    if (f.empty()) {
      if (empty_value != nullptr) return *empty_value;
      return fail(ErrorCode::kParse, where(col) + ": empty, expected an integer");
    }
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
    if (ec != std::errc() || ptr != f.data() + f.size()) {
      return fail(ErrorCode::kParse, where(col) + ": '" + std::string(f) + "' is not an integer");
    }
    if (v < min || v > max) {
      return fail(ErrorCode::kParse, where(col) + ": " + std::to_string(v) + " is out of range [" +
                                         std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    return v;
  }

 private:
  bool next_line(std::string_view* line) {
    if (pos_ >= text_.size()) return false;
    std::size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) end = text_.size();
    *line = text_.substr(pos_, end - pos_);
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    pos_ = end + 1;
    ++line_no_;
    return true;
  }

  std::string_view text_;
  std::string_view source_;
  std::vector<std::string_view> header_;
  std::size_t pos_ = 0;
  int line_no_ = 0;
};

constexpr std::int64_t kMaxQuantity = std::int64_t{1} << 40;

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kNotFound, "cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<std::vector<NodeSpec>> parse_nodes(std::string_view text, std::string_view source) {
  CsvReader csv(text, source);
  if (auto st = csv.header({"sn", "cpu_milli", "memory_mib", "gpu", "model"}); !st) {
    return std::unexpected(st.error());
  }
  const int c_name = csv.column("sn"), c_cpu = csv.column("cpu_milli"),
            c_mem = csv.column("memory_mib"), c_gpu = csv.column("gpu"),
            c_model = csv.column("model");
  std::vector<NodeSpec> nodes;
  Row row;
  while (true) {
    auto more = csv.next(&row);
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
    NodeSpec n;
    n.name = std::string(row.fields[c_name]);
    auto cpu = csv.integer(row, c_cpu, 0, kMaxQuantity);
    auto mem = csv.integer(row, c_mem, 0, kMaxQuantity);
    auto gpu = csv.integer(row, c_gpu, 0, kMaxGpusPerNode);
    for (auto* r : {&cpu, &mem, &gpu}) {
      if (!*r) return std::unexpected(r->error());
    }
    n.cpu_milli = *cpu;
    n.memory_mib = *mem;
    n.gpus = static_cast<int>(*gpu);
    n.model = std::string(row.fields[c_model]);
    if (n.gpus > 0 && n.model.empty()) {
      return fail(ErrorCode::kParse, csv.where(c_model) + ": a node with GPUs needs a model");
    }
    nodes.push_back(std::move(n));
  }
  if (nodes.empty()) return fail(ErrorCode::kParse, std::string(source) + ": no nodes");
  return nodes;
}

Result<std::vector<PodSpec>> parse_pods(std::string_view text, std::string_view source) {
  CsvReader csv(text, source);
  if (auto st = csv.header({"name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"}); !st) {
    return std::unexpected(st.error());
  }
  const int c_name = csv.column("name"), c_cpu = csv.column("cpu_milli"),
            c_mem = csv.column("memory_mib"), c_num = csv.column("num_gpu"),
            c_milli = csv.column("gpu_milli"), c_spec = csv.column("gpu_spec"),
            c_create = csv.column("creation_time"), c_delete = csv.column("deletion_time");
  std::vector<PodSpec> pods;
  Row row;
  const std::int64_t none = -1;
  while (true) {
    auto more = csv.next(&row);
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
    PodSpec p;
    p.name = std::string(row.fields[c_name]);
    auto cpu = csv.integer(row, c_cpu, 0, kMaxQuantity);
    auto mem = csv.integer(row, c_mem, 0, kMaxQuantity);
    auto num = csv.integer(row, c_num, 0, 64);
    auto milli = csv.integer(row, c_milli, 0, kMilli);
    for (auto* r : {&cpu, &mem, &num, &milli}) {
      if (!*r) return std::unexpected(r->error());
    }
    p.cpu_milli = *cpu;
    p.memory_mib = *mem;
    p.num_gpu = static_cast<int>(*num);
    p.gpu_milli = static_cast<int>(*milli);
    if ((p.num_gpu == 0) != (p.gpu_milli == 0)) {
      return fail(ErrorCode::kParse,
                  csv.where(c_milli) + ": num_gpu and gpu_milli must both be 0 or both positive");
    }
    if (p.num_gpu > 1 && p.gpu_milli != kMilli) {
      return fail(
          ErrorCode::kParse,
          csv.where(c_milli) + ": a pod with several GPUs takes them whole (gpu_milli 1000)");
    }
    if (c_spec >= 0) p.gpu_spec = std::string(row.fields[c_spec]);
    if (c_create >= 0) {
      auto t = csv.integer(row, c_create, 0, kMaxQuantity, &none);
      if (!t) return std::unexpected(t.error());
      p.creation_time = *t;
    }
    if (c_delete >= 0) {
      auto t = csv.integer(row, c_delete, 0, kMaxQuantity, &none);
      if (!t) return std::unexpected(t.error());
      p.deletion_time = *t;
    }
    pods.push_back(std::move(p));
  }
  if (pods.empty()) return fail(ErrorCode::kParse, std::string(source) + ": no pods");
  return pods;
}

Result<std::vector<NodeSpec>> load_nodes(const std::string& path) {
  auto text = read_file(path);
  if (!text) return std::unexpected(text.error());
  return parse_nodes(*text, path);
}

Result<std::vector<PodSpec>> load_pods(const std::string& path) {
  auto text = read_file(path);
  if (!text) return std::unexpected(text.error());
  return parse_pods(*text, path);
}

}  // namespace aion::cluster
