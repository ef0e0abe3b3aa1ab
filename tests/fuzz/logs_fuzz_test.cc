// Fuzzes the log inputs other users control: kernel log records (/dev/kmsg, whose messages
// carry process and file names users choose) and journal fields (any user writes MESSAGE,
// SYSLOG_IDENTIFIER and PRIORITY through syslog(3) or sd_journal_send). The journal's own
// file format is read by libsystemd; what aiond parses is each field's value, which goes to
// the template miner, the masks and the diagnosis engine exactly as a kernel line does.
// Seeds: the hand-written incidents' kernel logs and job logs, the log fixtures.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "aion/core/host_fs.h"
#include "aion/diagnose/catalog.h"
#include "aion/diagnose/engine.h"
#include "aion/diagnose/logtime.h"
#include "aion/diagnose/matcher.h"
#include "aion/logs/kmsg.h"
#include "aion/logs/masks.h"
#include "aion/logs/miner.h"
#include "mutator.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace aion::logs {
namespace {

namespace fs = std::filesystem;
using fuzz::Verdict;

fs::path source(const char* rel) {
  return fs::path(AION_SOURCE_DIR) / rel;
}

// Message texts in the formats of real faults: the fixture incidents' kernel and job logs
// without their syslog prefix ("<time> <host> kernel: ").
std::vector<std::string> messages() {
  auto texts = fuzz::read_seeds(::aion::testing::fixture_path("incidents"), {".log"});
  auto more = fuzz::read_seeds(::aion::testing::fixture_path("logs"), {".log"});
  texts.insert(texts.end(), more.begin(), more.end());
  std::vector<std::string> out;
  for (auto& l : fuzz::lines_of(texts)) {
    auto k = l.find(" kernel: ");
    out.push_back(k == std::string::npos ? l : l.substr(k + 9));
  }
  return out;
}

const std::vector<std::string> kLogTokens = {";",
                                             ",",
                                             "-",
                                             "c",
                                             "+",
                                             "\n",
                                             " SUBSYSTEM=pci",
                                             " DEVICE=+pci:0000:3b:00.0",
                                             "NVRM: Xid (PCI:0000:",
                                             "): 79, ",
                                             "pid=",
                                             "name=",
                                             "0000:07:00.0",
                                             "EXT4-fs error (device ",
                                             "Out of memory: Killed process ",
                                             "job-",
                                             "/aion/job-",
                                             "oom-kill:",
                                             "task_memcg=",
                                             "[",
                                             "]",
                                             "(",
                                             ")",
                                             "\\x0a",
                                             "\xff",
                                             "\xc3\x28",
                                             "%s",
                                             "%n",
                                             "\t",
                                             "2026-11-30T03:41:02.118424+00:00 ",
                                             "Nov 30 03:41:02 ",
                                             "mlx5_core 0000:3b:00.0: ",
                                             "nvme0: ",
                                             "PRIORITY=",
                                             "MESSAGE="};

// The first line of a record, as parse_kmsg_record() documents: no priority outside 0..7,
// no newline kept at the end of the message.
std::string check_record(const KmsgRecord& r) {
  if (r.priority < 0 || r.priority > 7) return "priority " + std::to_string(r.priority);
  if (r.facility < 0) return "facility " + std::to_string(r.facility);
  if (!r.message.empty() && (r.message.back() == '\n' || r.message.back() == '\r'))
    return "the message keeps its line end";
  return {};
}

TEST(LogsFuzz, KmsgRecordsAndStreams) {
  // Records as /dev/kmsg prints them, numbered in order, with continuation lines.
  std::vector<std::string> seeds;
  std::string stream;
  std::uint64_t seq = 1000;
  for (const auto& m : messages()) {
    std::string rec = std::to_string(seq % 3 == 0 ? 3 : 6) + "," + std::to_string(seq) + "," +
                      std::to_string(5829374 + seq * 1111) + ",-;" + m + "\n";
    if (seq % 5 == 0) rec += " SUBSYSTEM=pci\n DEVICE=+pci:0000:3b:00.0\n";
    seeds.push_back(rec);
    if (stream.size() < 4000) stream += rec;
    ++seq;
  }
  seeds.push_back(stream);
  const ::aion::testing::TempDir tmp("fuzz-kmsg");
  HostFs fs(tmp.path());
  fs::create_directories(fs.resolve("/dev"));
  const fs::path dev = fs.resolve("/dev/kmsg");
  std::uint64_t n = 0;
  auto target = [&](std::string_view input) -> Verdict {
    Verdict v;
    // Every line as one record (what read() gets from the device per record).
    std::size_t b = 0;
    while (b <= input.size()) {
      std::size_t e = input.find('\n', b);
      if (e == std::string_view::npos) e = input.size();
      auto r = parse_kmsg_record(input.substr(b, e - b));
      if (r) {
        v.accepted = true;
        if (auto why = check_record(*r); !why.empty()) return {true, why};
      } else if (r.error().code() != ErrorCode::kParse) {
        return {false, "not kParse: " + r.error().message()};
      }
      b = e + 1;
    }
    // Now and then the whole input as a stream through the reader (a fixture tree's
    // /dev/kmsg is a regular file), resuming after a saved sequence number.
    if (++n % 16 == 0) {
      std::ofstream(dev, std::ios::binary | std::ios::trunc) << input;
      KmsgReader reader(fs);
      if (!reader.open(n % 32 == 0 ? std::optional<std::uint64_t>(1010) : std::nullopt))
        return {false, "cannot open the test's kmsg file"};
      auto recs = reader.read(100000);
      if (!recs) return v;
      std::optional<std::uint64_t> last;
      for (const auto& r : *recs) {
        if (auto why = check_record(r); !why.empty()) return {true, "reader: " + why};
        if (last && r.seq <= *last) return {true, "reader returned a record twice or out of order"};
        last = r.seq;
      }
    }
    return v;
  };
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, seeds, kLogTokens, true);
  m.max_size = 16 << 10;
  bool ok = fuzz::run_fuzz("kmsg", m, fuzz::fuzz_options(200000), target);
  std::error_code ec;
  fs::remove_all(fs.resolve("/"), ec);
  EXPECT_TRUE(ok);
}

