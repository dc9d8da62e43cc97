#!/usr/bin/env python3
"""Checks the relative links of the documentation: every [text](target) of
README.md, docs/*.md, bench/RESULTS.md and examples/*/README.md that is not a
URL must name a file or folder of the repository, and a #fragment must name a
heading of the Markdown file it points to (GitHub's anchors: lower case,
punctuation dropped, spaces as hyphens). Prints each broken link; exits 1 if
there is one. Usage: check_links.py SOURCE_DIR"""

import glob
import os
import re
import sys


def anchors(path):
    found, seen, in_code = set(), {}, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                in_code = not in_code
                continue
            m = None if in_code else re.match(r"^#{1,6}\s+(.*)", line)
            if m:
                slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
                n = seen.get(slug, 0)
                seen[slug] = n + 1
                found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def main(root):
    pages = [os.path.join(root, "README.md"), os.path.join(root, "bench", "RESULTS.md")]
    pages += sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    pages += sorted(glob.glob(os.path.join(root, "examples", "*", "README.md")))
    broken = checked = 0
    for page in pages:
        if not os.path.exists(page):
            continue
        with open(page, encoding="utf-8") as f:
            text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
        for m in re.finditer(r"\]\(([^)\s]+)\)", text):
            target = m.group(1)
            if re.match(r"[a-z]+:", target):
                continue
            checked += 1
            path, _, fragment = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            name = os.path.relpath(page, root)
            if not os.path.exists(resolved):
                print(f"{name}: {target}: no such file")
                broken += 1
            elif fragment and (not resolved.endswith(".md") or fragment not in anchors(resolved)):
                print(f"{name}: {target}: no such heading")
                broken += 1
    print(f"{checked} relative links checked, {broken} broken")
    return 1 if broken or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
