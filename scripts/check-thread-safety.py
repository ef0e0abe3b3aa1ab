#!/usr/bin/env python3
"""check-thread-safety: every header states its thread-safety; every mutex says what it guards.

Usage: scripts/check-thread-safety.py [PROJECT_ROOT]   (exit 1 when a rule is broken)

STYLE.md asks every header for its thread-safety contract and every shared member for the
mutex that guards it. This script checks the part a machine can see, over src/:
  - a header (.h) that declares a class, struct or function says in a comment, in its top
    comment or on its classes, how it may be used from threads: its comments hold
    "thread-safe" or "thread safety" (any case, "-" or " ", so "Not thread-safe" and
    "Thread-safety:" count too). A header that declares nothing (an alias) is left alone;
  - every std::mutex, shared_mutex, recursive_mutex or timed mutex declared as a class member
    or at namespace scope (.h and .cc) has a comment on its line or on the line just above it,
    saying what it guards (GUARDED_BY-style: a comment above the mutex naming the members
    declared below it). Mutexes local to a function are left alone.
Whether the words are true is for the reviewer: read the code that locks. Prints every file
and line that breaks a rule, and says which rules held otherwise.
"""
import os
import re
import sys

WORDING = re.compile(r"thread[- ]safe|thread[- ]safety", re.I)
MUTEX = re.compile(
    r"^\s*(?:static\s+|inline\s+|mutable\s+)*std::(?:recursive_|shared_|timed_|recursive_timed_|"
    r"shared_timed_)?mutex\s+([A-Za-z_]\w*)\s*(?:\{\s*\})?\s*;")
DECLARES = re.compile(
    r"\b(?:class|struct|union)\s+[A-Za-z_]\w*(?:\s+final)?\s*(?::[^;{]*)?\{"  # a type
    r"|[A-Za-z_]\w*\s*\([^;{}]*\)\s*(?:const\s*)?(?:noexcept\s*)?(?:override\s*)?"
    r"(?:=\s*(?:0|default|delete)\s*)?[;{]")  # a function declared or defined


def split_code(text):
    """Returns (code, comments): the text with comments and literals blanked (newlines kept,
    so offsets and line numbers stay), and the text of the comments alone."""
    code, comments = [], []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            comments.append(text[i:end])
            code.append(" " * (end - i))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            comments.append(text[i:end])
            code.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif c == '"' and i > 0 and text[i - 1] == "R" and "(" in text[i:i + 18]:
            delim = text[i + 1:text.index("(", i)]
            end = text.find(")" + delim + '"', i)
            end = n if end < 0 else end + len(delim) + 2
            code.append(re.sub(r"[^\n]", " ", text[i:end]))  # a raw string: R"x(...)x"
            i = end
        elif c == "'" and i > 0 and text[i - 1].isalnum():
            code.append(c)  # a digit separator: 300'000
            i += 1
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j, n - 1) + 1 if j < n and text[j] == c else min(j, n)
            code.append(c + " " * max(0, j - i - 1))
            i = j
        else:
            code.append(c)
            i += 1
    return "".join(code), "\n".join(comments)


def scope_kinds(code):
    """For every '{' of the code, in order: 'class' (class/struct/union body), 'namespace',
    'extern' or 'other' (function, block, initializer, enum)."""
    kinds = []
    last = 0  # where the current statement began
    for m in re.finditer(r"[{};]", code):
        if m.group() == "{":
            head = code[last:m.start()]
            head = re.sub(r"^\s*#[^\n]*$", "", head, flags=re.M)
            if re.search(r"\bnamespace\b", head):
                kinds.append("namespace")
            elif re.search(r'\bextern\s*$', head.strip() + " ") or head.strip() == "extern":
                kinds.append("extern")
            elif re.search(r"\benum\b", head):
                kinds.append("other")
            elif re.search(r"\b(class|struct|union)\b", head) and "(" not in head.split(
                    "class")[-1].split("struct")[-1]:
                kinds.append("class")
            else:
                kinds.append("other")
        last = m.end()
    return kinds


def mutex_problems(path, rel, text, code):
    problems, count = [], 0
    lines = text.split("\n")
    code_lines = code.split("\n")
    kinds = iter(scope_kinds(code))
    stack = []
    offset = 0
    for number, cline in enumerate(code_lines, 1):
        m = MUTEX.match(cline)
        if m and (not stack or stack[-1] in ("class", "namespace", "extern")):
            count += 1
            line = lines[number - 1]
            trailing = "//" in line[m.end():] or "/*" in line[m.end():]
            above = number >= 2 and lines[number - 2].strip().startswith(("//", "/*", "*"))
            if not (trailing or above):
                problems.append(f"{rel}:{number}: mutex '{m.group(1)}' does not say what it "
                                "guards (add `// guards a_, b_` on its line or just above it)")
        for ch in cline:
            if ch == "{":
                stack.append(next(kinds, "other"))
            elif ch == "}" and stack:
                stack.pop()
        offset += len(cline) + 1
    return problems, count


def main() -> int:
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    src = os.path.join(root, "src")
    if not os.path.isdir(src):
        sys.exit(f"check-thread-safety: no src/ directory below {root}")
    problems = []
    headers = declaring = mutexes = 0
    for dirpath, dirnames, names in os.walk(src):
        dirnames.sort()
        for name in sorted(names):
            if not name.endswith((".h", ".cc")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            text = open(path, encoding="utf-8", errors="replace").read()
            code, comments = split_code(text)
            if name.endswith(".h"):
                headers += 1
                if DECLARES.search(code):
                    declaring += 1
                    if not WORDING.search(comments):
                        problems.append(
                            f"{rel}: declares a class or functions but does not state its "
                            "thread-safety (say, in its top comment or on each class, e.g. "
                            "\"Thread-safe: ...\", \"Not thread-safe: one owner thread\", \"Pure "
                            "functions; thread-safe\")")
            found, count = mutex_problems(path, rel, text, code)
            problems.extend(found)
            mutexes += count
    for p in problems:
        print(f"check-thread-safety: {p}")
    if problems:
        print(f"check-thread-safety: {len(problems)} problem(s); see STYLE.md (Headers, comments, "
              "functions)")
        return 1
    print(f"check-thread-safety: every header states its thread-safety ({declaring} of {headers} "
          f"headers declare classes or functions) and every mutex says what it guards "
          f"({mutexes} mutexes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
