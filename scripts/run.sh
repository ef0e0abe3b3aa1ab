#!/usr/bin/env bash
# The main job: install dependencies, build, and run aiond in the foreground with its
# embedded defaults (SQLite state, unix socket, logs on stderr). Extra arguments go to aiond.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/build/release/bin:$PATH"
echo "run: starting aiond (binaries in build/release/bin; add it to PATH to use aion)"
exec build/release/bin/aiond --foreground "$@"
