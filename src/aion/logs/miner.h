// TemplateMiner: online log template mining. Each line gets a template id, the template's
// text (variables as "<*>") and the line's parameters (the values behind the variables);
// templates are kept with counts and first/last-seen times, and a callback hears of every
// template the first time it is seen.
//
// How a line is parsed (aion's own parser; Drain's fixed-depth prefix tree is the baseline
// it is measured against in bench/loghub_eval):
//  1. The MaskSet hides values it recognises (IPs, hex, numbers, paths...).
//  2. The line is split on whitespace. A token that still holds a digit is a variable.
//  3. The line's shape (its tokens with variables as wildcards) is looked up exactly; a shape
//     seen before goes straight to its template.
//  4. Otherwise the line is compared with the templates of the same token count. Tokens
//     that are frequent in all lines seen (constants, such as "opened" and "closed") must
//     agree; rare ones (user names, host names) may differ, and a template absorbs a line
//     when enough of its constant tokens agree. Positions that differ become variables.
//     Failing that, a template whose tokens differ only by a run of variables of another
//     length (a list, a message with spaces) takes the line.
//  5. Otherwise the line starts a new template.
// The result depends only on the order of the lines, never on timing or addresses
// (deterministic). Template ids are never reused and survive save()/load().
//
// Bounds (a flood of unique lines must not grow memory or templates.json without end): a
// line is mined on its first max_line_bytes only; at most max_templates templates are kept,
// and when a new one needs room the least useful go first (seen once and never again, then
// the fewest lines, then the longest unseen), never a pinned one nor one with keep_hits
// lines or more; the shape cache and the keyword counters are capped likewise; save() writes
// at most max_state_bytes, the most used templates first.
//
// Not thread-safe: callers serialise add() (LogService holds a mutex).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aion/core/error.h"
#include "aion/logs/masks.h"

namespace aion::logs {

// The defaults of similarity, min_frequent, slot_words and first_token are what
// bench/loghub_eval --cv chooses on all twelve Loghub-2k sets; its cross-validation (chosen on
// one half, scored on the other) is the accuracy to expect on logs it has not seen.
struct MinerOptions {
  // Share (0-1) of a template's constant tokens a line of the same length must share to be
  // absorbed by it.
  double similarity = 0.8;
  // A token seen in at least this share of all lines so far (and at least min_frequent
  // times) counts as a keyword: two templates that differ in one are kept apart.
  std::uint64_t min_frequent = 2;
  // Lines whose first tokens differ (and hold no digit) never share a template.
  bool first_token = true;
  // Templates that differ only by one word in one slot are kept apart ("session opened" /
  // "session closed") until that slot has taken this many different words; then the slot is
  // a variable (user names, host names) and they become one template.
  std::size_t slot_words = 4;
  // At most this many templates (merged ones included). A new shape beyond it evicts the
  // least useful templates (see above); when every template is pinned or has keep_hits lines,
  // the line gets the template "<overflow>" (id 0) instead.
  std::size_t max_templates = 10000;
  // Templates with at least this many lines are never evicted.
  std::uint64_t keep_hits = 100;
  // A line is mined on its first this many bytes (cut back to a whole UTF-8 character):
  // enough for any message's fixed words, and a bound on one template's size.
  std::size_t max_line_bytes = 4096;
  // Known shapes kept (the fast path of step 3); beyond it the least used are forgotten and
  // their lines take the slower path once more.
  std::size_t max_shapes = 40000;
  // Distinct tokens counted for the keyword statistics; when full, the rare ones are dropped.
  std::size_t max_tokens = 200000;
  // save() and to_json() write at most this many bytes; templates that do not fit (the
  // least used) are left out of the file, and shapes and keywords are cut to fit.
  std::size_t max_state_bytes = 32u << 20;
  // A line of a shape not seen before is compared with at most this many templates of its
  // length (the oldest first), so that a flood of garbage lines, each a template of its own,
  // costs a bounded time per line instead of one growing with every line before it.
  std::size_t max_candidates = 4096;
  // Lines of different sources never share a template (a journal export's daemons are mined
  // apart, as if each had its own file); the source is part of the shape.
  bool separate_sources = false;
};

struct Template {
  std::uint64_t id = 0;
  std::string text;  // tokens joined by one space, variables as "<*>"
  std::uint64_t count = 0;
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
  std::string example;  // the first line that made it
  std::string source;   // where that line came from ("kmsg", "journal", a file path, a program)
};

struct ParsedLine {
  std::uint64_t template_id = 0;
  std::string template_text;
  std::vector<std::string> params;
  bool new_template = false;  // this line created the template
};

class TemplateMiner {
 public:
  using NewTemplateFn = std::function<void(const Template&)>;

  explicit TemplateMiner(MaskSet masks, MinerOptions options = {});
  ~TemplateMiner();
  TemplateMiner(TemplateMiner&&) noexcept;
  TemplateMiner& operator=(TemplateMiner&&) noexcept;

