#include "aion/logs/masks.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "aion/core/config.h"

namespace aion::logs {
namespace {

ConfigSchema masks_schema() {
  ConfigSchema rule;
  rule.string("name", "", "Short name of the rule")
      .string("regex", "", "RE2 expression; group 1, when present, is the part replaced")
      .string("token", "", "Replacement shown in parameter lists, such as <IP>")
      .string("scanner", "",
              "Built-in scanner that runs this regex faster (checked against RE2 at load)")
      .string("source", "", "Where the rule comes from");
  ConfigSchema s;
  s.integer("schema_version", 0, "Version of this file's layout", 1, 1)
      .table_array("mask", rule, "The masking rules, applied in order");
  return s;
}

// Hand-written scanners for the shipped rules. Each gives, for its one expression, what RE2's
// unanchored leftmost-first search from `pos` gives (with the whole text as context for ^, $
// and \b): the leftmost match start, then the first alternative/greediest repetition that
// completes. RE2's classes here are ASCII: \d [0-9], \w [0-9A-Za-z_], \s [\t\n\f\r ].
enum Scanner : int {
  kRe2 = 0,
  kUuid,
  kDate,
  kMac,
  kIp,
  kPci,
  kBlock,
  kHex,
  kPath,
  kSize,
  kNum,
  kUrl,
  kIsoTime,
};

// The scanners by the name a rule gives in its `scanner` field.
struct NamedScanner {
  std::string_view name;
  Scanner scanner;
};
constexpr NamedScanner kScannerNames[] = {
    {"uuid", kUuid}, {"date", kDate},   {"mac", kMac}, {"ip", kIp},
    {"pci", kPci},   {"block", kBlock}, {"hex", kHex}, {"path", kPath},
    {"size", kSize}, {"number", kNum},  {"url", kUrl}, {"isotime", kIsoTime},
};

// Lines a scanner must mask exactly as RE2 masks them with its rule's expression before it
// may stand in for it: each kind of value, at the start and end of a line, beside the
// punctuation logs put around values, and near-misses on both sides.
constexpr std::string_view kProbes[] = {
    "id 123e4567-e89b-12d3-a456-426614174000 ok",
    "123E4567-E89B-12D3-A456-42661417400Z 123e4567-e89b-12d3-a456-4266141740001",
    "at Mon Jan  1 12:00:00 2024 and Tue Feb 29 1:02:03",
    "Sun Dec 31 23:59:59x Fri Nov 5 00:00:00 19999",
    "mac 00:1A:2b:3c:4D:5e, 00:1a:2b:3c:4d aa:bb:cc:dd:ee:ff:00",
    "from 10.0.0.7:8080 to 192.168.1.1, (1.2.3.4) x1.2.3.4 1.2.3.4.5 999.1.1.1:99999",
    "10.0.0.1",
    "pci 0000:3b:00.0 0000:3B:1f.7: 0000:3b:00.8 00000:3b:00.0",
    "blk_-1608999687919862906 blk_42 xblk_7 blk_ blk_-",
    "0x1F 0XdeadBEEF 0x g0x12 0x12g",
    "open /var/log/syslog failed; path=/tmp/a/b: (/usr/lib/x86_64-linux-gnu/libc.so.6)",
    "\"/home/u/.cache/x\" [/a/b/] /single /a/b/c/ /a@b/c+d~e%f",
    "size 12KB 3.5 GiB 100% 7ms 2 sec 1min 10bytes 5B 6 us 9ns 4TiB 8PB 1 Ei",
    "took 250ms, -3.2% +4 MiB x12MB 12MBx",
    "n=42 -7 +8 3.14 1,234,567 12:34:56 v1.2 a1 1a 1.2.3",
    "42",
    "",
    "word_123 x-9 9-x (77) [88] {99} <100>",
    "get http://example.com/a?b=1 and hdfs://nn:9000/x, s3://b/k\"q <svn+ssh://h/r>",
    "x_http://a.b 1http://c +ftp://d.e/f -git://g :// http:// http://\"x",
    "spark://CoarseGrainedScheduler@10.0.0.1:4040 akka.tcp://sys@h:1/user",
    "at 2026-12-07T02:13:44.531+00:00 info, 2026-12-07 02:13 x2026-12-07T02:13:44Z",
    "2026-12-07T02:13:44Zabc 2026-12-07T02:13:44.5x 2026-12-07T02:13:4 2026-12-07T02:13:44+0530",
    "1999-01-01T00:00:00,25-08 2026-12-07T02:13:44+05: 2026-12-07T02:13:44.123456789Z.",
};

enum CharClass : unsigned char {
  kDigit = 1,
  kAlpha = 2,
  kUnderscore = 4,
  kHexDigit = 8,
  kSpace = 16,      // RE2's \s
  kPathExtra = 32,  // . - @ + ~ %
  kSign = 64,       // + -
  kSlash = 128,
};

constexpr std::array<unsigned char, 256> make_classes() {
  std::array<unsigned char, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] |= kDigit | kHexDigit;
  for (int c = 'a'; c <= 'z'; ++c) t[c] |= kAlpha;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] |= kAlpha;
  for (int c = 'a'; c <= 'f'; ++c) t[c] |= kHexDigit;
  for (int c = 'A'; c <= 'F'; ++c) t[c] |= kHexDigit;
  t['_'] |= kUnderscore;
  for (char c : {'\t', '\n', '\f', '\r', ' '}) t[static_cast<unsigned char>(c)] |= kSpace;
  for (char c : {'.', '-', '@', '+', '~', '%'}) t[static_cast<unsigned char>(c)] |= kPathExtra;
  t['+'] |= kSign;
  t['-'] |= kSign;
  t['/'] |= kSlash;
  return t;
}
constexpr std::array<unsigned char, 256> kClasses = make_classes();

