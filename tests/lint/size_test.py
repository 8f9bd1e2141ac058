#!/usr/bin/env python3
"""The daemon's house rule (docs/architecture.md): no function in daemon/, tracker/ or cli/ is
over 80 lines and no file over 600, unless a one-line comment right above it says why, starting
with `// size:` (for a function) or a first-line `// size:` comment (for a file).

A function is a definition that starts at column 0 or at the indentation of a class member and
ends at its matching closing brace; its length counts its lines from signature to closing brace.
"""
import pathlib
import re
import sys

MAX_FUNCTION_LINES = 80
MAX_FILE_LINES = 600
ROOTS = ("daemon", "tracker", "cli")

# A definition's first line: no leading control keyword, a name followed by '(' and no ';'.
SIGNATURE = re.compile(r"^(?:template\s*<.*>\s*)?[A-Za-z_][\w:<>,\s\*&~]*\b[\w:~]+\s*\(")
CONTROL = re.compile(r"^\s*(if|for|while|switch|return|else|do|case|catch|try)\b")


def functions(lines):
    """Yields (start_index, end_index) of each top-level or class-member function body."""
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if indent <= 2 and SIGNATURE.match(stripped) and not CONTROL.match(line) and not stripped.endswith(";"):
            # Find the opening brace of the body (the signature may span lines).
            j = i
            while j < n and "{" not in lines[j] and not lines[j].rstrip().endswith(";"):
                j += 1
            if j < n and "{" in lines[j]:
                depth = 0
                k = j
                while k < n:
                    depth += lines[k].count("{") - lines[k].count("}")
                    if depth <= 0:
                        break
                    k += 1
                yield i, k
                i = k + 1
                continue
        i += 1


def main():
    root = pathlib.Path(__file__).resolve().parents[2]
    problems = []
    for top in ROOTS:
        for path in sorted((root / top).rglob("*.[ch]pp")):
            text = path.read_text(encoding="utf-8")
            lines = text.split("\n")
            rel = path.relative_to(root)
            if len(lines) > MAX_FILE_LINES and not lines[0].startswith("// size:"):
                problems.append(f"{rel}: {len(lines)} lines (limit {MAX_FILE_LINES})")
            for start, end in functions(lines):
                length = end - start + 1
                excused = start > 0 and lines[start - 1].strip().startswith("// size:")
                if length > MAX_FUNCTION_LINES and not excused:
                    problems.append(f"{rel}:{start + 1}: function of {length} lines (limit {MAX_FUNCTION_LINES}): "
                                    f"{lines[start].strip()[:80]}")
    for p in problems:
        print(p)
    print(f"{0 if problems else 1} passed, {1 if problems else 0} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
