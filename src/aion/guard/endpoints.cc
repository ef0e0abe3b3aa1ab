#include "aion/guard/endpoints.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "aion/core/data_file.h"
#include "aion/core/paths.h"

namespace aion::guard {

namespace fs = std::filesystem;

namespace {

bool loopback(const std::string& address) {
  return address.starts_with("127.") || address == "::1";
}

bool name_matches(const std::string& name, const std::string& entry) {
  if (name == entry) return true;
  return name.size() > entry.size() && name.ends_with(entry) &&
         name[name.size() - entry.size() - 1] == '.';
}

Status add_file(std::vector<KnownEndpoint>& out, const Result<DataFile>& d) {
  if (!d) return std::unexpected(d.error());
  if (auto st = d->expect_schema_version(1); !st) return st;
  auto rows = d->rows(d->root(), "endpoint");
  if (!rows) return std::unexpected(rows.error());
  for (const toml::table* row : *rows) {
    if (auto st =
            d->expect_keys(*row, {"name", "server_names", "loopback_ports", "source"}, "endpoint");
        !st)
      return st;
    KnownEndpoint e;
    auto name = d->string(*row, "name");
    if (!name) return std::unexpected(name.error());
    e.name = *name;
    auto names = d->strings(*row, "server_names", false);
    if (!names) return std::unexpected(names.error());
    for (auto& n : *names) {
      std::transform(n.begin(), n.end(), n.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      e.server_names.push_back(n);
    }
    if (const toml::array* ports = (*row)["loopback_ports"].as_array()) {
      for (const auto& p : *ports) {
        auto v = p.value_exact<std::int64_t>();
        if (!v || *v < 1 || *v > 65535) return d->bad(p, "loopback_ports holds ports 1-65535");
        e.loopback_ports.push_back(static_cast<std::uint16_t>(*v));
      }
    }
    if (e.server_names.empty() && e.loopback_ports.empty())
      return d->bad(*row, "endpoint '" + e.name + "' names no server_names or loopback_ports");
    out.push_back(std::move(e));
  }
  return {};
}

// "HOST[:PORT][/tcp|/udp]" with a host name: its parts.
struct HostRule {
  std::string host, suffix;  // suffix: ":PORT/proto" as written, reused for each address
};

std::optional<HostRule> host_rule(const std::string& text) {
  const auto colon = text.find(':');
  const auto slash = text.find('/');
  const auto end = std::min(colon, slash);
  HostRule r{text.substr(0, end), end == std::string::npos ? "" : text.substr(end)};
  if (r.host.empty() || r.host.size() > 253) return std::nullopt;
  for (char c : r.host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return std::nullopt;
  if (!std::isalpha(static_cast<unsigned char>(r.host.back())) && r.host.back() != '.')
    return std::nullopt;  // "10.0.0.300" is a bad address, not a name
  return r;
}

}  // namespace

Result<EndpointTable> EndpointTable::parse(std::string_view text, const std::string& file) {
  EndpointTable t;
  if (auto st = add_file(t.endpoints_, DataFile::parse(text, file)); !st)
    return std::unexpected(st.error());
  return t;
}

Result<EndpointTable> EndpointTable::load(const fs::path& shipped, const fs::path& site_file) {
  EndpointTable t;
  if (auto st = add_file(t.endpoints_, DataFile::read(shipped)); !st)
    return std::unexpected(st.error());
  std::error_code ec;
  if (!site_file.empty() && fs::exists(site_file, ec)) {
    if (auto st = add_file(t.endpoints_, DataFile::read(site_file)); !st)
      return std::unexpected(st.error());
  }
  return t;
}

std::string EndpointTable::name(const std::string& address, std::uint16_t port,
                                const std::string& server_name) const {
  std::string sni = server_name;
  std::transform(sni.begin(), sni.end(), sni.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  // A site's entries come last: look from the end so that they win.
  for (auto e = endpoints_.rbegin(); e != endpoints_.rend(); ++e) {
    if (!sni.empty())
      for (const auto& n : e->server_names)
        if (name_matches(sni, n)) return e->name;
    if (loopback(address) && std::find(e->loopback_ports.begin(), e->loopback_ports.end(), port) !=
                                 e->loopback_ports.end())
      return e->name;
  }
  return "";
}

Result<EndpointTable> load_endpoints(const fs::path& site_file) {
  return EndpointTable::load(data_dir() / "guard" / "endpoints.toml", site_file);
}

Result<std::vector<NetRule>> resolve_allow(const std::vector<std::string>& entries) {
  std::vector<NetRule> out;
  for (const auto& text : entries) {
    auto rule = parse_net_rule(text);
    if (rule) {
      out.push_back(*rule);
      continue;
    }
    const auto host = host_rule(text);
    if (!host) return std::unexpected(rule.error());
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = ::getaddrinfo(host->host.c_str(), nullptr, &hints, &res); rc != 0) {
      return fail(ErrorCode::kNotFound, "network rule '" + text + "': cannot resolve " +
                                            host->host + ": " + ::gai_strerror(rc));
    }
    std::size_t before = out.size();
    for (addrinfo* a = res; a; a = a->ai_next) {
      char buf[INET6_ADDRSTRLEN] = {};
      std::string address;
      if (a->ai_family == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, buf,
                    sizeof buf);
        address = buf;
      } else if (a->ai_family == AF_INET6) {
        ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, buf,
                    sizeof buf);
        address = "[" + std::string(buf) + "]";
      } else {
        continue;
      }
      auto r = parse_net_rule(address + host->suffix);
      if (!r) {
        ::freeaddrinfo(res);
        return std::unexpected(r.error());
      }
      if (std::find(out.begin() + static_cast<std::ptrdiff_t>(before), out.end(), *r) == out.end())
        out.push_back(*r);
    }
    ::freeaddrinfo(res);
  }
  return out;
}

}  // namespace aion::guard
