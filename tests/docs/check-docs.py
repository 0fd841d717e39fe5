#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""docs/ reads on its own: every relative link (and #anchor, with GitHub's
heading slugs) of docs/*.md and README.md points at a file and heading that
exist, and no page refers the reader to material that does not ship (the
original package description, the design notes).  Code blocks are skipped.
usage: tests/docs/check-docs.py [SOURCE-ROOT]"""
import glob
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
os.chdir(root)
pages = sorted(glob.glob("docs/*.md")) + ["README.md"]
# Phrases that send the reader to text this project does not ship.
unshipped = [r"package documentation", r"\bDESIGN\b", r"STYLE\.md", r"epsilon-linux-package\.md"]


def prose(path):
    """The text of PATH outside fenced code blocks."""
    return re.sub(r"^ *```.*?^ *```", "", open(path, encoding="utf-8").read(), flags=re.S | re.M)


def slug(heading):
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


anchors = {os.path.normpath(p): {slug(h) for h in re.findall(r"^#+ (.*)$", prose(p), flags=re.M)}
           for p in pages}
errors = []
for page in pages:
    text = prose(page)
    for n, line in enumerate(text.splitlines(), 1):
        for pat in unshipped:
            if re.search(pat, line):
                errors.append(f"{page}: refers to unshipped material ({pat}): {line.strip()}")
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", link):
            continue
        path, _, anchor = link.partition("#")
        target = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else os.path.normpath(page)
        if not os.path.exists(target):
            errors.append(f"{page}: link to a missing file: {link}")
        elif anchor and target in anchors and anchor not in anchors[target]:
            errors.append(f"{page}: link to a missing heading: {link}")
for e in errors:
    print(e, file=sys.stderr)
print(f"check-docs: {len(pages)} pages, {len(errors)} problems")
sys.exit(1 if errors else 0)
