#!/usr/bin/env python3
"""Keeps README.md and docs/ true to the code (run by scripts/test.sh; exits non-zero naming each
problem):
  1. every relative link of README.md and docs/*.md names a file that exists and, with #anchor,
     a heading of that file (GitHub's anchor rules);
  2. every SQL function and view of the extension whose name does not start with "_" is named in
     docs/REFERENCE.md or another page of docs/ (so a new function cannot ship undocumented);
  3. every setting the library defines is a row of docs/CONFIGURATION.md's table.
"""
import glob
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.chdir(ROOT)
problems = []


def slug(heading):
    # GitHub: lower case, drop what is not a letter, digit, space, hyphen or underscore, spaces to hyphens
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    seen = {}
    found = set()
    in_fence = False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            in_fence = not in_fence
        m = None if in_fence else re.match(r"^#{1,6} (.*)", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else "%s-%d" % (base, n))
        found.update(re.findall(r'<a id="([^"]+)"', line))
    return found


pages = ["README.md"] + sorted(glob.glob("docs/*.md"))
for page in pages:
    text = open(page, encoding="utf-8").read()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # links inside code blocks are code
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+://", target) or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if not os.path.exists(resolved):
            problems.append("%s: link to %s: no such file" % (page, target))
        elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
            problems.append("%s: link to %s: no such heading in %s" % (page, target, resolved))

docs_text = "\n".join(open(p, encoding="utf-8").read() for p in glob.glob("docs/*.md"))
sql_text = "\n".join(open(p, encoding="utf-8").read() for p in sorted(glob.glob("tenant_backup--*.sql")))
objects = set(re.findall(r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|VIEW)\s+tenant_backup\.([a-z][a-z0-9_]*)", sql_text, re.I))
for name in sorted(objects):
    if name.startswith("_"):
        continue
    if not re.search(r"\b%s\b" % re.escape(name), docs_text):
        problems.append("tenant_backup.%s is not documented in docs/" % name)

config = open("docs/CONFIGURATION.md", encoding="utf-8").read()
settings = set()
for path in glob.glob("src/**/*.cpp", recursive=True):
    settings.update(re.findall(r'DefineCustom\w+Variable\(\s*"(tenant_backup\.[a-z_]+)"', open(path, encoding="utf-8").read()))
for name in sorted(settings):
    if not re.search(r"^\| `%s` \|" % re.escape(name), config, re.M):
        problems.append("setting %s has no row in docs/CONFIGURATION.md" % name)

for p in problems:
    print("docs: " + p)
print("docs: %d pages, %d SQL objects, %d settings checked, %d problems" % (len(pages), len(objects), len(settings), len(problems)))
sys.exit(1 if problems else 0)
