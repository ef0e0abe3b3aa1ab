#include "cli.h"

#include <cstdio>
#include <string>

namespace aion::cli {

void warn(Context& ctx, std::string_view message) {
  std::fprintf(stderr, "warning: %s\n", std::string(message).c_str());
  ++ctx.warnings;
}

bool strict_applies(Context& ctx, std::string_view command, std::string_view why) {
  if (!ctx.strict) return true;
  std::fprintf(stderr, "aion: --strict does not apply to `aion %s`: %s; leave it out\n",
               std::string(command).c_str(), std::string(why).c_str());
  ctx.exit_code = kExitUsage;
  return false;
}

int exit_status(const Context& ctx) {
  if (ctx.exit_code == kExitOk && ctx.strict && ctx.warnings > 0) return kExitFailure;
  return ctx.exit_code;
}

}  // namespace aion::cli
