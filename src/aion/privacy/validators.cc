#include "aion/privacy/validators.h"
#include "aion/core/strings.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <string>

#include "aion/core/json.h"

namespace aion::privacy {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_word(char c) {
  return is_digit(c) || is_alpha(c) || c == '_';
}

char before(const Candidate& c, std::size_t back = 1) {
  return c.offset >= back ? c.text[c.offset - back] : '\0';
}
char after(const Candidate& c, std::size_t ahead = 0) {
  std::size_t i = c.offset + c.value.size() + ahead;
  return i < c.text.size() ? c.text[i] : '\0';
}

// The text before the value on its line, at most `n` bytes, lower-cased.
std::string line_before(const Candidate& c, std::size_t n) {
  std::size_t start = c.offset > n ? c.offset - n : 0;
  std::string_view s = c.text.substr(start, c.offset - start);
  if (auto nl = s.rfind('\n'); nl != std::string_view::npos) s.remove_prefix(nl + 1);
  return lower(s);
}

bool ends_with_word(const std::string& s, std::string_view w) {
  std::string_view t = s;
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == ':' || t.back() == '=' ||
                        t.back() == '"' || t.back() == '\'')) {
    t.remove_suffix(1);
  }
  if (!t.ends_with(w)) return false;
  return t.size() == w.size() || !is_alpha(t[t.size() - w.size() - 1]);
}

bool looks_like_version_context(const Candidate& c) {
  std::string b = line_before(c, 32);
  for (std::string_view w : {"version", "ver", "release", "firmware", "vbios", "fw", "rev",
                             "revision", "build", "libversion", "v"}) {
    if (ends_with_word(b, w)) return true;
  }
  return false;
}

bool entropy_ok(std::string_view v, double min_bits) {
  bool digit = false, alpha = false;
  for (char ch : v) {
    digit |= is_digit(ch);
    alpha |= is_alpha(ch);
  }
  if (!digit || !alpha) return false;
  return shannon_bits_per_char(v) >= min_bits;
}

bool not_placeholder(std::string_view v, const DetectorSet& lists) {
  while (!v.empty() && (v.back() == ',' || v.back() == ';')) v.remove_suffix(1);
  if (v.empty()) return false;
  if (v.front() == '$' || v.front() == '<' || v.starts_with("{{") || v.starts_with("%(") ||
      v.starts_with("${") || v.front() == '{' || v.front() == '[' || v.front() == '(') {
    return false;
  }
  if (std::all_of(v.begin(), v.end(), [&](char c) { return c == v.front(); })) return false;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c == '*' || c == 'x' || c == 'X'; })) {
    return false;
  }
  return !lists.list("placeholder_value").contains(lower(v));
}

bool valid_ipv4_octets(std::string_view v, std::array<int, 4>& o) {
  int part = 0, val = 0, digits = 0;
  for (char ch : v) {
    if (ch == '.') {
      if (digits == 0 || part == 3) return false;
      o[part++] = val;
      val = digits = 0;
    } else if (is_digit(ch)) {
      val = val * 10 + (ch - '0');
      if (++digits > 3 || val > 255) return false;
    } else {
      return false;
    }
  }
  if (part != 3 || digits == 0) return false;
  o[3] = val;
  return true;
}

bool ipv4(const Candidate& c) {
  std::array<int, 4> o{};
  if (!valid_ipv4_octets(c.value, o)) return false;
  // Part of a longer dotted number (1.3.6.1.4.1, a five-part firmware version) or a word.
  char b = before(c), a = after(c);
  if (b == '.' || is_alpha(b) || b == '-' || b == '_') return false;
  if (a == '.' && is_digit(after(c, 1))) return false;
  if (a == '-' && is_alpha(after(c, 1))) return false;  // 1.2.3.4-beta
  if (looks_like_version_context(c)) return false;
  // Addresses that name no host: unspecified, loopback, broadcast and netmasks.
  if (o[0] == 0 || o[0] == 127 || o[0] == 255) return false;
  return true;
}

