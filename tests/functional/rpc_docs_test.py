#!/usr/bin/env python3
"""docs/rpc.md documents every RPC method: its `### name` headings equal the methods `help` lists.
Adding a method without documenting it (or documenting one that does not exist) fails here."""

import os
import re

import framework
from framework import TestFailure, assert_in

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "rpc.md")


def documented_methods():
    with open(DOCS, encoding="utf-8") as f:
        text = f.read()
    # Headings inside fenced code blocks do not count.
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return [m.group(1).strip() for m in re.finditer(r"^### (.+)$", text, flags=re.M)]


def methods_in_help(node):
    names = []
    for line in node.rpc("help").splitlines():
        line = line.strip()
        if not line or line.startswith("=="):
            continue
        names.append(line.split()[0])
    return names


def test_every_method_is_documented(t):
    node = t.shared_node()
    in_help = methods_in_help(node)
    documented = documented_methods()
    duplicates = sorted({m for m in documented if documented.count(m) > 1})
    missing = sorted(set(in_help) - set(documented))
    unknown = sorted(set(documented) - set(in_help))
    problems = []
    if missing:
        problems.append(f"methods without a '### name' section in docs/rpc.md: {', '.join(missing)}")
    if unknown:
        problems.append(f"'### ' headings in docs/rpc.md that are no method of cheesed: {', '.join(unknown)}")
    if duplicates:
        problems.append(f"documented twice: {', '.join(duplicates)}")
    if problems:
        raise TestFailure("; ".join(problems))


def test_every_method_has_an_example(t):
    node = t.shared_node()
    with open(DOCS, encoding="utf-8") as f:
        text = f.read()
    sections = re.split(r"^### ", text, flags=re.M)[1:]
    for section in sections:
        name = section.split("\n", 1)[0].strip()
        assert_in(f'"method": "{name}"', section, f"docs/rpc.md: the example request of {name}")
    # and each method's help works
    for name in methods_in_help(node):
        assert_in(name, node.rpc("help", name))


if __name__ == "__main__":
    framework.main([test_every_method_is_documented, test_every_method_has_an_example])
