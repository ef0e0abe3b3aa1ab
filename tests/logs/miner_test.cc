#include "aion/logs/miner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <set>

#include "aion/core/json.h"

#include "aion/logs/header.h"
#include "support/temp_dir.h"

namespace aion::logs {
namespace {

MaskSet shipped_masks() {
  auto set = MaskSet::load(std::filesystem::path(AION_SOURCE_DIR) / "data/logs/masks.toml");
  EXPECT_TRUE(set) << set.error().message();
  return std::move(*set);
}

TEST(TemplateMinerTest, LinesDifferingInVariablesShareATemplate) {
  TemplateMiner m(shipped_masks());
  auto a = m.add("Accepted publickey for alice from 10.0.0.1 port 5501 ssh2");
  auto b = m.add("Accepted publickey for alice from 10.0.0.9 port 60022 ssh2");
  EXPECT_EQ(a.template_id, b.template_id);
  EXPECT_EQ(b.template_text, "Accepted publickey for alice from <*> port <*> ssh2");
  EXPECT_EQ(b.params, (std::vector<std::string>{"10.0.0.9", "60022"}));
  EXPECT_EQ(m.size(), 1u);
}

TEST(TemplateMinerTest, DifferentMessagesGetDifferentTemplates) {
  TemplateMiner m(shipped_masks());
  auto opened = m.add("session opened for user root by (uid=0)");
  auto closed = m.add("session closed for user root by (uid=0)");
  auto nvrm = m.add("NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.");
  EXPECT_NE(opened.template_id, closed.template_id);
  EXPECT_NE(opened.template_id, nvrm.template_id);
  EXPECT_EQ(m.size(), 3u);
}

TEST(TemplateMinerTest, ASlotTakingManyWordsBecomesAVariable) {
  MinerOptions o;
  o.slot_words = 3;
  TemplateMiner m(shipped_masks(), o);
  std::uint64_t first = m.add("Failed password for root from 1.2.3.4 port 22 ssh2").template_id;
  m.add("Failed password for admin from 1.2.3.5 port 22 ssh2");
  auto third = m.add("Failed password for guest from 1.2.3.6 port 22 ssh2");
  EXPECT_EQ(third.template_text, "Failed password for <*> from <*> port <*> ssh2");
  EXPECT_EQ(m.resolve(first), third.template_id);
  auto fourth = m.add("Failed password for oracle from 1.2.3.7 port 22 ssh2");
  EXPECT_EQ(fourth.template_id, third.template_id);
  EXPECT_EQ(fourth.params[0], "oracle");
  EXPECT_EQ(m.templates().size(), 1u);
  EXPECT_EQ(m.templates()[0].count, 4u);
}

TEST(TemplateMinerTest, NewTemplateCallbackFiresOncePerTemplate) {
  TemplateMiner m(shipped_masks());
  std::vector<std::string> seen;
  m.on_new_template([&](const Template& t) { seen.push_back(t.text); });
  m.add("GPU 0 temperature 81 C", 1000, "kmsg");
  m.add("GPU 1 temperature 85 C", 2000, "kmsg");
  m.add("link down on eth0", 3000, "journal");
  m.add("GPU 3 temperature 90 C", 4000, "kmsg");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], "GPU <*> temperature <*> C");
  auto t = m.templates();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].count, 3u);
  EXPECT_EQ(t[0].first_seen_ms, 1000);
  EXPECT_EQ(t[0].last_seen_ms, 4000);
  EXPECT_EQ(t[0].source, "kmsg");
}

TEST(TemplateMinerTest, IdsAreStableAfterSaveAndLoad) {
  const ::aion::testing::TempDir tmp("miner");
  const std::filesystem::path dir = tmp.path();
  std::uint64_t a_id, b_id;
  {
    TemplateMiner m(shipped_masks());
    a_id = m.add("disk sda1 is 91% full").template_id;
    b_id = m.add("mounted /dev/sdb1 on /data").template_id;
    ASSERT_TRUE(m.save(dir / "t.json"));
  }
  TemplateMiner m(shipped_masks());
  int fired = 0;
  m.on_new_template([&](const Template&) { ++fired; });
  ASSERT_TRUE(m.load(dir / "t.json"));
  EXPECT_EQ(m.add("mounted /dev/sdc2 on /data").template_id, b_id);
  EXPECT_EQ(m.add("disk sda1 is 95% full").template_id, a_id);
  auto c = m.add("a message never seen before");
  EXPECT_GT(c.template_id, std::max(a_id, b_id));
  EXPECT_EQ(fired, 1);
}

