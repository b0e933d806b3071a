#!/usr/bin/env python3
"""Check that the template route produced the same files as fabuild.

Usage: compare_outputs.py FABUILD_SPECS_DIR TEMPLATE_OUT_DIR
Compares each file without its generated-by header (fabuild's header carries a body hash,
which Jinja cannot compute). Prints `same N/M` per file and the first difference found.
"""
import difflib
import os
import sys

FILES = ["Dockerfile", "requirements-server.txt", ".dockerignore", "fabuild-preflight.py",
         "fabuild-strip.py"]


def body(path):
    """The file without its generated-by header; None when it does not exist (fabuild writes
    fabuild-strip.py for ASGI specs only, and so must the template)."""
    if not os.path.exists(path):
        return None
    lines = open(path).read().splitlines()
    shebang = lines[:1] if lines and lines[0].startswith("#!") else []
    rest = lines[len(shebang):]
    while rest and (rest[0].startswith("# Generated ") or rest[0].startswith("#   fabuild gen")
                    or rest[0].startswith("# fabuild-sha256:")):
        rest = rest[1:]
    return shebang + rest


def main():
    fab, tpl = sys.argv[1], sys.argv[2]
    specs = sorted(os.listdir(fab))
    bad = 0
    for name in FILES:
        same, first = 0, None
        for s in specs:
            a, b = body(os.path.join(fab, s, name)), body(os.path.join(tpl, s, name))
            if a == b:
                same += 1
            elif first is None and (a is None or b is None):
                first = (s, f"written by {'the template' if a is None else 'fabuild'} only")
            elif first is None:
                first = (s, "\n".join(difflib.unified_diff(a, b, "fabuild", "template", lineterm="", n=1)))
        print(f"{name}: same {same}/{len(specs)}")
        if first:
            bad += 1
            print(f"  first difference, spec {first[0]}:\n{first[1]}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
