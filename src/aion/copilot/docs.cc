#include "aion/copilot/docs.h"

#include <xapian.h>
#include <zlib.h>

#include <toml++/toml.h>
#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "aion/core/json.h"
#include "aion/core/strings.h"

namespace aion::copilot {
namespace {

namespace fs = std::filesystem;

// A file is read whole into memory and most of the man pages a distribution ships are under
// 100 KiB; a bigger file is generated output (a dump, a log), not documentation.
constexpr std::uintmax_t kMaxFileBytes = 4u << 20;
// Decompressed text of one file: bounds what a gzip bomb could make us hold.
constexpr std::size_t kMaxTextBytes = 16u << 20;
// One document's text: more than nearly every section of real pages holds; the few longer
// ones (proc(5)'s DESCRIPTION, slurm.conf(5)'s PARAMETERS, option lists of big programs)
// are indexed in parts of this size, so that a match weighs against the part's length and
// a hit's text stays cheap to read and to cut a snippet from.
constexpr std::size_t kMaxSectionBytes = 64u << 10;
// Xapian keeps changes in memory until commit; a few thousand sections bound that memory
// and stay below its own automatic flush (10000 documents), which would commit mid-file.
constexpr std::size_t kSectionsPerCommit = 4000;
// Xapian terms and metadata keys are at most 245 bytes; longer paths are hashed.
constexpr std::size_t kMaxIdBytes = 200;
constexpr std::size_t kSnippetChars = 300;
constexpr std::size_t kSnippetLines = 3;
// Within-document frequency added per occurrence: a word of the page's title counts as
// three of its body, a word of the section's name as two.
constexpr Xapian::termcount kTitleWdf = 3;
constexpr Xapian::termcount kSectionWdf = 2;
// Weight added to every section of a page whose name the query mentions ("ssh", "ip
// route", "sysctl.conf"): a question naming a command is likely about that command's page.
// The same for all the page's sections (its words choose the section), and about half of
// what one well-matched query word weighs, so that a page that only shares a name with a
// word of the query ("numa", "group") does not outrank one that answers it.
constexpr double kNameBoost = 4.0;
// Hits of one document (collapsed on this value slot, the document name).
constexpr Xapian::valueno kSlotDoc = 0;
constexpr Xapian::doccount kHitsPerDoc = 2;
constexpr const char* kFileKeyPrefix = "file:";

// Common English words a question is made of; they neither select nor rank documents.
constexpr std::array kStopWords = std::to_array<std::string_view>(
    {"a",     "about", "after", "am",   "an",    "and",   "any",   "are",   "as",
     "at",    "be",    "been",  "but",  "by",    "can",   "could", "did",   "do",
     "does",  "doing", "for",   "from", "had",   "has",   "have",  "how",   "i",
     "if",    "in",    "into",  "is",   "it",    "its",   "just",  "me",    "my",
     "of",    "on",    "or",    "our",  "shall", "she",   "he",    "so",    "than",
     "that",  "the",   "their", "them", "then",  "there", "these", "they",  "this",
     "those", "to",    "us",    "was",  "we",    "were",  "what",  "when",  "where",
     "which", "while", "who",   "whom", "why",   "will",  "with",  "would", "you"});

struct DocSection {
  std::string name;
  std::string text;
  std::string title;  // the entry's own title (catalogs); empty: the document's
};

// One source file cut into sections, ready to index.
struct ParsedDoc {
  std::string title;
  std::vector<DocSection> sections;
};

// A file found under a source, with what identifies its version.
struct DocFile {
  fs::path path;
  std::string kind;
  std::string doc;  // the name hits cite
  std::uintmax_t size = 0;
  std::int64_t mtime_ns = 0;
};

// ---------------------------------------------------------------------------------------
// Plain text helpers

bool is_doc_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// `s` on one line: runs of whitespace become one space, none at either end.
std::string squeeze_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (is_doc_space(c)) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Where to cut `s` to keep at most `max` bytes: at a line end in the second half, else at a
// space there, else at `max`; never inside a UTF-8 sequence.
std::size_t cut_point(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s.size();
  for (char at : {'\n', ' '}) {
    const std::size_t p = s.rfind(at, max - 1);
    if (p != std::string_view::npos && p >= max / 2) return p + 1;
  }
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return cut == 0 ? max : cut;  // not UTF-8 after all: cut anywhere
}

// Sections longer than kMaxSectionBytes become several, each with the section's name.
std::vector<DocSection> split_long_sections(std::vector<DocSection> in) {
  std::vector<DocSection> out;
  for (auto& s : in) {
    if (s.text.size() <= kMaxSectionBytes) {
      out.push_back(std::move(s));
      continue;
    }
    std::string_view rest = s.text;
    while (!rest.empty()) {
      const std::size_t cut = cut_point(rest, kMaxSectionBytes);
      std::string part(trim_view(rest.substr(0, cut)));
      if (!part.empty()) out.push_back({s.name, std::move(part), s.title});
      rest.remove_prefix(cut);
    }
  }
  return out;
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// The file's name in Xapian terms and metadata keys: the path, or a hash of a long one.
std::string file_id(const std::string& path) {
  if (path.size() <= kMaxIdBytes) return path;
  char buf[24];
  std::snprintf(buf, sizeof buf, "#%016llx", static_cast<unsigned long long>(fnv1a(path)));
  return buf;
}

std::string file_term(const std::string& path) {
  return "F" + file_id(path);
}

// ---------------------------------------------------------------------------------------
// troff (man pages): escapes

// groff's names for special characters that carry meaning in plain text; any other is
// dropped.
std::string troff_special(std::string_view name) {
  static const std::unordered_map<std::string_view, std::string_view> kSpecials = {
      {"em", "\u2014"}, {"en", "\u2013"}, {"hy", "-"},      {"mi", "-"},      {"aq", "'"},
      {"dq", "\""},     {"lq", "\""},     {"rq", "\""},     {"oq", "'"},      {"cq", "'"},
      {"bu", "*"},      {"co", "(C)"},    {"rg", "(R)"},    {"tm", "(TM)"},   {"de", "\u00b0"},
      {"mu", "x"},      {"pl", "+"},      {"eq", "="},      {"ti", "~"},      {"a~", "~"},
      {"ha", "^"},      {"a^", "^"},      {"sl", "/"},      {"rs", "\\"},     {"ga", "`"},
      {"aa", "'"},      {"ul", "_"},      {"ba", "|"},      {"bv", "|"},      {"or", "|"},
      {"lB", "["},      {"rB", "]"},      {"lC", "{"},      {"rC", "}"},      {"la", "<"},
      {"ra", ">"},      {">=", ">="},     {"<=", "<="},     {"!=", "!="},     {"->", "->"},
      {"<-", "<-"},     {"Fo", "\""},     {"Fc", "\""},     {"fo", "'"},      {"fc", "'"},
      {"sc", "\u00a7"}, {"+-", "+-"},     {"at", "@"},      {"sh", "#"},      {"Do", "$"},
      {"ss", "\u00df"}, {":a", "\u00e4"}, {":o", "\u00f6"}, {":u", "\u00fc"}, {"'e", "\u00e9"},
      {"`e", "\u00e8"}, {"`a", "\u00e0"}, {"'a", "\u00e1"}};
  if (auto it = kSpecials.find(name); it != kSpecials.end()) return std::string(it->second);
  // \[u00E9]: a Unicode code point, written as UTF-8.
  if (name.size() >= 5 && name[0] == 'u' && name.find('_') == std::string_view::npos) {
    unsigned long cp = std::strtoul(std::string(name.substr(1)).c_str(), nullptr, 16);
    std::string out;
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return out;
  }
  return "";
}

// Strings that pages made by pod2man and friends define and use in running text.
std::string troff_string(std::string_view name) {
  if (name == "lq" || name == "rq" || name == "L\"" || name == "R\"" || name == "C`" ||
      name == "C'")
    return "\"";
  if (name == "C+") return "C++";
  if (name == "R") return "(R)";
  if (name == "Tm") return "(TM)";
  if (name == "--") return "--";
  return "";
}

// Reads an escape's name at `i`: one character, "(xy", or "[long name]".
std::string_view troff_name(std::string_view s, std::size_t& i) {
  if (i >= s.size()) return {};
  if (s[i] == '(') {
    std::string_view n = s.substr(i + 1, 2);
    i = std::min(s.size(), i + 3);
    return n;
  }
  if (s[i] == '[') {
    const std::size_t end = s.find(']', i);
    const std::size_t stop = end == std::string_view::npos ? s.size() : end;
    std::string_view n = s.substr(i + 1, stop - i - 1);
    i = std::min(s.size(), stop + 1);
    return n;
  }
  return s.substr(i++, 1);
}

// Skips an escape's argument at `i` enclosed in a delimiter ('text', usually).
std::string_view troff_delimited(std::string_view s, std::size_t& i) {
  if (i >= s.size()) return {};
  const char delim = s[i];
  const std::size_t end = s.find(delim, i + 1);
  const std::size_t stop = end == std::string_view::npos ? s.size() : end;
  std::string_view arg = s.substr(i + 1, stop - i - 1);
  i = std::min(s.size(), stop + 1);
  return arg;
}

void troff_skip_size(std::string_view s, std::size_t& i) {
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i >= s.size()) return;
  if (s[i] == '(' || s[i] == '[') {
    troff_name(s, i);
  } else if (s[i] == '\'') {
    troff_delimited(s, i);
  } else {
    for (int n = 0; n < 2 && i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++n)
      ++i;
  }
}

// Handles the escape whose letter is `e` (after the backslash); `i` is past the letter.
// Returns false for a comment: the rest of the line is dropped.
bool troff_escape(char e, std::string_view s, std::size_t& i, std::string& out) {
  switch (e) {
    case '"':
    case '#': return false;
    case 'f':
    case 'F':
    case 'g':
    case 'k':
    case 'm':
    case 'M':
    case 'n':
    case 'V':
    case 'Y':
    case '$':
      if (e == 'n' && i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
      troff_name(s, i);
      return true;
    case 's': troff_skip_size(s, i); return true;
    case '(':
    case '[':
      --i;
      out += troff_special(troff_name(s, i));
      return true;
    case 'C': out += troff_special(troff_delimited(s, i)); return true;
    case '*': out += troff_string(troff_name(s, i)); return true;
    case 'h':
    case 'v':
    case 'w':
    case 'l':
    case 'L':
    case 'o':
    case 'b':
    case 'D':
    case 'X':
    case 'Z':
    case 'x':
    case 'N':
    case 'R':
    case 'A':
    case 'B':
    case 'S':
    case 'H': troff_delimited(s, i); return true;
    case 'e':
    case '\\': out += '\\'; return true;
    case '-': out += '-'; return true;
    case ' ':
    case '~':
    case '0':
    case 't': out += ' '; return true;
    case '&':
    case ')':
    case ',':
    case '/':
    case '%':
    case ':':
    case '|':
    case '^':
    case 'c':
    case 'd':
    case 'u':
    case 'r':
    case 'p':
    case 'a':
    case 'z':
    case '{':
    case '}':
    case '\n': return true;
    default: out += e; return true;
  }
}

// `s` with troff escapes replaced by the text they stand for (fonts and sizes dropped).
std::string troff_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i++];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i >= s.size()) break;
    const char e = s[i++];
    if (!troff_escape(e, s, i, out)) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// troff (man pages): requests and sections

// A control line: ".BR foo (1)" gives name "BR" and args {"foo", "(1)"}; quoted arguments
// keep their spaces, escapes stay in the arguments.
struct TroffRequest {
  std::string name;
  std::vector<std::string> args;
};

TroffRequest parse_troff_request(std::string_view line) {
  TroffRequest r;
  std::size_t i = 1;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  while (i < line.size() && !is_doc_space(line[i])) r.name += line[i++];
  while (i < line.size()) {
    while (i < line.size() && is_doc_space(line[i])) ++i;
    if (i >= line.size()) break;
    std::string arg;
    const bool quoted = line[i] == '"';
    if (quoted) ++i;
    while (i < line.size()) {
      const char c = line[i];
      if (c == '\\' && i + 1 < line.size()) {
        arg += line.substr(i, 2);
        i += 2;
        continue;
      }
      if (quoted && c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          arg += '"';
          i += 2;
          continue;
        }
        ++i;
        break;
      }
      if (!quoted && is_doc_space(c)) break;
      arg += c;
      ++i;
    }
    r.args.push_back(troff_text(arg));
  }
  return r;
}

