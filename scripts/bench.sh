#!/usr/bin/env bash
# Builds the release preset and runs the benchmarks: the programs in build/release/bin whose
# name ends in _bench. Each prints a table and writes bench/results/<name>.json.
#   scripts/bench.sh                          every benchmark
#   scripts/bench.sh api_bench                only the ones named
#   scripts/bench.sh api_bench -- --seconds 1 arguments after -- go to every benchmark
set -euo pipefail
cd "$(dirname "$0")/.."

benches=()
bench_args=()
while (($#)); do
  case "$1" in
    --) shift; bench_args=("$@"); break ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) benches+=("$(basename "$1")"); shift ;;
  esac
done

./scripts/setup.sh
bin=build/release/bin
if ((${#benches[@]} == 0)); then
  mapfile -t benches < <(find "$bin" -maxdepth 1 -type f -perm -u+x -name '*_bench' -printf '%f\n' | sort)
  if ((${#benches[@]} == 0)); then
    echo "bench: no *_bench programs in $bin" >&2
    exit 1
  fi
fi
for b in "${benches[@]}"; do
  if [ ! -x "$bin/$b" ]; then
    echo "bench: no benchmark $bin/$b; available:" \
      "$(find "$bin" -maxdepth 1 -name '*_bench' -printf '%f ' 2>/dev/null)" >&2
    exit 2
  fi
done

failed=()
for b in "${benches[@]}"; do
  echo
  echo "=== $b"
  "$bin/$b" "${bench_args[@]}" || failed+=("$b")
done
echo
echo "bench: each benchmark wrote its JSON (by default into bench/results/)"
if ((${#failed[@]})); then
  echo "bench: failed: ${failed[*]}" >&2
  exit 1
fi
