#!/usr/bin/env python3
"""docs/architecture.md's table of targets matches the project's target_link_libraries: for every
library and program target, the project targets it links (cheese_* and cheesed_*, the flag-only
cheese_warnings and cheese_sanitizers left out) are exactly those the table's "may depend on"
column names."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
FLAG_TARGETS = {"cheese_warnings", "cheese_sanitizers"}
PROJECT = re.compile(r"\b(cheese[d]?_[a-z_]+|cheese-[a-z]+)\b")


def cmake_links():
    links = {}
    for path in ("libcheese", "daemon", "tracker", "cli", "bench"):
        text = (ROOT / path / "CMakeLists.txt").read_text()
        text = re.sub(r"#[^\n]*", "", text)
        for m in re.finditer(r"target_link_libraries\(\s*([\w-]+)(.*?)\)", text, re.S):
            name, body = m.group(1), m.group(2)
            if name.startswith("test_") or name.startswith("fuzz_"):
                continue
            deps = {d for d in PROJECT.findall(body) if d not in FLAG_TARGETS}
            links.setdefault(name, set()).update(deps)
    return links


def doc_table():
    text = (ROOT / "docs" / "architecture.md").read_text()
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\|\s*`([\w-]+)`\s*\|[^|]*\|([^|]*)\|", line)
        if m:
            rows[m.group(1)] = set(PROJECT.findall(m.group(2)))
    return rows


def main():
    links = cmake_links()
    rows = doc_table()
    problems = []
    for target, deps in sorted(links.items()):
        if target not in rows:
            problems.append(f"{target}: in CMake, missing from docs/architecture.md's table")
        elif rows[target] != deps:
            problems.append(f"{target}: CMake links {sorted(deps)}, the table says {sorted(rows[target])}")
    for p in problems:
        print(p)
    print(f"{0 if problems else 1} passed, {1 if problems else 0} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
