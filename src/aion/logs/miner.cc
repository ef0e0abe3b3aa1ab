#include "aion/logs/miner.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "aion/core/json.h"

namespace aion::logs {
namespace {

constexpr std::string_view kVar = "<*>";
// The first line a template saw is kept as its example, cut to this many bytes.
constexpr std::size_t kMaxExampleBytes = 512;

// `s` cut to at most `max` bytes, never inside a UTF-8 character.
std::string_view truncate_utf8(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

bool has_digit(std::string_view t) {
  return std::any_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Letters only, with at most a trailing '.', ',', ':' or ';': words of the message rather
// than identifiers (which hold '.', '/', '_', '@', '=' or digits inside).
bool plain_word(std::string_view t) {
  while (!t.empty() && (t.back() == '.' || t.back() == ',' || t.back() == ':' || t.back() == ';'))
    t.remove_suffix(1);
  return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  });
}

// A token holding a masked value ("host:<port>", "uid=<*>").
bool holds_value(std::string_view t) {
  return t.find(kPlaceholder) != std::string_view::npos;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Where a token is cut into pieces for its template text: "host:port", "a/b", "key=value",
// "(x)". Dots, dashes and underscores join the parts of one value ("10.0.0.7", "blk_-42",
// "task_1445_m_5") and do not cut.
bool piece_delimiter(char c) {
  switch (c) {
    case ':':
    case '/':
    case '=':
    case ',':
    case ';':
    case '(':
    case ')':
    case '[':
    case ']':
    case '{':
    case '}':
    case '<':
    case '>':
    case '"':
    case '\'':
    case '@':
    case '#':
    case '|':
    case '&':
    case '?':
    case ' ': return true;
    default: return false;
  }
}

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A piece of a token that is a value rather than a name: one of its parts (between '.', '_',
// '-' and '+') starts with a digit ("10.0.0.7", "v0.9", "task_1445_m_5", "16K") while names
// that merely hold a digit stay ("L1", "e1000", "jk2_init", "Slf4jLogger"); a long run of hex
// digits; or a literal that stands for a value (true, false, null, none).
bool variable_piece(std::string_view p) {
  bool at_start = true, hex = p.size() >= 8, digit = false;
  for (char c : p) {
    const bool d = c >= '0' && c <= '9';
    if (at_start && d) return true;
    at_start = c == '.' || c == '_' || c == '-' || c == '+';
    hex = hex && is_hex_digit(c);
    digit = digit || d;
  }
  if (hex && digit) return true;
  if (p.size() < 3 || p.size() > 5) return false;
  auto is = [&](std::string_view word) {  // case-insensitive, without a copy: a hot path
    return p.size() == word.size() &&
           std::equal(p.begin(), p.end(), word.begin(), [](char a, char b) {
             return (a >= 'A' && a <= 'Z' ? a - 'A' + 'a' : a) == b;
           });
  };
  return is("true") || is("false") || is("null") || is("none") || is("nil");
}

// The parts of a form: pieces and the delimiters between them, alternating (piece first).
std::vector<std::string_view> form_parts(std::string_view form) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i < form.size(); ++i) {
    if (!piece_delimiter(form[i])) continue;
    parts.push_back(form.substr(start, i - start));
    parts.push_back(form.substr(i, 1));
    start = i + 1;
  }
  parts.push_back(form.substr(start));
  return parts;
}

// The form two lines' tokens share: where both have the same delimiters, the pieces that
// differ become variables; otherwise the whole token is one. A unit that differs after a
// variable ("<*> KB" / "<*> MB") joins it.
std::string merge_forms(std::string_view a, std::string_view b) {
  const std::string var(1, kPlaceholder);
  auto pa = form_parts(a), pb = form_parts(b);
  if (pa.size() != pb.size()) {
    // Another shape: one variable, between the punctuation both begin and end with.
    std::size_t head = 0, tail = 0;
    while (head < a.size() && head < b.size() && a[head] == b[head] && a[head] != ' ' &&
           piece_delimiter(a[head]))
      ++head;
    while (tail < a.size() - head && tail < b.size() - head &&
           a[a.size() - 1 - tail] == b[b.size() - 1 - tail] && a[a.size() - 1 - tail] != ' ' &&
           piece_delimiter(a[a.size() - 1 - tail]))
      ++tail;
    return std::string(a.substr(0, head)) + var + std::string(a.substr(a.size() - tail));
  }
  std::string out;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    if (i % 2 == 1) {
      if (pa[i] != pb[i]) return var;
      out += pa[i];
    } else {
      out += pa[i] == pb[i] ? std::string(pa[i]) : var;
    }
  }
  const std::string joined = var + " " + var;
  for (std::size_t at = out.find(joined); at != std::string::npos; at = out.find(joined))
    out.replace(at, joined.size(), var);
  return out;
}

// A constant token as shown in a template: placeholders read "<*>".
std::string render_token(std::string_view t) {
  std::string out;
  for (char c : t) {
    if (c == kPlaceholder) {
      out += kVar;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

// A template in the miner: its public description and its tokens; an empty token is a
// variable position (whitespace splitting never yields an empty token).
struct TemplateMiner::Cluster {
  Template info;
  std::vector<std::string> tokens;
  std::uint64_t alias = 0;  // merged into this template (0: none)
  std::vector<bool> words;  // per position: a token without digits was seen there
  // Per position, its text in the template: pieces holding digits or masked values, and
  // pieces that differed between lines, are kPlaceholder (see token_form and merge_forms).
  std::vector<std::string> forms;
  std::string collapsed;   // key in by_collapsed_ (collapse(tokens))
  std::uint64_t last = 0;  // lines_ when a line last went to it (eviction order)
};

std::size_t TemplateMiner::index_of(std::uint64_t id) const {
  for (std::size_t i = 0; i < clusters_.size(); ++i) {
    if (clusters_[i].info.id == id) return i;
  }
  return 0;
}

// A line prepared for matching: masked tokens (views into masked.text), the values behind
// their placeholders, and its shape (tokens with variables blanked, joined by '\n').
struct TemplateMiner::Line {
  MaskedText masked;
  std::vector<std::string_view> tokens;
  std::vector<char> var;
  std::vector<std::uint32_t> first_value;  // per token: index of its first masked value
  std::string_view source;                 // where the line came from
  std::string shape;
};

TemplateMiner::TemplateMiner(MaskSet masks, MinerOptions options)
    : masks_(std::move(masks)), options_(options), scratch_(std::make_unique<Line>()) {
  for (const auto& r : masks_.rules()) {
    rule_kinds_.push_back(r.name == "ip"     ? RuleKind::kAddress
                          : r.name == "size" ? RuleKind::kQuantity
                          : r.name == "num"  ? RuleKind::kNumber
                                             : RuleKind::kValue);
  }
}
TemplateMiner::~TemplateMiner() = default;
TemplateMiner::TemplateMiner(TemplateMiner&&) noexcept = default;
TemplateMiner& TemplateMiner::operator=(TemplateMiner&&) noexcept = default;

void TemplateMiner::prepare(std::string_view content, std::string_view source, Line& l) const {
  masks_.apply(content, l.masked);
  l.tokens.clear();
  l.var.clear();
  l.first_value.clear();
  l.shape.clear();
  l.source = source;
  if (options_.separate_sources) {
    l.shape += source;
    l.shape += '\x1f';
  }
  // One pass over the masked text: each token, whether it holds a digit, its values and its
  // first dot. A token is a variable for grouping when it holds a digit, or a masked value
  // joined to a dotted name ("www.example.com:<port>", "Foo.java:<line>"): an address or a
  // place in code.
  const std::string_view s = l.masked.text;
  std::uint32_t value = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i == s.size()) break;
    std::size_t j = i, dot = std::string_view::npos;
    std::uint32_t values = 0;
    bool digit = false;
    for (; j < s.size() && !is_space(s[j]); ++j) {
      const char c = s[j];
      digit = digit || (c >= '0' && c <= '9');
      values += c == kPlaceholder;
      if (c == '.' && dot == std::string_view::npos) dot = j - i;
    }
    const std::string_view t = s.substr(i, j - i);
    const bool v =
        digit || (values > 0 && dot != std::string_view::npos && dot > 0 && dot + 1 < t.size() &&
                  t[dot + 1] != kPlaceholder && t[dot - 1] != kPlaceholder);
    l.tokens.push_back(t);
    l.var.push_back(v);
    l.first_value.push_back(value);
    value += values;
    if (!v) l.shape += t;
    l.shape += '\n';
    i = j;
  }
}

// Token `i` of `line` as a template piece form: pieces between delimiters that hold a digit
// or a masked value become kPlaceholder. An address value with a port is two pieces
// ("<*>:<*>"); a quantity written with a space keeps its unit ("<*> bytes").
void TemplateMiner::token_form(const Line& line, std::size_t i, std::string& out) const {
  const std::string_view t = line.tokens[i];
  out.clear();
  thread_local std::string piece;  // reused: no allocation per token once grown
  piece.clear();
  bool var = false;
  auto flush = [&] {
    if (var || variable_piece(piece)) {
      out += kPlaceholder;
    } else {
      out += piece;
    }
    piece.clear();
    var = false;
  };
  std::size_t value = line.first_value[i];
  for (char c : t) {
    if (c == kPlaceholder) {
      RuleKind kind = RuleKind::kValue;
      std::string_view v;
      if (value < line.masked.values.size()) {
        v = line.masked.values[value];
        const auto rule = static_cast<std::size_t>(line.masked.rules[value]);
        if (rule < rule_kinds_.size()) kind = rule_kinds_[rule];
      }
      ++value;
      var = true;
      if (kind == RuleKind::kAddress || kind == RuleKind::kNumber) {
        // "10.0.0.7:22" and "20:30:31.455" read "<*>:<*>" and "<*>:<*>:<*>".
        for (std::size_t colon = v.find(':'); colon != std::string_view::npos;
             colon = v.find(':', colon + 1)) {
          flush();
          out += ':';
          var = true;
        }
      } else if (kind == RuleKind::kQuantity) {
        if (auto sp = v.rfind(' '); sp != std::string_view::npos) {
          flush();
          out += ' ';
          piece = v.substr(sp + 1);
        }
      }
    } else if (piece_delimiter(c)) {
      flush();
      out += c;
    } else {
      piece += c;
    }
  }
  flush();
  // "/10.0.0.7" (Java's address text without a host name) is one value.
  if (out.size() >= 2 && out[0] == '/' && out[1] == kPlaceholder) out.erase(0, 1);
}

bool TemplateMiner::keyword(std::string_view token) const {
  auto it = token_lines_.find(token);
  if (it == token_lines_.end()) return false;
  return it->second >= options_.min_frequent;
}

namespace {

// The collapsed form of a cluster's tokens (runs of variables as one), as Line::collapsed.
std::string collapse(const std::vector<std::string>& tokens) {
  std::string out;
  bool prev_var = false;
  for (const auto& t : tokens) {
    bool v = t.empty();
    if (!(v && prev_var)) {
      out += t;
      out += '\n';
    }
    prev_var = v;
  }
  return out;
}

}  // namespace

void TemplateMiner::index_collapsed(int ci) {
  Cluster& c = clusters_[static_cast<std::size_t>(ci)];
  c.collapsed = collapse(c.tokens);
  auto& list = by_collapsed_[c.collapsed];
  list.insert(std::lower_bound(list.begin(), list.end(), ci), ci);
}

void TemplateMiner::unindex_collapsed(int ci) {
  const Cluster& c = clusters_[static_cast<std::size_t>(ci)];
  auto it = by_collapsed_.find(c.collapsed);
  if (it == by_collapsed_.end()) return;
  auto& list = it->second;
  list.erase(std::remove(list.begin(), list.end(), ci), list.end());
  if (list.empty()) by_collapsed_.erase(it);
}

namespace {

std::string render(const std::vector<std::string>& forms) {
  std::string out;
  for (const auto& t : forms) {
    if (!out.empty()) out += ' ';
    out += render_token(t);
  }
  return out;
}

}  // namespace

TemplateMiner::Found TemplateMiner::find(const Line& line) const {
  Found found;
  if (auto it = by_shape_.find(line.shape); it != by_shape_.end()) {
    found.cluster = it->second.cluster;
    return found;
  }
  double best_score = -1;
  if (auto it = by_length_.find(line.tokens.size()); it != by_length_.end()) {
    const std::size_t n = std::min(it->second.size(), options_.max_candidates);
    for (std::size_t k = 0; k < n; ++k) {
      const int ci = it->second[k];
      const Cluster& c = clusters_[static_cast<std::size_t>(ci)];
      if (options_.separate_sources && c.info.source != line.source) continue;
      std::size_t constants = 0, same = 0, words = 0, word_at = 0;
      bool blocked = false;
      for (std::size_t i = 0; i < line.tokens.size() && !blocked; ++i) {
        const std::string& t = c.tokens[i];
        if (t.empty()) {
          if (line.var[i] || c.words[i]) continue;
          // A word where the template saw only numbers so far: not the same message.
          if (i == 0 && options_.first_token && !holds_value(line.tokens[i])) blocked = true;
          ++constants;
          continue;
        }
        if (t == line.tokens[i]) {
          ++constants;
          ++same;
        } else if (line.var[i] && has_digit(t)) {
          continue;  // two values with digits: a variable either way
        } else if (i == 0 && options_.first_token && !holds_value(t) &&
                   !holds_value(line.tokens[i])) {
          // Messages start with what they are about, unless that is a value ("host:443").
          blocked = true;
        } else if (!line.var[i] && ((keyword(t) && keyword(line.tokens[i])) ||
                                    (plain_word(t) && plain_word(line.tokens[i])))) {
          // Two different words (or keywords): two different messages, unless this slot
          // turns out to take many words (see add()).
          ++words;
          word_at = i;
        } else {
          ++constants;
        }
      }
      if (blocked) continue;
      if (words > 0) {
        // Siblings share every other constant, and at least one: a line that is one word
        // has no context to tell a variable slot from another message.
        if (words == 1 && same == constants && same > 0) found.near.emplace_back(ci, word_at);
        continue;
      }
      double score = constants == 0 ? 1.0 : static_cast<double>(same) / constants;
      if (same == constants || (same > 0 && score >= options_.similarity)) {
        if (score > best_score) {
          best_score = score;
          found.cluster = ci;
        }
      }
    }
  }
  if (found.cluster < 0) found.cluster = find_collapsed(line);
  return found;
}

// A template whose tokens differ from the line's only by a run of variables of another length
// (a list), or -1: the lowest index of the line's collapsed form, as a scan would find.
int TemplateMiner::find_collapsed(const Line& line) const {
  std::string collapsed;  // the shape with each run of variables as one
  bool prev_var = false;
  for (std::size_t i = 0; i < line.tokens.size(); ++i) {
    if (!(line.var[i] && prev_var)) {
      if (!line.var[i]) collapsed += line.tokens[i];
      collapsed += '\n';
    }
    prev_var = line.var[i];
  }
  if (collapsed == line.shape) return -1;
  auto it = by_collapsed_.find(collapsed);
  if (it == by_collapsed_.end()) return -1;
  for (int ci : it->second) {
    const Cluster& c = clusters_[static_cast<std::size_t>(ci)];
    if (c.alias == 0 && c.tokens.size() != line.tokens.size() &&
        (!options_.separate_sources || c.info.source == line.source)) {
      return ci;
    }
  }
  return -1;
}

// Records that cluster `a` and `b` differ only by the word at `pos`; once that slot has
// taken options_.slot_words different words, it is a variable and the clusters become one.
void TemplateMiner::note_siblings(int a, int b, std::size_t pos) {
  std::string key = std::to_string(pos);
  for (std::size_t i = 0; i < clusters_[static_cast<std::size_t>(a)].tokens.size(); ++i) {
    key += '\n';
    if (i != pos) key += clusters_[static_cast<std::size_t>(a)].tokens[i];
  }
  auto& set = siblings_[key];
  set.insert(a);
  set.insert(b);
  if (set.size() < options_.slot_words) return;
  int keep = *set.begin();
  Cluster& k = clusters_[static_cast<std::size_t>(keep)];
  unindex_collapsed(keep);
  k.tokens[pos].clear();
  k.forms[pos] = std::string(1, kPlaceholder);
  k.words[pos] = true;
  for (int other : set) {
    if (other != keep) absorb(keep, other);
  }
  k.last = std::max(k.last, lines_);
  index_collapsed(keep);
  k.info.text = render(k.forms);
  siblings_.erase(key);
  merge_duplicate(keep);
}

// Merges cluster `other` into `keep` (same token count): its lines, times and shapes go to
// `keep`, whose forms take in other's; `other` stays as an alias of `keep`.
void TemplateMiner::absorb(int keep, int other) {
  Cluster& k = clusters_[static_cast<std::size_t>(keep)];
  Cluster& o = clusters_[static_cast<std::size_t>(other)];
  if (o.alias != 0 || keep == other) return;
  o.alias = k.info.id;
  aliases_[o.info.id] = k.info.id;
  k.info.count += o.info.count;
  k.info.first_seen_ms = std::min(k.info.first_seen_ms, o.info.first_seen_ms);
  k.info.last_seen_ms = std::max(k.info.last_seen_ms, o.info.last_seen_ms);
  if (o.forms.size() == k.forms.size()) {
    for (std::size_t i = 0; i < k.forms.size(); ++i) {
      if (k.forms[i] != o.forms[i]) k.forms[i] = merge_forms(k.forms[i], o.forms[i]);
      k.words[i] = k.words[i] || o.words[i];
    }
  }
  auto& list = by_length_[o.tokens.size()];
  list.erase(std::remove(list.begin(), list.end(), other), list.end());
  for (auto& [text, shape] : by_shape_) {
    if (shape.cluster == other) shape.cluster = keep;
  }
}

// After cluster `ci` was made or gained a variable: another template of as many tokens that
// now reads the same is the same message, learnt twice (a person could not tell them apart);
// the older one keeps both. Returns the index the line's cluster has now.
int TemplateMiner::merge_duplicate(int ci) {
  const Cluster& c = clusters_[static_cast<std::size_t>(ci)];
  auto it = by_length_.find(c.tokens.size());
  if (it == by_length_.end()) return ci;
  for (int other : it->second) {
    if (other == ci) continue;
    const Cluster& o = clusters_[static_cast<std::size_t>(other)];
    if (o.alias != 0 || o.info.text != c.info.text) continue;
    if (options_.separate_sources && o.info.source != c.info.source) continue;
    const int keep = std::min(ci, other), gone = std::max(ci, other);
    unindex_collapsed(keep);
    unindex_collapsed(gone);
    absorb(keep, gone);
    Cluster& k = clusters_[static_cast<std::size_t>(keep)];
    k.last = std::max(k.last, lines_);
    index_collapsed(keep);
    k.info.text = render(k.forms);
    return keep;
  }
  return ci;
}

std::uint64_t TemplateMiner::resolve(std::uint64_t id) const {
  for (auto it = aliases_.find(id); it != aliases_.end(); it = aliases_.find(id)) id = it->second;
  return id;
}

ParsedLine TemplateMiner::result(const Cluster& c, const Line& line) const {
  ParsedLine out;
  out.template_id = c.info.id;
  out.template_text = c.info.text;
  std::size_t value = 0;
  // Expands a masked token back to the original text, consuming its placeholders' values.
  auto expand = [&](std::string_view t) {
    std::string s;
    for (char ch : t) {
      if (ch == kPlaceholder && value < line.masked.values.size()) {
        s += line.masked.values[value++];
      } else {
        s += ch;
      }
    }
    return s;
  };
  if (c.tokens.size() == line.tokens.size()) {
    for (std::size_t i = 0; i < line.tokens.size(); ++i) {
      if (c.tokens[i].empty()) {
        out.params.push_back(expand(line.tokens[i]));
      } else {
        for (char ch : line.tokens[i]) {
          if (ch == kPlaceholder && value < line.masked.values.size()) {
            out.params.push_back(line.masked.values[value++]);
          }
        }
      }
    }
    return out;
  }
  // A run of variables of another length: one parameter per run.
  for (std::size_t i = 0; i < line.tokens.size(); ++i) {
    if (line.var[i]) {
      std::string run = expand(line.tokens[i]);
      while (i + 1 < line.tokens.size() && line.var[i + 1]) run += " " + expand(line.tokens[++i]);
      out.params.push_back(std::move(run));
    } else {
      for (char ch : line.tokens[i]) {
        if (ch == kPlaceholder && value < line.masked.values.size()) {
          out.params.push_back(line.masked.values[value++]);
        }
      }
    }
  }
  return out;
}

// Counts the line's distinct constant tokens in token_lines_ and, when `shape` is given,
// keeps the counters there so that the next line of that shape can count without lookups.
void TemplateMiner::count_tokens(const Line& line, Shape* shape) {
  if (shape != nullptr) shape->counters.clear();
  for (std::size_t i = 0; i < line.tokens.size(); ++i) {
    if (line.var[i]) continue;
    const std::string_view t = line.tokens[i];
    bool repeated = false;
    for (std::size_t k = 0; k < i && !repeated; ++k) repeated = !line.var[k] && line.tokens[k] == t;
    if (repeated) continue;
    std::uint64_t* counter = nullptr;
    if (auto it = token_lines_.find(t); it != token_lines_.end()) {
      counter = &it->second;
      ++*counter;
    } else if (token_lines_.size() < options_.max_tokens) {
      counter = &token_lines_.emplace(std::string(t), 1).first->second;
    }
    if (shape != nullptr && counter != nullptr) shape->counters.push_back(counter);
  }
  if (shape != nullptr) shape->counted = true;
}

// A new template made from `line` (the eviction of others first when the table is full),
// joined with the templates one word away as siblings; -1 when nothing may be evicted.
// Returns the index of the template the line belongs to now.
int TemplateMiner::create(const Line& line, Found found, std::string_view content,
                          std::int64_t time_ms, std::string_view source) {
  if (clusters_.size() >= options_.max_templates) {
    std::vector<int> remap;
    if (!make_room(&remap)) return -1;
    std::vector<std::pair<int, std::size_t>> near;
    for (auto [other, pos] : found.near) {
      int now = remap[static_cast<std::size_t>(other)];
      if (now >= 0) near.emplace_back(now, pos);
    }
    found.near = std::move(near);
  }
  Cluster c;
  c.info.id = next_id_++;
  for (std::size_t i = 0; i < line.tokens.size(); ++i) {
    c.tokens.emplace_back(line.tokens[i]);
    c.words.push_back(!line.var[i]);
    token_form(line, i, form_scratch_);
    c.forms.push_back(form_scratch_);
  }
  c.info.text = render(c.forms);
  c.info.first_seen_ms = time_ms;
  c.info.example = std::string(truncate_utf8(content, kMaxExampleBytes));
  c.info.source = std::string(source);
  int ci = static_cast<int>(clusters_.size());
  by_length_[c.tokens.size()].push_back(ci);
  clusters_.push_back(std::move(c));
  index_collapsed(ci);
  for (auto [other, pos] : found.near) note_siblings(other, ci, pos);
  if (clusters_[static_cast<std::size_t>(ci)].alias == 0) ci = merge_duplicate(ci);
  if (clusters_[static_cast<std::size_t>(ci)].alias != 0) {
    ci = static_cast<int>(index_of(resolve(clusters_[static_cast<std::size_t>(ci)].info.id)));
  }
  return ci;
}

// Template `ci` takes in `line` (of as many tokens): positions where they differ become
// variables and forms merge. Returns the index of the template the line belongs to now.
int TemplateMiner::learn(int ci, const Line& line) {
  Cluster& c = clusters_[static_cast<std::size_t>(ci)];
  if (c.tokens.size() != line.tokens.size()) return ci;  // a run of another length
  bool changed = false, reworded = false;
  for (std::size_t i = 0; i < c.tokens.size(); ++i) {
    if (!line.var[i]) c.words[i] = true;
    if (!c.tokens[i].empty() && c.tokens[i] != line.tokens[i]) {
      if (!changed) unindex_collapsed(ci);
      c.tokens[i].clear();
      changed = true;
    }
    // A form that is one variable cannot change any more; others are compared with this
    // line's token (unless it is the very text the form was made from).
    std::string& form = c.forms[i];
    if (form.size() == 1 && form[0] == kPlaceholder) continue;
    if (!c.tokens[i].empty() && form.find(kPlaceholder) == std::string::npos) continue;
    token_form(line, i, form_scratch_);
    if (form_scratch_ != form) {
      form = merge_forms(form, form_scratch_);
      reworded = true;
    }
  }
  if (changed) index_collapsed(ci);
  if (!changed && !reworded) return ci;
  c.info.text = render(c.forms);
  return merge_duplicate(ci);
}

ParsedLine TemplateMiner::add(std::string_view content, std::int64_t time_ms,
                              std::string_view source) {
  content = truncate_utf8(content, options_.max_line_bytes);
  Line& line = *scratch_;
  prepare(content, source, line);
  ++lines_;
  if (token_lines_.size() >= options_.max_tokens) trim_tokens();
  // A known shape goes straight to its template (as find() would send it); its tokens are
  // counted through the counters kept with it.
  auto known = by_shape_.find(line.shape);
  Shape fresh;  // the line's shape when it is a new one
  Found found;
  if (known == by_shape_.end()) {
    count_tokens(line, &fresh);
    found = find(line);
  } else {
    if (known->second.counted) {
      for (std::uint64_t* n : known->second.counters) ++*n;
    } else {
      count_tokens(line, &known->second);
    }
    ++known->second.hits;
    known->second.last = lines_;
    found.cluster = known->second.cluster;
  }
  const bool created = found.cluster < 0;
  const int ci = created ? create(line, std::move(found), content, time_ms, source)
                         : learn(found.cluster, line);
  if (ci < 0) {
    ParsedLine overflow;
    overflow.template_text = "<overflow>";
    return overflow;
  }
  if (known == by_shape_.end()) {
    if (by_shape_.size() >= options_.max_shapes) trim_shapes();
    fresh.cluster = ci;
    fresh.hits = 1;
    fresh.last = lines_;
    by_shape_.emplace(line.shape, std::move(fresh));
  }
  Cluster& c = clusters_[static_cast<std::size_t>(ci)];
  ++c.info.count;
  c.last = lines_;
  c.info.last_seen_ms = std::max(c.info.last_seen_ms, time_ms);
  ParsedLine out = result(c, line);
  out.new_template = created;
  if (created && on_new_) on_new_(c.info);
  return out;
}

void TemplateMiner::pin(std::uint64_t id) {
  pinned_.insert(resolve(id));
}

bool TemplateMiner::make_room(std::vector<int>* remap) {
  // Merged templates are dead weight (their lines go to the one they joined): they go first.
  std::vector<bool> drop(clusters_.size(), false);
  std::size_t dropping = 0;
  std::vector<int> candidates;
  for (std::size_t i = 0; i < clusters_.size(); ++i) {
    const Cluster& c = clusters_[i];
    if (c.alias != 0) {
      drop[i] = true;
      ++dropping;
    } else if (c.info.count < options_.keep_hits && !pinned_.contains(c.info.id)) {
      candidates.push_back(static_cast<int>(i));
    }
  }
  // Evicting a sixteenth at a time keeps the cost of compaction at a few steps per new line.
  const std::size_t want = std::max<std::size_t>(1, options_.max_templates / 16);
  if (dropping < want && !candidates.empty()) {
    const std::size_t n = std::min(want - dropping, candidates.size());
    // Seen once first, then the fewest lines, then the longest unseen; ids break ties.
    auto order = [&](int a, int b) {
      const Cluster& x = clusters_[static_cast<std::size_t>(a)];
      const Cluster& y = clusters_[static_cast<std::size_t>(b)];
      if (x.info.count != y.info.count) return x.info.count < y.info.count;
      if (x.last != y.last) return x.last < y.last;
      return x.info.id < y.info.id;
    };
    std::nth_element(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(n - 1),
                     candidates.end(), order);
    for (std::size_t k = 0; k < n; ++k) drop[static_cast<std::size_t>(candidates[k])] = true;
    evicted_ += n;
    dropping += n;
  }
  if (dropping == 0) return false;
  compact(drop, remap);
  return true;
}

// Removes the clusters marked in `drop` and rebuilds every index into clusters_.
void TemplateMiner::compact(const std::vector<bool>& drop, std::vector<int>* remap) {
  std::vector<int> to(clusters_.size(), -1);
  std::set<std::uint64_t> gone;
  std::vector<Cluster> kept;
  kept.reserve(clusters_.size());
  for (std::size_t i = 0; i < clusters_.size(); ++i) {
    if (drop[i]) {
      if (clusters_[i].alias == 0) gone.insert(clusters_[i].info.id);
      continue;
    }
    to[i] = static_cast<int>(kept.size());
    kept.push_back(std::move(clusters_[i]));
  }
  clusters_ = std::move(kept);
  for (auto it = by_shape_.begin(); it != by_shape_.end();) {
    int now = to[static_cast<std::size_t>(it->second.cluster)];
    if (now < 0) {
      it = by_shape_.erase(it);
    } else {
      it->second.cluster = now;
      ++it;
    }
  }
  for (auto it = siblings_.begin(); it != siblings_.end();) {
    std::set<int> now;
    for (int ci : it->second) {
      if (to[static_cast<std::size_t>(ci)] >= 0) now.insert(to[static_cast<std::size_t>(ci)]);
    }
    if (now.empty()) {
      it = siblings_.erase(it);
    } else {
      it->second = std::move(now);
      ++it;
    }
  }
  for (auto it = aliases_.begin(); it != aliases_.end();) {
    if (gone.contains(resolve(it->second))) {
      it = aliases_.erase(it);
    } else {
      ++it;
    }
  }
  for (std::uint64_t id : gone) pinned_.erase(id);
  by_length_.clear();
  by_collapsed_.clear();
  for (std::size_t i = 0; i < clusters_.size(); ++i) {
    if (clusters_[i].alias != 0) continue;
    by_length_[clusters_[i].tokens.size()].push_back(static_cast<int>(i));
    index_collapsed(static_cast<int>(i));
  }
  if (remap != nullptr) *remap = std::move(to);
}

// Forgets the least used eighth of the shape cache (fewest lines, then longest unseen).
void TemplateMiner::trim_shapes() {
  std::vector<std::pair<std::pair<std::uint64_t, std::uint64_t>, const std::string*>> order;
  order.reserve(by_shape_.size());
  for (const auto& [text, shape] : by_shape_) order.push_back({{shape.hits, shape.last}, &text});
  const std::size_t n = std::max<std::size_t>(1, by_shape_.size() / 8);
  std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n - 1), order.end(),
                   [](const auto& a, const auto& b) {
                     return a.first != b.first ? a.first < b.first : *a.second < *b.second;
                   });
  std::vector<std::string> victims;
  victims.reserve(n);
  for (std::size_t k = 0; k < n; ++k) victims.push_back(*order[k].second);
  for (const auto& v : victims) by_shape_.erase(v);
}