// Bounds-checked character classes: a position past the end is in no class.
class Text {
 public:
  explicit Text(std::string_view s) : s_(s) {}
  std::size_t size() const { return s_.size(); }
  char at(std::size_t i) const { return i < s_.size() ? s_[i] : '\0'; }
  bool is(std::size_t i, unsigned char cls) const {
    return i < s_.size() && (kClasses[static_cast<unsigned char>(s_[i])] & cls) != 0;
  }
  bool digit(std::size_t i) const { return is(i, kDigit); }
  bool alnum(std::size_t i) const { return is(i, kDigit | kAlpha); }
  bool word(std::size_t i) const { return is(i, kDigit | kAlpha | kUnderscore); }
  bool hex(std::size_t i) const { return is(i, kHexDigit); }
  // End of the run of digits starting at i.
  std::size_t digits(std::size_t i) const {
    while (digit(i)) ++i;
    return i;
  }
  bool has(std::size_t i, std::string_view lit) const {
    return i <= s_.size() && s_.substr(i, lit.size()) == lit;
  }
  // (?:$|[^A-Za-z0-9]) after a match ending at i.
  bool loose_end(std::size_t i) const { return i >= s_.size() || !alnum(i); }
  // \b before a word character at i / after one ending at i.
  bool word_start(std::size_t i) const { return i == 0 || !word(i - 1); }
  bool word_end(std::size_t i) const { return !word(i); }
  std::string_view view() const { return s_; }

 private:
  std::string_view s_;
};

// A scanner's answer: the replaced part [from, to).
struct Span {
  std::size_t from = 0, to = 0;
};

// Fixed-length patterns anchored on a separator: every match holds `sep` at offset `lead`,
// so trying the separators from left to right tries match starts from left to right.
template <typename Check>
bool scan_by_separator(const Text& t, std::size_t pos, char sep, std::size_t lead, Check&& check,
                       Span& out) {
  std::string_view s = t.view();
  for (std::size_t d = s.find(sep, pos + lead); d != std::string_view::npos;
       d = s.find(sep, d + 1)) {
    std::size_t start = d - lead;
    if (check(start)) {
      out.from = start;
      return true;
    }
  }
  return false;
}

bool hex_run(const Text& t, std::size_t i, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) {
    if (!t.hex(i + k)) return false;
  }
  return true;
}

