#!/usr/bin/env python3
"""Runs the parser fuzz targets at their full counts and records what each one did.

The ctest run of tests/fuzz is a 5,000-input smoke run per target; this one runs every
target's own count (100,000 inputs or more, 200,000 for the chunk and kmsg decoders) on each
build given, and writes bench/results/fuzz.json: inputs, seconds, inputs per second and the
share of inputs the parser accepted, per target and build. A failing target stops nothing
else; its failure and the saved input's path are recorded and the script exits 1.

  bench/fuzz.py                       release and asan builds, whichever are built
  bench/fuzz.py --builds release      one build
  bench/fuzz.py --seed 7              another seed (default: the tests' fixed seed)
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^fuzz (\S+): (\d+) inputs in ([\d.]+) s \((\d+) inputs/s\), (\d+) accepted")
FAIL = re.compile(r"^fuzz (\S+): input (\d+) \(seed (\d+)\): (.*)$")


def run(build: str, seed: str | None) -> dict:
    binary = ROOT / "build" / build / "bin" / "fuzz_parsers_test"
    if not binary.exists():
        return {"skipped": f"{binary.relative_to(ROOT)} is not built (cmake --build --preset {build})"}
    env = dict(os.environ)
    env.pop("AION_FUZZ_ITERATIONS", None)  # the targets' own counts
    if seed:
        env["AION_FUZZ_SEED"] = seed
    if build == "asan":
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    t0 = time.monotonic()
    proc = subprocess.run([str(binary)], cwd=binary.parent.parent, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    targets, failures = {}, []
    for line in proc.stdout.splitlines():
        if m := LINE.match(line):
            name, n, secs, rate, accepted = m.groups()
            targets[name] = {"inputs": int(n), "seconds": float(secs),
                             "inputs_per_s": int(rate), "accepted": int(accepted),
                             "accepted_share": round(int(accepted) / max(1, int(n)), 4)}
            print(f"  {build:8} {name:28} {int(n):>8} inputs {float(secs):8.2f} s "
                  f"{int(rate):>8}/s  accepted {100 * int(accepted) / max(1, int(n)):5.1f}%")
        elif m := FAIL.match(line):
            failures.append({"target": m.group(1), "input": int(m.group(2)),
                             "seed": int(m.group(3)), "what": m.group(4)})
            print(f"  {build:8} {m.group(1)}: FAILED at input {m.group(2)}: {m.group(4)}")
    return {"exit_code": proc.returncode, "wall_s": round(time.monotonic() - t0, 1),
            "targets": targets, "failures": failures}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--builds", default="release,asan",
                    help="comma-separated build directories under build/ (default: release,asan)")
    ap.add_argument("--seed", help="AION_FUZZ_SEED for every target")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "fuzz.json"))
    args = ap.parse_args()
    result = {"benchmark": "fuzz", "host": {"machine": platform.machine(),
                                             "cpus": os.cpu_count()},
              "seed": args.seed or "the tests' fixed seed", "builds": {}}
    ok = True
    for build in args.builds.split(","):
        print(f"fuzz: {build} build")
        r = run(build, args.seed)
        result["builds"][build] = r
        if "skipped" in r:
            print(f"  {build}: skipped, {r['skipped']}")
        elif r["exit_code"] != 0:
            ok = False
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"fuzz: wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
