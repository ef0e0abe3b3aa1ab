// Deterministic fuzzing of the log parsing entry points: the kmsg record parser and reader,
// header extraction, masks and the template miner, the file tail, and the diagnosis matcher
// and engine. Inputs: random bytes (NUL and 0xFF included), invalid UTF-8, megabyte lines, a
// 16 MB line, separator-only lines, 100 000 tokens, one token repeated, truncated kmsg
// records. Nothing may crash (the asan build runs this too); lines an entry point cannot use
// must be counted where the API has a counter.
//
// The seed is fixed and printed; AION_FUZZ_SEED=N reruns with another one.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/diagnose/catalog.h"
#include "aion/diagnose/engine.h"
#include "aion/diagnose/incident_json.h"
#include "aion/diagnose/logtime.h"
#include "aion/diagnose/matcher.h"
#include "aion/logs/file_tail.h"
#include "aion/logs/header.h"
#include "aion/logs/header_detect.h"
#include "aion/logs/kmsg.h"
#include "aion/logs/masks.h"
#include "aion/logs/miner.h"
#include "support/temp_dir.h"

namespace aion::logs {
namespace {

namespace fs = std::filesystem;

std::uint64_t seed() {
  static const std::uint64_t s = [] {
    const char* env = std::getenv("AION_FUZZ_SEED");
    std::uint64_t v = env ? std::strtoull(env, nullptr, 10) : 20261130;
    std::printf("fuzz seed %llu (AION_FUZZ_SEED=N to change)\n",
                static_cast<unsigned long long>(v));
    return v;
  }();
  return s;
}

// Lines of every awkward kind, the same for a given seed.
class Corpus {
 public:
  explicit Corpus(std::uint64_t s) : rng_(s) {}