// The journal's field values (MESSAGE, SYSLOG_IDENTIFIER/_SYSTEMD_UNIT, PRIORITY) take the
// same road as a kernel line: masks, template miner, log time, diagnosis engine.
TEST(LogsFuzz, JournalFieldValuesThroughMinerAndEngine) {
  auto masks = MaskSet::load(source("data/logs/masks.toml"));
  ASSERT_TRUE(masks) << masks.error().message();
  MinerOptions mo;
  mo.max_templates = 2000;  // the fuzz run's memory bounded, the overflow path exercised
  auto miner_masks = MaskSet::load(source("data/logs/masks.toml"));
  ASSERT_TRUE(miner_masks);
  TemplateMiner miner(std::move(*miner_masks), mo);
  auto catalog = diagnose::Catalog::load_dir(source("data/signatures"));
  ASSERT_TRUE(catalog) << catalog.error().message();
  auto matcher = diagnose::Matcher::build(*catalog);
  ASSERT_TRUE(matcher);
  diagnose::EngineOptions eo;
  eo.max_incidents = 200;
  eo.max_evidence = 20;
  diagnose::Engine engine(*catalog, **matcher, eo);
  std::int64_t t = 1'796'000'000'000;
  std::uint64_t fed = 0;
  auto target = [&](std::string_view input) -> Verdict {
    // Field values hold any byte, NUL and newlines included (sd_journal_send takes binary).
    MaskedText masked = masks->apply(input);
    if (masked.values.size() != masked.rules.size())
      return {false, "masks: values and rules differ"};
    for (int r : masked.rules)
      if (r < 0 || static_cast<std::size_t>(r) >= masks->rules().size())
        return {false, "masks: rule index out of range"};
    auto parsed = miner.add(input, t, "journal");
    (void)diagnose::parse_log_time(input, 2026, Clock::Wall{});
    t += 997;
    engine.on_log_line(fed % 5 == 0 ? "job:" + std::to_string(fed) : "journal",
                       Clock::Wall(std::chrono::milliseconds(t)), input);
    ++fed;
    (void)parsed;
    return {true, {}};
  };
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, messages(), kLogTokens, true);
  m.max_size = 8 << 10;
  EXPECT_TRUE(fuzz::run_fuzz("journal_fields", m, fuzz::fuzz_options(100000), target));
  for (const auto& inc : engine.incidents()) {
    for (const auto& e : inc.evidence) EXPECT_LE(e.text.size(), diagnose::kMaxEvidenceText);
  }
  EXPECT_LE(miner.size(), mo.max_templates + 1);
}

}  // namespace
}  // namespace aion::logs