TEST(TemplateMinerTest, CorruptStateIsReportedNotGuessed) {
  TemplateMiner m(shipped_masks());
  auto st = m.from_json("{\"schema_version\":1,\"templates\":[{\"id\":\"x\"}]}", "state.json");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(st.error().message().find("state.json"), std::string::npos);
}

TEST(TemplateMinerTest, BlankLinesHaveATemplateThatSurvivesSaveAndLoad) {
  TemplateMiner m1(shipped_masks());
  const auto blank = m1.add("").template_id;
  EXPECT_EQ(m1.add("   ").template_id, blank);
  EXPECT_NE(m1.add("disk sda1 is 95% full").template_id, blank);
  TemplateMiner m2(shipped_masks());
  auto st = m2.from_json(m1.to_json(), "state.json");
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(m2.to_json(), m1.to_json());
  EXPECT_EQ(m2.add("").template_id, blank);
}

TEST(TemplateMinerTest, NewShapesAreComparedWithABoundedNumberOfTemplates) {
  // Three different messages of five tokens, then a variant of the third: with room for two
  // candidates it is never compared with the third and gets a template of its own.
  MinerOptions o;
  o.max_candidates = 2;
  TemplateMiner m(shipped_masks(), o);
  m.add("alpha one two three ten");
  m.add("beta four five six ten");
  const auto third = m.add("gamma seven eight nine a-b").template_id;
  EXPECT_NE(m.add("gamma seven eight nine c-d").template_id, third);
  TemplateMiner unbounded(shipped_masks());
  unbounded.add("alpha one two three ten");
  unbounded.add("beta four five six ten");
  const auto u = unbounded.add("gamma seven eight nine a-b").template_id;
  EXPECT_EQ(unbounded.add("gamma seven eight nine c-d").template_id, u);
}

TEST(TemplateMinerTest, SameInputGivesSameIds) {
  std::vector<std::string> lines = {"a b 1", "c d 2", "a b 3", "e f g", "c d 9", "a x 1"};
  TemplateMiner m1(shipped_masks()), m2(shipped_masks());
  for (const auto& l : lines) EXPECT_EQ(m1.add(l).template_id, m2.add(l).template_id);
  EXPECT_EQ(m1.to_json(), m2.to_json());
}

TEST(TemplateMinerTest, TemplateTextCutsValuesAtPunctuation) {
  TemplateMiner m(shipped_masks());
  m.add("Connection from 10.0.0.7:22 closed after 12 bytes");
  auto p = m.add("Connection from 10.0.0.9:5022 closed after 4096 bytes");
  // An address and its port are two values; a unit that every line shares stays.
  EXPECT_EQ(p.template_text, "Connection from <*>:<*> closed after <*> bytes");
  auto q = m.add("job_1445_0020 done in 3.5s on eth0");
  // A value made of parts joined by '_' is one; a name holding a digit is no value.
  EXPECT_EQ(q.template_text, "<*> done in <*> on eth0");
}

TEST(TemplateMinerTest, UnitsThatDifferBecomePartOfTheValue) {
  TemplateMiner m(shipped_masks());
  m.add("www.example.com:443 close, 1120 bytes (1.09 KB) sent, lifetime 00:01");
  auto p = m.add("mail.example.org:80 close, 2337000 bytes (2.22 MB) sent, lifetime 01:12");
  EXPECT_EQ(p.template_text, "<*>:<*> close, <*> bytes (<*>) sent, lifetime <*>:<*>");
  EXPECT_EQ(m.templates().size(), 1u);
}

TEST(TemplateMinerTest, AValueFirstDoesNotKeepMessagesApart) {
  TemplateMiner m(shipped_masks());
  auto a = m.add("www.example.com:443 open through proxy proxy.example.net:5070 HTTPS");
  auto b = m.add("mail.example.org:80 open through proxy proxy.example.net:5070 HTTPS");
  auto c = m.add("ssh.example.org:22 open through proxy socks.example.net:1080 HTTPS");
  EXPECT_EQ(a.template_id, b.template_id);
  EXPECT_EQ(m.resolve(b.template_id), m.resolve(c.template_id));
}