// Drops the rare tokens (fewer than min_frequent lines) from the keyword counters, and the
// least frequent others while more than half the table is still in use. Shapes then count
// their tokens by lookup once more, since their counters may point at dropped entries.
void TemplateMiner::trim_tokens() {
  for (auto it = token_lines_.begin(); it != token_lines_.end();) {
    if (it->second < options_.min_frequent) {
      it = token_lines_.erase(it);
    } else {
      ++it;
    }
  }
  if (token_lines_.size() > options_.max_tokens / 2) {
    std::vector<std::uint64_t> counts;
    counts.reserve(token_lines_.size());
    for (const auto& [t, n] : token_lines_) counts.push_back(n);
    const std::size_t cut = token_lines_.size() - options_.max_tokens / 2;
    std::nth_element(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(cut - 1),
                     counts.end());
    const std::uint64_t below = counts[cut - 1];
    for (auto it = token_lines_.begin(); it != token_lines_.end();) {
      if (it->second <= below) {
        it = token_lines_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [text, shape] : by_shape_) {
    shape.counters.clear();
    shape.counted = false;
  }
}

ParsedLine TemplateMiner::match(std::string_view content, std::string_view source) const {
  content = truncate_utf8(content, options_.max_line_bytes);
  Line line;
  prepare(content, source, line);
  int ci = find(line).cluster;
  if (ci < 0) return {};
  return result(clusters_[static_cast<std::size_t>(ci)], line);
}

std::vector<Template> TemplateMiner::templates() const {
  std::vector<Template> out;
  out.reserve(clusters_.size());
  for (const auto& c : clusters_) {
    if (c.alias == 0) out.push_back(c.info);
  }
  std::sort(out.begin(), out.end(),
            [](const Template& a, const Template& b) { return a.id < b.id; });
  return out;
}

std::size_t TemplateMiner::size() const {
  return clusters_.size();
}

namespace {

std::string dump_json(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Appends "k":v pairs (already dumped) comma-separated while `used` stays within `limit`, the
// parts given in the order to keep them.
void append_within(std::string& out, const std::vector<std::string>& parts, std::size_t& used,
                   std::size_t limit) {
  bool first = true;
  for (const auto& part : parts) {
    if (used + part.size() + 1 > limit) break;
    used += part.size() + 1;
    if (!first) out += ',';
    out += part;
    first = false;
  }
}

}  // namespace

// The templates that fit in `limit` bytes (pinned first, then the most used), written in id
// order; `saved` marks which.
void TemplateMiner::write_templates(std::string& out, std::vector<bool>& saved, std::size_t& used,
                                    std::size_t limit) const {
  std::vector<std::size_t> order(clusters_.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const bool pa = pinned_.contains(clusters_[a].info.id),
               pb = pinned_.contains(clusters_[b].info.id);
    if (pa != pb) return pa;
    return clusters_[a].info.count > clusters_[b].info.count;
  });
  std::vector<std::string> parts(clusters_.size());
  saved.assign(clusters_.size(), false);
  for (std::size_t i : order) {
    const Cluster& c = clusters_[i];
    Json tokens = Json::array();
    for (const auto& t : c.tokens) tokens.push_back(t);
    std::string part = dump_json(Json{{"id", c.info.id},
                                      {"text", c.info.text},
                                      {"tokens", std::move(tokens)},
                                      {"words", c.words},
                                      {"forms", c.forms},
                                      {"count", c.info.count},
                                      {"first_seen_ms", c.info.first_seen_ms},
                                      {"last_seen_ms", c.info.last_seen_ms},
                                      {"example", c.info.example},
                                      {"source", c.info.source}});
    if (used + part.size() + 1 > limit) continue;
    used += part.size() + 1;
    parts[i] = std::move(part);
    saved[i] = true;
  }
  bool first = true;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!saved[i]) continue;
    if (!first) out += ',';
    out += parts[i];
    first = false;
  }
}

