"""Puts a "## NAME" section into bench/RESULTS.md: replaces the section of that name (up to the
next "## " heading) or appends it. usage: write_section.py RESULTS_MD SECTION_FILE NAME"""
import re
import sys

path, sec, name = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# Benchmark results\n\n"
pat = re.compile(r"## " + re.escape(name) + r"\n.*?(?=\n## |\Z)", re.S)
if pat.search(text):
    text = pat.sub(lambda m: sec.rstrip("\n") + "\n", text)
else:
    text = text.rstrip("\n") + "\n\n" + sec
open(path, "w").write(text)