TEST(TemplateMinerTest, TemplatesThatReadTheSameBecomeOne) {
  TemplateMiner m(shipped_masks());
  for (const char* l :
       {"status installed base-files:all 12.4", "status unpacked netbase:all 6.4",
        "status installed libc6:amd64 2.36", "status half-configured tzdata:all 2024a",
        "status unpacked media-types:all 10.0", "status installed perl:amd64 5.36",
        "status half-installed dpkg:amd64 1.21", "status unpacked mawk:amd64 1.3"}) {
    m.add(l);
  }
  std::set<std::string> texts;
  for (const auto& t : m.templates()) {
    EXPECT_TRUE(texts.insert(t.text).second) << "two templates read: " << t.text;
  }
}

TEST(TemplateMinerTest, SeparateSourcesKeepTheirOwnTemplates) {
  MinerOptions o;
  o.separate_sources = true;
  TemplateMiner apart(shipped_masks(), o), together(shipped_masks());
  auto a = apart.add("started worker 1", 0, "nginx");
  auto b = apart.add("started worker 2", 0, "gunicorn");
  EXPECT_NE(a.template_id, b.template_id);
  EXPECT_EQ(apart.match("started worker 9", "gunicorn").template_id, b.template_id);
  EXPECT_EQ(together.add("started worker 1", 0, "nginx").template_id,
            together.add("started worker 2", 0, "gunicorn").template_id);
}

TEST(HeaderFormatTest, SplitsLoghubStyleHeaders) {
  auto h =
      HeaderFormat::parse("<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>");
  ASSERT_TRUE(h) << h.error().message();
  auto f = h->split("Jun 14 15:16:01 combo sshd[19939]: check pass; user unknown");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->content, "check pass; user unknown");
  EXPECT_EQ(f->fields[4].second, "sshd");
  EXPECT_EQ(f->fields[5].second, "19939");
  EXPECT_FALSE(h->split("no header here"));
  EXPECT_FALSE(HeaderFormat::parse("<Date> <Time>"));
}

// The fast header matcher must split exactly as RE2 does (and hand lines it would backtrack
// on for long to RE2): random lines from header-like fragments, against formats with
// adjacent fields, runs of spaces, escaped punctuation and a field after <Content>.
TEST(HeaderFormatTest, FastMatcherSplitsAsRe2Does) {
  const std::vector<std::string> formats = {
      "<Date> <Time> <Level> <Component>: <Content>",
      "<Date> <Time>, <Level>                  <Component>    <Content>",
      "\\[<Time>\\] \\[<Level>\\] <Content>",
      "<Time>\\|<Component>\\|<Pid>\\|<Content>",
      "<A><B> - <Content>",
      "<Content> @<Host>",
      "<Date> - <Level>  \\[<Node>:<Component>@<Id>\\] - <Content>",
      "<Month> <Day> <Time> <Program>(\\[<Pid>\\])?: <Content>",
      "<Date> <Time> \\[?<Level>\\]? <Content>",
      "\\[<Time>\\] \\[(<Module>:)?<Level>\\] (\\[pid <Pid>(:tid <Tid>)?\\] )?<Content>"};
  const std::vector<std::string> fragments = {
      "2015", "10:30:00", " ",  "  ", "\t",  ",", ":",  "[",    "]",     "|",    "-",   "@", "a",
      "INFO", " - ",      "\\", "\r", "x:y", "é", "\f", "pid ", ":tid ", "sshd", "]: ", "?"};
  std::mt19937 rng(11);
  for (const auto& fmt : formats) {
    auto h = HeaderFormat::parse(fmt);
    ASSERT_TRUE(h) << fmt << ": " << h.error().message();
    EXPECT_TRUE(h->fast()) << fmt;
    for (int i = 0; i < 5000; ++i) {
      std::string line;
      int n = static_cast<int>(rng() % 24);
      for (int k = 0; k < n; ++k) line += fragments[rng() % fragments.size()];
      auto fast = h->split(line);
      auto slow = h->split_reference(line);
      ASSERT_EQ(fast.has_value(), slow.has_value()) << fmt << " on '" << line << "'";
      if (!fast) continue;
      ASSERT_EQ(fast->fields, slow->fields) << fmt << " on '" << line << "'";
      ASSERT_EQ(fast->content, slow->content) << fmt << " on '" << line << "'";
    }
  }
  // Many spaces and no match: the fast matcher runs out of budget and RE2 answers.
  auto h = HeaderFormat::parse("<A> <B> <C> <D> <E> <F>: <Content>");
  ASSERT_TRUE(h);
  std::string spaces(3000, ' ');
  EXPECT_EQ(h->split(spaces).has_value(), h->split_reference(spaces).has_value());
}