bool ipv6(const Candidate& c) {
  std::string v(c.value);
  if (auto pct = v.find('%'); pct != std::string::npos) v.resize(pct);
  if (v.size() < 3 || v.find("::") == std::string::npos) {
    if (std::count(v.begin(), v.end(), ':') != 7) return false;
  }
  if (std::none_of(v.begin(), v.end(), is_digit)) return false;
  if (v == "::1" || v == "::") return false;
  in6_addr addr;
  return inet_pton(AF_INET6, v.c_str(), &addr) == 1;
}

bool mac(const Candidate& c) {
  std::string v = lower(c.value);
  std::string hex;
  for (char ch : v) {
    if (std::isxdigit(static_cast<unsigned char>(ch))) hex += ch;
  }
  if (hex == "000000000000" || hex == "ffffffffffff") return false;
  // A dotted form needs a letter or it is more likely a number (1234.5678.9012).
  if (v.find('.') != std::string::npos && std::none_of(v.begin(), v.end(), is_alpha)) {
    return false;
  }
  return true;
}

bool tld_known(std::string_view host, const DetectorSet& lists) {
  auto dot = host.rfind('.');
  if (dot == std::string_view::npos) return false;
  return lists.list("tld").contains(lower(host.substr(dot + 1)));
}

bool hostname(const Candidate& c, const DetectorSet& lists) {
  std::string v = lower(c.value);
  if (!tld_known(v, lists)) return false;
  char a = after(c), b = before(c);
  if (a == '(' || a == '[' || a == '=' || (a == '.' && is_word(after(c, 1)))) return false;
  if (a == '@' || b == '@') return false;  // part of an e-mail address the e-mail detector owns
  if (b == '.' || b == '$' || b == '%') return false;
  if (lists.list("public_domain").contains(v)) return false;
  const std::size_t labels = static_cast<std::size_t>(std::count(v.begin(), v.end(), '.')) + 1;
  const std::string tld = v.substr(v.rfind('.') + 1);
  const std::string first = v.substr(0, v.find('.'));
  if (labels == 2) {
    if (lists.list("file_extension").contains(tld)) return false;
    if (lists.list("code_prefix").contains(first)) return false;
  }
  // A file in a path (/usr/lib/foo.so, ./setup.py) keeps its name.
  if ((b == '/' || b == '\\') && lists.list("file_extension").contains(tld)) return false;
  // All-digit labels with a word-like TLD are version strings ("1.2.de"); require a letter
  // in the first label or more than two labels.
  if (labels == 2 && std::none_of(first.begin(), first.end(), is_alpha)) return false;
  return true;
}

bool host_context(const Candidate& c, const DetectorSet& lists) {
  std::string v = lower(c.value);
  while (!v.empty() && v.back() == '.') v.pop_back();
  if (v.size() < 2 || v == "localhost" || v == "localhost.localdomain") return false;
  if (lists.list("placeholder_value").contains(v)) return false;
  if (lists.list("public_domain").contains(v)) return false;
  if (std::all_of(v.begin(), v.end(), [](char ch) { return is_digit(ch) || ch == '.'; })) {
    return false;
  }
  return true;
}

bool email(const Candidate& c, const DetectorSet& lists) {
  auto at = c.value.find('@');
  if (at == std::string_view::npos || at == 0) return false;
  if (c.value.front() == '.' || c.value[at - 1] == '.') return false;
  return tld_known(c.value.substr(at + 1), lists);
}

bool user(const Candidate& c, const DetectorSet& lists) {
  std::string v = lower(c.value);
  if (v.empty() || v.size() > 32) return false;
  if (lists.list("system_user").contains(v)) return false;
  if (lists.list("placeholder_value").contains(v)) return false;
  if (v.starts_with("systemd-") || v.starts_with('$') || v.starts_with('<')) return false;
  return true;
}

std::string digits_of(std::string_view v) {
  std::string d;
  for (char ch : v) {
    if (is_digit(ch)) d += ch;
  }
  return d;
}

