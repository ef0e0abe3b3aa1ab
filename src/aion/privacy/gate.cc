#include "aion/privacy/gate.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>

#include "aion/core/clock.h"
#include "aion/core/json.h"

namespace aion::privacy {
namespace {

constexpr std::size_t kMaxAuditLine = 64 * 1024;

Json record_json(const AuditRecord& r) {
  Json replaced = Json::object();
  for (int c = 0; c < kCategoryCount; ++c)
    if (r.replaced[c] > 0)
      replaced[std::string(category_name(static_cast<Category>(c)))] = r.replaced[c];
  return {{"time_ms", r.time_ms}, {"caller", r.caller}, {"destination", r.destination},
          {"bytes", r.bytes},     {"sha256", r.sha256}, {"replaced", replaced}};
}

bool record_from(const Json& j, AuditRecord& r) {
  if (!j.is_object() || !j.contains("time_ms") || !j["time_ms"].is_number_integer() ||
      !j.contains("caller") || !j["caller"].is_string())
    return false;
  r.time_ms = j["time_ms"].get<std::int64_t>();
  r.caller = j["caller"].get<std::string>();
  r.destination = j.value("destination", "");
  r.bytes = j.value("bytes", std::uint64_t{0});
  r.sha256 = j.value("sha256", "");
  if (j.contains("replaced") && j["replaced"].is_object()) {
    for (const auto& [name, n] : j["replaced"].items()) {
      auto c = category_from(name);
      if (c && n.is_number_integer()) r.replaced[static_cast<int>(*c)] = n.get<int>();
    }
  }
  return true;
}

}  // namespace

std::filesystem::path audit_log_path(const std::filesystem::path& state_dir) {
  return state_dir / "audit.jsonl";
}

std::string audit_record_json(const AuditRecord& r) {
  return record_json(r).dump(-1, ' ', false, Json::error_handler_t::replace);
}

Status append_audit(const std::filesystem::path& log, const AuditRecord& r) {
  std::error_code ec;
  if (log.has_parent_path()) std::filesystem::create_directories(log.parent_path(), ec);
  const std::string line = audit_record_json(r) + "\n";
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return fail(ErrorCode::kIo,
                log.string() + ": cannot open the audit log (" + std::strerror(errno) + ")");
  // One write per record: O_APPEND keeps concurrent records whole.
  const ssize_t n = ::write(fd, line.data(), line.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size()) || !synced)
    return fail(ErrorCode::kIo, log.string() + ": cannot write the audit record");
  return {};
}

Result<AuditRead> read_audit(const std::filesystem::path& log, std::size_t limit) {
  AuditRead out;
  std::error_code ec;
  if (!std::filesystem::exists(log, ec)) return out;
  std::ifstream in(log, std::ios::binary);
  if (!in) return fail(ErrorCode::kIo, log.string() + ": cannot read the audit log");
  std::deque<AuditRecord> last;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    AuditRecord r;
    if (line.size() > kMaxAuditLine || !record_from(Json::parse(line, nullptr, false), r)) {
      ++out.skipped;
      continue;
    }
    last.push_back(std::move(r));
    if (last.size() > limit) last.pop_front();
  }
  out.records.assign(std::make_move_iterator(last.begin()), std::make_move_iterator(last.end()));
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

std::string Gate::pass(std::string_view text) {
  return redactor_.redact(text, map_).text;
}

AuditRecord audit_record(std::string caller, std::string destination, std::string_view bytes) {
  AuditRecord r;
  r.time_ms = to_unix_ms(Clock::system().wall());
  r.caller = std::move(caller);
  r.destination = std::move(destination);
  r.bytes = bytes.size();
  r.sha256 = sha256_hex(bytes);
  return r;
}

Status Gate::record(const std::filesystem::path& log, const std::string& destination,
                    std::string_view bytes) const {
  AuditRecord r = audit_record(caller_, destination, bytes);
  r.replaced = map_.counts();
  return append_audit(log, r);
}

}  // namespace aion::privacy
