// Naming a job's network endpoints: known AI services by the TLS server name the job asked
// for, model servers on this node by their usual loopback port (data/guard/endpoints.toml
// and a site's guard.endpoints_file), and turning a profile's allow-list, whose entries may
// name hosts ("api.openai.com:443"), into address rules (egress_rule.h) by resolving each name
// once, when the job starts. A table is an immutable value once loaded; thread-safe to read.
// resolve_allow() calls the system resolver (getaddrinfo) and is thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/guard/egress_rule.h"

namespace aion::guard {

struct KnownEndpoint {
  std::string name;
  std::vector<std::string> server_names;  // exact, or any name ending in ".<entry>"
  std::vector<std::uint16_t> loopback_ports;
};

class EndpointTable {
 public:
  // The shipped table, then `site_file` when it is set and exists. Errors name file and line.
  static Result<EndpointTable> load(const std::filesystem::path& shipped,
                                    const std::filesystem::path& site_file = {});
  static Result<EndpointTable> parse(std::string_view text, const std::string& file);

  // The name of what a job reached ("OpenAI API"), "" when the table does not know it.
  std::string name(const std::string& address, std::uint16_t port,
                   const std::string& server_name) const;
  const std::vector<KnownEndpoint>& endpoints() const { return endpoints_; }

 private:
  std::vector<KnownEndpoint> endpoints_;
};

// The shipped table (data/guard/endpoints.toml) and `site_file`.
Result<EndpointTable> load_endpoints(const std::filesystem::path& site_file = {});

// Each allow-list entry as rules: an address rule as it is, a host name ("HOST[:PORT][/tcp|/
// udp]") as one rule per address it resolves to now. kInvalidArgument naming an entry that is
// neither, kNotFound for a name that does not resolve.
Result<std::vector<NetRule>> resolve_allow(const std::vector<std::string>& entries);

}  // namespace aion::guard
