#include "aion/privacy/redactor.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

#include "aion/core/paths.h"
#include "aion/privacy/validators.h"

namespace aion::privacy {
namespace {

// A rejected candidate shorter than this is searched again from its second byte; longer
// ones are skipped whole so that a pathological line stays linear.
constexpr std::size_t kRetryInsideBytes = 64;
// Account names shorter than this are too often ordinary words ("ai", "ml").
constexpr std::size_t kMinAccountName = 3;
// At most this many distinct account names found in context are searched for elsewhere in
// one text (one alternation, one pass).
constexpr std::size_t kMaxPropagated = 256;
// Found secrets at least this long are replaced wherever else their value stands.
constexpr std::size_t kMinPropagatedSecret = 12;
// A line whose literals point at more than this many keyed detectors is screened by the
// keyed set first (for one or two, running them is cheaper than the screen).
constexpr std::size_t kScreenAbove = 2;
// Longer values are searched one by one when the alternation is used.
constexpr std::size_t kMaxAlternatedValue = 256;

RE2::Options re_options() {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(8 << 20);
  return o;
}

unsigned char fold(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

// Aho-Corasick automaton over the detectors' prefilter literals, case-insensitive: one pass
// over the text reports every position where some literal ends. Dense transitions (256 per
// state) keep the inner loop one load per byte; a few hundred literals need well under 1 MiB.
// add() every literal, build() once, then scan().
class Literals {
 public:
  void add(std::string_view lit, int detector) {
    int s = 0;
    for (unsigned char c : lit) {
      c = fold(c);
      if (next_[s * 256 + c] <= 0) {
        next_[s * 256 + c] = states();
        grow();
      }
      s = next_[s * 256 + c];
    }
    out_[s].push_back(detector);
  }
  void build() {
    std::vector<int> queue;
    for (int c = 0; c < 256; ++c) {
      int t = next_[c];
      if (t > 0) {
        fail_[t] = 0;
        queue.push_back(t);
      } else {
        next_[c] = 0;
      }
    }
    for (std::size_t i = 0; i < queue.size(); ++i) {
      const int s = queue[i];
      const auto& inherited = out_[fail_[s]];
      out_[s].insert(out_[s].end(), inherited.begin(), inherited.end());
      for (int c = 0; c < 256; ++c) {
        int& t = next_[s * 256 + c];
        if (t > 0) {
          fail_[t] = next_[fail_[s] * 256 + c];
          queue.push_back(t);
        } else {
          t = next_[fail_[s] * 256 + c];
        }
      }
    }
    // The scanning table: each entry is the next state's row offset (state * 256) with bit 0
    // set when that state reports literals, and upper-case bytes lead where lower-case do,
    // so the loop is one load per byte.
    table_.resize(next_.size());
    for (std::size_t i = 0; i < next_.size(); ++i) {
      const std::size_t row = i & ~std::size_t{0xff};
      const auto t = static_cast<std::uint32_t>(next_[row + fold(static_cast<unsigned char>(i))]);
      table_[i] = t << 8 | (out_[t].empty() ? 0u : 1u);
    }
    // The goto and failure links were only the way to the table.
    next_ = {};
    fail_ = {};
  }
  // Calls hit(position_of_last_byte, detector) for each literal occurrence.
  template <typename F>
  void scan(std::string_view text, F&& hit) const {
    std::uint32_t s = 0;
    const std::uint32_t* table = table_.data();
    for (std::size_t i = 0; i < text.size(); ++i) {
      s = table[(s & ~0xffu) | static_cast<unsigned char>(text[i])];
      if (s & 1) {
        for (int d : out_[s >> 8]) hit(i, d);
      }
    }
  }
  Literals() { grow(); }

 private:
  int states() const { return static_cast<int>(out_.size()); }
  void grow() {
    next_.resize(next_.size() + 256, -1);
    out_.emplace_back();
    fail_.push_back(0);
  }
  std::vector<int> next_;  // goto links while building (add(), build()); empty after
  std::vector<std::uint32_t> table_;
  std::vector<std::vector<int>> out_;
  std::vector<int> fail_;  // failure links while building; empty after
};

// Overlaps: the higher-ranked category wins, then the longer span, then the more confident.
// Returns the winners sorted by offset. Spans only compete with those they overlap, directly
// or through others, so the choice is made within each such cluster (usually one span).
std::vector<Finding> resolve(std::vector<Finding> cand) {
  const auto better = [](const Finding& a, const Finding& b) {
    if (a.category != b.category) return a.category < b.category;
    if (a.end - a.begin != b.end - b.begin) return a.end - a.begin > b.end - b.begin;
    if (a.confidence != b.confidence) return a.confidence > b.confidence;
    return a.begin < b.begin;
  };
  std::sort(cand.begin(), cand.end(), [](const Finding& a, const Finding& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::vector<Finding> out;
  std::vector<Finding> cluster;
  for (std::size_t i = 0; i < cand.size();) {
    std::size_t j = i + 1, end = cand[i].end;
    while (j < cand.size() && cand[j].begin < end) end = std::max(end, cand[j++].end);
    if (j == i + 1) {
      out.push_back(cand[i]);
    } else {
      cluster.assign(cand.begin() + static_cast<std::ptrdiff_t>(i),
                     cand.begin() + static_cast<std::ptrdiff_t>(j));
      std::sort(cluster.begin(), cluster.end(), better);
      const std::size_t first = out.size();
      for (const Finding& f : cluster) {
        const bool free =
            std::none_of(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                         [&](const Finding& w) { return w.begin < f.end && f.begin < w.end; });
        if (free) out.push_back(f);
      }
      std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                [](const Finding& a, const Finding& b) { return a.begin < b.begin; });
    }
    i = j;
  }
  return out;
}

bool is_word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= '0' && u <= '9') || ((u | 32) >= 'a' && (u | 32) <= 'z') || u == '_';
}

// Exact occurrences of a few hundred values in one pass. The values' first bytes (as many
// as the shortest value has, at most eight) are hashed into a bitmap that says where a
// comparison is worth making, so most positions cost one load and one bit test. Values
// sharing their first bytes with much of the text (hostile input) could make that
// quadratic, so the comparisons have a budget linear in the text; past it scan() gives up
// and the caller uses RE2's automaton.
class ExactValues {
 public:
  explicit ExactValues(const std::set<std::string_view>& values) {
    for (const std::string_view v : values) key_len_ = std::min(key_len_, v.size());
    if (key_len_ == 0) return;
    mask_ = 0;  // the first key_len_ bytes in memory, whatever the byte order
    std::memset(&mask_, 0xff, key_len_);
    for (const std::string_view v : values) {
      const std::uint64_t key = load(v.data());
      bits_[slot(key) >> 6] |= std::uint64_t{1} << (slot(key) & 63);
      by_key_.emplace(key, v);
    }
  }
  // Calls hit(begin, value) for every occurrence of every value, overlapping ones included.
  // False when the comparison budget ran out (the hits so far are then incomplete).
  template <typename F>
  bool scan(std::string_view text, F&& hit) const {
    if (by_key_.empty() || text.size() < key_len_) return true;
    std::size_t budget = 8 * text.size() + 4096;
    const auto at = [&](std::size_t i, std::uint64_t key) {
      if (!(bits_[slot(key) >> 6] >> (slot(key) & 63) & 1)) return true;
      const auto [lo, hi] = by_key_.equal_range(key);
      for (auto it = lo; it != hi; ++it) {
        const std::string_view v = it->second;
        if (budget < v.size()) return false;
        budget -= v.size();
        if (text.compare(i, v.size(), v) == 0) hit(i, v);
      }
      return true;
    };
    std::size_t i = 0;
    for (; i + 8 <= text.size(); ++i) {  // a whole word loads at once, masked to the key
      std::uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      if (!at(i, word & mask_)) return false;
    }
    for (; i + key_len_ <= text.size(); ++i) {
      if (!at(i, load(text.data() + i))) return false;
    }
    return true;
  }

