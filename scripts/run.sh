#!/usr/bin/env bash
# The main job: install the build dependencies, build the release preset, and run aiond in the
# foreground with its embedded defaults (SQLite state, unix socket, logs on stderr). Without
# root, state goes to $XDG_STATE_HOME/aion and the socket to $XDG_RUNTIME_DIR/aion. aiond
# prints where its socket, API and state are and what to type next. Stop it with Ctrl-C.
#   scripts/run.sh [AIOND_OPTION...]   e.g. --log-level debug, --config FILE
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "run: starting build/release/bin/aiond --foreground $*"
echo "run: in another shell, put the client on PATH: export PATH=$PWD/build/release/bin:\$PATH"
exec build/release/bin/aiond --foreground "$@"