  std::string bytes(std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(byte_(rng_));
    return s;
  }
  std::string no_newline(std::string s) {
    for (auto& c : s)
      if (c == '\n') c = '\xff';
    return s;
  }
  std::string invalid_utf8() {
    static const char* kBad[] = {
        "\xc3\x28", "\xa0\xa1",        "\xe2\x28\xa1",         "\xf0\x28\x8c\xbc",
        "\xc0\xaf", "\xed\xa0\x80",    "\xf8\x88\x80\x80\x80", "\x80",
        "\xfe\xff", "\xf4\x90\x80\x80"};
    std::string s;
    std::uniform_int_distribution<int> pick(0, 9), len(1, 40);
    for (int i = len(rng_); i > 0; --i) {
      s += kBad[pick(rng_)];
      s += "NVRM: Xid (PCI:0000:07:00): 79";
    }
    return s;
  }
  // A realistic line with bytes flipped, cut or duplicated.
  std::string mutated() {
    static const char* kSeeds[] = {
        "3,1042,5829374,-;NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python3, GPU has fallen",
        "nvidia 0000:07:00.0: PCIe Bus Error: severity=Uncorrected (Fatal), type=Transaction Layer",
        "EXT4-fs error (device nvme0n1p2): ext4_find_entry:1587: inode #2: comm ls: reading",
        "oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=/aion.jobs/job-17,task=python3,pid=51234",
        "INFO: task python3:80412 blocked for more than 120 seconds.",
        "[Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1) ran for "
        "600047 milliseconds before timing out.",
        "mlx5_core 0000:c1:00.0 ibp193s0: Link down",
        "2026-11-30T10:12:41.123+00:00 dgx01 kernel: nvme nvme0: I/O 123 QID 4 timeout, aborting"};
    std::uniform_int_distribution<int> pick(0, 7), op(0, 3);
    std::string s = kSeeds[pick(rng_)];
    for (int k = op(rng_) + 1; k > 0 && !s.empty(); --k) {
      std::uniform_int_distribution<std::size_t> at(0, s.size() - 1);
      switch (op(rng_)) {
        case 0: s[at(rng_)] = static_cast<char>(byte_(rng_)); break;
        case 1: s.resize(at(rng_)); break;
        case 2: s.insert(at(rng_), s.substr(0, at(rng_))); break;
        default: s.insert(at(rng_), 1, '\0'); break;
      }
    }
    return s;
  }
  std::string separators(std::size_t n) {
    static const char kSep[] = " \t,;:=|()[]{}<>\"'/\\.\x1a\r\v\f";
    std::uniform_int_distribution<std::size_t> pick(0, sizeof kSep - 2);
    std::string s(n, ' ');
    for (auto& c : s) c = kSep[pick(rng_)];
    return s;
  }
  std::string many_tokens(std::size_t n) {
    std::string s;
    s.reserve(n * 7);
    std::uniform_int_distribution<int> kind(0, 3), num(0, 99999);
    for (std::size_t i = 0; i < n; ++i) {
      if (i) s += ' ';
      switch (kind(rng_)) {
        case 0: s += "tok" + std::to_string(i % 97); break;
        case 1: s += std::to_string(num(rng_)); break;
        case 2: s += "0x" + std::to_string(num(rng_)); break;
        default: s += "10.0." + std::to_string(num(rng_) % 256) + ".1"; break;
      }
    }
    return s;
  }
  std::string repeated(const std::string& token, std::size_t n) {
    std::string s;
    s.reserve(n * (token.size() + 1));
    for (std::size_t i = 0; i < n; ++i) (s += token) += ' ';
    return s;
  }
  // A mixed bag, sizes up to a few kB.
  std::vector<std::string> lines(std::size_t n) {
    std::vector<std::string> out;
    std::uniform_int_distribution<int> kind(0, 4);
    std::uniform_int_distribution<std::size_t> len(0, 2048);
    for (std::size_t i = 0; i < n; ++i) {
      switch (kind(rng_)) {
        case 0: out.push_back(bytes(len(rng_))); break;
        case 1: out.push_back(invalid_utf8()); break;
        case 2: out.push_back(mutated()); break;
        case 3: out.push_back(separators(len(rng_) % 64)); break;
        default: out.push_back(mutated() + bytes(len(rng_) % 32)); break;
      }
    }
    return out;
  }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
  std::uniform_int_distribution<int> byte_{0, 255};
};

// The big inputs, shared by the tests (built once).
struct Big {
  std::string megabyte;     // 1 MB of mixed text and bytes, no '\n'
  std::string tokens_100k;  // 100 000 tokens
  std::string repeated;     // one token 200 000 times
  std::string separators;   // 64 kB of separators only
};
const Big& big() {
  static const Big* b = [] {
    Corpus c(seed() ^ 0xb16);
    auto* out = new Big;
    out->megabyte = c.no_newline(c.bytes(500'000) + c.invalid_utf8() + c.mutated());
    while (out->megabyte.size() < 1'000'000) out->megabyte += c.mutated();
    out->megabyte = c.no_newline(out->megabyte);
    out->tokens_100k = c.many_tokens(100'000);
    out->repeated = c.repeated("NVRM:", 200'000);
    out->separators = c.separators(64 << 10);
    return out;
  }();
  return *b;
}

class FuzzDir : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root_ / "dev");
    fs::create_directories(root_ / "var/log");
  }
  ::aion::testing::TempDir tmp_{"fuzz"};
  fs::path root_ = tmp_.path();
};

TEST(KmsgFuzzTest, RecordParserRejectsGarbageAndTruncatedRecordsWithoutCrashing) {
  Corpus c(seed());
  for (const char* truncated :
       {"", "6", "6,", "6,123", "6,123,", "6,123,456", "6,123,456,-", ",,,;", ";", "6,,456,-;x",
        "-1,2,3,-;x", "6,1,2", "99999999999999999999,1,1,-;x", "6,18446744073709551616,1,-;x",
        "6,1,99999999999999999999999,-;x", "6 ,1,2,-;x"}) {
    EXPECT_FALSE(parse_kmsg_record(truncated)) << "'" << truncated << "'";
  }
  auto ok = parse_kmsg_record("6,123,456,-;");  // an empty message is a record
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->message, "");
  std::size_t parsed = 0;
  for (const auto& line : c.lines(20'000)) {
    auto r = parse_kmsg_record(line);
    if (!r) continue;
    ++parsed;
    EXPECT_GE(r->priority, 0);
    EXPECT_LE(r->priority, 7);
    if (!r->message.empty()) {
      EXPECT_NE(r->message.back(), '\n');
      EXPECT_NE(r->message.back(), '\r');
    }
  }
  for (const std::string* s :
       {&big().megabyte, &big().tokens_100k, &big().repeated, &big().separators}) {
    ignore(parse_kmsg_record(*s),
           "a record of the bare text may or may not parse; it must not crash");
    auto r = parse_kmsg_record("4,7,100,-;" + *s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->message.size(), s->size());
  }
  std::printf("kmsg parser: %zu of 20000 fuzzed lines parsed as records\n", parsed);
}

TEST_F(FuzzDir, KmsgReaderCountsGarbageAndOverlongRecordsAndDeliversTheRest) {
  Corpus c(seed() + 1);
  std::string stream;
  std::size_t garbage = 0, records = 0;
  std::uint64_t seq = 0;
  for (const auto& line : c.lines(3000)) {
    // 'x' first: never a record, never a continuation line.
    stream += "x" + c.no_newline(line) + "\n";
    ++garbage;
    if (garbage % 3 == 0) {
      stream += "6," + std::to_string(++seq) + ",100,-;" + c.no_newline(c.mutated()) + "\n";
      stream += " DEVICE=+pci:0000:07:00.0\n";  // continuation: neither record nor garbage
      ++records;
    }
  }
  // A 1 MB line (over the record limit: skipped, counted) and a 16 MB one without '\n'
  // until its very end, then a good record.
  stream += "6," + std::to_string(++seq) + ",1,-;" + big().megabyte + "\n";
  stream += std::string(16 << 20, 'A') + "\n";
  stream += "6," + std::to_string(++seq) + ",2,-;after the big ones\n";
  records += 1;
  std::ofstream(root_ / "dev/kmsg", std::ios::binary) << stream;

  KmsgReader r{HostFs(root_)};
  ASSERT_TRUE(r.open(std::nullopt));
  std::vector<KmsgRecord> got;
  for (int i = 0; i < 10000; ++i) {
    auto batch = r.read(512);
    ASSERT_TRUE(batch) << batch.error().message();
    if (batch->empty()) break;
    got.insert(got.end(), batch->begin(), batch->end());
  }
  EXPECT_EQ(got.size(), records);
  EXPECT_EQ(r.malformed(), garbage + 2);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().message, "after the big ones");
  EXPECT_EQ(got.back().seq, seq);
  EXPECT_EQ(r.missed(), 1u);  // the 1 MB record's sequence number never arrived
}

TEST(HeaderFuzzTest, SplitNeverCrashesOnGarbage) {
  Corpus c(seed() + 2);
  auto h = HeaderFormat::parse("<Date> <Time> <Host> <Component>: <Content>");
  ASSERT_TRUE(h) << h.error().message();
  std::size_t split = 0;
  for (const auto& line : c.lines(5000)) split += h->split(line).has_value();
  for (const std::string* s :
       {&big().megabyte, &big().tokens_100k, &big().repeated, &big().separators}) {
    auto f = h->split(*s);
    if (f) {
      EXPECT_LE(f->content.size(), s->size());
    }
    auto g = h->split("2026-11-30 10:00:00 host kernel: " + *s);
    ASSERT_TRUE(g);
    EXPECT_TRUE(s->ends_with(g->content));  // leading blanks belong to the separator
  }
  std::printf("header: %zu of 5000 fuzzed lines had the header\n", split);
}

TEST(HeaderFuzzTest, DetectionTakesGarbageAndHugeLines) {
  auto d = HeaderDetector::load(std::filesystem::path(AION_SOURCE_DIR) / "data/logs/headers.toml");
  ASSERT_TRUE(d) << d.error().message();
  Corpus c(seed() + 3);
  auto lines = c.lines(2000);
  for (const std::string* s :
       {&big().megabyte, &big().tokens_100k, &big().repeated, &big().separators}) {
    lines.push_back(*s);
    lines.push_back("2026-12-07T00:52:32+0000 gpu01 kernel: " + *s);
  }
  auto found = d->detect(lines);
  if (found) {
    EXPECT_LE(found->matched, found->sampled);
    std::printf("detect: %s on %zu of %zu fuzzed lines\n", found->layout.name.c_str(),
                found->matched, found->sampled);
  }
  for (const auto& l : lines) {
    for (std::size_t i = 0; i < d->layouts().size(); ++i) {
      if (auto f = d->split(i, l)) {
        EXPECT_LE(f->content.size(), l.size());
      }
    }
  }
}

TEST(MinerFuzzTest, MasksAndMinerTakeEveryLineWithoutCrashing) {
  Corpus c(seed() + 3);
  auto masks = MaskSet::load(fs::path(AION_SOURCE_DIR) / "data/logs/masks.toml");
  ASSERT_TRUE(masks) << masks.error().message();
  for (const auto& line : c.lines(500)) {
    MaskedText m = masks->apply(line);
    EXPECT_EQ(m.values.size(), m.rules.size());
  }
  TemplateMiner miner(std::move(*masks));
  std::uint64_t added = 0;
  for (const auto& line : c.lines(1500)) {
    // Blank lines are not mined (LogService skips them; see BlankLinesAreNotMined... below):
    // the miner makes an empty template of one that its own from_json() then rejects.
    if (line.find_first_not_of(" \t\n\r\v\f\x1a") == std::string::npos) continue;
    auto p = miner.add(line, 1, "fuzz");
    ++added;
    EXPECT_NE(p.template_id, 0u);
  }
  for (const std::string* s :
       {&big().megabyte, &big().tokens_100k, &big().repeated, &big().separators}) {
    auto p = miner.add(*s, 2, "fuzz");
    ++added;
    EXPECT_NE(p.template_id, 0u);
    (void)miner.match(*s);
  }
  EXPECT_EQ(miner.lines(), added);
  // The state survives a save and load with all that in it.
  std::string json = miner.to_json();
  TemplateMiner again(MaskSet{});
  auto st = again.from_json(json, "fuzz");
  EXPECT_TRUE(st) << (st ? "" : st.error().message());
  EXPECT_EQ(again.size(), miner.size());
  // And a corrupt state file is an error, not a crash.
  std::size_t rejected = 0;
  for (const auto& junk : c.lines(200)) rejected += !again.from_json(junk, "junk");
  EXPECT_GE(rejected, 190u);
}

TEST_F(FuzzDir, FileTailDeliversEveryLineUpToTheLimitAndCountsTheLongerOnes) {
  Corpus c(seed() + 4);
  const std::string path = "/var/log/fuzz.log";
  std::ofstream(root_ / "var/log/fuzz.log") << "";
  FileTail tail(HostFs(root_), path);
  ASSERT_TRUE(tail.poll());  // starts at the (empty) end
  std::vector<std::string> want;
  std::string text;
  for (const auto& line : c.lines(3000)) {
    std::string l = c.no_newline(line);
    while (!l.empty() && l.back() == '\r') l.pop_back();
    want.push_back(l);
    text += l + "\n";
  }
  want.push_back(big().megabyte);  // 1 MB: under the limit, delivered whole
  text += big().megabyte + "\n";
  text += std::string(16 << 20, '\xff') + "\n";  // 16 MB: skipped and counted
  text += big().separators + big().separators;   // no '\n' yet: held back
  {
    std::ofstream out(root_ / "var/log/fuzz.log", std::ios::app | std::ios::binary);
    out << text;
  }
  std::vector<std::string> got;
  for (int i = 0; i < 1000; ++i) {
    auto lines = tail.poll(1000);
    ASSERT_TRUE(lines);
    if (lines->empty()) break;
    got.insert(got.end(), lines->begin(), lines->end());
  }
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "line " << i;
  EXPECT_EQ(tail.oversized(), 1u);
  // A line that never ends is cut loose once it passes the limit, and the tail goes on.
  {
    std::ofstream out(root_ / "var/log/fuzz.log", std::ios::app | std::ios::binary);
    out << std::string(kMaxLineBytes, 'z') << "tail\nnext line\n";
  }
  auto more = tail.poll();
  ASSERT_TRUE(more);
  EXPECT_EQ(*more, std::vector<std::string>{"next line"});
  EXPECT_EQ(tail.oversized(), 2u);
}

TEST(DiagnoseFuzzTest, MatcherEngineAndLogTimeTakeGarbageWithoutCrashing) {
  Corpus c(seed() + 5);
  auto catalog = diagnose::Catalog::load_dir(fs::path(AION_SOURCE_DIR) / "data/signatures");
  ASSERT_TRUE(catalog) << catalog.error().message();
  auto matcher = diagnose::Matcher::build(*catalog);
  ASSERT_TRUE(matcher) << matcher.error().message();
  diagnose::Engine engine(*catalog, **matcher, {});
  auto lines = c.lines(20'000);
  for (const std::string* s :
       {&big().megabyte, &big().tokens_100k, &big().repeated, &big().separators})
    lines.push_back(*s);
  // Megabyte lines that match signatures, with garbage captures.
  lines.push_back("NVRM: Xid (PCI:0000:07:00): 79, pid=1, " + big().megabyte);
  lines.push_back("EXT4-fs error (device " + c.no_newline(c.bytes(4000)) + ")");
  lines.push_back("EXT4-fs error (device " + std::string(300, 'd') + ")");
  lines.push_back(std::string("EXT4-fs error (device sd\x01a): ext4_lookup"));
  std::uint64_t fed = 0;
  std::int64_t t = 1'796'000'000'000;
  for (const auto& line : lines) {
    (void)diagnose::parse_log_time(line, 2026, Clock::Wall{});
    for (const auto& hit : (*matcher)->match(line)) ASSERT_NE(hit.signature, nullptr);
    t += 997;
    engine.on_log_line(fed % 7 == 0 ? "job:" + std::to_string(fed) : "kmsg",
                       Clock::Wall(std::chrono::milliseconds(t)), line);
    ++fed;
  }
  // Events with fields of the wrong type or broken JSON carry no evidence, and never throw.
  for (const char* data : {"{\"state\": 5, \"oom_killed\": \"yes\", \"id\": \"x\"}",
                           "{\"xid\": -1, \"pci\": 7}", "{\"series\": 12}", "{\"device\": [1, 2]}",
                           "not json", "\xff\xfe", "[]", "{\"gpu_pci\": \"0000:07:00.0\"}"}) {
    for (const char* kind : {"job", "gpu", "anomaly", "hw_change"}) {
      engine.on_event(kind, "critical", "fuzz", data, Clock::Wall(std::chrono::milliseconds(t)));
    }
  }
  auto st = engine.stats();
  EXPECT_EQ(st.lines, fed);
  EXPECT_EQ(st.events, 32u);
  EXPECT_GE(st.truncated, 1u);     // the megabyte Xid line's evidence was cut
  EXPECT_GE(st.dropped_keys, 2u);  // the 300-byte and the control-character disk names
  for (const auto& inc : engine.incidents()) {
    for (const auto& e : inc.evidence) EXPECT_LE(e.text.size(), diagnose::kMaxEvidenceText);
    // Device keys are printable ASCII: the store writes them as strict JSON.
    EXPECT_NO_THROW((void)Json(inc.devices).dump()) << "incident " << inc.id;
    EXPECT_NO_THROW(
        (void)diagnose::to_json(inc).dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  std::printf("diagnose: %llu lines, %llu hits, %zu incidents\n",
              static_cast<unsigned long long>(st.lines), static_cast<unsigned long long>(st.hits),
              engine.incidents().size());
}

}  // namespace
}  // namespace aion::logs
