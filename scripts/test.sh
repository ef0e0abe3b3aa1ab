#!/usr/bin/env bash
# Installs the dependencies and runs every check CI runs: the release build and its ctest
# suite, the asan preset (AddressSanitizer + UBSan) build and suite, a clang-format check of
# src/ tests/ bench/, and the module layering check. Prints a summary; exits 1 when any
# stage fails.
#   scripts/test.sh           everything (what .ci/run runs)
#   scripts/test.sh --quick   skip the asan stages
# Environment: AION_JOBS (parallel compile jobs, default: nproc). ctest runs 2 tests at a time.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
jobs=${AION_JOBS:-$(nproc)}
summary=()
failed=0
t_start=$SECONDS

# stage NAME COMMAND...: runs a stage, records ok/FAIL and its duration. Returns its status.
stage() {
  local name=$1 t0=$SECONDS rc=0
  shift
  echo
  echo "=== $name"
  "$@" || rc=$?
  if ((rc == 0)); then
    summary+=("$(printf 'ok    %-22s %5ss' "$name" $((SECONDS - t0)))")
  else
    summary+=("$(printf 'FAIL  %-22s %5ss' "$name" $((SECONDS - t0)))")
    failed=1
  fi
  return "$rc"
}
skip() { summary+=("$(printf 'skip  %-22s        (%s)' "$1" "$2")"); }

build_preset() { cmake --preset "$1" >/dev/null && cmake --build --preset "$1" -j "$jobs"; }

# Every C++ file of ours, minus recorded fixtures; clang-format prints each deviation.
format_check() {
  local files out
  mapfile -t files < <(find src tests bench -path tests/fixtures -prune -o -type f \
    \( -name '*.cc' -o -name '*.h' \) -print | sort)
  if out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1); then
    echo "clang-format: ${#files[@]} files formatted"
    return 0
  fi
  head -n 60 <<<"$out"
  echo "clang-format: these files need formatting (clang-format -i FILE):"
  grep -o '^[^:]*\.\(cc\|h\):[0-9]*:[0-9]*: error' <<<"$out" | cut -d: -f1 | sort -u | sed 's/^/  /'
  return 1
}

layers_check() {
  local tool=../shared/tools/check-layers
  if [ -f "$tool" ]; then
    bash "$tool" .
  else
    echo "layering: $tool not found beside the repository; not checked"
  fi
}

if ! stage "dependencies" ./scripts/setup.sh --no-build; then
  echo "test: dependencies could not be installed; nothing else runs" >&2
  exit 1
fi
if stage "release build" build_preset release; then
  stage "release tests" ctest --preset release --parallel 2
else
  skip "release tests" "build failed"
fi
stage "format" format_check
stage "layering" layers_check
if ((quick)); then
  skip "asan build" "--quick"
  skip "asan tests" "--quick"
elif stage "asan build" build_preset asan; then
  stage "asan tests" ctest --preset asan --parallel 2
else
  skip "asan tests" "build failed"
fi

echo
echo "=== summary ($((SECONDS - t_start))s)"
printf '%s\n' "${summary[@]}"
if ((failed)); then
  echo "test: FAILED"
  exit 1
fi
echo "test: all stages passed"
