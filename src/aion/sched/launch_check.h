// Submit-time checks of a job's paths, made with the job user's own filesystem rights.
//
// aiond runs as root; a check made as root would tell any user whether a path exists where
// they cannot look. These checks run on a short-lived thread whose filesystem uid, gid and
// supplementary groups are the job's (Linux keeps them per thread), so a path the user cannot
// reach reads exactly like one that does not exist. Stateless; thread-safe.
#pragma once

#include <string>

#include "aion/core/error.h"
#include "aion/sched/job.h"

namespace aion::sched {

// Checks that spec.cwd is a directory the job's user can enter and that spec.command[0]
// resolves (see resolve_command) to a program it can execute; returns the program's path.
// kNotFound "working directory D does not exist or USER cannot enter it" for a missing or
// unreachable cwd, the same text for both.
Result<std::string> check_launch_paths(const JobSpec& spec);

}  // namespace aion::sched