bool is_one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// An mdoc macro name: "Ar", "Op", "Ns" ... or a reference field ("%A").
bool is_mdoc_macro(std::string_view w) {
  return (w.size() == 2 && std::isupper(static_cast<unsigned char>(w[0])) &&
          std::islower(static_cast<unsigned char>(w[1]))) ||
         (w.size() == 2 && w[0] == '%');
}

// The text of an mdoc request and the inline macros in its arguments: "Fl v" is "-v",
// "Xr ssh 1" is "ssh(1)", "Nm" alone is the page's name; other macro names are markup.
std::string mdoc_text(const TroffRequest& r, std::string_view page_name) {
  std::vector<std::string> words;
  std::vector<std::string_view> all;
  all.push_back(r.name);
  for (const auto& a : r.args) all.push_back(a);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::string_view w = all[i];
    const bool has_arg = i + 1 < all.size() && !is_mdoc_macro(all[i + 1]);
    if (w == "Fl") {
      words.push_back("-" + (has_arg ? std::string(all[++i]) : std::string()));
    } else if (w == "Xr" && i + 2 < all.size()) {
      words.push_back(std::string(all[i + 1]) + "(" + std::string(all[i + 2]) + ")");
      i += 2;
    } else if (w == "Nm") {
      words.emplace_back(has_arg ? all[++i] : page_name);
    } else if (w == "Ux" || w == "Bx") {
      words.emplace_back(w == "Ux" ? "UNIX" : "BSD");
    } else if (i == 0 || is_mdoc_macro(w)) {
      continue;  // the request's own name, or markup: Ar, Op, Pa, Cm, Dq, Ns ...
    } else if (!w.empty()) {
      words.emplace_back(w);
    }
  }
  return join(words, " ");
}