bool scan_uuid(const Text& t, std::size_t pos, Span& out) {
  auto check = [&](std::size_t s) {
    return hex_run(t, s, 8) && t.at(s + 8) == '-' && hex_run(t, s + 9, 4) && t.at(s + 13) == '-' &&
           hex_run(t, s + 14, 4) && t.at(s + 18) == '-' && hex_run(t, s + 19, 4) &&
           t.at(s + 23) == '-' && hex_run(t, s + 24, 12);
  };
  if (!scan_by_separator(t, pos, '-', 8, check, out)) return false;
  out.to = out.from + 36;
  return true;
}

// isotime: \b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?\b
// The fixed part holds its one ':' at offset 13, so trying the ':'s from the left tries match
// starts from the left. At a start, the ends the optional parts allow are tried in RE2's order
// (each greedy part at its longest first); the first followed by a non-word byte wins.
std::size_t isotime_end(const Text& t, std::size_t s) {
  auto dd = [&](std::size_t i) { return t.digit(i) && t.digit(i + 1); };
  if (!t.word_start(s) || !dd(s) || !dd(s + 2) || t.at(s + 4) != '-' || !dd(s + 5) ||
      t.at(s + 7) != '-' || !dd(s + 8) || (t.at(s + 10) != 'T' && t.at(s + 10) != ' ') ||
      !dd(s + 11) || t.at(s + 13) != ':' || !dd(s + 14)) {
    return std::string_view::npos;
  }
  const std::size_t base = s + 16;
  std::vector<std::size_t> seconds;  // ends of the seconds part, in RE2's order
  if (t.at(base) == ':' && dd(base + 1)) {
    const std::size_t sec = base + 3;
    if ((t.at(sec) == '.' || t.at(sec) == ',') && t.digit(sec + 1)) {
      for (std::size_t f = t.digits(sec + 1); f >= sec + 2; --f) seconds.push_back(f);
    }
    seconds.push_back(sec);
  }
  seconds.push_back(base);
  for (std::size_t e : seconds) {
    std::size_t zones[3];
    std::size_t n = 0;
    if (t.at(e) == 'Z') {
      zones[n++] = e + 1;
    } else if ((t.at(e) == '+' || t.at(e) == '-') && dd(e + 1)) {
      if (t.at(e + 3) == ':' && dd(e + 4)) zones[n++] = e + 6;
      if (dd(e + 3)) zones[n++] = e + 5;
    }
    zones[n++] = e;
    for (std::size_t k = 0; k < n; ++k) {
      if (t.word_end(zones[k])) return zones[k];
    }
  }
  return std::string_view::npos;
}

bool scan_isotime(const Text& t, std::size_t pos, Span& out) {
  std::string_view s = t.view();
  for (std::size_t c = s.find(':', pos + 13); c != std::string_view::npos; c = s.find(':', c + 1)) {
    const std::size_t start = c - 13;
    const std::size_t end = isotime_end(t, start);
    if (end == std::string_view::npos) continue;
    out = {start, end};
    return true;
  }
  return false;
}

bool scan_mac(const Text& t, std::size_t pos, Span& out) {
  auto check = [&](std::size_t s) {
    if (!t.word_start(s)) return false;
    for (std::size_t k = 0; k < 6; ++k) {
      if (!hex_run(t, s + 3 * k, 2) || (k < 5 && t.at(s + 3 * k + 2) != ':')) return false;
    }
    return t.word_end(s + 17);
  };
  if (!scan_by_separator(t, pos, ':', 2, check, out)) return false;
  out.to = out.from + 17;
  return true;
}

// url: \b[A-Za-z][A-Za-z0-9+.\-]*://([^\s"'<>]+). Each "://" from the left: the run of
// scheme characters before it, starting at the leftmost letter that begins a word (and not
// before `pos`), and at least one address character after it.
bool url_char(char c) {
  return c != ' ' && c != '\t' && c != '\n' && c != '\f' && c != '\r' && c != '"' && c != '\'' &&
         c != '<' && c != '>';
}

