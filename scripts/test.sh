#!/usr/bin/env bash
# Installs the dependencies and runs every check CI runs: the release build and its ctest
# suite, the asan preset (AddressSanitizer + UBSan) build and suite, a clang-format check of
# src/ tests/ bench/, the module layering check (scripts/check-layers.py, always) and the
# thread-safety documentation check (scripts/check-thread-safety.py, always) and the
# document index benchmark over this machine's man pages (figures printed). Prints a
# summary; exits 1 when any stage fails.
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
# ccache hashes absolute paths (the compiler's arguments, the working directory), so by
# default a clone in another directory misses every entry. Paths below CCACHE_BASEDIR are
# rewritten relative to the build directory, and CCACHE_NOHASHDIR leaves the working
# directory out of the hash: every checkout beside this one then shares the compile cache.
CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(cd .. && pwd)}
export CCACHE_BASEDIR
export CCACHE_NOHASHDIR=1
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
    summary+=("$(printf 'ok    %-26s %5ss' "$name" $((SECONDS - t0)))")
  else
    summary+=("$(printf 'FAIL  %-26s %5ss' "$name" $((SECONDS - t0)))")
    failed=1
  fi
  return "$rc"
}
skip() { summary+=("$(printf 'skip  %-26s        (%s)' "$1" "$2")"); }

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

# The layering rule is in the repository (cmake/modules.cmake, checked on the includes by
# scripts/check-layers.py); a shared checker beside the checkout, when there is one, runs too.
layers_check() {
  local rc=0 shared=../shared/tools/check-layers
  echo "layering: scripts/check-layers.py (the ranks of cmake/modules.cmake)"
  python3 scripts/check-layers.py . || rc=1
  if [ -f "$shared" ]; then
    echo "layering: also $shared"
    bash "$shared" . || rc=1
  else
    echo "layering: no shared checker at $shared; the in-repository check is the one that ran"
  fi
  return "$rc"
}

# Every header of src/ states its thread-safety and every mutex what it guards (STYLE.md);
# the rule and its exceptions are in scripts/check-thread-safety.py.
threads_check() {
  echo "thread-safety: scripts/check-thread-safety.py (headers of src/ and their mutexes)"
  python3 scripts/check-thread-safety.py .
}

if ! stage "dependencies" ./scripts/setup.sh --no-build; then
  echo "test: dependencies could not be installed; nothing else runs" >&2
  exit 1
fi
# The copilot's document index over every man page this machine has (the figure the index's
# build time is judged on is this machine's): build time, size and query latency, printed
# here; the JSON stays in the build tree.
docs_index_bench() {
  build/release/bin/docs_bench --queries 2000 --out build/release/docs-bench.json
}

if stage "release build" build_preset release; then
  stage "release tests" ctest --preset release --parallel 2
  stage "document index (bench)" docs_index_bench
else
  skip "release tests" "build failed"
  skip "document index (bench)" "build failed"
fi
stage "format" format_check
if [ -f ../shared/tools/check-layers ]; then
  stage "layering (in-repo+shared)" layers_check
else
  stage "layering (in-repo)" layers_check
fi
stage "thread-safety docs" threads_check
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