// Turns the lines of one man page (man or mdoc macros) into sections: filled paragraphs
// become one line each, no-fill blocks keep their lines.
class ManPageReader {
 public:
  void line(std::string_view raw);
  ParsedDoc finish(const std::string& doc);

 private:
  void request(const TroffRequest& r);
  bool man_request(const TroffRequest& r);
  void text(const std::string& s);
  void paragraph_break();
  void heading(std::string name);

  std::vector<DocSection> sections_;
  std::string para_;
  bool nofill_ = false;
  bool heading_pending_ = false;  // .SH without arguments: the next line names the section
  bool tag_pending_ = false;      // .TP: the next line is the item's tag, a line of its own
  int skip_depth_ = 0;            // inside \{ ... \} of a conditional
  std::string macro_end_;         // inside .de/.ig, until this line
  std::string page_name_;         // mdoc: the first .Nm's argument, what a bare .Nm prints
  bool table_format_ = false;     // after .TS, before the first row
};

void ManPageReader::paragraph_break() {
  if (para_.empty()) return;
  if (sections_.empty()) sections_.push_back({});
  std::string& t = sections_.back().text;
  t += squeeze_line(para_) + "\n";
  para_.clear();
}

void ManPageReader::heading(std::string name) {
  paragraph_break();
  sections_.push_back({squeeze_line(name), {}});
  nofill_ = false;
}

void ManPageReader::text(const std::string& s) {
  if (heading_pending_) {
    heading_pending_ = false;
    heading(s);
    return;
  }
  if (nofill_) {
    paragraph_break();
    para_ = s;
    paragraph_break();
    return;
  }
  if (!para_.empty()) para_ += ' ';
  para_ += s;
  if (tag_pending_) {
    tag_pending_ = false;
    paragraph_break();
  }
}

// man(7) requests and the roff requests pages use; false for anything else.
bool ManPageReader::man_request(const TroffRequest& r) {
  const std::string& n = r.name;
  std::vector<std::string_view> args(r.args.begin(), r.args.end());
  if (n == "SH" || n == "Sh") {
    if (args.empty()) {
      paragraph_break();
      heading_pending_ = true;
    } else {
      heading(join(args, " "));
    }
  } else if (n == "SS" || n == "Ss" || n == "SY" || n == "It") {
    paragraph_break();
    if (!args.empty()) text(n == "It" ? mdoc_text(r, page_name_) : join(args, " "));
    paragraph_break();
  } else if (is_one_of(n, {"B", "I", "SM", "SB", "UR", "MT", "nop"})) {
    if (!args.empty()) text(join(args, " "));
  } else if (is_one_of(n, {"BR", "RB", "IR", "RI", "BI", "IB", "UE", "ME"})) {
    if (!args.empty()) text(join(args, ""));
  } else if (is_one_of(n, {"TP", "TQ"})) {
    paragraph_break();
    tag_pending_ = true;
  } else if (n == "IP" || n == "HP") {
    paragraph_break();
    if (!args.empty() && !args[0].empty()) text(std::string(args[0]));
    paragraph_break();
  } else if (is_one_of(n, {"PP", "P", "LP", "Pp", "Lp", "sp", "br", "bp", "YS", "RS", "RE"})) {
    paragraph_break();
  } else if (is_one_of(n, {"nf", "EX", "Vb", "Bd"})) {
    paragraph_break();
    nofill_ = n != "Bd" || (!args.empty() && args[0] == "-literal");
  } else if (is_one_of(n, {"fi", "EE", "Ve", "Ed", "TE"})) {
    paragraph_break();
    nofill_ = false;
  } else if (n == "TS") {
    // A tbl table: options and column formats (up to a line ending in '.'), then one row
    // a line.
    paragraph_break();
    nofill_ = true;
    table_format_ = true;
  } else if (n == "Nd") {
    text("- " + join(args, " "));
  } else if (n == "OP") {
    text("[" + join(args, " ") + "]");
  } else {
    return false;
  }
  return true;
}

void ManPageReader::request(const TroffRequest& r) {
  const std::string& n = r.name;
  if (n == "de" || n == "de1" || n == "am") {
    macro_end_ = r.args.size() > 1 ? "." + r.args[1] : "..";  // .de name [end]
    return;
  }
  if (n == "ig") {
    macro_end_ = r.args.empty() ? ".." : "." + r.args[0];  // .ig [end]
    return;
  }
  if (man_request(r)) return;
  // Other requests: roff's own (lower case, formatting only) and man's title and
  // formatting macros are dropped; the other macros (mdoc's inline ones) carry text.
  const bool roff = std::all_of(n.begin(), n.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           !std::isalpha(static_cast<unsigned char>(c));
  });
  if (roff || is_one_of(n, {"TH", "PD", "AT", "UC", "Dd", "Dt", "Os", "Bl", "El", "Ek", "Bk", "Sm",
                            "Rs", "Re", "Bf", "Ef", "Db"}))
    return;
  if (n == "Nm" && page_name_.empty() && !r.args.empty()) page_name_ = r.args[0];
  std::string s = mdoc_text(r, page_name_);
  if (!s.empty()) text(s);
}