bool scan_url(const Text& t, std::size_t pos, Span& out) {
  std::string_view s = t.view();
  auto scheme_char = [&](std::size_t i) {
    return t.alnum(i) || t.at(i) == '+' || t.at(i) == '.' || t.at(i) == '-';
  };
  for (std::size_t d = s.find("://", pos); d != std::string_view::npos; d = s.find("://", d + 1)) {
    std::size_t run = d;
    while (run > pos && scheme_char(run - 1)) --run;
    std::size_t start = std::string_view::npos;
    for (std::size_t i = run; i < d; ++i) {
      if (t.is(i, kAlpha) && t.word_start(i)) {
        start = i;
        break;
      }
    }
    if (start == std::string_view::npos) continue;
    std::size_t e = d + 3;
    while (e < s.size() && url_char(s[e])) ++e;
    if (e == d + 3) continue;
    out = {d + 3, e};
    return true;
  }
  return false;
}

bool scan_pci(const Text& t, std::size_t pos, Span& out) {
  auto check = [&](std::size_t s) {
    return t.word_start(s) && hex_run(t, s, 4) && t.at(s + 4) == ':' && hex_run(t, s + 5, 2) &&
           t.at(s + 7) == ':' && hex_run(t, s + 8, 2) && t.at(s + 10) == '.' &&
           t.at(s + 11) >= '0' && t.at(s + 11) <= '7' && t.word_end(s + 12);
  };
  if (!scan_by_separator(t, pos, ':', 4, check, out)) return false;
  out.to = out.from + 12;
  return true;
}

bool scan_block(const Text& t, std::size_t pos, Span& out) {
  std::string_view s = t.view();
  for (std::size_t b = s.find("blk_", pos); b != std::string_view::npos;
       b = s.find("blk_", b + 1)) {
    if (!t.word_start(b)) continue;
    std::size_t g = b + 4;
    std::size_t d = t.at(g) == '-' && t.digit(g + 1) ? g + 1 : g;
    if (!t.digit(d)) continue;
    out = {g, t.digits(d)};
    return true;
  }
  return false;
}

bool scan_hex(const Text& t, std::size_t pos, Span& out) {
  std::string_view s = t.view();
  for (std::size_t i = pos + 1; i < s.size(); ++i) {
    if ((s[i] != 'x' && s[i] != 'X') || s[i - 1] != '0' || !t.word_start(i - 1)) continue;
    std::size_t e = i + 1;
    while (t.hex(e)) ++e;
    if (e == i + 1 || !t.word_end(e)) continue;
    out = {i - 1, e};
    return true;
  }
  return false;
}

// The group of the ip rule at g: three "\d{1,3}\." then \d{1,3}, an optional ":\d{1,5}",
// then \b. A run of digits longer than its bound cannot be split (a digit follows), so each
// run is taken whole. Returns the group's end, or npos.
std::size_t ip_at(const Text& t, std::size_t g) {
  std::size_t p = g;
  for (int k = 0; k < 3; ++k) {
    std::size_t e = t.digits(p);
    if (e == p || e - p > 3 || t.at(e) != '.') return std::string_view::npos;
    p = e + 1;
  }
  std::size_t e = t.digits(p);
  if (e == p || e - p > 3) return std::string_view::npos;
  if (t.at(e) == ':') {
    std::size_t q = t.digits(e + 1);
    if (q > e + 1 && q - (e + 1) <= 5 && t.word_end(q)) return q;
  }
  return t.word_end(e) ? e : std::string_view::npos;
}

