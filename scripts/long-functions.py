#!/usr/bin/env python3
"""long-functions: list the C++ function bodies longer than a limit.

Usage: scripts/long-functions.py [--max N] [--all] [PATH ...]   (default: --max 80 src)

Prints `file:line name length` for every function whose body (opening to closing brace,
inclusive) spans more than N lines, longest first; `line` is where the function's name
stands. A function may stay long when the comment right above it has a line that starts
with `Kept whole:` and says why (a table, a serialiser that reads best whole, a switch over
a protocol); those are listed apart, with their reason, and do not count as problems.
Exit status: 1 when a long function has no such reason, else 0.

It reads the sources as text: comments, string and character literals are blanked first,
then braces are matched. A brace at namespace or class scope opens a function body when
the text before it ends like a declarator (`...)`, optionally followed by const, noexcept,
override, final, `&`, or a trailing return type); a lambda bound at namespace scope counts
as a function named after its variable. Everything inside a body, lambdas included, counts
toward that body.
"""
import argparse
import os
import re
import sys

EXTENSIONS = (".cc", ".cpp", ".cxx", ".h", ".hpp")
KEPT = "Kept whole:"


def blank_code(text):
    """Returns text with comments and literals replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and text.startswith('R"', i) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^()\\ ]{0,16})\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = text.find(")" + m.group(1) + '"', i + m.end())
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif c in "\"'":
            # A digit separator (1'000) is not a character literal.
            if c == "'" and i and text[i - 1].isalnum() and i + 1 < n and text[i + 1].isalnum():
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * max(0, j - i - 2) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


DECLARATOR_END = re.compile(
    r"\)\s*(?:(?:const|noexcept(?:\s*\([^()]*\))?|override|final|mutable|volatile|&&?|"
    r"->\s*[^{};=]+?|requires\s+[^{};]+?)\s*)*$")
CTOR_INIT = re.compile(r"\)\s*(?:noexcept\s*)?:(?!:)")
CONTROL = re.compile(r"^\s*(?:if|for|while|switch|catch|do|else|return)\b")


def function_name(header):
    """The name before the parameter list of a declarator header."""
    head = re.sub(r"\s+", " ", header).strip()
    head = re.sub(r"^(?:template\s*<[^{};]*?>\s*)+", "", head)
    m = re.search(r"(\w+)\s*=\s*\[[^\]]*\]\s*(?:\(|$)", head)
    if m:
        return m.group(1)
    m = re.search(r"((?:[\w~]+(?:<[^()]*?>)?::)*(?:operator\s*(?:\(\)|[^\s(]+)|~?\w+))\s*\(", head)
    return m.group(1).replace(" ", "") if m else head[:40]


def kept_reason(lines, start_line):
    """The `Kept whole:` reason in the comment block right above line start_line (1-based)."""
    i = start_line - 2
    while i >= 0 and re.match(r"\s*template\s*<", lines[i]):
        i -= 1
    while i >= 0 and re.match(r"\s*//", lines[i]):
        text = lines[i].strip()[2:].strip()
        if text.startswith(KEPT):
            return text[len(KEPT):].strip()
        i -= 1
    return None


def functions(path):
    """Yields (line, name, length, reason) for every function body in one file."""
    raw = open(path, encoding="utf-8", errors="replace").read()
    code = blank_code(raw)
    lines = raw.split("\n")
    stack = []  # scope kinds: "ns", "class", "other", "func"
    header_start = 0
    init_depth = 0  # braces of a constructor's member initialisers
    func_open = None
    line = 1
    for i, c in enumerate(code):
        if c == "\n":
            line += 1
        elif c == ";" and not any(k == "func" for k in stack) and init_depth == 0:
            header_start = i + 1
        elif c == "{":
            if any(k == "func" for k in stack) or (stack and stack[-1] == "other"):
                stack.append("block")
            elif init_depth:
                init_depth += 1
            else:
                header = code[header_start:i]
                flat = re.sub(r"\s+", " ", header).strip()
                if re.search(r"\bnamespace\b", flat) or re.match(r'^extern ""', flat):
                    stack.append("ns")
                    header_start = i + 1
                elif re.search(r"\b(class|struct|union)\b", flat) and "(" not in flat.split(":")[0]:
                    stack.append("class")
                    header_start = i + 1
                elif re.search(r"\benum\b", flat):
                    stack.append("other")
                elif CTOR_INIT.search(flat) and re.search(r"[\w>]\s*$", flat):
                    init_depth = 1  # a member initialiser's braces: the header goes on
                elif (DECLARATOR_END.search(flat) or re.search(r"\}\s*$", flat)
                      and CTOR_INIT.search(flat)) and "(" in flat and not CONTROL.match(flat) \
                        and ("=" not in flat.split("(")[0] or re.search(r"=\s*\[[^\]]*\]", flat)):
                    name = function_name(header)
                    # The name stands on the line of the parameter list's opening paren.
                    name_line = code.count("\n", 0, header_start + header.find("(")) + 1
                    stack.append("func")
                    func_open = (line, name_line, name)
                else:
                    stack.append("other")
        elif c == "}":
            if init_depth:
                init_depth -= 1
            elif stack:
                kind = stack.pop()
                if kind == "func" and func_open:
                    open_line, name_line, name = func_open
                    length = line - open_line + 1
                    yield name_line, name, length, kept_reason(lines, name_line)
                    func_open = None
                if kind != "block":
                    header_start = i + 1


def sources(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        for dirpath, dirnames, names in os.walk(p):
            dirnames.sort()
            for name in sorted(names):
                if name.endswith(EXTENSIONS):
                    yield os.path.join(dirpath, name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", default=["src"], help="files or folders (default: src)")
    ap.add_argument("--max", type=int, default=80, help="longest body allowed, in lines (default 80)")
    ap.add_argument("--all", action="store_true", help="list every function, not only long ones")
    args = ap.parse_args()

    rows = []
    for path in sources(args.paths):
        for line, name, length, reason in functions(path):
            if args.all or length > args.max:
                rows.append((length, path, line, name, reason))
    rows.sort(key=lambda r: (-r[0], r[1], r[2]))
    long_ones = [r for r in rows if r[4] is None]
    kept = [r for r in rows if r[4] is not None]
    for length, path, line, name, _ in long_ones:
        print(f"{path}:{line} {name} {length}")
    if kept:
        print(f"# kept whole ({len(kept)}):")
        for length, path, line, name, reason in kept:
            print(f"{path}:{line} {name} {length}  # {reason}")
    if not args.all:
        print(f"# {len(long_ones)} function(s) over {args.max} lines without a reason, "
              f"{len(kept)} kept whole with one")
    return 1 if long_ones and not args.all else 0


if __name__ == "__main__":
    sys.exit(main())