void ManPageReader::line(std::string_view raw) {
  if (!macro_end_.empty()) {
    if (squeeze_line(raw) == macro_end_) macro_end_.clear();
    return;
  }
  if (skip_depth_ > 0) {
    for (std::size_t p = raw.find("\\{"); p != std::string_view::npos; p = raw.find("\\{", p + 2))
      ++skip_depth_;
    for (std::size_t p = raw.find("\\}"); p != std::string_view::npos; p = raw.find("\\}", p + 2))
      --skip_depth_;
    return;
  }
  const bool control = !raw.empty() && (raw[0] == '.' || raw[0] == '\'');
  if (table_format_ && !control) {
    table_format_ = !trim_view(raw).ends_with('.');
    return;
  }
  if (control) {
    const TroffRequest r = parse_troff_request(raw);
    if (r.name.starts_with("\\\"") || r.name.empty()) return;  // a comment or an empty request
    if (is_one_of(r.name, {"if", "ie", "el", "while"})) {
      // Conditionals choose between typesetters; their text is formatting, skipped.
      if (raw.find("\\{") != std::string_view::npos && raw.find("\\}") == std::string_view::npos)
        skip_depth_ = 1;
      return;
    }
    request(r);
    return;
  }
  std::string t = troff_text(raw);
  // tbl's text blocks: "T{" ends a row's line, "T}" starts the line after the block.
  if (t.starts_with("T}")) t.erase(0, 2);
  if (t.ends_with("T{")) t.resize(t.size() - 2);
  if (squeeze_line(t).empty()) {
    if (!nofill_) paragraph_break();
    return;
  }
  text(t);
}

ParsedDoc ManPageReader::finish(const std::string& doc) {
  paragraph_break();
  ParsedDoc out;
  for (auto& s : sections_) {
    while (!s.text.empty() && s.text.back() == '\n') s.text.pop_back();
    if (lower(s.name) == "name" && out.title.empty()) out.title = squeeze_line(s.text);
  }
  if (out.title.empty()) out.title = doc;
  out.title = trim(std::string_view(out.title).substr(0, cut_point(out.title, 200)));
  for (auto& s : sections_) {
    // The NAME line is the title, indexed with every section; it is a section of its own
    // only in a page that has nothing else.
    if (s.text.empty() || (lower(s.name) == "name" && sections_.size() > 1)) continue;
    out.sections.push_back(std::move(s));
  }
  return out;
}

// A page that only points at another (".so man1/other.1"): the target is indexed itself.
bool is_man_redirect(std::string_view text) {
  bool so = false;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view t = trim_view(text.substr(start, end - start));
    start = end + 1;
    if (t.empty() || t.starts_with(".\\\"") || t.starts_with("'\\\"") || t == ".") continue;
    if (so || !t.starts_with(".so")) return false;
    so = true;
  }
  return so;
}

ParsedDoc parse_man_page(const std::string& doc, std::string_view text) {
  ManPageReader reader;
  std::string logical;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    // A backslash at the end of a line joins it to the next one.
    std::size_t slashes = 0;
    while (slashes < line.size() && line[line.size() - 1 - slashes] == '\\') ++slashes;
    if (slashes % 2 == 1) {
      logical += line.substr(0, line.size() - 1);
      if (start <= text.size()) continue;
    } else {
      logical += line;
    }
    reader.line(logical);
    logical.clear();
  }
  return reader.finish(doc);
}

// "sysctl.conf.5.gz" gives "sysctl.conf(5)"; nullopt for a file that is not a man page
// (no section suffix, or compressed with something other than gzip).
std::optional<std::string> man_doc_name(std::string name) {
  if (name.ends_with(".gz")) name.resize(name.size() - 3);
  const std::size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 >= name.size()) return std::nullopt;
  const std::string sec = name.substr(dot + 1);
  if (!std::isdigit(static_cast<unsigned char>(sec[0])) && sec != "n" && sec != "l")
    return std::nullopt;
  if (sec.find_first_of("/\\") != std::string::npos) return std::nullopt;
  return name.substr(0, dot) + "(" + sec + ")";
}

// ---------------------------------------------------------------------------------------
// Markdown

// The text of a "#", "##" or "###" heading line; nullopt for any other line.
std::optional<std::string> markdown_heading(std::string_view line) {
  std::size_t level = 0;
  while (level < line.size() && line[level] == '#') ++level;
  if (level == 0 || level > 3 || level >= line.size() || line[level] != ' ') return std::nullopt;
  std::string_view t = trim_view(line.substr(level));
  while (!t.empty() && t.back() == '#') t.remove_suffix(1);
  return trim(t);
}

