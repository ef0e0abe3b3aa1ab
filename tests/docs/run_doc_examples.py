#!/usr/bin/env python3
"""Runs the examples of the documentation that are marked runnable.

Usage: run_doc_examples.py BIN_DIR SOURCE_DIR [FILE.md ...]
A runnable example is a fenced block opened with "```console run". In it, a line starting
with "$ " is a command (run by bash from SOURCE_DIR with BIN_DIR first on PATH); the lines
after it, up to the next command, are the output the page shows. Each command must exit 0,
and every shown output line must appear in the real output, in order, compared with runs of
blanks collapsed; a line "..." stands for lines left out, and a shown line ending in " ..."
matches any line starting with the rest. Without files: README.md and every docs/*.md.
Commands run with a private HOME, TMPDIR and XDG directories, so no user config or daemon is
used. The pages run in parallel, the commands of one page in order.
"""
import concurrent.futures
import glob
import os
import re
import subprocess
import sys
import tempfile
import time


def examples(path):
    """Yields (line number, command, [shown output lines]) of the runnable blocks."""
    lines = open(path, encoding="utf-8").read().splitlines()
    in_block, current = False, None
    for n, line in enumerate(lines, 1):
        if not in_block:
            if re.match(r"^```console\s+run\s*$", line):
                in_block = True
            continue
        if line.startswith("```"):
            if current:
                yield current
            in_block, current = False, None
            continue
        if line.startswith("$ "):
            if current:
                yield current
            current = (n, line[2:], [])
        elif current is not None:
            current[2].append(line)


def norm(s):
    return " ".join(s.split())


def output_matches(shown, actual):
    """Every shown line (but '...') is found in order among the actual lines."""
    got = [norm(l) for l in actual.splitlines()]
    i = 0
    for want in (norm(l) for l in shown):
        if not want or want == "...":
            continue
        prefix = want[:-4] if want.endswith(" ...") else None
        while i < len(got) and not (got[i] == want or (prefix and got[i].startswith(prefix))):
            i += 1
        if i == len(got):
            return want
        i += 1
    return None


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    bin_dir, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    files = sys.argv[3:] or [os.path.join(src, "README.md")] + sorted(
        glob.glob(os.path.join(src, "docs", "*.md")))
    tmp = tempfile.TemporaryDirectory(prefix="aion-docs-")
    home = tmp.name
    env = {k: v for k, v in os.environ.items() if not k.startswith("AION_")}
    env.update(PATH=bin_dir + os.pathsep + env.get("PATH", "/usr/bin:/bin"), HOME=home,
               TMPDIR=home, XDG_STATE_HOME=os.path.join(home, "state"),
               XDG_RUNTIME_DIR=os.path.join(home, "run"),
               XDG_CONFIG_HOME=os.path.join(home, "config"),
               AION_DATA_DIR=os.path.join(src, "data"), LC_ALL="C.UTF-8", COLUMNS="200")

    def run_page(path):
        """Runs one page's examples in order; returns (examples run, failure reports)."""
        rel, count, reports = os.path.relpath(path, src), 0, []
        for line, command, shown in examples(path):
            count += 1
            r = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=src, env=env,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=60)
            problem = None
            if r.returncode != 0:
                problem = f"exit code {r.returncode}"
            else:
                missing = output_matches(shown, r.stdout)
                if missing:
                    problem = f"the shown line {missing!r} is not in the output"
            if problem:
                reports.append(f"{rel}:{line}: $ {command}\n  {problem}\n  stdout:\n"
                               + "\n".join("    " + l for l in r.stdout.splitlines()[:30])
                               + "\n  stderr:\n"
                               + "\n".join("    " + l for l in r.stderr.splitlines()[:10]))
        return count, reports

    t0 = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(run_page, files))
    finally:
        tmp.cleanup()
    count = sum(c for c, _ in results)
    failures = [r for _, reports in results for r in reports]
    for report in failures:
        print(report)
    print(f"{count} documented examples in {len(files)} pages run in "
          f"{time.monotonic() - t0:.1f} s, {len(failures)} failed")
    if count == 0:
        print("no runnable examples found (fenced blocks opened with ```console run)")
        return 1
    return 1 if failures else 0

if __name__ == "__main__":
    sys.exit(main())