std::string TemplateMiner::to_json() const {
  // Written by hand around each part's own dump so that the total stays under
  // max_state_bytes: templates take up to three quarters, the most used first (written in
  // id order, which load() turns into the same candidate order as here); then the shapes of
  // the templates written, most used first, up to seven eighths; then the keywords.
  const std::size_t budget = options_.max_state_bytes;
  std::string out = "{\"schema_version\":1,\"next_id\":" + std::to_string(next_id_) +
                    ",\"lines\":" + std::to_string(lines_) + ",\"templates\":[";
  std::size_t used = out.size() + 64;  // the closing brackets and key names below
  std::vector<bool> saved;
  write_templates(out, saved, used, budget / 4 * 3);
  out += "],\"shapes\":{";
  std::vector<std::pair<std::uint64_t, const std::string*>> shapes;
  for (const auto& [text, shape] : by_shape_) {
    if (saved[static_cast<std::size_t>(shape.cluster)]) shapes.emplace_back(shape.hits, &text);
  }
  std::sort(shapes.begin(), shapes.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : *a.second < *b.second;
  });
  std::vector<std::string> parts;
  for (const auto& [hits, text] : shapes) {
    const Shape& shape = by_shape_.find(*text)->second;
    parts.push_back(dump_json(Json(*text)) + ":" +
                    std::to_string(clusters_[static_cast<std::size_t>(shape.cluster)].info.id));
  }
  append_within(out, parts, used, budget / 8 * 7);
  out += "},\"keywords\":{";
  std::vector<std::pair<std::uint64_t, const std::string*>> keywords;
  for (const auto& [t, n] : token_lines_) {
    if (n >= options_.min_frequent) keywords.emplace_back(n, &t);
  }
  std::sort(keywords.begin(), keywords.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : *a.second < *b.second;
  });
  parts.clear();
  for (const auto& [n, t] : keywords)
    parts.push_back(dump_json(Json(*t)) + ":" + std::to_string(n));
  append_within(out, parts, used, budget);
  out += "}}";
  return out;
}