// Group ends of the size rule at g, or npos. Each optional part is deterministic: when it is
// present and what follows fails, leaving it out makes the unit start with a '.', a digit or
// a space, which no unit does.
std::size_t size_at(const Text& t, std::size_t g) {
  std::size_t p = g;
  if (t.at(p) == '-' || t.at(p) == '+') ++p;
  std::size_t e = t.digits(p);
  if (e == p) return std::string_view::npos;
  p = e;
  if (t.at(p) == '.' && t.digit(p + 1)) p = t.digits(p + 1);
  if (t.at(p) == ' ') ++p;
  auto unit = [&](std::size_t end) { return t.loose_end(end) ? end : std::string_view::npos; };
  const char c = t.at(p);
  std::size_t r = std::string_view::npos;
  if (c != '\0' && std::strchr("KMGTPE", c) != nullptr) {
    if (t.at(p + 1) == 'i') {
      if (t.at(p + 2) == 'B') r = unit(p + 3);
    } else if (t.at(p + 1) == 'B') {
      r = unit(p + 2);
    }
  }
  if (r == std::string_view::npos && c == 'B') r = unit(p + 1);
  if (r == std::string_view::npos && t.has(p, "bytes")) r = unit(p + 5);
  if (r == std::string_view::npos) {
    if ((c == 'm' || c == 'u' || c == 'n') && t.at(p + 1) == 's') {
      r = unit(p + 2);
    } else if (c == 's') {
      r = unit(p + 1);
    }
  }
  if (r == std::string_view::npos && t.has(p, "sec")) r = unit(p + 3);
  if (r == std::string_view::npos && t.has(p, "min")) r = unit(p + 3);
  if (r == std::string_view::npos && c == '%') r = unit(p + 1);
  return r;
}

// The num rule's group at g: a chain of digit runs joined by [.,:], ending where the rule's
// trailing context holds. Only the chain's last run can be followed by an alphanumeric, and
// then the chain one run shorter ends before a separator.
std::size_t num_at(const Text& t, std::size_t g) {
  std::size_t p = g;
  if (t.at(p) == '-' || t.at(p) == '+') ++p;
  std::size_t e = t.digits(p);
  if (e == p) return std::string_view::npos;
  std::size_t prev = std::string_view::npos;
  for (;;) {
    char c = t.at(e);
    if ((c == '.' || c == ',' || c == ':') && t.digit(e + 1)) {
      prev = e;
      e = t.digits(e + 1);
    } else {
      break;
    }
  }
  return t.loose_end(e) ? e : prev;
}

// Rules led by "(?:^|[class])(group)": the group starts at 0 (the ^ branch, tried first) or
// after a context character at or after pos. Every group starts with a byte of the classes
// `first`: other positions are passed over with one lookup each.
template <typename Lead, typename At>
bool scan_led(const Text& t, std::size_t pos, unsigned char first, Lead&& lead, At&& at,
              Span& out) {
  if (pos == 0) {
    std::size_t e = at(0);
    if (e != std::string_view::npos) {
      out = {0, e};
      return true;
    }
  }
  for (std::size_t s = pos; s < t.size(); ++s) {
    if (!t.is(s + 1, first) || !lead(s)) continue;
    std::size_t e = at(s + 1);
    if (e != std::string_view::npos) {
      out = {s + 1, e};
      return true;
    }
  }
  return false;
}

std::size_t path_at(const Text& t, std::size_t g) {
  std::size_t p = g;
  int parts = 0;
  while (t.at(p) == '/' && t.is(p + 1, kDigit | kAlpha | kUnderscore | kPathExtra)) {
    p += 2;
    while (t.is(p, kDigit | kAlpha | kUnderscore | kPathExtra)) ++p;
    ++parts;
  }
  if (parts < 2) return std::string_view::npos;
  return t.at(p) == '/' ? p + 1 : p;
}

bool scan(int scanner, const Text& t, std::size_t pos, Span& out) {
  auto not_alnum = [&](std::size_t s) { return !t.alnum(s); };
  switch (scanner) {
    case kUuid: return scan_uuid(t, pos, out);
    case kMac: return scan_mac(t, pos, out);
    case kPci: return scan_pci(t, pos, out);
    case kBlock: return scan_block(t, pos, out);
    case kHex: return scan_hex(t, pos, out);
    case kIp:
      return scan_led(
          t, pos, kDigit, [&](std::size_t s) { return !t.word(s) && t.at(s) != '.'; },
          [&](std::size_t g) { return ip_at(t, g); }, out);
    case kPath:
      return scan_led(
          t, pos, kSlash,
          [&](std::size_t s) {
            char c = t.at(s);
            return t.is(s, kSpace) || c == '=' || c == ':' || c == '(' || c == '[' || c == '"' ||
                   c == '\'';
          },
          [&](std::size_t g) { return path_at(t, g); }, out);
    case kSize:
      return scan_led(
          t, pos, kDigit | kSign, not_alnum, [&](std::size_t g) { return size_at(t, g); }, out);
    case kUrl: return scan_url(t, pos, out);
    case kIsoTime: return scan_isotime(t, pos, out);
    case kNum:
      return scan_led(
          t, pos, kDigit | kSign, not_alnum, [&](std::size_t g) { return num_at(t, g); }, out);
    default: return false;
  }
}