ParsedDoc parse_markdown(const std::string& stem, std::string_view text) {
  ParsedDoc out;
  std::vector<DocSection> sections(1);
  bool fenced = false;
  for (const auto& line : split(text, '\n')) {
    const std::string_view t = trim_view(line);
    if (t.starts_with("```") || t.starts_with("~~~")) fenced = !fenced;
    std::optional<std::string> h;
    if (!fenced) h = markdown_heading(line);
    if (h) {
      if (out.title.empty()) out.title = *h;
      sections.push_back({*h, {}});
      continue;
    }
    std::string& body = sections.back().text;
    (body += line) += '\n';
  }
  if (out.title.empty()) out.title = stem;
  for (auto& s : sections) {
    if (trim_view(s.text).empty()) continue;
    if (s.name.empty()) s.name = out.title;
    while (!s.text.empty() && is_doc_space(s.text.back())) s.text.pop_back();
    out.sections.push_back(std::move(s));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// TOML catalogs

// Every string value under `node`, one a line; other scalars as "key = value", so that
// settings such as "value = 0" can be found too.
void toml_text(const toml::node& node, std::string_view key, std::string& out) {
  if (auto s = node.value_exact<std::string>()) {
    (out += *s) += '\n';
  } else if (const toml::table* t = node.as_table()) {
    for (const auto& [k, v] : *t) toml_text(v, k.str(), out);
  } else if (const toml::array* a = node.as_array()) {
    for (const auto& v : *a) toml_text(v, key, out);
  } else if (auto i = node.value_exact<std::int64_t>()) {
    ((out += key) += " = " + std::to_string(*i)) += '\n';
  } else if (auto b = node.value_exact<bool>()) {
    ((out += key) += *b ? " = true" : " = false") += '\n';
  } else if (auto d = node.value_exact<double>()) {
    ((out += key) += " = " + std::to_string(*d)) += '\n';
  }
}

std::string toml_first_string(const toml::table& t, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (auto s = t[k].value_exact<std::string>()) return *s;
  }
  return "";
}

// One section per entry of a top-level array of tables that has an id or a name; else one
// for the whole file. A file that is not TOML is indexed as plain text.
ParsedDoc parse_catalog(const std::string& stem, std::string_view text, const std::string& path) {
  ParsedDoc out;
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error&) {
    out.title = stem;
    out.sections.push_back({stem, std::string(text), {}});
    return out;
  }
  for (const auto& [key, node] : root) {
    const toml::array* arr = node.as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) continue;
    for (const auto& entry : *arr) {
      const toml::table& t = *entry.as_table();
      const std::string id = toml_first_string(t, {"id", "name"});
      if (id.empty()) continue;
      DocSection s{id, {}, toml_first_string(t, {"title", "summary", "name"})};
      toml_text(t, key.str(), s.text);
      out.sections.push_back(std::move(s));
    }
  }
  out.title = toml_first_string(root, {"title", "summary", "name", "description"});
  if (out.title.empty()) out.title = stem;
  if (out.sections.empty()) {
    std::string id = toml_first_string(root, {"id", "name"});
    DocSection s{id.empty() ? stem : id, {}, {}};
    toml_text(root, "", s.text);
    out.sections.push_back(std::move(s));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Files

// The whole of a file, gunzipped when it is gzip (plain files read as they are), cut at
// kMaxTextBytes.
Result<std::string> read_doc_file(const fs::path& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return std::unexpected(errno_error(errno, "reading " + path.string()));
  gzbuffer(f, 128 * 1024);
  std::string out;
  std::array<char, 64 * 1024> buf;
  while (out.size() < kMaxTextBytes) {
    const int n = gzread(f, buf.data(), buf.size());
    if (n < 0) {
      int zerr = 0;
      std::string why = gzerror(f, &zerr);
      gzclose(f);
      return fail(ErrorCode::kCorrupt, "reading " + path.string() + ": " + why);
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  gzclose(f);
  if (out.size() > kMaxTextBytes) out.resize(kMaxTextBytes);
  return out;
}

// Parses one file of a source into sections; nullopt for a file with nothing to index.
std::optional<ParsedDoc> parse_doc_file(const DocFile& f, std::string_view text) {
  const std::string stem = f.path.stem().string();
  ParsedDoc doc;
  if (f.kind == "man") {
    if (is_man_redirect(text)) return std::nullopt;
    doc = parse_man_page(f.doc, text);
  } else if (f.kind == "markdown") {
    doc = parse_markdown(stem, text);
  } else {
    doc = parse_catalog(stem, text, f.path.string());
  }
  doc.sections = split_long_sections(std::move(doc.sections));
  return doc;
}

// Appends the regular files under `root` that `want` accepts (with their document name),
// without following symbolic links; files over kMaxFileBytes are counted in `too_big`.
template <class Want>
void collect_files(const fs::path& root, const std::string& kind, Want want,
                   std::vector<DocFile>& out, std::size_t& too_big) {
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& e = *it;
    std::error_code fe;
    if (e.is_symlink(fe) || !e.is_regular_file(fe)) continue;
    std::optional<std::string> doc = want(e.path());
    if (!doc) continue;
    DocFile f{e.path(), kind, std::move(*doc)};
    f.size = e.file_size(fe);
    if (fe) continue;
    const auto mtime = e.last_write_time(fe);
    if (fe) continue;
    f.mtime_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count();
    if (f.size > kMaxFileBytes) {
      ++too_big;
      continue;
    }
    out.push_back(std::move(f));
  }
}

// The files of one source, in a stable order.
void scan_source(const DocSource& src, std::vector<DocFile>& out, std::size_t& too_big) {
  std::error_code ec;
  fs::path root = src.root.lexically_normal();
  if (!root.has_filename()) root = root.parent_path();
  if (!fs::is_directory(root, ec)) return;
  if (src.kind == "man") {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(root, ec)) {
      std::error_code fe;
      const std::string name = e.path().filename().string();
      // man1 ... man9, mann: translations live in de/, fr/ ... beside them.
      if (name.size() >= 4 && name.starts_with("man") && !e.is_symlink(fe) && e.is_directory(fe))
        dirs.push_back(e.path());
    }
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs) {
      collect_files(
          d, src.kind, [](const fs::path& p) { return man_doc_name(p.filename().string()); }, out,
          too_big);
    }
    return;
  }
  const std::string ext = src.kind == "markdown" ? ".md" : ".toml";
  const fs::path base = root.filename();
  collect_files(
      root, src.kind,
      [&](const fs::path& p) -> std::optional<std::string> {
        if (p.extension() != ext) return std::nullopt;
        return (base / p.lexically_relative(root)).generic_string();
      },
      out, too_big);
}

// ---------------------------------------------------------------------------------------
// Errors

std::string index_label(const fs::path& dir) {
  return "doc index " + dir.string();
}

// What a Xapian failure means for the caller, with the index directory and what to do.
Error xapian_failure(const fs::path& dir, std::string_view doing, const Xapian::Error& e) {
  const std::string what = index_label(dir) + ": " + std::string(doing) + ": ";
  const std::string cause = std::string(e.get_type()) + ": " + e.get_msg();
  const std::string type = e.get_type();
  if (type == "DatabaseLockError") {
    return Error(ErrorCode::kUnavailable, what + "another process is updating the index (" + cause +
                                              "); retry when it is done");
  }
  if (type == "DatabaseCorruptError" || type == "DatabaseVersionError" ||
      type == "DatabaseOpeningError" || type == "DatabaseNotFoundError" ||
      type == "DatabaseCreateError") {
    return Error(ErrorCode::kCorrupt, what + "not a readable index (" + cause + "); delete " +
                                          dir.string() +
                                          " to rebuild it (the next update indexes everything)");
  }
  if (type == "QueryParserError") return Error(ErrorCode::kInvalidArgument, what + cause);
  if (type.starts_with("Database")) {  // Xapian::Error is not polymorphic: its type name
    return Error(ErrorCode::kIo, what + cause +
                                     "; check the disk (space, permissions) and retry, "
                                     "or delete " +
                                     dir.string() + " to rebuild the index");
  }
  return Error(ErrorCode::kInternal, what + cause);
}