Status TemplateMiner::from_json(std::string_view text, std::string_view source) {
  auto corrupt = [&](std::string what) {
    return fail(ErrorCode::kCorrupt, std::string(source) + ": " + what +
                                         "; move the file aside to start with no templates");
  };
  Json j = Json::parse(text, nullptr, false);
  if (!j.is_object()) return corrupt("not a JSON object");
  if (j.value("schema_version", 0) != 1) return corrupt("schema_version is not 1");
  try {
    std::vector<Cluster> clusters;
    std::unordered_map<std::uint64_t, int> index;
    std::uint64_t max_id = 0;
    for (const auto& t : j.at("templates")) {
      Cluster c;
      c.info.id = t.at("id").get<std::uint64_t>();
      c.info.count = t.at("count").get<std::uint64_t>();
      c.info.first_seen_ms = t.at("first_seen_ms").get<std::int64_t>();
      c.info.last_seen_ms = t.at("last_seen_ms").get<std::int64_t>();
      c.info.example = t.at("example").get<std::string>();
      c.info.source = t.at("source").get<std::string>();
      for (const auto& tok : t.at("tokens")) c.tokens.push_back(tok.get<std::string>());
      for (const auto& w : t.at("words")) c.words.push_back(w.get<bool>());
      if (c.words.size() != c.tokens.size()) {
        return corrupt("template " + std::to_string(c.info.id) + ": words do not match tokens");
      }
      // A blank line has a template of no tokens: add() makes one, so loading keeps it.
      if (c.info.id == 0 || index.count(c.info.id)) {
        return corrupt("template " + std::to_string(c.info.id) + " has id 0 or is repeated");
      }
      if (auto f = t.find("forms"); f != t.end()) {
        for (const auto& form : *f) c.forms.push_back(form.get<std::string>());
      } else {
        for (const auto& tok : c.tokens) {
          c.forms.push_back(tok.empty() ? std::string(1, kPlaceholder) : tok);
        }
      }
      if (c.forms.size() != c.tokens.size()) {
        return corrupt("template " + std::to_string(c.info.id) + ": forms do not match tokens");
      }
      c.info.text = render(c.forms);
      max_id = std::max(max_id, c.info.id);
      index[c.info.id] = static_cast<int>(clusters.size());
      clusters.push_back(std::move(c));
    }
    std::unordered_map<std::string, Shape, TokenHash, std::equal_to<>> shapes;
    for (const auto& [shape, id] : j.at("shapes").items()) {
      auto it = index.find(id.get<std::uint64_t>());
      if (it == index.end()) return corrupt("a shape names unknown template " + id.dump());
      shapes[shape].cluster = it->second;
    }
    std::unordered_map<std::string, std::uint64_t, TokenHash, std::equal_to<>> tokens;
    for (const auto& [t, n] : j.at("keywords").items()) tokens.emplace(t, n.get<std::uint64_t>());
    clusters_ = std::move(clusters);
    by_shape_ = std::move(shapes);
    token_lines_ = std::move(tokens);
    by_length_.clear();
    by_collapsed_.clear();
    for (std::size_t i = 0; i < clusters_.size(); ++i) {
      by_length_[clusters_[i].tokens.size()].push_back(static_cast<int>(i));
      index_collapsed(static_cast<int>(i));
    }
    siblings_.clear();
    aliases_.clear();
    pinned_.clear();
    next_id_ = std::max(j.at("next_id").get<std::uint64_t>(), max_id + 1);
    lines_ = j.at("lines").get<std::uint64_t>();
  } catch (const Json::exception& e) {
    return corrupt(std::string("unexpected layout: ") + e.what());
  }
  return {};
}

Status TemplateMiner::save(const std::filesystem::path& file) const {
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return std::unexpected(errno_error(errno, "writing " + tmp.string()));
    out << to_json();
    out.flush();
    if (!out) return std::unexpected(errno_error(errno, "writing " + tmp.string()));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) return fail(ErrorCode::kIo, "renaming " + tmp.string() + ": " + ec.message());
  return {};
}

Status TemplateMiner::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return fail(ErrorCode::kNotFound, file.string() + ": no saved templates");
  std::stringstream ss;
  ss << in.rdbuf();
  return from_json(ss.str(), file.string());
}

}  // namespace aion::logs