// Bytes of a line that rules need; masking only removes bytes (into placeholders), so a rule
// whose needed byte is absent from the line cannot match at any step. One table lookup and
// an OR per byte, kept in a register (a bit set in memory would be a read-modify-write each).
enum NeedByte : unsigned char {
  kHasColon = 1,
  kHasDash = 2,
  kHasDot = 4,
  kHasUnderscore = 8,
  kHasX = 16,
  kHasSlash = 32,
  kHasDigit = 64,
  kHasPlaceholder = 128,
};

constexpr std::array<unsigned char, 256> make_need_bytes() {
  std::array<unsigned char, 256> t{};
  t[':'] = kHasColon;
  t['-'] = kHasDash;
  t['.'] = kHasDot;
  t['_'] = kHasUnderscore;
  t['x'] = t['X'] = kHasX;
  t['/'] = kHasSlash;
  for (int c = '0'; c <= '9'; ++c) t[c] = kHasDigit;
  t[static_cast<unsigned char>(kPlaceholder)] = kHasPlaceholder;
  return t;
}
constexpr std::array<unsigned char, 256> kNeedBytes = make_need_bytes();

class ByteSet {
 public:
  explicit ByteSet(std::string_view s) {
    unsigned a = 0, b = 0;  // two chains: the ORs of neighbouring bytes do not wait on each other
    std::size_t i = 0;
    for (; i + 1 < s.size(); i += 2) {
      a |= kNeedBytes[static_cast<unsigned char>(s[i])];
      b |= kNeedBytes[static_cast<unsigned char>(s[i + 1])];
    }
    if (i < s.size()) a |= kNeedBytes[static_cast<unsigned char>(s[i])];
    bits_ = static_cast<unsigned char>(a | b);
  }
  bool has(NeedByte n) const { return (bits_ & n) != 0; }

 private:
  unsigned char bits_ = 0;
};

// Whether a rule with this scanner can match a line made of `b`'s bytes.
bool may_match(int scanner, const ByteSet& b) {
  switch (scanner) {
    case kUuid: return b.has(kHasDash);
    case kDate: return b.has(kHasColon);
    case kMac:
    case kPci: return b.has(kHasColon);
    case kIp: return b.has(kHasDot);
    case kBlock: return b.has(kHasUnderscore);
    case kHex: return b.has(kHasX);
    case kPath: return b.has(kHasSlash);
    case kSize:
    case kNum: return b.has(kHasDigit);
    case kUrl: return b.has(kHasColon) && b.has(kHasSlash);
    case kIsoTime: return b.has(kHasColon) && b.has(kHasDash);
    default: return true;
  }
}

// The date rule is rare in logs: RE2 runs only when a weekday name and a space are present.
bool may_hold_date(std::string_view s) {
  static constexpr std::string_view kDays[] = {"Mon ", "Tue ", "Wed ", "Thu ",
                                               "Fri ", "Sat ", "Sun "};
  for (std::size_t i = 0; i + 4 <= s.size(); ++i) {
    if (s[i + 3] != ' ') continue;
    for (auto d : kDays) {
      if (s.compare(i, 4, d) == 0) return true;
    }
  }
  return false;
}

}  // namespace

struct MaskSet::Found {
  std::size_t from = 0, to = 0;  // the replaced part (empty: nothing to replace)
  std::size_t end = 0;           // the whole match's end
};

MaskSet::MaskSet() = default;
MaskSet::~MaskSet() = default;
MaskSet::MaskSet(MaskSet&&) noexcept = default;
MaskSet& MaskSet::operator=(MaskSet&&) noexcept = default;