// A line of `n` random lowercase words: a shape never seen before, as a flood would send.
std::string random_words(std::mt19937& rng, int n) {
  std::uniform_int_distribution<int> letter(0, 25), len(3, 9);
  std::string out;
  for (int w = 0; w < n; ++w) {
    if (w > 0) out += ' ';
    for (int k = len(rng); k > 0; --k) out += static_cast<char>('a' + letter(rng));
  }
  return out;
}

TEST(TemplateMinerBoundsTest, MiningSeesAtMostMaxLineBytesOfALine) {
  MinerOptions o;
  o.max_line_bytes = 18;
  TemplateMiner m(shipped_masks(), o);
  auto p = m.add("kernel says hello " + std::string(10000, 'x'));
  EXPECT_EQ(p.template_text, "kernel says hello");
  ASSERT_EQ(m.templates().size(), 1u);
  EXPECT_LE(m.templates()[0].example.size(), 18u);
}

TEST(TemplateMinerBoundsTest, ANewShapeAtTheCapEvictsTemplatesSeenOnceBeforeRecurringOnes) {
  MinerOptions o;
  o.max_templates = 32;
  TemplateMiner m(shipped_masks(), o);
  std::mt19937 rng(7);
  auto recurring = m.add("session opened for user root by (uid=0)");
  m.add("session opened for user root by (uid=0)");
  for (int i = 0; i < 1000; ++i) m.add(random_words(rng, 6));
  EXPECT_LE(m.size(), 32u);
  EXPECT_GT(m.evicted(), 0u);
  EXPECT_EQ(m.match("session opened for user root by (uid=0)").template_id, recurring.template_id);
  // New shapes still get templates of their own (no overflow while there is something to evict).
  EXPECT_NE(m.add(random_words(rng, 6)).template_id, 0u);
}

TEST(TemplateMinerBoundsTest, PinnedAndFrequentTemplatesAreNeverEvicted) {
  MinerOptions o;
  o.max_templates = 8;
  o.keep_hits = 3;
  TemplateMiner m(shipped_masks(), o);
  std::mt19937 rng(3);
  auto pinned = m.add("NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.");
  m.pin(pinned.template_id);
  auto frequent = m.add("usb device connected");
  m.add("usb device connected");
  m.add("usb device connected");
  for (int i = 0; i < 200; ++i) m.add(random_words(rng, 5));
  std::set<std::uint64_t> ids;
  for (const auto& t : m.templates()) ids.insert(t.id);
  EXPECT_TRUE(ids.contains(pinned.template_id));
  EXPECT_TRUE(ids.contains(frequent.template_id));
}

TEST(TemplateMinerBoundsTest, NewShapesOverflowWhenEveryTemplateMustBeKept) {
  MinerOptions o;
  o.max_templates = 2;
  o.keep_hits = 1;
  TemplateMiner m(shipped_masks(), o);
  m.add("alpha beta gamma");
  m.add("delta epsilon zeta eta");
  auto p = m.add("theta iota kappa lambda mu");
  EXPECT_EQ(p.template_id, 0u);
  EXPECT_EQ(p.template_text, "<overflow>");
}

TEST(TemplateMinerBoundsTest, SavedStateStaysUnderMaxStateBytesAndKeepsTheMostUsed) {
  MinerOptions o;
  o.max_state_bytes = 64 * 1024;
  TemplateMiner m(shipped_masks(), o);
  std::mt19937 rng(11);
  for (int i = 0; i < 20; ++i) m.add("session opened for user root by (uid=0)");
  for (int i = 0; i < 5000; ++i) m.add(random_words(rng, 8));
  std::string json = m.to_json();
  EXPECT_LE(json.size(), 64u * 1024);
  TemplateMiner back(shipped_masks(), o);
  ASSERT_TRUE(back.from_json(json, "test"));
  EXPECT_LT(back.templates().size(), m.templates().size());
  EXPECT_NE(back.match("session opened for user root by (uid=0)").template_id, 0u);
}

TEST(TemplateMinerBoundsTest, TheShapeCacheAndKeywordCountersStayUnderTheirCaps) {
  MinerOptions o;
  o.max_shapes = 100;
  o.max_tokens = 500;
  TemplateMiner m(shipped_masks(), o);
  std::mt19937 rng(5);
  for (int i = 0; i < 3000; ++i) m.add(random_words(rng, 4));
  // The caps are internal; what shows is that saved keywords and shapes are bounded too.
  Json j = Json::parse(m.to_json());
  EXPECT_LE(j.at("shapes").size(), 100u);
  EXPECT_LE(j.at("keywords").size(), 500u);
}

}  // namespace
}  // namespace aion::logs
