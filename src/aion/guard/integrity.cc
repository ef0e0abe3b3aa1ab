#include "aion/guard/integrity.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace aion::guard {

namespace fs = std::filesystem;

namespace {

bool hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c));
         });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

std::string_view to_string(FileVerdict::State s) {
  switch (s) {
    case FileVerdict::kOk: return "ok";
    case FileVerdict::kMismatch: return "modified";
    case FileVerdict::kMissing: return "missing";
    case FileVerdict::kUnreadable: return "unreadable";
    case FileVerdict::kUnlisted: return "not in the manifest";
  }
  return "?";
}

bool VerifyReport::ok() const {
  return std::all_of(files.begin(), files.end(),
                     [](const FileVerdict& f) { return f.state == FileVerdict::kOk; });
}

Result<std::vector<SumEntry>> parse_sums(std::string_view text, const std::string& source) {
  std::vector<SumEntry> out;
  int line_no = 0;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    // "<hex>  <path>" (text mode) or "<hex> *<path>" (binary mode).
    if (line.size() < 67 || !hex64(std::string_view(line).substr(0, 64)) || line[64] != ' ' ||
        (line[65] != ' ' && line[65] != '*')) {
      return fail(ErrorCode::kParse, source + ":" + std::to_string(line_no) +
                                         ": not a checksum line (\"<64 hex digits>  <path>\", as "
                                         "sha256sum writes)");
    }
    out.push_back({lower(line.substr(0, 64)), line.substr(66)});
  }
  return out;
}

Result<std::string> sha256_file(const fs::path& file,
                                const std::function<void(std::uint64_t)>& progress) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(ErrorCode::kNotFound, file.string() + ": " + std::strerror(errno));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    return fail(ErrorCode::kInternal, "SHA-256 is not available");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), n);
    if (progress) progress(n);
  }
  if (in.bad()) return fail(ErrorCode::kIo, file.string() + ": read error");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

VerifyReport verify_sums(const std::vector<SumEntry>& entries, const fs::path& base,
                         const std::function<void(std::uint64_t)>& progress) {
  VerifyReport r;
  for (const auto& e : entries) {
    const fs::path file = fs::path(e.path).is_absolute() ? fs::path(e.path) : base / e.path;
    FileVerdict v{e.path, FileVerdict::kOk, ""};
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      v.state = FileVerdict::kMissing;
    } else if (auto sum = sha256_file(file,
                                      [&](std::uint64_t n) {
                                        r.bytes += n;
                                        if (progress) progress(n);
                                      });
               !sum) {
      v.state = FileVerdict::kUnreadable;
      v.detail = sum.error().message();
    } else if (*sum != e.sha256) {
      v.state = FileVerdict::kMismatch;
      v.detail = *sum;
    }
    r.files.push_back(std::move(v));
  }
  return r;
}

std::vector<std::string> manifest_owned_dirs() {
  return {"usr/lib/aion", "usr/share/aion"};
}

Result<VerifyReport> verify_package(const fs::path& root, const fs::path& manifest) {
  const fs::path file = manifest.is_absolute() ? manifest : root / manifest;
  std::ifstream in(file);
  if (!in) {
    return fail(ErrorCode::kNotFound,
                "no package manifest at " + file.string() +
                    ": aion was not installed from its package (a build tree?); pass --manifest "
                    "FILE");
  }
  std::stringstream text;
  text << in.rdbuf();
  auto entries = parse_sums(text.str(), file.string());
  if (!entries) return std::unexpected(entries.error());
  VerifyReport r = verify_sums(*entries, root);
  std::set<std::string> listed;
  for (const auto& e : *entries) listed.insert(e.path);
  const std::string self = fs::relative(file, root).string();
  for (const auto& dir : manifest_owned_dirs()) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root / dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      const std::string rel = fs::relative(it->path(), root).string();
      if (rel != self && !listed.contains(rel))
        r.files.push_back({rel, FileVerdict::kUnlisted, ""});
    }
  }
  return r;
}

}  // namespace aion::guard
