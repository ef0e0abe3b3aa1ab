#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: the release build's ctest suite, the
# asan preset's suite (AddressSanitizer + UBSan), a clang-format check and the module
# layering check. Exits non-zero when any stage fails.
#   scripts/test.sh           everything (what CI runs)
#   scripts/test.sh --quick   skip the asan stage
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

declare -a summary
status=0
stage() {
  local name=$1; shift
  local t0=$SECONDS
  echo "=== $name"
  if "$@"; then summary+=("ok    $name ($((SECONDS - t0))s)")
  else summary+=("FAIL  $name ($((SECONDS - t0))s)"); status=1; fi
}

./scripts/setup.sh || exit 1
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}

format_check() {
  local files
  mapfile -t files < <(git ls-files -co --exclude-standard -- 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc' 'bench/*.h' | grep -v '^tests/fixtures/')
  clang-format --dry-run --Werror "${files[@]}"
}
layers_check() {
  if [ -x ../shared/tools/check-layers ]; then ../shared/tools/check-layers .; else echo "check-layers not found beside the repo; skipped"; fi
}

stage "format (clang-format)" format_check
stage "layering" layers_check
stage "release tests" ctest --preset release --output-on-failure
if ((!quick)); then
  stage "asan build" bash -c 'cmake --preset asan >/dev/null && cmake --build --preset asan -j "$(nproc)"'
  stage "asan tests" ctest --preset asan --output-on-failure
fi

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
exit $status