// Runs `body`, turning any exception into an Error: none leaves this file.
template <class F>
auto xapian_guard(const fs::path& dir, std::string_view doing, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Xapian::Error& e) {
    return std::unexpected(xapian_failure(dir, doing, e));
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal,
                index_label(dir) + ": " + std::string(doing) + ": " + e.what());
  }
}

// ---------------------------------------------------------------------------------------
// Snippets

struct SnippetTerm {
  std::string word;  // lower case; the stem for a stemmed term
  bool stemmed = false;
  double weight = 0;
};

bool is_word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || u >= 0x80;
}

// Finds which query term each word of `line` matches: calls hit(offset, term index).
template <class Hit>
void match_words(std::string_view line, const std::vector<SnippetTerm>& terms,
                 const Xapian::Stem& stem, std::unordered_map<std::string, std::string>& stems,
                 Hit hit) {
  std::size_t i = 0;
  while (i < line.size()) {
    if (!is_word_byte(line[i])) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < line.size() && is_word_byte(line[i])) ++i;
    const std::string w = lower(line.substr(start, i - start));
    for (std::size_t t = 0; t < terms.size(); ++t) {
      const SnippetTerm& q = terms[t];
      bool match = !q.stemmed && w == q.word;
      // A stem is the word's start but for its last letter or so ("happi" for "happy"):
      // only words that share that start are stemmed.
      const std::size_t n = q.word.size() > 3 ? q.word.size() - 1 : q.word.size();
      if (!match && q.stemmed && w.compare(0, n, q.word, 0, n) == 0) {
        auto it = stems.find(w);
        if (it == stems.end()) it = stems.emplace(w, stem(w)).first;
        match = it->second == q.word;
      }
      if (match) hit(start, t);
    }
  }
}

// The part of a long line, at most kSnippetChars, where the most (weighted, distinct) query
// terms fall; cut at spaces and marked with "...".
std::string snippet_window(std::string_view line, const std::vector<SnippetTerm>& terms,
                           const std::vector<std::pair<std::size_t, std::size_t>>& hits) {
  std::size_t best_start = 0;
  double best = -1;
  for (const auto& [pos, t] : hits) {
    const std::size_t start = pos > 60 ? pos - 60 : 0;
    std::unordered_set<std::size_t> seen;
    double score = 0;
    for (const auto& [p2, t2] : hits) {
      if (p2 >= start && p2 < start + kSnippetChars && seen.insert(t2).second)
        score += terms[t2].weight;
    }
    if (score > best) {
      best = score;
      best_start = start;
    }
  }
  std::size_t start = best_start;
  if (start > 0) {
    const std::size_t sp = line.find(' ', start);
    start = sp == std::string_view::npos || sp > start + 40 ? start : sp + 1;
  }
  std::size_t end = std::min(line.size(), start + kSnippetChars - 6);
  if (end < line.size()) {
    const std::size_t sp = line.rfind(' ', end);
    if (sp != std::string_view::npos && sp > start + 40) end = sp;
  }
  while (end > start && end < line.size() && (static_cast<unsigned char>(line[end]) & 0xC0) == 0x80)
    --end;
  std::string out = start > 0 ? "..." : "";
  out += line.substr(start, end - start);
  if (end < line.size()) out += "...";
  return out;
}

// Up to kSnippetLines non-empty lines of `text` (at most kSnippetChars) around the line
// where the query's terms weigh most.
std::string make_snippet(std::string_view text, const std::vector<SnippetTerm>& terms,
                         const Xapian::Stem& stem) {
  std::vector<std::string> lines;
  for (const auto& l : split(text, '\n')) {
    std::string t = squeeze_line(l);
    if (!t.empty()) lines.push_back(std::move(t));
  }
  if (lines.empty()) return "";
  std::unordered_map<std::string, std::string> stems;
  std::size_t best = 0;
  double best_score = 0;
  std::vector<std::pair<std::size_t, std::size_t>> best_hits;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::vector<std::pair<std::size_t, std::size_t>> hits;
    match_words(lines[i], terms, stem, stems,
                [&](std::size_t pos, std::size_t t) { hits.emplace_back(pos, t); });
    std::unordered_set<std::size_t> distinct;
    double score = 0;
    for (const auto& h : hits) {
      if (distinct.insert(h.second).second) score += terms[h.second].weight;
    }
    if (score > best_score) {
      best_score = score;
      best = i;
      best_hits = std::move(hits);
    }
  }
  if (lines[best].size() > kSnippetChars) return snippet_window(lines[best], terms, best_hits);
  std::size_t lo = best, hi = best, total = lines[best].size();
  while (hi - lo + 1 < kSnippetLines) {
    const bool next = hi + 1 < lines.size() && total + 1 + lines[hi + 1].size() <= kSnippetChars;
    const bool prev = lo > 0 && total + 1 + lines[lo - 1].size() <= kSnippetChars;
    if (next) {
      total += 1 + lines[++hi].size();
    } else if (prev) {
      total += 1 + lines[--lo].size();
    } else {
      break;
    }
  }
  std::vector<std::string> window(lines.begin() + lo, lines.begin() + hi + 1);
  return join(window, "\n");
}

bool is_stop_word(std::string_view w) {
  return std::find(kStopWords.begin(), kStopWords.end(), w) != kStopWords.end();
}

// True when `query` has a word that is not a common English word.
bool has_content_word(std::string_view query) {
  std::size_t i = 0;
  while (i < query.size()) {
    if (!is_word_byte(query[i])) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < query.size() && is_word_byte(query[i])) ++i;
    if (!is_stop_word(lower(query.substr(start, i - start)))) return true;
  }
  return false;
}