bool phone(const Candidate& c) {
  const std::string d = digits_of(c.value);
  if (d.size() < 8 || d.size() > 15) return false;
  if (looks_like_version_context(c)) return false;
  // "+0800" style time-zone offsets and "+1.5" numbers are not phone numbers.
  return c.value.size() > 5;
}

bool phone_cn(const Candidate& c) {
  char b = before(c), a = after(c);
  if (b == '.' || b == '-' || b == '+' || b == ':' || a == '-') return false;
  if (a == '.' && is_digit(after(c, 1))) return false;
  if (looks_like_version_context(c)) return false;
  // Counters and sizes printed in logs: "rx_bytes=13812345678", "13812345678 bytes".
  std::string bl = line_before(c, 16);
  for (std::string_view w : {"bytes", "size", "count", "total", "ts", "time", "timestamp", "id",
                             "offset", "seq", "ns", "us", "ms"}) {
    if (bl.find(w) != std::string::npos && (b == '=' || b == ':' || b == ' ')) {
      if (ends_with_word(bl, w) || bl.ends_with(std::string(w) + "=") ||
          bl.ends_with(std::string(w) + ": ")) {
        return false;
      }
    }
  }
  return true;
}

bool nanp(const Candidate& c) {
  if (looks_like_version_context(c)) return false;
  std::string seps;
  for (char ch : c.value) {
    if (ch == '-' || ch == '.' || ch == ' ') seps += ch;
  }
  // Dotted three-part numbers are mostly versions or addresses unless all separators agree.
  if (!seps.empty() && seps.find('.') != std::string::npos &&
      seps.find_first_not_of('.') != std::string::npos) {
    return false;
  }
  const char a = after(c);
  return a != '.' || !is_digit(after(c, 1));
}

bool ssn(const Candidate& c) {
  const std::string d = digits_of(c.value);
  if (d.size() != 9) return false;
  const int area = std::stoi(d.substr(0, 3));
  if (area == 0 || area == 666 || area >= 900) return false;
  if (d.substr(3, 2) == "00" || d.substr(5) == "0000") return false;
  return !looks_like_version_context(c);
}

bool card(const Candidate& c) {
  const std::string d = digits_of(c.value);
  if (d.size() < 13 || d.size() > 19) return false;
  // Separators, when present, must be one kind and form groups of 4 (or Amex 4-6-5).
  std::vector<std::size_t> groups{0};
  char sep = 0;
  for (char ch : c.value) {
    if (is_digit(ch)) {
      ++groups.back();
    } else {
      if (sep && ch != sep) return false;
      sep = ch;
      groups.push_back(0);
    }
  }
  if (groups.size() > 1) {
    const bool amex = groups.size() == 3 && groups[0] == 4 && groups[1] == 6 && groups[2] == 5;
    const bool fours =
        std::all_of(groups.begin(), groups.end() - 1, [](std::size_t g) { return g == 4; }) &&
        groups.back() >= 1 && groups.back() <= 4;
    if (!amex && !fours) return false;
  }
  const int p2 = std::stoi(d.substr(0, 2));
  const int p4 = std::stoi(d.substr(0, 4));
  const int p3 = p4 / 10;
  const int p6 = std::stoi(d.substr(0, 6));
  const bool iin = d[0] == '4' || (p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720) ||
                   p2 == 34 || p2 == 37 || p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) ||
                   (p4 >= 3528 && p4 <= 3589) || p2 == 62 || p2 == 36 || p2 == 38 ||
                   (p3 >= 300 && p3 <= 305) || (p6 >= 622126 && p6 <= 622925) || p2 == 81 ||
                   p2 == 50 || (p2 >= 56 && p2 <= 69);
  if (!iin) return false;
  const char b = before(c);
  if (b == '.' || b == ':' || b == 'x' || after(c) == '.') return false;
  return luhn_valid(d);
}

bool serial(const Candidate& c, const DetectorSet& lists) {
  std::string v = lower(c.value);
  while (!v.empty() && (v.back() == ' ' || v.back() == '"' || v.back() == '\'')) v.pop_back();
  if (v.size() < 3) return false;
  if (lists.list("serial_placeholder").contains(v)) return false;
  if (std::all_of(v.begin(), v.end(), [&](char ch) { return ch == v.front(); })) return false;
  return std::any_of(v.begin(), v.end(),
                     [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)); });
}

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (is_digit(c)) return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

