#include "aion/telemetry/query.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "aion/telemetry/exposition.h"

namespace aion::telemetry {
namespace {

bool name_char(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

std::unexpected<Error> bad(std::string_view text, std::size_t pos, const std::string& what) {
  return fail(ErrorCode::kInvalidArgument, "query '" + std::string(text) + "': " + what +
                                               " at column " + std::to_string(pos + 1) + "\n  " +
                                               std::string(text) + "\n  " + std::string(pos, ' ') +
                                               "^");
}

// Reads a double-quoted string with \\, \" and \n escapes starting at text[pos] == '"'.
bool read_quoted(std::string_view text, std::size_t& pos, std::string& out) {
  if (pos >= text.size() || text[pos] != '"') return false;
  ++pos;
  out.clear();
  while (pos < text.size()) {
    char c = text[pos++];
    if (c == '"') return true;
    if (c == '\\' && pos < text.size()) {
      char e = text[pos++];
      out += e == 'n' ? '\n' : e;
    } else {
      out += c;
    }
  }
  return false;
}

void skip_space(std::string_view t, std::size_t& p) {
  while (p < t.size() && std::isspace(static_cast<unsigned char>(t[p]))) ++p;
}

}  // namespace

bool Selector::matches(std::string_view n, const Labels& labels) const {
  if (!name.empty() && n != name) return false;
  for (const auto& m : matchers) {
    std::string v;
    if (m.label == "__name__") {
      v = std::string(n);
    } else {
      for (const auto& [k, val] : labels) {
        if (k == m.label) v = val;
      }
    }
    if ((v == m.value) != m.equal) return false;
  }
  return true;
}

Result<Selector> parse_selector(std::string_view text) {
  Selector s;
  std::size_t p = 0;
  skip_space(text, p);
  if (p == text.size())
    return bad(text, p, "empty query; give a metric name (see `aion metrics ls`)");
  std::size_t start = p;
  while (p < text.size() && name_char(text[p], p == start)) ++p;
  s.name = std::string(text.substr(start, p - start));
  skip_space(text, p);
  if (p < text.size() && text[p] == '{') {
    ++p;
    while (true) {
      skip_space(text, p);
      if (p < text.size() && text[p] == '}') {
        ++p;
        break;
      }
      std::size_t ls = p;
      while (p < text.size() && name_char(text[p], p == ls) && text[p] != ':') ++p;
      if (p == ls) return bad(text, p, "expected a label name");
      Matcher m;
      m.label = std::string(text.substr(ls, p - ls));
      skip_space(text, p);
      if (text.substr(p, 2) == "!=") {
        m.equal = false;
        p += 2;
      } else if (text.substr(p, 2) == "=~" || text.substr(p, 2) == "!~") {
        return bad(text, p, "regular-expression matchers are not supported; use = or !=");
      } else if (p < text.size() && text[p] == '=') {
        ++p;
      } else {
        return bad(text, p, "expected = or != after label '" + m.label + "'");
      }
      skip_space(text, p);
      std::size_t vs = p;
      if (!read_quoted(text, p, m.value)) {
        return bad(text, vs, "expected a double-quoted value for label '" + m.label + "'");
      }
      s.matchers.push_back(std::move(m));
      skip_space(text, p);
      if (p < text.size() && text[p] == ',') {
        ++p;
        continue;
      }
      if (p < text.size() && text[p] == '}') {
        ++p;
        break;
      }
      return bad(text, p, "expected , or } after a label matcher");
    }
  }
  skip_space(text, p);
  if (p != text.size()) {
    return bad(text, p,
               s.name.empty() && s.matchers.empty()
                   ? "a metric name starts with a letter, _ or :"
                   : "unexpected '" + std::string(1, text[p]) + "'");
  }
  if (s.name.empty() && s.matchers.empty()) return bad(text, 0, "expected a metric name");
  return s;
}

std::optional<std::pair<std::string, Labels>> parse_series_key(std::string_view key) {
  auto brace = key.find('{');
  std::pair<std::string, Labels> out;
  out.first = std::string(key.substr(0, brace));
  if (brace == std::string_view::npos) return out;
  std::size_t p = brace + 1;
  while (p < key.size() && key[p] != '}') {
    auto eq = key.find('=', p);
    if (eq == std::string_view::npos) return std::nullopt;
    std::string label(key.substr(p, eq - p));
    p = eq + 1;
    std::string value;
    if (!read_quoted(key, p, value)) return std::nullopt;
    out.second.emplace_back(std::move(label), std::move(value));
    if (p < key.size() && key[p] == ',') ++p;
  }
  return out;
}

Result<std::int64_t> parse_duration_ms(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  std::string_view unit = text.substr(i);
  if (i == 0) {
    return fail(ErrorCode::kInvalidArgument,
                "'" + std::string(text) + "' is not a duration; write e.g. 90s, 15m, 1h, 2d");
  }
  std::int64_t mult = 0;
  if (unit == "ms") mult = 1;
  if (unit == "s") mult = 1000;
  if (unit == "m") mult = 60'000;
  if (unit == "h") mult = 3'600'000;
  if (unit == "d") mult = 86'400'000;
  if (unit == "w") mult = 7 * 86'400'000LL;
  if (mult == 0) {
    return fail(ErrorCode::kInvalidArgument, "'" + std::string(text) + "': unknown unit '" +
                                                 std::string(unit) + "' (use ms, s, m, h, d or w)");
  }
  // Digit by digit with overflow checks: a count of any length either fits in int64
  // milliseconds or is refused, never wrapped.
  std::int64_t n = 0, ms = 0;
  for (std::size_t k = 0; k < i; ++k) {
    const int digit = text[k] - '0';
    if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, digit, &n) ||
        __builtin_mul_overflow(n, mult, &ms)) {
      return fail(ErrorCode::kInvalidArgument,
                  "'" + std::string(text) +
                      "' is too long a duration (at most about 292 million years); write a "
                      "smaller one such as 30d");
    }
  }
  return ms;
}