// The name term of a file's documents: a man page's name ("ip-route" for ip-route(8)), or
// a file's stem ("tuning" for docs/tuning.md).
std::string name_term(const DocFile& f) {
  std::string name = f.kind == "man" ? f.doc.substr(0, f.doc.rfind('(')) : f.path.stem().string();
  name = "XN" + lower(name);
  if (name.size() > kMaxIdBytes) name.resize(kMaxIdBytes);
  return name;
}

// The page names a query may mention: each of its words as written ("sysctl.conf",
// "nvidia-smi") and each pair of neighbours joined by a hyphen ("ip route": "ip-route").
Xapian::Query name_query(std::string_view query) {
  std::vector<std::string> words;
  for (const auto& raw : split_words(query)) {
    std::string_view w = raw;
    while (!w.empty() && !is_word_byte(w.front())) w.remove_prefix(1);
    while (!w.empty() && !is_word_byte(w.back())) w.remove_suffix(1);
    std::string l = lower(w);
    if (!l.empty() && !is_stop_word(l)) words.push_back(std::move(l));
  }
  std::vector<Xapian::Query> names;
  for (std::size_t i = 0; i < words.size(); ++i) {
    names.emplace_back("XN" + words[i]);
    if (i + 1 < words.size()) names.emplace_back("XN" + words[i] + "-" + words[i + 1]);
  }
  return Xapian::Query(Xapian::Query::OP_OR, names.begin(), names.end());
}

}  // namespace

// ---------------------------------------------------------------------------------------
// DocIndex

struct DocIndex::Impl {
  // What was indexed from one file, kept as Xapian metadata "file:<path>" so that it is
  // committed with the file's documents.
  struct FileRecord {
    std::uintmax_t size = 0;
    std::int64_t mtime_ns = 0;
    std::string kind;
  };

  fs::path dir;
  bool writable = false;
  Xapian::WritableDatabase wdb;
  Xapian::Database rdb;  // when another DocIndex holds the write lock
  Xapian::Stem stem{"english"};
  Xapian::SimpleStopper stopper;
  Xapian::TermGenerator indexer;
  std::unordered_map<std::string, FileRecord> files;  // by path
  std::size_t uncommitted = 0;

  Impl() {
    for (std::string_view w : kStopWords) stopper.add(std::string(w));
    indexer.set_stemmer(stem);
    indexer.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
    indexer.set_stopper(&stopper);
    indexer.set_stopper_strategy(Xapian::TermGenerator::STOP_STEMMED);
  }

  Xapian::Database& db() { return writable ? wdb : rdb; }

  void load_records();
  void index_file(const DocFile& f, UpdateStats& stats);
  void add_section(const DocFile& f, const ParsedDoc& doc, const DocSection& s);
  void save_record(const DocFile& f);
  void remove_file(const std::string& path);
  void maybe_commit();
  UpdateStats update(const std::vector<DocSource>& sources,
                     const std::function<void(std::size_t, std::size_t)>& progress);
  std::vector<DocHit> search(std::string_view query, std::size_t limit);
};

void DocIndex::Impl::load_records() {
  for (auto it = wdb.metadata_keys_begin(kFileKeyPrefix);
       it != wdb.metadata_keys_end(kFileKeyPrefix); ++it) {
    const Json j = Json::parse(wdb.get_metadata(*it), nullptr, false);
    if (!j.is_object() || !j.contains("path")) continue;  // reindexed: the file looks new
    files[j.value("path", "")] = {j.value("size", std::uintmax_t{0}),
                                  j.value("mtime_ns", std::int64_t{0}), j.value("kind", "")};
  }
}

void DocIndex::Impl::save_record(const DocFile& f) {
  const std::string path = f.path.string();
  const Json j = {{"path", path}, {"size", f.size}, {"mtime_ns", f.mtime_ns}, {"kind", f.kind}};
  wdb.set_metadata(kFileKeyPrefix + file_id(path),
                   j.dump(-1, ' ', false, Json::error_handler_t::replace));
  files[path] = {f.size, f.mtime_ns, f.kind};
}

void DocIndex::Impl::remove_file(const std::string& path) {
  wdb.delete_document(file_term(path));
  wdb.set_metadata(kFileKeyPrefix + file_id(path), "");
  files.erase(path);
}

void DocIndex::Impl::maybe_commit() {
  if (uncommitted < kSectionsPerCommit) return;
  wdb.commit();
  uncommitted = 0;
}

void DocIndex::Impl::add_section(const DocFile& f, const ParsedDoc& doc, const DocSection& s) {
  const std::string& title = s.title.empty() ? doc.title : s.title;
  Xapian::Document d;
  indexer.set_document(d);
  indexer.index_text(title, kTitleWdf);
  indexer.increase_termpos();
  indexer.index_text(s.name, kSectionWdf);
  indexer.increase_termpos();
  indexer.index_text(f.doc);
  indexer.increase_termpos();
  indexer.index_text(s.text);
  d.add_boolean_term(file_term(f.path.string()));
  d.add_boolean_term("K" + f.kind);
  d.add_boolean_term(name_term(f));
  d.add_value(kSlotDoc, f.doc);
  const Json data = {{"doc", f.doc},
                     {"section", s.name},
                     {"title", title},
                     {"path", f.path.string()},
                     {"text", s.text}};
  d.set_data(data.dump(-1, ' ', false, Json::error_handler_t::replace));
  wdb.add_document(d);
  ++uncommitted;
}

void DocIndex::Impl::index_file(const DocFile& f, UpdateStats& stats) {
  const std::string path = f.path.string();
  // A file without a record may still have documents from an update that stopped after
  // Xapian flushed them on its own: they go too. The record goes first, so that if this
  // update fails before the new one is saved, the next update indexes the file again.
  const bool known = files.erase(path) > 0;
  if (known || wdb.term_exists(file_term(path))) wdb.delete_document(file_term(path));
  std::optional<ParsedDoc> doc;
  Result<std::string> text = read_doc_file(f.path);
  if (text) doc = parse_doc_file(f, *text);
  if (!doc) {
    ++stats.files_skipped;
  } else {
    for (const DocSection& s : doc->sections) add_section(f, *doc, s);
    stats.sections += doc->sections.size();
    ++stats.files_indexed;
  }
  // Recorded even when skipped, so that an unchanged unreadable file is not read again.
  save_record(f);
  maybe_commit();
}

