#!/usr/bin/env python3
"""check-layers: the module layering of aion, checked on the sources.

Usage: scripts/check-layers.py [PROJECT_ROOT]   (exit 1 when a rule is broken)

The rule lives in cmake/modules.cmake: every module of src/aion has a rank (core 0; hw,
store, tsdb 1; the domain modules 2; api 3), and a module may depend only on modules of a
lower rank, or on other domain modules. aion_module() enforces it at configure time on the
DEPS each src/aion/<module>/CMakeLists.txt declares. This script checks what the compiler
cannot: that every #include "aion/<module>/..." of a module's sources names the module
itself or a module in its declared DEPS (directly or through them), and so obeys the ranks
too. It prints every include that does not, and says which rule held otherwise.
"""
import os
import re
import sys


def ranks(root):
    text = open(os.path.join(root, "cmake", "modules.cmake"), encoding="utf-8").read()
    text = re.sub(r"#[^\n]*", "", text)
    m = re.search(r"set\(AION_MODULE_RANKS\s+(.*?)\)", text, re.S)
    if not m:
        sys.exit("check-layers: cmake/modules.cmake has no set(AION_MODULE_RANKS ...) table")
    body = m.group(1)
    return {name: int(rank) for name, rank in (e.split(":") for e in body.split())}


def declared_deps(root, module):
    path = os.path.join(root, "src", "aion", module, "CMakeLists.txt")
    if not os.path.exists(path):
        return None
    text = re.sub(r"#[^\n]*", "", open(path, encoding="utf-8").read())
    m = re.search(r"aion_module\(\s*" + re.escape(module) + r"\b(.*?)\)", text, re.S)
    if not m:
        return None
    words = m.group(1).split()
    deps, on = [], False
    for w in words:
        if w in ("SOURCES", "LIBS", "PRIVATE_LIBS"):
            on = False
        elif w == "DEPS":
            on = True
        elif on:
            deps.append(w)
    return deps


def main() -> int:
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    rank = ranks(root)
    src = os.path.join(root, "src", "aion")
    modules = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
    problems = []
    deps = {}
    for mod in modules:
        if mod not in rank:
            problems.append(f"module '{mod}' has no rank in cmake/modules.cmake (AION_MODULE_RANKS)")
            continue
        d = declared_deps(root, mod)
        if d is None:
            problems.append(f"src/aion/{mod}/CMakeLists.txt declares no aion_module({mod} ...)")
            d = []
        deps[mod] = d
        for dep in d:
            r, dr = rank[mod], rank.get(dep)
            if dr is None:
                problems.append(f"module '{mod}' depends on unknown module '{dep}'")
            elif dr > r or (dr == r and r != 2):
                problems.append(f"module '{mod}' (rank {r}) may not depend on '{dep}' (rank {dr})")

    def closure(mod, seen=None):
        seen = set() if seen is None else seen
        for d in deps.get(mod, []):
            if d not in seen:
                seen.add(d)
                closure(d, seen)
        return seen

    includes = 0
    for mod in modules:
        if mod not in deps:
            continue
        allowed = closure(mod) | {mod}
        for dirpath, _, names in os.walk(os.path.join(src, mod)):
            for name in sorted(names):
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
                    m = re.match(r'\s*#\s*include\s*"aion/([a-z_0-9]+)/', line)
                    if not m:
                        continue
                    includes += 1
                    dep = m.group(1)
                    if dep in allowed:
                        continue
                    rel = os.path.relpath(path, root)
                    if dep not in rank:
                        why = f"unknown module '{dep}'"
                    elif rank[dep] > rank[mod]:
                        why = f"upward: {mod} (rank {rank[mod]}) -> {dep} (rank {rank[dep]})"
                    elif rank[dep] == rank[mod] and rank[mod] != 2:
                        why = f"sideways: {mod} -> {dep} (rank {rank[mod]})"
                    else:
                        why = (f"{mod} -> {dep} is not among {mod}'s DEPS in "
                               f"src/aion/{mod}/CMakeLists.txt (add it there)")
                    problems.append(f"{rel}:{n}: {why}")
    for p in problems:
        print(f"check-layers: {p}")
    if problems:
        print(f"check-layers: {len(problems)} layering problem(s)")
        return 1
    print(f"check-layers: layering holds ({len(modules)} modules, {includes} includes of "
          "aion/ headers, ranks from cmake/modules.cmake)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
