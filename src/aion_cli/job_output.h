// A job's output (its stdout and stderr as aiond captured them) copied to our stdout: what
// `aion run` streams and `aion logs ID` prints. Both live in different command files and
// share this. Not thread-safe: one call at a time, on the main thread (with
// cancel_on_interrupt it installs process-wide SIGINT and SIGTERM handlers).
#pragma once

#include <optional>

#include "aion/api/client.h"
#include "aion/core/json.h"
#include "cli.h"

namespace aion::cli {

// Copies job `id`'s output from its start until the output ends (`follow`: until the job
// ends). With `cancel_on_interrupt`, a SIGINT or SIGTERM meanwhile cancels the job (this
// installs the handlers). Returns the job as it is at the end, or nullopt after reporting an
// error.
std::optional<Json> copy_job_output(Context& ctx, api::Client& client, long long id, bool follow,
                                    bool cancel_on_interrupt);

}  // namespace aion::cli