UpdateStats DocIndex::Impl::update(const std::vector<DocSource>& sources,
                                   const std::function<void(std::size_t, std::size_t)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  UpdateStats stats;
  std::vector<DocFile> found;
  for (const auto& src : sources) scan_source(src, found, stats.files_skipped);
  std::unordered_set<std::string> seen;
  for (std::size_t i = 0; i < found.size(); ++i) {
    const DocFile& f = found[i];
    const std::string path = f.path.string();
    if (seen.insert(path).second) {
      ++stats.files_seen;
      auto it = files.find(path);
      const bool same = it != files.end() && it->second.size == f.size &&
                        it->second.mtime_ns == f.mtime_ns && it->second.kind == f.kind;
      if (!same) index_file(f, stats);
    }
    if (progress) progress(i + 1, found.size());
  }
  std::vector<std::string> gone;
  for (const auto& [path, rec] : files) {
    if (!seen.contains(path)) gone.push_back(path);
  }
  for (const auto& path : gone) remove_file(path);
  stats.files_removed = gone.size();
  wdb.commit();
  uncommitted = 0;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

std::vector<DocHit> DocIndex::Impl::search(std::string_view query, std::size_t limit) {
  if (limit == 0 || !has_content_word(query)) return {};
  if (!writable) rdb.reopen();
  Xapian::QueryParser qp;
  qp.set_stemmer(stem);
  qp.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
  qp.set_stopper(&stopper);
  qp.set_default_op(Xapian::Query::OP_OR);
  const std::string q_text(query);
  Xapian::Query q;
  try {
    q = qp.parse_query(q_text, Xapian::QueryParser::FLAG_DEFAULT);
  } catch (const Xapian::QueryParserError&) {
    q = qp.parse_query(q_text, 0);  // unbalanced quotes or brackets: the words alone
  }
  if (q.empty()) return {};
  Xapian::Enquire enquire(db());
  const Xapian::Query boost((new Xapian::FixedWeightPostingSource(kNameBoost))->release());
  enquire.set_query(Xapian::Query(
      Xapian::Query::OP_OR, q, Xapian::Query(Xapian::Query::OP_FILTER, boost, name_query(query))));
  enquire.set_collapse_key(kSlotDoc, kHitsPerDoc);
  const Xapian::MSet mset = enquire.get_mset(0, static_cast<Xapian::doccount>(limit));
  std::vector<SnippetTerm> terms;
  const double n = db().get_doccount() + 1.0;
  for (auto it = q.get_unique_terms_begin(); it != q.get_unique_terms_end(); ++it) {
    const std::string& t = *it;
    const bool stemmed = t.starts_with("Z");
    const double idf = std::log(n / (db().get_termfreq(t) + 1.0)) + 0.1;
    terms.push_back({stemmed ? t.substr(1) : t, stemmed, idf});
  }
  std::vector<DocHit> hits;
  for (auto it = mset.begin(); it != mset.end(); ++it) {
    const Json j = Json::parse(it.get_document().get_data(), nullptr, false);
    if (!j.is_object()) continue;
    hits.push_back({j.value("doc", ""), j.value("section", ""), j.value("title", ""),
                    make_snippet(j.value("text", ""), terms, stem), j.value("path", ""),
                    it.get_weight()});
  }
  return hits;
}

DocIndex::DocIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DocIndex::DocIndex(DocIndex&&) noexcept = default;
DocIndex& DocIndex::operator=(DocIndex&&) noexcept = default;
DocIndex::~DocIndex() = default;

Result<DocIndex> DocIndex::open(const fs::path& dir) {
  return xapian_guard(dir, "opening", [&]() -> Result<DocIndex> {
    auto impl = std::make_unique<Impl>();
    impl->dir = dir;
    std::error_code ec;
    fs::create_directories(dir, ec);  // Xapian makes only the last component
    try {
      impl->wdb = Xapian::WritableDatabase(dir.string(), Xapian::DB_CREATE_OR_OPEN);
      impl->writable = true;
    } catch (const Xapian::DatabaseLockError&) {
      impl->rdb = Xapian::Database(dir.string());
    }
    if (impl->writable) {
      impl->load_records();
    } else {
      impl->rdb.get_doccount();
    }
    return DocIndex(std::move(impl));
  });
}

Result<DocIndex> DocIndex::open_read_only(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || fs::is_empty(dir, ec))
    return fail(ErrorCode::kNotFound, "no document index in " + dir.string());
  return xapian_guard(dir, "opening", [&]() -> Result<DocIndex> {
    auto impl = std::make_unique<Impl>();
    impl->dir = dir;
    impl->rdb = Xapian::Database(dir.string());
    impl->rdb.get_doccount();
    return DocIndex(std::move(impl));
  });
}

Result<UpdateStats> DocIndex::update(
    const std::vector<DocSource>& sources,
    const std::function<void(std::size_t, std::size_t)>& progress) {
  if (!impl_->writable) {
    return fail(ErrorCode::kUnavailable,
                index_label(impl_->dir) +
                    ": opened read-only because another process holds it for updating; retry "
                    "when that process is done");
  }
  return xapian_guard(impl_->dir, "updating",
                      [&]() -> Result<UpdateStats> { return impl_->update(sources, progress); });
}

Result<std::vector<DocHit>> DocIndex::search(std::string_view query, std::size_t limit) const {
  return xapian_guard(impl_->dir, "searching", [&]() -> Result<std::vector<DocHit>> {
    try {
      return impl_->search(query, limit);
    } catch (const Xapian::DatabaseModifiedError&) {
      // A read-only view that an updater overtook: read the latest commit and try again.
      impl_->db().reopen();
      return impl_->search(query, limit);
    }
  });
}

std::size_t DocIndex::size() const {
  try {
    return impl_->db().get_doccount();
  } catch (...) {
    return 0;  // an unreadable index holds nothing that could be found
  }
}

std::vector<DocSource> default_sources(const fs::path& host_root, const fs::path& docs_dir,
                                       const fs::path& data_dir) {
  // The catalogs operators ask about; not data/copilot (the router's own patterns) nor the
  // privacy detectors.
  return {{"man", host_root / "usr/share/man"},
          {"man", host_root / "usr/local/share/man"},
          {"markdown", docs_dir},
          {"catalog", data_dir / "signatures"},
          {"catalog", data_dir / "playbooks"},
          {"catalog", data_dir / "profiles"},
          {"catalog", data_dir / "envcfg"},
          {"catalog", data_dir / "hw"}};
}

}  // namespace aion::copilot
