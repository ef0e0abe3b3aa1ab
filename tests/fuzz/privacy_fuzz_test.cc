// Fuzzes the privacy gate, which reads whatever is about to leave the node (logs, configs,
// job output another user wrote) and the audit log it keeps on disk. Invariants: redaction
// keeps the line count, restoring the placeholders gives the input back exactly, and every
// secret found is gone from the redacted text, wherever else its value stood; the audit
// reader never fails on a
// readable file and returns at most what was asked. Seeds: the privacy benchmark's report
// corpus (records with planted values and look-alikes) and audit lines.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/privacy/gate.h"
#include "aion/privacy/redactor.h"
#include "mutator.h"
#include "support/temp_dir.h"

namespace aion::privacy {
namespace {

namespace fs = std::filesystem;
using fuzz::Verdict;

std::vector<std::string> corpus_texts() {
  std::vector<std::string> out;
  std::ifstream in(fs::path(AION_SOURCE_DIR) / "bench/privacy_corpus_report.jsonl");
  std::string line;
  while (std::getline(in, line) && out.size() < 300) {
    Json j = Json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("text") && j["text"].is_string())
      out.push_back(j["text"].get<std::string>());
  }
  if (out.empty()) out.push_back("token ghp_R8kq2ZxV7mN4pT1wY6cB3dF9gH0jL5sA2eQu from 10.0.0.1\n");
  return out;
}

const std::vector<std::string> kPrivacyTokens = {"@",
                                                 ".",
                                                 ":",
                                                 "=",
                                                 "\n",
                                                 "-----BEGIN RSA PRIVATE KEY-----\n",
                                                 "-----END RSA PRIVATE KEY-----",
                                                 "AKIA",
                                                 "ghp_",
                                                 "hf_",
                                                 "sk-",
                                                 "xoxb-",
                                                 "eyJ",
                                                 "password=",
                                                 "://",
                                                 "Bearer ",
                                                 "<EMAIL_1>",
                                                 "<SECRET_1>",
                                                 "192.168.",
                                                 "::1",
                                                 "11010519491231002X"};

TEST(PrivacyFuzz, RedactionIsRestorableAndLeavesNoSecret) {
  Policy policy;
  policy.users_from_passwd = false;
  auto r = Redactor::load(policy, HostFs("/"));
  ASSERT_TRUE(r) << r.error().message();
  auto target = [&](std::string_view input) -> Verdict {
    PlaceholderMap map;
    Redaction red = r->redact(input, map);
    if (std::count(red.text.begin(), red.text.end(), '\n') !=
        std::count(input.begin(), input.end(), '\n'))
      return {true, "the line count changed"};
    if (map.restore(red.text) != input) return {true, "restoring did not give the input back"};
    // A secret that was found is gone (long values: a short one may also stand elsewhere as
    // an ordinary word).
    for (const Finding& f : red.findings) {
      const std::string_view value = input.substr(f.begin, f.end - f.begin);
      if (f.category == Category::kSecret && value.size() >= 12 &&
          red.text.find(value) != std::string::npos)
        return {true, "a found secret is still in the redacted text"};
    }
    return {!red.findings.empty(), ""};
  };
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, corpus_texts(), kPrivacyTokens, true);
  m.max_size = 8 << 10;
  EXPECT_TRUE(fuzz::run_fuzz("privacy_redact", m, fuzz::fuzz_options(100000), target));
}

TEST(PrivacyFuzz, AuditLogReaderIsBoundedAndNeverFails) {
  const ::aion::testing::TempDir tmp("fuzz-audit");
  const fs::path log = tmp.path() / "audit.jsonl";
  AuditRecord rec;
  rec.time_ms = 1796670517578;
  rec.caller = "support-bundle";
  rec.destination = "/root/aion-support-20261207-190531.tar.gz";
  rec.bytes = 3994;
  rec.sha256 = sha256_hex("x");
  rec.replaced[0] = 3;
  const std::string line = audit_record_json(rec) + "\n";
  auto target = [&](std::string_view input) -> Verdict {
    std::ofstream(log, std::ios::binary | std::ios::trunc) << input;
    auto read = read_audit(log, 5);
    if (!read) return {false, "read failed: " + read.error().message()};
    if (read->records.size() > 5) return {true, "more records than asked"};
    return {!read->records.empty(), ""};
  };
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, {line, line + line + line, "\n" + line},
                  {"{", "}", "\"", ":", ",", "\n", "\"time_ms\"", "\"caller\"", "\"replaced\""},
                  true);
  EXPECT_TRUE(fuzz::run_fuzz("audit_log", m, fuzz::fuzz_options(100000), target));
}

}  // namespace
}  // namespace aion::privacy