Result<Aggregation> parse_aggregation(std::string_view text) {
  if (text == "raw") return Aggregation::kRaw;
  if (text == "avg") return Aggregation::kAvg;
  if (text == "min") return Aggregation::kMin;
  if (text == "max") return Aggregation::kMax;
  if (text == "sum") return Aggregation::kSum;
  if (text == "last") return Aggregation::kLast;
  if (text == "p95") return Aggregation::kP95;
  return fail(ErrorCode::kInvalidArgument, "unknown aggregation '" + std::string(text) +
                                               "' (use avg, min, max, sum, last, p95 or raw)");
}

namespace {

// One series over [from, to]: rollup buckets where the raw samples no longer reach (oldest
// first), then the raw samples.
struct SeriesData {
  std::vector<tsdb::Aggregate> older;
  std::vector<tsdb::Sample> raw;
  std::size_t size() const { return older.size() + raw.size(); }
  std::int64_t t(std::size_t i) const {
    return i < older.size() ? older[i].t_ms : raw[i - older.size()].t_ms;
  }
};

SeriesData read_series(const Stores& stores, const std::string& key, std::int64_t from,
                       std::int64_t to) {
  SeriesData out;
  std::int64_t newer_from = INT64_MAX;  // the oldest time a finer source covers
  if (stores.raw) {
    if (auto f = stores.raw->first_time(key)) {
      newer_from = *f;
      out.raw = stores.raw->query(key, std::max(from, *f), to);
    }
  }
  // Older parts from the rollups, finest first, each up to where the finer one begins.
  std::vector<std::vector<tsdb::Aggregate>> older;
  for (const tsdb::Rollup* r : stores.rollups) {
    if (from >= newer_from) break;
    auto b = r->query(key, from, std::min(to, newer_from - 1));
    // Drop buckets that reach into what the finer source covers.
    while (!b.empty() && b.back().t_ms + r->width_ms() > newer_from) b.pop_back();
    if (b.empty()) continue;
    newer_from = b.front().t_ms;
    older.push_back(std::move(b));
  }
  for (auto it = older.rbegin(); it != older.rend(); ++it)
    out.older.insert(out.older.end(), it->begin(), it->end());
  return out;
}

// Aggregates records [i, j) of `d`: raw samples count as buckets of one.
double aggregate(const SeriesData& d, std::size_t i, std::size_t j, Aggregation agg,
                 std::vector<double>& scratch) {
  const std::size_t n_old = d.older.size();
  auto value = [&](std::size_t k) { return k < n_old ? d.older[k].avg() : d.raw[k - n_old].value; };
  switch (agg) {
    case Aggregation::kAvg:
    case Aggregation::kSum: {
      double sum = 0, n = 0;
      for (std::size_t k = i; k < j; ++k) {
        if (k < n_old) {
          sum += d.older[k].sum;
          n += d.older[k].count;
        } else {
          sum += d.raw[k - n_old].value;
          n += 1;
        }
      }
      return agg == Aggregation::kSum ? sum : sum / n;
    }
    case Aggregation::kMin:
    case Aggregation::kMax: {
      const bool min = agg == Aggregation::kMin;
      double v = 0;
      for (std::size_t k = i; k < j; ++k) {
        double x = k < n_old ? (min ? d.older[k].min : d.older[k].max) : d.raw[k - n_old].value;
        if (k == i || (min ? x < v : x > v)) v = x;
      }
      return v;
    }
    case Aggregation::kLast: return value(j - 1);
    case Aggregation::kP95: {
      // Nearest rank.
      scratch.clear();
      for (std::size_t k = i; k < j; ++k) scratch.push_back(value(k));
      std::sort(scratch.begin(), scratch.end());
      auto rank = static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(scratch.size())));
      return scratch[std::max<std::size_t>(1, rank) - 1];
    }
    case Aggregation::kRaw: break;
  }
  return 0;
}

}  // namespace

