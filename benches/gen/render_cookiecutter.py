#!/usr/bin/env python3
"""Render the cookiecutter template once per context file, in this one process.

Usage: render_cookiecutter.py TEMPLATE_DIR OUT_DIR CONTEXT.json...
Each context becomes OUT_DIR/<dir>/{Dockerfile,requirements-server.txt,.dockerignore,
fabuild-preflight.py}, and fabuild-strip.py for an ASGI spec: the same files `fabuild gen`
writes for these specs.
"""
import json
import sys

from cookiecutter.main import cookiecutter


def main():
    template, out, contexts = sys.argv[1], sys.argv[2], sys.argv[3:]
    for path in contexts:
        with open(path) as f:
            ctx = json.load(f)
        cookiecutter(template, no_input=True, extra_context=ctx, output_dir=out,
                     overwrite_if_exists=True, accept_hooks=False)


if __name__ == "__main__":
    main()