 private:
  std::uint64_t load(const char* p) const {
    std::uint64_t k = 0;
    std::memcpy(&k, p, key_len_);
    return k;
  }
  static unsigned slot(std::uint64_t key) {
    return static_cast<unsigned>((key * 0x9E3779B97F4A7C15ULL) >> 48);
  }
  std::size_t key_len_ = 8;
  std::uint64_t mask_ = ~std::uint64_t{0};
  std::array<std::uint64_t, 1024> bits_{};
  std::unordered_multimap<std::uint64_t, std::string_view> by_key_;
};

// Every occurrence of `values` in `text` as candidates of `category`: the bitmap scan, or
// when that gives up, one RE2 alternation (long values, which would bloat it, one by one).
// `words`: only occurrences standing as whole words (\b on both sides).
void find_values(std::string_view text, const std::set<std::string_view>& values, bool words,
                 Category category, std::string_view detector, double confidence,
                 std::vector<Finding>& cand) {
  if (values.empty()) return;
  const std::size_t before = cand.size();
  const auto add = [&](std::size_t at, std::size_t n) {
    const std::size_t end = at + n;
    if (words) {
      const bool left = at == 0 || is_word_byte(text[at - 1]) != is_word_byte(text[at]);
      const bool right =
          end == text.size() || is_word_byte(text[end]) != is_word_byte(text[end - 1]);
      if (!left || !right) return;
    }
    cand.push_back({category, detector, at, end, confidence});
  };
  if (ExactValues(values).scan(text,
                               [&](std::size_t at, std::string_view v) { add(at, v.size()); }))
    return;
  cand.resize(before);
  std::fprintf(stderr, "FALLBACK %zu values text %zu\n", values.size(), text.size());
  std::string alternation;
  for (const std::string_view v : values) {
    if (v.size() <= kMaxAlternatedValue) {
      alternation += (alternation.empty() ? "" : "|") + RE2::QuoteMeta(v);
    } else {
      const std::boyer_moore_horspool_searcher search(v.begin(), v.end());
      for (auto it = std::search(text.begin(), text.end(), search); it != text.end();
           it = std::search(it + 1, text.end(), search)) {
        add(static_cast<std::size_t>(it - text.begin()), v.size());
      }
    }
  }
  if (alternation.empty()) return;
  RE2::Options o = re_options();
  o.set_max_mem(64 << 20);  // room for the DFA of many literals, not the NFA's slow path
  RE2 re("(" + alternation + ")", o);
  re2::StringPiece in(text.data(), text.size()), g;
  while (re.ok() && RE2::FindAndConsume(&in, re, &g)) {
    add(static_cast<std::size_t>(g.data() - text.data()), g.size());
  }
}

// An account name found in context ("user=alice", "/home/alice") is the same personal data
// wherever else it stands as a word in this text ("- name: alice").
void propagate_users(std::string_view text, const std::vector<Finding>& found,
                     std::vector<Finding>& cand) {
  std::set<std::string_view> names;
  for (const Finding& f : found) {
    const std::size_t n = f.end - f.begin;
    if (f.category == Category::kUser && n >= kMinAccountName && names.size() < kMaxPropagated)
      names.insert(text.substr(f.begin, n));
  }
  find_values(text, names, true, Category::kUser, "user-elsewhere", 0.8, cand);
}

// A secret found in one place (a token assigned to a name) is a secret wherever else its
// value stands in the text (the same token echoed bare, or in a URL; a key's body pasted
// again without its header). Only values long enough not to be ordinary words.
void propagate_secrets(std::string_view text, const std::vector<Finding>& found,
                       std::vector<Finding>& cand) {
  std::set<std::string_view> values;
  for (const Finding& f : found) {
    const std::string_view v = text.substr(f.begin, f.end - f.begin);
    if (f.category == Category::kSecret && v.size() >= kMinPropagatedSecret &&
        values.size() < kMaxPropagated)
      values.insert(v);
  }
  find_values(text, values, false, Category::kSecret, "secret-elsewhere", 0.9, cand);
}

// The detectors (of `ids`, in the set's order) whose expression `set` finds in `line`, in
// `hits`. Should RE2 give up (its DFA out of memory on a hostile line) all of them: a
// detector is never skipped because the screen failed.
const std::vector<int>& matching(const RE2::Set& set, const std::vector<int>& ids,
                                 std::string_view line, std::vector<int>& hits) {
  hits.clear();
  RE2::Set::ErrorInfo error{RE2::Set::kNoError};
  if (set.Match(re2::StringPiece(line.data(), line.size()), &hits, &error)) {
    for (int& h : hits) h = ids[static_cast<std::size_t>(h)];
    return hits;
  }
  if (error.kind == RE2::Set::kNoError) return hits;  // no match
  return ids;
}

// One RE2::Set of the detectors `ids` (none when there are none). kCorrupt naming the
// detector RE2 refuses.
Result<std::unique_ptr<RE2::Set>> compile_set(const std::vector<Detector>& all,
                                              const std::vector<int>& ids, std::string_view what) {
  if (ids.empty()) return std::unique_ptr<RE2::Set>();
  RE2::Options o = re_options();
  o.set_max_mem(64 << 20);
  auto set = std::make_unique<RE2::Set>(o, RE2::UNANCHORED);
  for (int d : ids) {
    if (set->Add(all[d].regex, nullptr) < 0)
      return fail(ErrorCode::kCorrupt, all[d].file + ": detector '" + all[d].id +
                                           "': RE2 cannot add it to the " + std::string(what));
  }
  if (!set->Compile())
    return fail(ErrorCode::kCorrupt,
                "privacy detectors: RE2 cannot compile the " + std::string(what));
  return set;
}

}  // namespace

struct Redactor::Impl {
  DetectorSet set;
  Policy policy;
  std::vector<Detector> all;                   // the set's detectors, then the accounts one
  std::vector<std::unique_ptr<RE2>> compiled;  // by index into all
  Literals literals;                           // prefilter literals -> detector index
  std::vector<int> whole;                      // multi-line detectors: run over the whole text
  // Single-line detectors without literals, all in one set: a line is scanned by those whose
  // expression the set says it matches, so most lines cost one pass for all of them.
  std::vector<int> per_line;
  std::unique_ptr<RE2::Set> line_set;
  // Single-line detectors with literals, in one set too: a line whose literals point at
  // several of them runs only those the set says match.
  std::vector<int> keyed;
  std::unique_ptr<RE2::Set> keyed_set;