Result<MaskSet> MaskSet::from_rules(std::vector<MaskRule> rules, std::string_view source) {
  MaskSet set;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const MaskRule& r = rules[i];
    std::string where = std::string(source) + ": mask[" + std::to_string(i) + "]" +
                        (r.name.empty() ? "" : " (" + r.name + ")");
    for (auto [key, value] :
         {std::pair{"name", &r.name}, {"regex", &r.regex}, {"token", &r.token}}) {
      if (value->empty())
        return fail(ErrorCode::kCorrupt, where + ": " + key + ": must not be empty");
    }
    RE2::Options opt;
    opt.set_encoding(RE2::Options::EncodingLatin1);
    opt.set_log_errors(false);
    auto re = std::make_shared<const RE2>(r.regex, opt);
    if (!re->ok()) {
      return fail(ErrorCode::kCorrupt, where + ": regex: " + re->error() + " in '" + r.regex + "'");
    }
    if (RE2::FullMatch("", *re)) {
      return fail(ErrorCode::kCorrupt,
                  where + ": regex: matches the empty string, so it would mask nothing useful");
    }
    int scanner = kRe2;
    if (!r.scanner.empty()) {
      for (const auto& n : kScannerNames) {
        if (n.name == r.scanner) scanner = n.scanner;
      }
      if (scanner == kRe2) {
        std::string known;
        for (const auto& n : kScannerNames)
          known += (known.empty() ? "" : ", ") + std::string(n.name);
        return fail(ErrorCode::kCorrupt, where + ": scanner: unknown scanner '" + r.scanner +
                                             "' (built in: " + known + ")");
      }
      if (auto st = check_scanner(r, re, scanner, where); !st) return std::unexpected(st.error());
    }
    set.compiled_.push_back(std::move(re));
    set.scanners_.push_back(scanner);
  }
  set.rules_ = std::move(rules);
  return set;
}

Status MaskSet::check_scanner(const MaskRule& rule, std::shared_ptr<const re2::RE2> re, int scanner,
                              const std::string& where) {
  MaskSet fast, slow;
  fast.rules_ = slow.rules_ = {rule};
  fast.compiled_ = slow.compiled_ = {std::move(re)};
  fast.scanners_ = {scanner};
  slow.scanners_ = {kRe2};
  for (std::string_view probe : kProbes) {
    const MaskedText a = fast.apply(probe), b = slow.apply(probe);
    if (a.text != b.text || a.values != b.values) {
      return fail(ErrorCode::kCorrupt,
                  where + ": scanner '" + rule.scanner + "' does not mask '" + std::string(probe) +
                      "' as the regex does; the regex was edited: remove " +
                      "`scanner` to run it through RE2, or restore the expression the scanner " +
                      "implements");
    }
  }
  return {};
}

Result<MaskSet> MaskSet::parse(std::string_view toml_text, std::string source) {
  auto cfg = Config::parse(toml_text, source, masks_schema());
  // A shipped data file that does not fit its schema is broken data, not a usage error.
  if (!cfg) return fail(ErrorCode::kCorrupt, cfg.error().message());
  if (!cfg->is_set("schema_version")) {
    return fail(ErrorCode::kCorrupt, source + ": schema_version: missing (expected 1)");
  }
  std::vector<MaskRule> rules;
  for (const Config& t : cfg->get_tables("mask")) {
    rules.push_back({t.get_string("name"), t.get_string("regex"), t.get_string("token"),
                     t.get_string("scanner")});
  }
  return from_rules(std::move(rules), source);
}

Result<MaskSet> MaskSet::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    return fail(ErrorCode::kNotFound, file.string() + ": cannot read the masks file");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), file.string());
}

MaskSet MaskSet::combined(const MaskSet& more) const {
  MaskSet out;
  out.rules_ = rules_;
  out.compiled_ = compiled_;
  out.rules_.insert(out.rules_.end(), more.rules_.begin(), more.rules_.end());
  out.compiled_.insert(out.compiled_.end(), more.compiled_.begin(), more.compiled_.end());
  out.scanners_ = scanners_;
  out.scanners_.insert(out.scanners_.end(), more.scanners_.begin(), more.scanners_.end());
  return out;
}

