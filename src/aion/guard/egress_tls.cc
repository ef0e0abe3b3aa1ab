#include "aion/guard/egress_tls.h"

#include <algorithm>
#include <vector>

namespace aion::guard {
namespace {

// TLS constants (RFC 8446 sections 4, 4.2 and 5.1; RFC 6066 section 3).
constexpr std::uint8_t kContentHandshake = 22;
constexpr std::uint8_t kHandshakeClientHello = 1;
constexpr std::size_t kRecordHeader = 1 + 2 + 2;   // type, legacy_record_version, length
constexpr std::size_t kMaxRecordLength = 1 << 14;  // TLSPlaintext.length limit
constexpr std::size_t kRandomLength = 32;
constexpr std::size_t kMaxSessionId = 32;
constexpr std::uint16_t kExtensionServerName = 0;
constexpr std::uint8_t kNameTypeHostName = 0;
constexpr std::size_t kMaxHostName = 253;  // the longest DNS name in text form

// Reads big-endian integers and length-prefixed vectors off a byte span; any read past the
// end fails and leaves the reader empty.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  bool empty() const { return bytes_.empty(); }
  std::size_t size() const { return bytes_.size(); }

  std::optional<std::size_t> uint(std::size_t width) {
    if (width > bytes_.size()) return fail();
    std::size_t v = 0;
    for (std::size_t i = 0; i < width; ++i) v = (v << 8) | bytes_[i];
    bytes_ = bytes_.subspan(width);
    return v;
  }

  // The next `n` bytes, or nullopt when fewer are left.
  std::optional<Reader> take(std::size_t n) {
    if (n > bytes_.size()) return fail();
    Reader out(bytes_.first(n));
    bytes_ = bytes_.subspan(n);
    return out;
  }

  // The next `n` bytes, or all that is left when fewer are (a vector cut short).
  Reader take_upto(std::size_t n) { return *take(std::min(n, bytes_.size())); }

  // A vector with a `width`-byte length in front, whole.
  std::optional<Reader> vec(std::size_t width) {
    auto n = uint(width);
    if (!n) return std::nullopt;
    return take(*n);
  }

  std::span<const std::uint8_t> rest() const { return bytes_; }

 private:
  std::nullopt_t fail() {
    bytes_ = {};
    return std::nullopt;
  }

  std::span<const std::uint8_t> bytes_;
};

// The handshake bytes carried by the leading handshake records of `bytes`, joined; a record
// cut short contributes what is there. Stops at the first record of another type or with a
// length TLS forbids.
std::vector<std::uint8_t> handshake_stream(std::span<const std::uint8_t> bytes) {
  std::vector<std::uint8_t> out;
  Reader r(bytes);
  while (r.size() >= kRecordHeader) {
    const auto type = r.uint(1);
    const auto major = r.uint(1);
    r.uint(1);  // minor version: any
    const auto length = r.uint(2);
    if (*type != kContentHandshake || *major != 3 || *length == 0 || *length > kMaxRecordLength)
      break;
    const Reader fragment = r.take_upto(*length);
    out.insert(out.end(), fragment.rest().begin(), fragment.rest().end());
  }
  return out;
}

// A DNS name as TLS carries it (RFC 6066: ASCII, no trailing dot), lowercased; nullopt for
// anything else.
std::optional<std::string> host_name(std::span<const std::uint8_t> name) {
  if (name.empty() || name.size() > kMaxHostName) return std::nullopt;
  std::string out;
  out.reserve(name.size());
  for (std::uint8_t c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return std::nullopt;
    out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  }
  return out;
}

// The host_name entry of a server_name extension's body (a ServerNameList).
std::optional<std::string> server_name_extension(Reader body) {
  auto list = body.vec(2);
  if (!list) return std::nullopt;
  while (!list->empty()) {
    const auto type = list->uint(1);
    auto name = list->vec(2);
    if (!type || !name) return std::nullopt;
    if (*type == kNameTypeHostName) return host_name(name->rest());
  }
  return std::nullopt;
}

// Skips legacy_version, random, legacy_session_id, cipher_suites and
// legacy_compression_methods; false when any is malformed or cut short.
bool skip_to_extensions(Reader& hello) {
  const auto version = hello.uint(2);
  if (!version || (*version >> 8) != 3 || !hello.take(kRandomLength)) return false;
  const auto session_id = hello.vec(1);
  if (!session_id || session_id->size() > kMaxSessionId) return false;
  const auto suites = hello.vec(2);
  if (!suites || suites->size() < 2 || suites->size() % 2 != 0) return false;
  const auto compression = hello.vec(1);
  return compression && !compression->empty();
}

}  // namespace

std::optional<std::string> client_hello_server_name(std::span<const std::uint8_t> bytes) {
  const std::vector<std::uint8_t> stream = handshake_stream(bytes);
  Reader handshake(stream);
  const auto type = handshake.uint(1);
  const auto length = handshake.uint(3);
  if (!type || !length || *type != kHandshakeClientHello) return std::nullopt;
  Reader hello = handshake.take_upto(*length);
  if (!skip_to_extensions(hello)) return std::nullopt;
  const auto declared = hello.uint(2);  // absent: a hello without extensions
  if (!declared) return std::nullopt;
  Reader extensions = hello.take_upto(*declared);
  while (!extensions.empty()) {
    const auto ext_type = extensions.uint(2);
    auto ext_body = extensions.vec(2);
    if (!ext_type || !ext_body) return std::nullopt;  // cut short or malformed
    if (*ext_type == kExtensionServerName) return server_name_extension(*ext_body);
  }
  return std::nullopt;
}

}  // namespace aion::guard