  void find(int d, std::string_view text, std::size_t base, std::string_view whole,
            std::vector<Finding>& out) const {
    const Detector& det = all[d];
    const RE2& re = *compiled[d];
    const int groups = std::max(det.group, 0) + 1;
    re2::StringPiece sub[10];
    const re2::StringPiece piece(text.data(), text.size());
    std::size_t pos = 0;
    while (pos <= text.size() && re.Match(piece, pos, text.size(), RE2::UNANCHORED, sub, groups)) {
      const re2::StringPiece& g = sub[det.group];
      const std::size_t mbegin = static_cast<std::size_t>(sub[0].data() - text.data());
      std::size_t next = mbegin + std::max<std::size_t>(sub[0].size(), 1);
      if (g.data() != nullptr && !g.empty()) {
        const std::size_t begin = static_cast<std::size_t>(g.data() - text.data());
        const std::string_view value(g.data(), g.size());
        const bool one_line = det.multiline || value.find('\n') == std::string_view::npos;
        const bool ok = one_line && validate(det, Candidate{value, whole, base + begin}, set);
        if (ok) {
          out.push_back(
              {det.category, det.id, base + begin, base + begin + value.size(), det.confidence});
        }
        // Resume after the value, not the whole match, so that a trailing context character
        // the expression consumed can start the next match. A short rejected candidate may
        // hide a valid one that starts inside it (a card number followed by a stray digit).
        next = std::max(mbegin + 1, begin + value.size());
        if (!ok && value.size() < kRetryInsideBytes) next = mbegin + 1;
      }
      pos = next;
    }
  }
};

Redactor::Redactor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Redactor::Redactor(Redactor&&) noexcept = default;
Redactor& Redactor::operator=(Redactor&&) noexcept = default;
Redactor::~Redactor() = default;

const Policy& Redactor::policy() const {
  return impl_->policy;
}
const DetectorSet& Redactor::detectors() const {
  return impl_->set;
}

Result<Redactor> Redactor::create(DetectorSet detectors, Policy policy,
                                  std::vector<std::string> users) {
  auto impl = std::make_unique<Impl>();
  impl->all = detectors.detectors();
  std::string accounts;
  for (const auto& u : users) {
    if (u.size() < kMinAccountName) continue;
    accounts += (accounts.empty() ? "" : "|") + RE2::QuoteMeta(u);
  }
  if (!accounts.empty()) {
    Detector d;
    d.id = "local-account";
    d.category = Category::kUser;
    d.regex = "\\b(" + accounts + ")\\b";
    d.validate = "user";
    d.confidence = 0.9;
    d.source = "this host's /etc/passwd (non-system accounts)";
    d.file = "/etc/passwd";
    impl->all.push_back(std::move(d));
  }
  for (std::size_t i = 0; i < impl->all.size(); ++i) {
    const Detector& d = impl->all[i];
    auto re = std::make_unique<RE2>(d.regex, re_options());
    if (!re->ok()) {
      return fail(ErrorCode::kCorrupt,
                  d.file + ": detector '" + d.id + "': regex: RE2 rejects it: " + re->error());
    }
    impl->compiled.push_back(std::move(re));
    if (d.prefilter.empty())
      (d.multiline ? impl->whole : impl->per_line).push_back(static_cast<int>(i));
    else if (!d.multiline)
      impl->keyed.push_back(static_cast<int>(i));
    for (const auto& lit : d.prefilter) impl->literals.add(lit, static_cast<int>(i));
  }
  impl->literals.build();
  auto line_set = compile_set(impl->all, impl->per_line, "line set");
  if (!line_set) return std::unexpected(line_set.error());
  impl->line_set = std::move(*line_set);
  auto keyed_set = compile_set(impl->all, impl->keyed, "keyed set");
  if (!keyed_set) return std::unexpected(keyed_set.error());
  impl->keyed_set = std::move(*keyed_set);
  impl->set = std::move(detectors);
  impl->policy = std::move(policy);
  return Redactor(std::move(impl));
}

Result<Redactor> Redactor::load(const Policy& policy, const HostFs& host) {
  const std::filesystem::path dir =
      policy.detectors_dir.empty() ? data_dir() / "privacy" : policy.detectors_dir;
  auto set = DetectorSet::load_dir(dir, policy.site_detectors_dir);
  if (!set) return std::unexpected(set.error());
  std::vector<std::string> users;
  if (policy.users_from_passwd) {
    if (auto text = host.read("/etc/passwd", 16 << 20)) {
      for (auto& u : parse_passwd_users(*text)) {
        if (!set->list("system_user").contains(u)) users.push_back(std::move(u));
      }
    }
  }
  return create(std::move(*set), policy, std::move(users));
}

std::vector<Finding> Redactor::scan_all(std::string_view text) const {
  const Impl& m = *impl_;
  std::vector<Finding> cand;
  for (int d : m.whole) m.find(d, text, 0, text, cand);
  if (m.line_set) {
    std::vector<int> hits;
    for (std::size_t b = 0; b < text.size();) {
      std::size_t e = text.find('\n', b);
      if (e == std::string_view::npos) e = text.size();
      const std::string_view line = text.substr(b, e - b);
      if (!line.empty()) {
        for (int d : matching(*m.line_set, m.per_line, line, hits)) m.find(d, line, b, text, cand);
      }
      b = e + 1;
    }
  }
  // Prefiltered detectors run on each line that holds one of their literals, once per line.
  constexpr std::size_t kDone = std::string_view::npos - 1;
  std::vector<std::size_t> last_line(m.all.size(), std::string_view::npos);
  // Hits come in text order, so the current line only moves forward: finding its bounds
  // costs one pass over the text in all. A line's detectors are collected until the next
  // line's first hit; when there are several, the keyed set says which of them match there.
  std::size_t line_begin = 0, line_end = 0;
  std::vector<int> pending;
  std::vector<int> hits;
  const auto flush = [&] {
    const std::string_view line = text.substr(line_begin, line_end - line_begin);
    if (pending.size() > kScreenAbove && m.keyed_set) {
      for (int d : matching(*m.keyed_set, m.keyed, line, hits)) {
        if (last_line[d] == line_begin) m.find(d, line, line_begin, text, cand);
      }
    } else {
      for (int d : pending) m.find(d, line, line_begin, text, cand);
    }
    pending.clear();
  };
  m.literals.scan(text, [&](std::size_t at, int d) {
    if (at >= line_end) {
      if (!pending.empty()) flush();
      std::size_t b = at;
      while (b > line_end && text[b - 1] != '\n') --b;
      line_begin = b;
      line_end = text.find('\n', at);
      if (line_end == std::string_view::npos) line_end = text.size();
    }
    if (last_line[d] == line_begin || last_line[d] == kDone) return;
    if (!m.all[d].multiline) {
      last_line[d] = line_begin;
      pending.push_back(d);
      return;
    }
    // A multi-line detector's match starts on a line holding one of its literals: it runs
    // once, from the first such line to the end.
    last_line[d] = kDone;
    m.find(d, text.substr(line_begin), line_begin, text, cand);
  });
  if (!pending.empty()) flush();
  std::vector<Finding> out = resolve(cand);
  const std::size_t before = cand.size();
  propagate_users(text, out, cand);
  propagate_secrets(text, out, cand);
  return cand.size() == before ? out : resolve(std::move(cand));
}

std::vector<Finding> Redactor::scan(std::string_view text) const {
  std::vector<Finding> all = scan_all(text);
  std::erase_if(all, [&](const Finding& f) {
    return impl_->policy.allows(f.category, text.substr(f.begin, f.end - f.begin));
  });
  return all;
}

Redaction Redactor::redact(std::string_view text, PlaceholderMap& map) const {
  Redaction r;
  r.findings = scan(text);
  r.text.reserve(text.size());
  const auto reserved = placeholder_words(text);
  std::size_t at = 0;
  for (const Finding& f : r.findings) {
    const std::string_view value = text.substr(f.begin, f.end - f.begin);
    r.text.append(text.substr(at, f.begin - at));
    const std::string& token = map.assign(f.category, value, reserved);
    r.text += token;
    // A multi-line value keeps its line breaks so the text keeps its line count.
    r.text.append(static_cast<std::size_t>(std::count(value.begin(), value.end(), '\n')), '\n');
    r.placeholders.push_back(token);
    at = f.end;
  }
  r.text.append(text.substr(at));
  return r;
}

const std::string& PlaceholderMap::assign(Category c, std::string_view value,
                                          std::string_view input) {
  return assign(c, value, placeholder_words(input));
}

const std::string& PlaceholderMap::assign(Category c, std::string_view value,
                                          const std::set<std::string, std::less<>>& reserved) {
  const int ci = static_cast<int>(c);
  auto key = std::pair<int, std::string>(ci, std::string(value));
  if (auto it = by_value_.find(key); it != by_value_.end()) return it->second;
  std::string token;
  do {
    token = "<" + std::string(category_token(c)) + "_" + std::to_string(++next_[ci]) + ">";
  } while (reserved.contains(token) || by_token_.contains(token));
  by_token_.emplace(token, std::string(value));
  return by_value_.emplace(std::move(key), std::move(token)).first->second;
}

std::set<std::string, std::less<>> placeholder_words(std::string_view text) {
  std::set<std::string, std::less<>> out;
  for (std::size_t lt = text.find('<'); lt != std::string_view::npos; lt = text.find('<', lt + 1)) {
    std::size_t gt = lt + 1;
    while (gt < text.size() && gt - lt < 40 &&
           ((text[gt] >= 'A' && text[gt] <= 'Z') || (text[gt] >= '0' && text[gt] <= '9') ||
            text[gt] == '_')) {
      ++gt;
    }
    if (gt < text.size() && text[gt] == '>' && gt > lt + 1) {
      out.emplace(text.substr(lt, gt - lt + 1));
    }
  }
  return out;
}

std::string PlaceholderMap::restore(std::string_view text) const {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t lt = text.find('<', i);
    if (lt == std::string_view::npos) break;
    out.append(text.substr(i, lt - i));
    std::size_t gt = lt + 1;
    while (gt < text.size() && gt - lt < 40 &&
           ((text[gt] >= 'A' && text[gt] <= 'Z') || (text[gt] >= '0' && text[gt] <= '9') ||
            text[gt] == '_')) {
      ++gt;
    }
    if (gt < text.size() && text[gt] == '>') {
      auto it = by_token_.find(text.substr(lt, gt - lt + 1));
      if (it != by_token_.end()) {
        out += it->second;
        std::size_t next = gt + 1;
        const auto lines =
            static_cast<std::size_t>(std::count(it->second.begin(), it->second.end(), '\n'));
        if (lines && text.substr(next, lines) == std::string(lines, '\n')) next += lines;
        i = next;
        continue;
      }
    }
    out += '<';
    i = lt + 1;
  }
  if (i < text.size()) out.append(text.substr(i));
  return out;
}

std::vector<std::string> parse_passwd_users(std::string_view passwd) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < passwd.size()) {
    std::size_t eol = passwd.find('\n', pos);
    if (eol == std::string_view::npos) eol = passwd.size();
    std::string_view line = passwd.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string_view> f;
    std::size_t s = 0;
    while (f.size() < 4) {
      std::size_t c = line.find(':', s);
      f.push_back(line.substr(s, c == std::string_view::npos ? line.size() - s : c - s));
      if (c == std::string_view::npos) break;
      s = c + 1;
    }
    if (f.size() < 3 || f[0].empty()) continue;
    long uid = -1;
    std::from_chars(f[2].data(), f[2].data() + f[2].size(), uid);
    if (uid >= 1000 && uid < 60000) out.emplace_back(f[0]);
  }
  return out;
}

}  // namespace aion::privacy