MaskSet MaskSet::reference() const {
  MaskSet out = combined(MaskSet());
  std::fill(out.scanners_.begin(), out.scanners_.end(), kRe2);
  return out;
}

bool MaskSet::find(std::size_t rule, std::string_view text, std::size_t pos, Found& found) const {
  const int scanner = scanners_[rule];
  if (scanner != kRe2 && scanner != kDate) {
    Span span;
    if (!scan(scanner, Text(text), pos, span)) return false;
    found = {span.from, span.to, span.to};
    return true;
  }
  if (scanner == kDate && !may_hold_date(text.substr(pos))) return false;
  const RE2& re = *compiled_[rule];
  const int want = re.NumberOfCapturingGroups() >= 1 ? 2 : 1;
  re2::StringPiece groups[2];
  const re2::StringPiece piece(text.data(), text.size());
  if (!re.Match(piece, pos, text.size(), RE2::UNANCHORED, groups, want)) return false;
  const re2::StringPiece& g = groups[want - 1];
  const re2::StringPiece& whole = groups[0];
  found.end = static_cast<std::size_t>(whole.data() - text.data()) + whole.size();
  if (g.data() == nullptr || g.empty()) {
    found.from = found.to = found.end;
    return true;
  }
  found.from = static_cast<std::size_t>(g.data() - text.data());
  found.to = found.from + g.size();
  return true;
}

MaskedText MaskSet::apply(std::string_view line) const {
  MaskedText out;
  apply(line, out);
  return out;
}

void MaskSet::apply(std::string_view line, MaskedText& cur) const {
  cur.text.clear();
  cur.values.clear();
  cur.rules.clear();
  cur.text.assign(line);
  const ByteSet bytes(cur.text);
  if (bytes.has(kHasPlaceholder)) {  // the byte is ours: a line's own copy of it is a space
    std::replace(cur.text.begin(), cur.text.end(), kPlaceholder, ' ');
  }
  thread_local MaskedText next;
  for (std::size_t k = 0; k < compiled_.size(); ++k) {
    if (!may_match(scanners_[k], bytes)) continue;
    const std::string_view text(cur.text);
    std::size_t pos = 0, copied = 0, value = 0;
    bool any = false;
    next.text.clear();
    next.values.clear();
    next.rules.clear();
    // Copies text[copied, to) into `next`, carrying the placeholders' values along.
    auto copy_to = [&](std::size_t to) {
      const std::string_view part = text.substr(copied, to - copied);
      next.text.append(part);
      if (value < cur.values.size()) {
        for (std::size_t i = part.find(kPlaceholder); i != std::string_view::npos;
             i = part.find(kPlaceholder, i + 1)) {
          next.values.push_back(std::move(cur.values[value]));
          next.rules.push_back(cur.rules[value]);
          ++value;
        }
      }
      copied = to;
    };
    Found f;
    while (pos <= text.size() && find(k, text, pos, f)) {
      if (f.from == f.to) {
        pos = std::max(f.end, pos + 1);
        continue;
      }
      copy_to(f.from);
      std::string& original = next.values.emplace_back();
      const std::string_view matched = text.substr(f.from, f.to - f.from);
      if (value < cur.values.size() && matched.find(kPlaceholder) != std::string_view::npos) {
        for (char c : matched) {
          if (c == kPlaceholder) {
            original += cur.values[value++];
          } else {
            original += c;
          }
        }
      } else {
        original.assign(matched);
      }
      next.text += kPlaceholder;
      next.rules.push_back(static_cast<int>(k));
      copied = f.to;
      any = true;
      // Scanning on from the replaced part's end lets a group rule's trailing context be the
      // next match's leading context ("1 2" masks both numbers).
      pos = std::max(f.to, pos + 1);
    }
    if (!any) continue;
    copy_to(cur.text.size());
    std::swap(cur, next);
  }
}

}  // namespace aion::logs
