#!/usr/bin/env python3
"""The README's command index is what `aion help-index --markdown` renders.

Usage: check_command_index.py AION README.md
Compares the block between <!-- commands:begin --> and <!-- commands:end --> in README.md
with the index the aion binary renders from its own command tree, and checks that the
index's top-level commands are exactly those `aion --help` lists. With AION_UPDATE_GOLDEN=1
the block is rewritten instead (review the diff).
"""
import os
import re
import subprocess
import sys

BEGIN = "<!-- commands:begin -->"
END = "<!-- commands:end -->"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    aion, readme = sys.argv[1], sys.argv[2]
    index = subprocess.run([aion, "help-index", "--markdown"], check=True, capture_output=True,
                           text=True).stdout
    helptext = subprocess.run([aion, "--help"], check=True, capture_output=True,
                              text=True).stdout

    # Top-level commands in `aion --help` (the "Subcommands:" section) against the index.
    listed, in_section = [], False
    for line in helptext.splitlines():
        if line.startswith("Subcommands:"):
            in_section = True
            continue
        if in_section:
            m = re.match(r"^  (\S+)\s", line)
            if not m:
                break
            listed.append(m.group(1))
    indexed = []
    for line in index.splitlines():
        m = re.match(r"^\| `aion (\S+)[^`]*` \|", line)
        if m and m.group(1) not in indexed:
            indexed.append(m.group(1))
    if listed != indexed:
        print("command index and `aion --help` disagree:\n"
              f"  aion --help lists: {' '.join(listed)}\n"
              f"  the index has:     {' '.join(indexed)}", file=sys.stderr)
        return 1

    text = open(readme, encoding="utf-8").read()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        print(f"{readme}: no {BEGIN} ... {END} block; add one where the command index goes",
              file=sys.stderr)
        return 1
    block = text[start + len(BEGIN):end].strip("\n")
    if block == index.strip("\n"):
        print(f"{readme}: command index up to date ({len(index.splitlines()) - 2} commands)")
        return 0
    if os.environ.get("AION_UPDATE_GOLDEN") == "1":
        text = text[:start + len(BEGIN)] + "\n" + index + text[end:]
        open(readme, "w", encoding="utf-8").write(text)
        print(f"{readme}: command index rewritten")
        return 0
    import difflib
    diff = difflib.unified_diff(block.splitlines(), index.strip("\n").splitlines(),
                                "README.md", "aion help-index", lineterm="")
    print("\n".join(diff), file=sys.stderr)
    print(f"{readme}: the command index is stale; rerun with AION_UPDATE_GOLDEN=1 to rewrite it",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
