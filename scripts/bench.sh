#!/usr/bin/env bash
# Builds the release preset and runs the benchmarks (programs named *_bench in
# build/release/bin); each prints a table and writes bench/results/<name>.json.
#   scripts/bench.sh            every benchmark
#   scripts/bench.sh api_bench  only the ones named
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if (($#)); then benches=("$@"); else
  mapfile -t benches < <(find build/release/bin -maxdepth 1 -name '*_bench' -printf '%f\n' | sort)
fi
for b in "${benches[@]}"; do
  echo "=== $b"
  "build/release/bin/$b"
done