  // Called once per template, when add() creates it (never for templates from load()).
  void on_new_template(NewTemplateFn fn) { on_new_ = std::move(fn); }

  // Parses and learns one line's content (without its header). `time_ms` is when the line
  // was logged, `source` where from; both are kept for first/last-seen.
  ParsedLine add(std::string_view content, std::int64_t time_ms = 0, std::string_view source = {});
  // The template a line would get, without learning (template_id 0 when none fits).
  ParsedLine match(std::string_view content, std::string_view source = {}) const;

  // Every template, ordered by id.
  std::vector<Template> templates() const;
  // The id a template has now: templates merged into another (see MinerOptions::slot_words)
  // answer with the one they became part of.
  std::uint64_t resolve(std::uint64_t id) const;
  std::size_t size() const;
  std::uint64_t lines() const { return lines_; }
  // Templates evicted to make room so far (see MinerOptions::max_templates).
  std::uint64_t evicted() const { return evicted_; }
  // Keeps a template (an incident refers to it) from eviction; unknown ids are ignored.
  void pin(std::uint64_t id);
  const MinerOptions& options() const { return options_; }

  // JSON state: the templates with their tokens, counts and the keyword statistics.
  std::string to_json() const;
  // Replaces this miner's state with saved JSON. kCorrupt naming `source` when malformed.
  Status from_json(std::string_view json, std::string_view source);
  // Atomic save (temp file + rename) and load; load of a missing file is kNotFound.
  Status save(const std::filesystem::path& file) const;
  Status load(const std::filesystem::path& file);

 private:
  struct Cluster;
  struct Line;
  // Hashes std::string keys and std::string_view probes alike (lookup without a copy).
  struct TokenHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  // A shape seen before: its template and the keyword counters of its distinct constant
  // tokens (a line of a known shape counts its tokens without looking them up).
  struct Shape {
    int cluster = -1;
    std::vector<std::uint64_t*> counters;
    bool counted = false;    // counters are filled (not yet for shapes from load())
    std::uint64_t hits = 0;  // lines of this shape
    std::uint64_t last = 0;  // lines_ when one was last seen
  };
  void prepare(std::string_view content, std::string_view source, Line& line) const;
  void token_form(const Line& line, std::size_t i, std::string& out) const;
  void count_tokens(const Line& line, Shape* shape);
  struct Found {
    int cluster = -1;
    std::vector<std::pair<int, std::size_t>> near;  // (cluster, slot) one word apart
  };
  Found find(const Line& line) const;
  int find_collapsed(const Line& line) const;
  void note_siblings(int a, int b, std::size_t pos);
  void absorb(int keep, int other);
  int create(const Line& line, Found found, std::string_view content, std::int64_t time_ms,
             std::string_view source);
  int learn(int ci, const Line& line);
  void write_templates(std::string& out, std::vector<bool>& saved, std::size_t& used,
                       std::size_t limit) const;
  int merge_duplicate(int ci);
  std::size_t index_of(std::uint64_t id) const;
  ParsedLine result(const Cluster& c, const Line& line) const;
  bool keyword(std::string_view token) const;
  // The collapsed-shape index (find()'s last step) for cluster `ci`.
  void index_collapsed(int ci);
  void unindex_collapsed(int ci);
  // Evicts templates until one more fits; false when none may go. Indices into clusters_
  // change: `remap` (when given) receives old index -> new index (-1: gone).
  bool make_room(std::vector<int>* remap);
  void compact(const std::vector<bool>& drop, std::vector<int>* remap);
  void trim_shapes();
  void trim_tokens();

  // What a masking rule's values are, for template text: an address whose port is a piece of
  // its own, a number whose ':'-separated parts are ("20:30:31"), a quantity whose unit
  // stays when constant, or any other value (one piece).
  enum class RuleKind : unsigned char { kValue, kAddress, kNumber, kQuantity };

  MaskSet masks_;
  std::vector<RuleKind> rule_kinds_;  // per mask rule
  MinerOptions options_;
  NewTemplateFn on_new_;
  std::vector<Cluster> clusters_;
  std::unordered_map<std::size_t, std::vector<int>> by_length_;
  std::unordered_map<std::string, Shape, TokenHash, std::equal_to<>> by_shape_;
  std::unordered_map<std::string, std::set<int>> siblings_;
  std::unordered_map<std::uint64_t, std::uint64_t> aliases_;
  // Clusters by their collapsed tokens (runs of variables as one), ascending indices.
  std::unordered_map<std::string, std::vector<int>> by_collapsed_;
  std::set<std::uint64_t> pinned_;
  std::uint64_t evicted_ = 0;
  // Lines each token occurs in. Nodes never move, so Shape::counters may point into it.
  std::unordered_map<std::string, std::uint64_t, TokenHash, std::equal_to<>> token_lines_;
  std::unique_ptr<Line> scratch_;  // add()'s line buffers, reused
  std::string form_scratch_;       // add()'s token form buffer, reused
  std::uint64_t lines_ = 0;
  std::uint64_t next_id_ = 1;
};

}  // namespace aion::logs