Result<std::vector<SeriesResult>> run_query(const tsdb::Db& db, const Selector& selector,
                                            const QueryRange& range, std::string_view text) {
  return run_query(Stores{&db, {}}, selector, range, text);
}

Result<std::vector<SeriesResult>> run_query(const Stores& stores, const Selector& selector,
                                            const QueryRange& range, std::string_view text) {
  if (range.to_ms < range.from_ms) {
    return fail(ErrorCode::kInvalidArgument, "the query's range ends before it starts");
  }
  if (range.step_ms > 0 && (range.to_ms - range.from_ms) / range.step_ms > 100'000) {
    return fail(ErrorCode::kInvalidArgument,
                "more than 100,000 steps; choose a larger --step or a shorter --since");
  }
  std::vector<std::string> keys;
  if (stores.raw) keys = stores.raw->series();
  for (const tsdb::Rollup* r : stores.rollups) {
    auto more = r->series();
    keys.insert(keys.end(), more.begin(), more.end());
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());

  std::vector<SeriesResult> out;
  bool name_known = false;
  for (const auto& key : keys) {
    auto parsed = parse_series_key(key);
    if (!parsed) continue;
    if (parsed->first == selector.name) name_known = true;
    if (!selector.matches(parsed->first, parsed->second)) continue;
    SeriesResult r{key, parsed->first, parsed->second, {}};
    SeriesData d = read_series(stores, key, range.from_ms, range.to_ms);
    if (range.step_ms <= 0 || range.agg == Aggregation::kRaw) {
      if (d.older.empty()) {
        r.points = std::move(d.raw);
      } else {
        r.points.reserve(d.size());
        for (const auto& a : d.older) r.points.push_back({a.t_ms, a.avg()});
        r.points.insert(r.points.end(), d.raw.begin(), d.raw.end());
      }
      out.push_back(std::move(r));
      continue;
    }
    std::size_t i = 0;
    const std::size_t n = d.size();
    std::vector<double> scratch;  // for p95
    for (std::int64_t t = range.from_ms; t <= range.to_ms && i < n; t += range.step_ms) {
      while (i < n && d.t(i) < t) ++i;
      std::size_t j = i;
      while (j < n && d.t(j) < t + range.step_ms) ++j;
      if (j == i) continue;
      r.points.push_back({t, aggregate(d, i, j, range.agg, scratch)});
      i = j;
    }
    out.push_back(std::move(r));
  }
  if (out.empty()) {
    // A known name with labels that match nothing, or an unknown name: say which.
    return fail(ErrorCode::kNotFound,
                "no series matches '" + std::string(text) + "'" +
                    (name_known ? ": the metric exists, but none of its series has those labels"
                                : ": there is no metric named '" + selector.name + "'") +
                    " (list them with `aion metrics ls`)");
  }
  return out;
}

}  // namespace aion::telemetry