std::string b64_decode(std::string_view s) {
  std::string out;
  int bits = 0;
  unsigned acc = 0;
  for (char c : s) {
    if (c == '=') break;
    int v = b64_value(c);
    if (v < 0) return {};
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

bool basic_auth(std::string_view v) {
  std::string d = b64_decode(v);
  if (d.size() < 3 || d.find(':') == std::string::npos) return false;
  return std::all_of(d.begin(), d.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
}

}  // namespace

bool luhn_valid(std::string_view digits) {
  int sum = 0;
  bool dbl = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (!is_digit(*it)) return false;
    int d = *it - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return !digits.empty() && sum % 10 == 0;
}

bool cn_resident_id_valid(std::string_view id) {
  static constexpr std::array<int, 17> kWeights = {7, 9, 10, 5,  8, 4, 2, 1, 6,
                                                   3, 7, 9,  10, 5, 8, 4, 2};
  static constexpr std::string_view kCheck = "10X98765432";
  if (id.size() != 18) return false;
  int sum = 0;
  for (int i = 0; i < 17; ++i) {
    if (!is_digit(id[i])) return false;
    sum += (id[i] - '0') * kWeights[i];
  }
  const char last = static_cast<char>(std::toupper(static_cast<unsigned char>(id[17])));
  return kCheck[sum % 11] == last;
}

double shannon_bits_per_char(std::string_view s) {
  if (s.empty()) return 0;
  std::array<int, 256> n{};
  for (unsigned char c : s) ++n[c];
  double h = 0;
  for (int k : n) {
    if (k == 0) continue;
    const double p = static_cast<double>(k) / static_cast<double>(s.size());
    h -= p * std::log2(p);
  }
  return h;
}

bool jwt_header_has_alg(std::string_view token) {
  auto dot = token.find('.');
  if (dot == std::string_view::npos) return false;
  std::string header = b64_decode(token.substr(0, dot));
  Json j = Json::parse(header, nullptr, false);
  return j.is_object() && j.contains("alg");
}

bool is_validator(std::string_view name) {
  static constexpr std::string_view kKnown[] = {"",
                                                "entropy",
                                                "not_placeholder",
                                                "jwt",
                                                "basic_auth",
                                                "ipv4",
                                                "ipv6",
                                                "mac",
                                                "hostname",
                                                "host_context",
                                                "email",
                                                "user",
                                                "phone",
                                                "phone_cn",
                                                "nanp",
                                                "ssn",
                                                "card",
                                                "cn_resident_id",
                                                "serial"};
  return std::find(std::begin(kKnown), std::end(kKnown), name) != std::end(kKnown);
}

bool validate(const Detector& d, const Candidate& c, const DetectorSet& lists) {
  const std::string_view v = d.validate;
  if (v.empty()) return true;
  if (v == "entropy") return entropy_ok(c.value, d.min_entropy) && not_placeholder(c.value, lists);
  if (v == "not_placeholder") return not_placeholder(c.value, lists);
  if (v == "jwt") return jwt_header_has_alg(c.value);
  if (v == "basic_auth") return basic_auth(c.value);
  if (v == "ipv4") return ipv4(c);
  if (v == "ipv6") return ipv6(c);
  if (v == "mac") return mac(c);
  if (v == "hostname") return hostname(c, lists);
  if (v == "host_context") return host_context(c, lists);
  if (v == "email") return email(c, lists);
  if (v == "user") return user(c, lists);
  if (v == "phone") return phone(c);
  if (v == "phone_cn") return phone_cn(c);
  if (v == "nanp") return nanp(c);
  if (v == "ssn") return ssn(c);
  if (v == "card") return card(c);
  if (v == "cn_resident_id") return cn_resident_id_valid(c.value);
  if (v == "serial") return serial(c, lists);
  return false;
}

}  // namespace aion::privacy
